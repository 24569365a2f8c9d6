"""Billing audit: contracts vs invoices per month, unbilled work, receivables and aging, ledger reconciliation."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from conftest import WritePortfolio, base_manifest
from execintel.analysis.context import Context
from execintel.demo import demo_portfolio
from execintel.render.text import render_text
from execintel.reports import build_report
from helpers import context

AS_OF = "2026-11-15"  # audit months 2025-12 .. 2026-11
MONTHS = ["2025-12", *(f"2026-{m:02d}" for m in range(1, 12))]


def _ev(day: str, kind: str, client: str, **attrs: Any) -> dict[str, Any]:
    return {"ts": f"{day}T12:00:00Z", "entity": "studio", "type": kind, "customer": client, "client": client, **attrs}


def _scenario() -> tuple[list[dict[str, Any]], list[str]]:
    """Events and ledger lines of a small studio with three clients (see the tests for the arithmetic)."""
    events = [
        _ev("2024-12-20", "contract", "c-1", monthly_retainer=1000, start="2025-01-01", included_hours=10),
        _ev("2025-12-20", "contract", "c-2", monthly_retainer=1200, start="2026-01-01", end="2026-06-30",
            included_hours=12),
        # an amendment from April: overlaps the first c-2 contract, and the later start wins
        _ev("2026-03-25", "contract", "c-2", monthly_retainer=1500, start="2026-04-01", end="2026-06-30",
            included_hours=12),
    ]  # fmt: skip
    ledger = ["date,account,amount,description,counterparty,service_date,receipt"]
    for month in MONTHS:
        number = f"I-c-1-{month}"
        events.append(_ev(f"{month}-01", "invoice", "c-1", amount=1000, invoice=number, due=f"{month}-15",
                          period=month))  # fmt: skip
        paid = {"2026-09": 400, "2026-10": 0, "2026-11": 0}.get(month, 1000)
        if paid:
            events.append(_ev(f"{month}-06", "payment", "c-1", amount=paid, invoice=number))
            if month != "2026-02":  # the February payment never reached the ledger
                ledger.append(f"{month}-06,Income:Retainers,{paid},Payment {number},c-1,,")
    due_nov = next(e for e in events if e.get("invoice") == "I-c-1-2026-11" and e["type"] == "invoice")
    due_nov["due"] = "2026-11-20"  # not yet due on as_of
    # April: 5 hours beyond the 10 included, 300 of them invoiced separately
    events.append(_ev("2026-04-02", "invoice", "c-1", amount=300, invoice="I-c-1-extra", due="2026-04-20",
                      period="2026-04"))  # fmt: skip
    events.append(_ev("2026-04-10", "payment", "c-1", amount=300, invoice="I-c-1-extra"))
    ledger.append("2026-04-10,Income:Retainers,300,Payment I-c-1-extra,c-1,,")
    for month in MONTHS[1:7]:  # c-2: 2026-01 .. 2026-06, always 1200 even after the amendment
        number = f"I-c-2-{month}"
        events.append(_ev(f"{month}-01", "invoice", "c-2", amount=1200, invoice=number, due=f"{month}-15",
                          period=month))  # fmt: skip
        if month == "2026-06":
            events.append(_ev(f"{month}-08", "payment", "c-2", amount=1200))  # names no invoice: oldest open one
        else:
            events.append(_ev(f"{month}-08", "payment", "c-2", amount=1200, invoice=number))
            ledger.append(f"{month}-08,Income:Retainers,1200,Payment {number},c-2,,")
    events += [
        _ev("2026-03-12", "work", "c-1", hours=12, task="sheet sync"),  # 2 over the 10 included
        _ev("2026-04-12", "work", "c-1", hours=8, task="reports"),
        _ev("2026-04-20", "work", "c-1", hours=7, task="reports"),  # April: 15 hours
        _ev("2026-02-12", "work", "c-2", hours=10, task="forms"),  # under the 12 included
        _ev("2026-05-12", "work", "c-3", hours=4, task="site"),  # c-3 has no contract
        _ev("2025-11-10", "work", "c-3", hours=50, task="site"),  # before the audit months
    ]
    return events, ledger


def _manifest(**entity: Any) -> dict[str, Any]:
    base = {"id": "studio", "name": "Studio Clients", "kind": "client-portfolio", "revenue_model": "retainer",
            "ledger": "studio/ledger.csv", "events": "studio/events.jsonl"}  # fmt: skip
    base.update(entity)
    return base_manifest(entities=[{k: v for k, v in base.items() if v is not None}])


def _write(write_portfolio: WritePortfolio, events: list[dict[str, Any]], ledger: list[str] | None) -> Context:
    files = {"studio/events.jsonl": "".join(json.dumps(e) + "\n" for e in events)}
    if ledger is not None:
        files["studio/ledger.csv"] = "\n".join(ledger) + "\n"
    manifest = _manifest() if ledger is not None else _manifest(ledger=None)
    return context(write_portfolio(manifest, files), as_of=AS_OF)


@pytest.fixture
def ctx(write_portfolio: WritePortfolio) -> Context:
    events, ledger = _scenario()
    return _write(write_portfolio, events, ledger)


def _value(ctx: Context, key: str) -> object:
    return ctx.results("billing").figures[f"billing.studio.{key}"].value


def _findings(ctx: Context, kind: str) -> list[Any]:
    return [f for f in ctx.results("billing").findings if f.kind == kind]


def test_contracted_vs_invoiced_with_an_amendment_that_never_reached_the_invoices(ctx: Context) -> None:
    # c-1: 12 x 1000; c-2: Jan-Mar 3 x 1200 + Apr-Jun 3 x 1500 (the amendment started later, so it applies)
    assert _value(ctx, "contracted.ttm") == Decimal(20100)
    assert _value(ctx, "invoiced.ttm") == Decimal(19500)  # c-1: 12 x 1000 + 300 extra; c-2: 6 x 1200
    assert _value(ctx, "under_billed.ttm") == Decimal(900)  # c-2 Apr-Jun: 3 x (1500 - 1200)
    (under,) = _findings(ctx, "under-billed")
    assert (under.entity, under.severity, under.amount) == ("studio", "medium", Decimal(900))
    assert "c-2" in under.title and len([e for e in under.evidence if e.startswith("2026-0")]) == 3
    assert _value(ctx, "client.c-1.under_billed.ttm") == Decimal(0)


def test_unbilled_work_over_included_hours_and_without_contract(ctx: Context) -> None:
    # c-1 March: (12 - 10) h x 1000/10 = 200; April: (15 - 10) x 100 - 300 invoiced beyond the retainer = 200
    # c-3 May: 4 h with no contract at the blended rate (1000 + 1200 + 1500) / (10 + 12 + 12) = 3700/34
    assert _value(ctx, "client.c-1.unbilled.amount") == Decimal(400)
    assert _value(ctx, "client.c-3.unbilled.amount") == Decimal(4) * Decimal(3700) / Decimal(34)
    assert _value(ctx, "unbilled.amount") == Decimal(400) + Decimal(4) * Decimal(3700) / Decimal(34)
    assert _value(ctx, "unbilled.hours") == Decimal(8)  # 2 + (5 - 300/100) + 4
    assert _value(ctx, "effective_rate") == Decimal(3700) / Decimal(34)
    by_client = {f.title.split(":")[0]: f for f in _findings(ctx, "unbilled-work")}
    assert set(by_client) == {"c-1", "c-3"}
    assert by_client["c-1"].severity == "low"  # 400 is under 10% of the 12,000 contracted
    assert by_client["c-3"].severity == "medium" and "no contract" in by_client["c-3"].title
    assert "billing.studio.client.c-2.unbilled.amount" in ctx.results("billing").figures  # 10 h of 12 included
    assert _value(ctx, "client.c-2.unbilled.amount") == Decimal(0)


def test_receivables_partial_payments_aging_and_overdue_findings(ctx: Context) -> None:
    # c-1 September: 1000 - 400 paid, due 2026-09-15 -> 61 days; October: 1000, due 2026-10-15 -> 31 days;
    # November: 1000 due 2026-11-20 -> not yet due. c-2's June invoice is settled by the payment naming no invoice.
    assert _value(ctx, "receivables.outstanding") == Decimal(2600)
    assert _value(ctx, "receivables.overdue") == Decimal(1600)
    assert _value(ctx, "receivables.current") == Decimal(1000)
    assert _value(ctx, "receivables.overdue.invoices") == 2
    assert [_value(ctx, f"receivables.overdue.{b}") for b in ("0-30", "31-60", "61-90", "over-90")] == [
        Decimal(0), Decimal(1000), Decimal(600), Decimal(0),
    ]  # fmt: skip
    overdue = {f.title.split(" ")[1]: (f.severity, f.amount) for f in _findings(ctx, "overdue-receivable")}
    assert overdue == {"I-c-1-2026-09": ("high", Decimal(600)), "I-c-1-2026-10": ("medium", Decimal(1000))}
    # collected: c-1 9 x 1000 + 400 + 300; c-2 6 x 1200
    assert _value(ctx, "collected.ttm") == Decimal(16900)


def test_payment_missing_from_the_ledger(ctx: Context) -> None:
    (missing,) = _findings(ctx, "payment-not-in-ledger")
    assert (missing.severity, missing.amount) == ("low", Decimal(1000))
    assert "I-c-1-2026-02" in missing.title
    assert _value(ctx, "payments.not_in_ledger") == Decimal(1000)


def test_ledger_without_invoice_ids_skips_reconciliation(write_portfolio: WritePortfolio) -> None:
    events, ledger = _scenario()
    plain = [
        line.split(",Payment")[0] + ",Monthly retainer,client,," if ",Payment" in line else line for line in ledger
    ]
    ctx = _write(write_portfolio, events, plain)
    assert _findings(ctx, "payment-not-in-ledger") == []
    assert "billing.studio.payments.not_in_ledger" not in ctx.results("billing").figures
    doc = build_report(ctx, "billing-audit").to_json()
    receivables = next(s for s in doc["sections"] if s["id"] == "studio-receivables")
    assert "not reconciled" in receivables["note"]


def test_report_tables_by_client_month_and_open_invoices(ctx: Context) -> None:
    doc = build_report(ctx, "billing-audit").to_json()
    sections = {s["id"]: s for s in doc["sections"]}
    clients = {r[0]: r for r in sections["studio-clients"]["rows"]}
    assert set(clients) == {"c-1", "c-2", "c-3"}
    # over the audit months: contracted, invoiced, under-billed, hours, unbilled
    assert clients["c-2"][1:] == [Decimal(8100), Decimal(7200), Decimal(900), Decimal(10), Decimal(0)]
    # at as_of: retainer now, included hours (c-2's contract has ended), outstanding, overdue
    now = {r[0]: r for r in sections["studio-clients-now"]["rows"]}
    assert now["c-2"][1:] == [None, None, Decimal(0), Decimal(0)]
    # every table says its window in its title: one window per table
    assert sections["studio-clients"]["title"].endswith(f"audit months {MONTHS[0]} to {MONTHS[-1]}")
    assert sections["studio-clients-now"]["title"].endswith("at 2026-11-15")
    assert sections["studio-collected"]["title"].endswith("2025-11-16 to 2026-11-15")
    months = {r[0]: r for r in sections["studio-months"]["rows"]}
    assert list(months) == MONTHS
    assert months["2026-04"][1:4] == [Decimal(2500), Decimal(2500), Decimal(300)]  # 1000 + 1500; 1300 + 1200
    invoices = sections["studio-open-invoices"]["rows"]
    assert [(r[0], r[4], r[5]) for r in invoices] == [
        ("I-c-1-2026-09", Decimal(600), 61), ("I-c-1-2026-10", Decimal(1000), 31), ("I-c-1-2026-11", Decimal(1000), None),
    ]  # fmt: skip
    assert "$20,100.00 contracted" in doc["summary"][0]
    assert "$1,600.00 is overdue on 2 invoices" in doc["summary"][2]
    render_text(doc)


def test_retainer_entity_without_contract_events_says_what_is_missing(write_portfolio: WritePortfolio) -> None:
    ctx = _write(write_portfolio, [_ev("2026-05-12", "work", "c-3", hours=4)], None)
    assert ctx.results("billing").figures == {}
    doc = build_report(ctx, "billing-audit").to_json()
    assert "No entity has contract or invoice events" in doc["summary"][0]
    assert any("studio" in m["data"] for m in doc["missing"])


@pytest.fixture(scope="module")
def demo_ctx() -> Context:
    return context(demo_portfolio())


def test_demo_client_portfolio_audit_finds_the_designed_problems(demo_ctx: Context) -> None:
    doc = build_report(demo_ctx, "billing-audit").to_json()
    figures = doc["figures"]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for finding in doc["findings"]:
        by_kind.setdefault(finding["kind"], []).append(finding)
    # dc-102's retainer rose to $2,000 in March 2026, invoices stayed at $1,600: 9 months x $400 to November
    (under,) = by_kind["under-billed"]
    assert "dc-102" in under["title"] and under["amount"] == Decimal(3600)
    assert figures["billing.dc-clients.client.dc-102.under_billed.ttm"]["value"] == Decimal(3600)
    # dc-104 works 14-18 hours on a 10-hour retainer; dc-105 works with no contract and is never invoiced
    unbilled = {f["title"].split(":")[0]: f for f in by_kind["unbilled-work"]}
    assert unbilled["dc-104"]["severity"] == "medium" and "beyond the included hours" in unbilled["dc-104"]["title"]
    assert unbilled["dc-105"]["severity"] == "medium" and "no contract" in unbilled["dc-105"]["title"]
    assert figures["billing.dc-clients.client.dc-105.invoiced.ttm"]["value"] == 0
    # dc-103 stopped paying in August 2026: the August, September and October invoices are overdue
    overdue = by_kind["overdue-receivable"]
    assert {f["title"].split(" ")[1] for f in overdue} == {"INV-2026-068", "INV-2026-072", "INV-2026-076"}
    assert all("dc-103" in f["title"] for f in overdue)
    assert figures["billing.dc-clients.receivables.overdue"]["value"] == Decimal(2700)
    assert figures["billing.dc-clients.receivables.overdue.over-90"]["value"] == Decimal(900)
    # every payment of the last 12 months is in the ledger, matched by invoice id
    assert figures["billing.dc-clients.payments.not_in_ledger"]["value"] == 0
    assert "payment-not-in-ledger" not in by_kind
