"""Marketing (CMO): contact counting across files, engagement window, campaign model, channels, milestones."""

from __future__ import annotations

from decimal import Decimal

import pytest

from conftest import WritePortfolio, base_manifest
from execintel.analysis.campaign import campaign_range
from execintel.analysis.context import Context
from execintel.reports import build_report
from helpers import context

HEADER = "email,name,source,subscribed,last_engaged,segment\n"


def _ctx(write_portfolio: WritePortfolio) -> Context:
    entities = [
        {"id": "qosd", "name": "Q", "contacts": "q.csv", "unit_economics": {"price": 1800, "variable_cost": 650},
         "channels": [
             {"name": "Sailo", "kind": "ota", "status": "planned", "audience": 50000, "direct_booking_likelihood": 0.9},
             {"name": "GetMyBoat", "kind": "ota", "status": "planned", "audience": 400000,
              "direct_booking_likelihood": 0.5},
             {"name": "Email", "kind": "email", "status": "live", "audience": 3},
         ]},
        {"id": "qdn", "name": "D", "contacts": "d.csv"},
    ]  # fmt: skip
    files = {
        # a@ valid; B@ repeats a@ (case-insensitive); bad is invalid; c@ valid, engaged exactly 90 days before as_of
        "q.csv": HEADER + "a@example.com,A,web,true,2026-11-15,corporate\n"
        "B@example.com,B,web,true,2026-11-01,corporate\n"
        "A@EXAMPLE.COM,A2,import,true,2026-11-01,corporate\n"
        "not-an-address,X,web,true,,family\n"
        "c@example.com,C,event,false,2026-08-17,family\n",
        # b@ repeats q.csv's B@ (the earlier entity in the manifest wins); d@ valid, engaged 89 days before
        "d.csv": HEADER + "b@example.com,B,web,true,2026-08-18,local\nd@example.com,D,web,true,2026-08-18,local\n",
    }
    return context(write_portfolio(base_manifest(entities=entities), files))


def test_contacts_are_counted_across_files_in_manifest_order(write_portfolio: WritePortfolio) -> None:
    results = _ctx(write_portfolio).results("marketing")
    values = {k: f.value for k, f in results.figures.items() if k.startswith("contacts.")}
    # rows: 5 + 2 = 7; duplicates: A@EXAMPLE.COM (of a@), b@ (of B@) = 2; invalid: 1; valid: a, B, c, d = 4
    assert (values["contacts.total"], values["contacts.valid"], values["contacts.duplicates"]) == (7, 4, 2)
    assert values["contacts.invalid"] == 1
    assert values["contacts.subscribed"] == 3  # a, B, d (c is not subscribed; duplicates and invalid never count)
    # engaged: as_of - 90 days = 2026-08-17 is excluded; a (11-15), B (11-01), d (08-18) are in
    assert values["contacts.engaged_90d"] == 3
    assert (values["contacts.qdn.total"], values["contacts.qdn.valid"], values["contacts.qdn.duplicates"]) == (2, 1, 1)
    assert results.figures["contacts.total"].sources == ("d.csv:2-3", "q.csv:2-6")


def test_campaign_range_uses_subscribed_valid_contacts_and_the_unit_price(write_portfolio: WritePortfolio) -> None:
    results = _ctx(write_portfolio).results("marketing")
    # qosd: 2 subscribed valid (a, B); low 2 x 0.02 x 0.10 x 1800 = 7.2; high 2 x 0.05 x 0.25 x 1800 = 45
    assert results.figures["campaign.qosd.revenue.low"].value == Decimal("7.2")
    assert results.figures["campaign.qosd.revenue.high"].value == Decimal("45")
    assert "campaign.qdn.revenue.low" not in results.figures  # no unit price and no bookings: not modelled
    low, high = campaign_range(1000, Decimal(100), (Decimal("0.1"), Decimal("0.2")), (Decimal("0.5"), Decimal(1)))
    assert (low, high) == (Decimal("5000"), Decimal("20000"))


def test_launch_sequence_puts_the_likeliest_direct_channel_first(write_portfolio: WritePortfolio) -> None:
    ctx = _ctx(write_portfolio)
    results = ctx.results("marketing")
    assert [line.split(" (")[0] for line in results.launch] == ["1. Sailo", "2. GetMyBoat"]  # type: ignore[attr-defined]
    assert "the largest audience" in results.launch[1]  # type: ignore[attr-defined]
    assert results.figures["channels.live"].value == 1
    document = build_report(ctx, "cmo")
    milestones = next(s for s in document.sections if s["id"] == "milestones")["rows"]
    assert [30, "2026-12-15", "Clean the contact list: remove 1 invalid and 2 duplicate addresses"] in milestones
    # the launch sequence's order: step 1 (Sailo) by day 30, step 2 (GetMyBoat) by day 60
    assert [30, "2026-12-15", "List Q on Sailo (launch step 1 of 2)"] in milestones
    assert [60, "2027-01-14", "List Q on GetMyBoat (launch step 2 of 2)"] in milestones


@pytest.fixture(scope="module")
def demo_cmo() -> dict[str, object]:
    from execintel.demo import demo_portfolio
    from execintel.pipeline import load_facts, make_context, open_portfolio

    ctx = make_context(load_facts(open_portfolio(demo_portfolio())))
    return build_report(ctx, "cmo").to_json()


def test_demo_cmo_report_counts_the_3676_contacts(demo_cmo: dict[str, object]) -> None:
    figures = demo_cmo["figures"]
    assert isinstance(figures, dict)
    assert [figures[f"contacts.{k}"]["value"] for k in ("total", "valid", "duplicates", "invalid")] == [
        3676,
        3575,
        59,
        42,
    ]
    assert figures["funnel.quickdumpnow.leads"]["value"] > 100 * figures["funnel.quickdumpnow.bookings"]["value"]
    kinds = {f["kind"] for f in demo_cmo["findings"]}  # type: ignore[attr-defined]
    assert {"no-ota-listing", "broken-funnel", "empty-pipeline"} <= kinds
