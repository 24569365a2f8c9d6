"""Delivery operations: jobs from booking events, revenue and costs tied by job id, margins, findings, the report."""

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

AS_OF = "2026-11-15"


def _jsonl(events: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


def _booking(job: str, booked: str, amount: int, miles: int, departure: str) -> dict[str, Any]:
    return {"ts": f"{booked}T12:00:00Z", "entity": "eyd", "type": "booking", "customer": f"o-{job}", "amount": amount,
            "units": 1, "job": job, "from_port": "San Diego", "to_port": "Ensenada", "nautical_miles": miles,
            "departure": departure}  # fmt: skip


def _event(kind: str, job: str, day: str) -> dict[str, Any]:
    return {"ts": f"{day}T18:00:00Z", "entity": "eyd", "type": kind, "customer": f"o-{job}", "job": job}


EVENTS = [
    _booking("J-0", "2025-09-20", 999, 10, "2025-10-01"), _event("completion", "J-0", "2025-10-03"),  # before window
    _booking("J-1", "2026-03-01", 2000, 100, "2026-03-10"), _event("completion", "J-1", "2026-03-12"),
    _booking("J-2", "2026-05-01", 1000, 300, "2026-05-10"), _event("completion", "J-2", "2026-05-14"),  # a loss
    _booking("J-6", "2026-05-15", 4000, 400, "2026-06-01"), _event("cancellation", "J-6", "2026-05-20"),
    _booking("J-10", "2026-06-15", 800, 50, "2026-07-01"), _event("completion", "J-10", "2026-07-02"),
    _booking("J-11", "2026-07-15", 1200, 150, "2026-08-01"), _event("completion", "J-11", "2026-08-03"),
    _booking("J-3", "2026-09-01", 1500, 200, "2026-10-01"),  # departed 45 days before as_of, never completed
    _booking("J-5", "2026-11-01", 700, 60, "2026-11-10"),  # departed 5 days ago: still within 14 days
    _booking("J-4", "2026-11-01", 3000, 500, "2026-12-01"),  # upcoming
    _event("completion", "J-4", "2026-12-03"),  # after as_of: ignored
    {"ts": "2026-04-01T10:00:00Z", "entity": "eyd", "type": "lead", "customer": "o-9"},
]  # fmt: skip

LEDGER = """date,account,amount,description,counterparty,service_date,receipt
2025-06-01,Expenses:COGS:Crew,-999.00,Relief crew,crew,,r
2026-01-01,Equity:Opening-Balances,5000,Opening balance,owner,,
2026-03-01,Income:Deliveries,1000,Deposit J-1,o-J-1,2026-03-10,
2026-03-12,Income:Deliveries,1000,Balance J-1,o-J-1,2026-03-10,
2026-03-12,Expenses:COGS:Crew,-600,"Relief crew, J-1",crew,,r
2026-03-12,Expenses:COGS:Travel,-200,"Return travel, J-1",airline,,r
2026-05-14,Expenses:COGS:Crew,-1100,"Relief crew, J-2",crew,,r
2026-05-14,Expenses:Fuel,-150,Fuel for J-2,fuel dock,,r
2026-06-20,Income:Deliveries,400,Deposit J-10,o-J-10,2026-07-01,
2026-07-05,Expenses:COGS:Crew,-400,Relief crew (no job noted),crew,,r
2026-07-10,Expenses:Rent,-500,Office,landlord,,r
2026-10-01,Expenses:COGS:Provisions,-100,Provisions J-3,grocer,,r
2026-11-01,Income:Deliveries,1500,Deposit J-4,o-J-4,2026-12-01,
2026-12-05,Income:Deliveries,1500,Balance J-4,o-J-4,2026-12-01,
"""


def _manifest(**entity: Any) -> dict[str, Any]:
    base = {"id": "eyd", "name": "Expert Yacht Delivery", "kind": "yacht-delivery", "revenue_model": "per_unit",
            "ledger": "eyd/ledger.csv", "events": "eyd/events.jsonl"}  # fmt: skip
    base.update(entity)
    return base_manifest(entities=[{k: v for k, v in base.items() if v is not None}])


@pytest.fixture
def ctx(write_portfolio: WritePortfolio) -> Context:
    files = {"eyd/ledger.csv": LEDGER, "eyd/events.jsonl": _jsonl(EVENTS)}
    return context(write_portfolio(_manifest(), files), as_of=AS_OF)


def _value(ctx: Context, key: str) -> object:
    return ctx.results("delivery").figures[f"delivery.eyd.{key}"].value


def test_jobs_in_the_window_exclude_cancelled_upcoming_and_older_jobs(ctx: Context) -> None:
    # departed 2025-11-15 < d <= 2026-11-15, not cancelled: J-1, J-2, J-10, J-11, J-3, J-5
    assert _value(ctx, "jobs.ttm") == 6
    assert _value(ctx, "jobs.completed.ttm") == 4  # J-1, J-2, J-10, J-11
    assert _value(ctx, "revenue.ttm") == Decimal(7200)  # 2000 + 1000 + 800 + 1200 + 1500 + 700
    assert _value(ctx, "nautical_miles.ttm") == Decimal(860)  # 100 + 300 + 50 + 150 + 200 + 60
    assert _value(ctx, "revenue_per_nm") == Decimal(7200) / Decimal(860)


def test_costs_by_job_id_and_unattributed_cogs_shared_by_miles(ctx: Context) -> None:
    figures = ctx.results("delivery").figures
    # J-1: 2000 - (600 + 200); J-2: 1000 - (1100 + 150 fuel, any Expenses row naming the job)
    assert figures["delivery.eyd.job.J-1.margin"].value == Decimal(1200)
    assert figures["delivery.eyd.job.J-2.margin"].value == Decimal(-250)
    # the 400 of COGS naming no job (in the window; the 999 of 2025-06 is not) goes to J-10 and J-11 by miles:
    # J-10: 400 * 50 / 200 = 100 -> 800 - 100; J-11: 400 * 150 / 200 = 300 -> 1200 - 300.
    # "Deposit J-10" must not count as J-1's.
    assert figures["delivery.eyd.job.J-10.margin"].value == Decimal(700)
    assert figures["delivery.eyd.job.J-11.margin"].value == Decimal(900)
    assert _value(ctx, "cogs.unattributed.ttm") == Decimal(400)
    assert _value(ctx, "costs.ttm") == Decimal(2450)  # 800 + 1250 + 100 + 300 (J-3's provisions: not completed)
    assert _value(ctx, "margin.ttm") == Decimal(2550)  # 1200 - 250 + 700 + 900
    assert _value(ctx, "margin_ratio.ttm") == Decimal("0.51")  # 2550 / (2000 + 1000 + 800 + 1200)
    assert "delivery.eyd.job.J-3.margin" not in figures  # open jobs have no margin yet
    assert figures["delivery.eyd.job.J-1.margin"].sources == (
        "eyd/events.jsonl:3-4", "eyd/ledger.csv:4-7",
    )  # fmt: skip


def test_upcoming_jobs_and_deposits_already_collected(ctx: Context) -> None:
    assert _value(ctx, "jobs.upcoming") == 1  # J-4 departs 2026-12-01
    assert _value(ctx, "revenue.upcoming") == Decimal(3000)
    assert _value(ctx, "collected.upcoming") == Decimal(1500)  # the balance of 2026-12-05 is after as_of


def test_findings_negative_margin_and_uncompleted_job(ctx: Context) -> None:
    findings = {(f.kind, f.severity, f.amount) for f in ctx.results("delivery").findings}
    assert findings == {
        ("job-negative-margin", "medium", Decimal(250)),  # J-2 lost 250
        ("job-uncompleted", "low", Decimal(1500)),  # J-3: 45 days > 14; J-5 (5 days) is not flagged
    }
    uncompleted = next(f for f in ctx.results("delivery").findings if f.kind == "job-uncompleted")
    assert "J-3" in uncompleted.title and "45 days" in uncompleted.title
    negative = next(f for f in ctx.results("delivery").findings if f.kind == "job-negative-margin")
    assert negative.title == "Job J-2 lost $250.00"  # the report's money format
    assert negative.evidence[0] == "revenue $1,000.00, cost $1,250.00 (direct)"


def test_report_lays_out_jobs_months_and_upcoming(ctx: Context) -> None:
    doc = build_report(ctx, "delivery-ops").to_json()
    sections = {s["id"]: s for s in doc["sections"]}
    jobs = sections["eyd-jobs"]["rows"]
    assert [r[0] for r in jobs] == ["J-1", "J-2", "J-10", "J-11", "J-3", "J-5", "J-4"]
    j2 = jobs[1]
    assert j2[4:10] == ["completed", Decimal(1000), Decimal(0), Decimal(1250), "direct", Decimal(-250)]
    assert jobs[2][8] == "allocated"
    months = {r[0]: r for r in sections["eyd-months"]["rows"]}
    assert len(months) == 12 and months["2026-03"][1:] == [1, Decimal(100), Decimal(2000), Decimal(1200)]
    assert sections["eyd-upcoming"]["rows"] == [
        ["J-4", "San Diego -> Ensenada", Decimal(500), "2026-12-01", 16, Decimal(3000), Decimal(1500)]
    ]
    assert "6 jobs departed in the last twelve months" in doc["summary"][0]
    assert "$2,550.00" in doc["summary"][1] and "51.0%" in doc["summary"][1]
    render_text(doc)


def test_job_basis_against_cash_basis(ctx: Context) -> None:
    # Cash basis, rows dated 2025-11-15 < d <= 2026-11-15: Income 1000 + 1000 + 400 + 1500 (J-4's deposit) = 3900
    # (J-4's balance of 2026-12-05 is after as_of); Expenses:COGS 600 + 200 + 1100 + 400 + 100 = 2400 (the fuel of
    # J-2 is on Expenses:Fuel: a job cost on the job basis, not COGS). Job basis: revenue 7200, costs 2450.
    assert _value(ctx, "revenue.cash.ttm") == Decimal(3900)
    assert _value(ctx, "costs.cash.ttm") == Decimal(2400)
    figures = ctx.results("delivery").figures
    assert figures["delivery.eyd.revenue.cash.ttm"].sources == ("eyd/ledger.csv:4-5,10,14",)
    assert figures["delivery.eyd.revenue.ttm"].name.endswith("(job basis)")
    assert figures["delivery.eyd.revenue.cash.ttm"].name.endswith("(cash basis)")
    doc = build_report(ctx, "delivery-ops").to_json()
    basis = next(s for s in doc["sections"] if s["id"] == "eyd-basis")
    assert basis["title"] == "Expert Yacht Delivery: job basis vs cash basis, 2025-11-16 to 2026-11-15"
    assert basis["rows"] == [["Revenue", Decimal(7200), Decimal(3900), Decimal(-3300)],
                             ["Direct costs", Decimal(2450), Decimal(2400), Decimal(-50)]]  # fmt: skip
    assert basis["note"].startswith("The two bases differ.")
    assert "Deposits already received for jobs departing after 2026-11-15: $1,500.00." in basis["note"]
    assert "(job basis)" in doc["summary"][0]
    ttm = next(s for s in doc["sections"] if s["id"] == "eyd-ttm")
    assert ttm["title"] == "Expert Yacht Delivery: jobs departed 2025-11-16 to 2026-11-15 (job basis)"


def test_without_a_ledger_revenue_comes_from_bookings_and_margin_is_missing(write_portfolio: WritePortfolio) -> None:
    path = write_portfolio(_manifest(ledger=None), {"eyd/events.jsonl": _jsonl(EVENTS)})
    ctx = context(path, as_of=AS_OF)
    figures = ctx.results("delivery").figures
    assert figures["delivery.eyd.revenue.ttm"].value == Decimal(7200)
    assert "delivery.eyd.margin.ttm" not in figures and "delivery.eyd.job.J-1.margin" not in figures
    doc = build_report(ctx, "delivery-ops").to_json()
    assert {"data": "a ledger for eyd", "needed_for": "direct costs and margin per delivery job"} in doc["missing"]


def test_no_delivery_jobs_says_what_is_missing(write_portfolio: WritePortfolio) -> None:
    bookings = [{"ts": "2026-10-01T10:00:00Z", "entity": "eyd", "type": "booking", "amount": 100}]  # no job
    path = write_portfolio(_manifest(ledger=None), {"eyd/events.jsonl": _jsonl(bookings)})
    ctx = context(path, as_of=AS_OF)
    assert ctx.results("delivery").figures == {}
    doc = build_report(ctx, "delivery-ops").to_json()
    # only what every report has: each source's freshness, and the stale ones (the ledger-less events are old)
    assert set(doc["figures"]) == {"sources.freshness"}
    assert {f["kind"] for f in doc["findings"]} <= {"stale-source"}
    assert any("eyd" in m["data"] and "job" in m["data"] for m in doc["missing"])  # kind says yacht-delivery
    assert "No entity has delivery jobs" in doc["summary"][0]


@pytest.fixture(scope="module")
def demo_ctx() -> Context:
    return context(demo_portfolio())


def test_demo_yacht_delivery_jobs_margins_and_the_booked_cabo_run(demo_ctx: Context) -> None:
    doc = build_report(demo_ctx, "delivery-ops").to_json()
    figures = doc["figures"]
    # seven jobs departed 2026-01..2026-09 (none in Aug, Oct or Nov), all completed and all profitable
    assert figures["delivery.yacht-delivery.jobs.ttm"]["value"] == 7
    assert figures["delivery.yacht-delivery.jobs.completed.ttm"]["value"] == 7
    assert figures["delivery.yacht-delivery.revenue.ttm"]["value"] == Decimal(25425)
    assert figures["delivery.yacht-delivery.nautical_miles.ttm"]["value"] == Decimal(3465)
    assert Decimal(0) < figures["delivery.yacht-delivery.margin.ttm"]["value"] < Decimal(25425)
    assert [f for f in doc["findings"] if f["kind"] != "stale-source"] == []  # every report lists stale sources
    assert figures["delivery.yacht-delivery.job.YD-2026-018.margin"]["value"] > 0
    # the Cabo San Lucas delivery of 2026-11-28 is booked, half paid: the deferred $2,512.50 of the demo
    upcoming = next(s for s in doc["sections"] if s["id"] == "yacht-delivery-upcoming")["rows"]
    assert upcoming == [["YD-2026-019", "San Diego -> Cabo San Lucas", Decimal(750), "2026-11-28", 13,
                         Decimal(5025), Decimal("2512.5")]]  # fmt: skip
    assert figures["delivery.yacht-delivery.collected.upcoming"]["value"] == Decimal("2512.5")
    # cash basis: the 7 jobs' 25,425 plus the Cabo deposit received in the window
    assert figures["delivery.yacht-delivery.revenue.cash.ttm"]["value"] == Decimal("27937.5")
    assert not any(k.startswith("delivery.") and ".yacht-delivery." not in k for k in figures)
