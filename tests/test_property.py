"""Property analysis and report: leases from events, rent roll, occupancy, vacancy loss, NOI, lease findings."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conftest import WritePortfolio, base_manifest
from execintel.analysis.context import Context
from execintel.analysis.property import PropertyResults, occupancy_days, read_rental, rent_roll, vacancy_loss
from execintel.demo import generate_demo
from execintel.reports import build_report, dumps, loads
from execintel.reports.document import Document
from helpers import context


def _event(ts: str, kind: str, **attrs: Any) -> str:
    return json.dumps({"ts": f"{ts}T12:00:00Z", "entity": "flat", "type": kind, **attrs})


EVENTS = "\n".join([
    _event("2024-12-15", "lease", unit="A", tenant="t1", monthly_rent=1000, start="2025-01-01", end="2025-12-31"),
    _event("2026-01-10", "lease", unit="A", tenant="t2", monthly_rent=1200, start="2026-02-01", end="2026-12-31"),
    _event("2025-05-20", "lease", unit="B", tenant="t3", monthly_rent=900, start="2025-06-01", end="2026-05-31"),
    _event("2026-03-15", "move_out", unit="B", tenant="t3"),
    _event("2026-11-01", "lease", unit="B", tenant="t4", monthly_rent=950, start="2026-12-01", end="2027-11-30"),
    _event("2026-01-01", "unit", unit="C"),
    _event("2026-11-20", "lease", unit="C", tenant="t5", monthly_rent=800, start="2026-12-01", end="2027-11-30"),
    _event("2026-02-01", "lease", tenant="t9", monthly_rent=500, start="2026-02-01"),
]) + "\n"  # fmt: skip
# as_of 2026-11-15; the 12 months are the days 2025-11-16 .. 2026-11-15 (365 days).
# Units A, B, C (the lease with no unit is reported, the lease signed 2026-11-20 is after as_of).
# Occupied on as_of: A (t2, 1200, ends 2026-12-31: 46 days away, no later lease -> lease-expiring, medium).
#   B: t3 moved out 2026-03-15; t4 signed 2026-11-01 starts 2026-12-01 -> vacant, pre-leased (unit-vacant, low).
#   C: never leased -> vacant (unit-vacant, high).
# Occupied unit-days: A lease 1 2025-11-16..12-31 = 15 + 31 = 46; lease 2 2026-02-01..11-15 =
#   28+31+30+31+30+31+31+30+31+15 = 288 -> 334. B 2025-11-16..2026-03-15 = 15+31+31+28+15 = 120. C 0.
#   occupancy.ttm = 454 / 1095; vacant unit-days = 1095 - 454 = 641.
# Vacancy loss: A January 2026 at the next lease's 1200: 31 * 1200/31 = 1200. B 2026-03-16..11-15 at t4's 950:
#   16 * 950/31 + 7 * 950 (Apr..Oct) + 15 * 950/30 = 490.32 + 6650 + 475 = 7615.32. C has no rent: left out.
#   Total 8815.32 (to cents).
LEDGER = """date,account,amount,description,counterparty,receipt
2025-11-15,Income:Rent,1000,Rent on the window start: outside,t1,
2025-12-01,Income:Rent,1000,Rent,t1,
2026-02-01,Income:Rent,1200,Rent,t2,
2026-02-05,Income:Rent,-100,Refund,t2,
2026-03-01,Income:Rent,900,Rent,t3,
2026-03-05,Expenses:Insurance,-150,Policy,insurer,R1
2026-04-01,Expenses:Mortgage-Interest,-800,Interest,bank,R2
2026-04-01,Liabilities:Mortgage,-400,Principal,bank,
2026-05-01,Liabilities:Security-Deposits,-900,Deposit returned,t3,
2026-06-01,Expenses:Repairs,-3000,Roof,roofer,R3
2026-07-01,Expenses:Repairs,-200,Tap,handyman,R4
2026-11-16,Income:Rent,1200,After as_of,t2,
"""
# rent.collected.ttm = 1000 + 1200 - 100 + 900 = 3000; expenses.ttm = 150 + 800 + 3000 + 200 = 4150
# opex.ttm = 150 + 200 = 350 (interest is debt service; the 3000 roof is above capitalize_above 2500)
# noi.ttm = 3000 - 350 = 2650; capex.ttm = 3000; debt_service.ttm = 800 interest + 400 principal = 1200
#   (the returned security deposit is not debt); cash_flow.after_debt.ttm = noi - debt service - capital repairs
#   = 2650 - 1200 - 3000 = -1550; dscr.ttm = noi / debt service = 2650 / 1200 = 2.21 (above 1.25: no finding)


def _ctx(write_portfolio: WritePortfolio, *, events: str | None = EVENTS, ledger: str | None = LEDGER,
         revenue_model: str | None = "rental", as_of: str = "2026-11-15") -> Context:  # fmt: skip
    entity: dict[str, Any] = {"id": "flat", "name": "The Flat"}
    files: dict[str, str | bytes] = {}
    if revenue_model:
        entity["revenue_model"] = revenue_model
    if events is not None:
        entity["events"] = "data/events.jsonl"
        files["data/events.jsonl"] = events
    if ledger is not None:
        entity["ledger"] = "data/ledger.csv"
        files["data/ledger.csv"] = ledger
    manifest = base_manifest(entities=[entity], policies={"capitalize_above": 2500})
    return context(write_portfolio(manifest, files), as_of=as_of)


def _results(ctx: Context) -> PropertyResults:
    found = ctx.results("property")
    assert isinstance(found, PropertyResults)
    return found


def _value(results: PropertyResults, key: str) -> Any:
    return results.figures[f"property.flat.{key}"].value


@pytest.fixture
def flat(write_portfolio: WritePortfolio) -> Context:
    """The hand-computed rental."""
    return _ctx(write_portfolio)


def test_leases_read_from_events(flat: Context) -> None:
    rental = _results(flat).rentals["flat"]
    assert rental.units == ["A", "B", "C"]
    assert [(x.unit, x.tenant, x.rent, x.until) for x in rental.leases] == [
        ("A", "t1", Decimal(1000), dt.date(2025, 12, 31)),
        ("A", "t2", Decimal(1200), dt.date(2026, 12, 31)),
        ("B", "t3", Decimal(900), dt.date(2026, 3, 15)),  # moved out before the lease's end
        ("B", "t4", Decimal(950), dt.date(2027, 11, 30)),
    ]
    assert rental.problems[0] == "data/events.jsonl:8: lease event not used because it names no unit"
    assert "unit C has no lease to price its vacant days" in rental.problems[1]


def test_rent_roll_and_occupancy_at_as_of(flat: Context) -> None:
    results = _results(flat)
    roll = {r.unit: r for r in results.rent_roll["flat"]}
    assert (roll["A"].status, roll["A"].tenant, roll["A"].rent, roll["A"].days_to_end) == ("occupied", "t2",
                                                                                            Decimal(1200), 46)  # fmt: skip
    assert (roll["B"].status, roll["B"].next_start) == ("vacant", dt.date(2026, 12, 1))
    assert (roll["C"].status, roll["C"].next_start) == ("vacant", None)  # t5's lease is signed after as_of
    assert _value(results, "units") == 3
    assert _value(results, "units.occupied") == 1
    assert _value(results, "occupancy") == Decimal(1) / 3
    assert _value(results, "rent_roll.monthly") == Decimal(1200)
    # line 7 is after as_of, line 8 is unusable
    assert results.figures["property.flat.units"].sources == ("data/events.jsonl:1-6",)


def test_occupancy_over_twelve_months_in_unit_days(flat: Context) -> None:
    results = _results(flat)
    assert _value(results, "occupancy.ttm") == Decimal(454) / Decimal(1095)
    assert _value(results, "vacancy.days.ttm") == 641
    assert _value(results, "vacancy_loss.ttm").quantize(Decimal("0.01")) == Decimal("8815.32")


def test_lease_findings(flat: Context) -> None:
    results = _results(flat)
    found = {(f.kind, f.title.split(":")[0].split(" is")[0]): f for f in results.findings}
    expiring = found[("lease-expiring", "Unit A")]
    assert (expiring.severity, expiring.amount, expiring.line) == ("medium", Decimal(1200), 2)
    assert "ends 2026-12-31, in 46 days" in expiring.title
    assert _value(results, "leases.expiring") == 1
    vacant_b = found[("unit-vacant", "Unit B")]
    assert vacant_b.severity == "low" and "since 2026-03-16" in vacant_b.title and "2026-12-01" in vacant_b.title
    vacant_c = found[("unit-vacant", "Unit C")]
    assert vacant_c.severity == "high" and vacant_c.amount is None


def test_expiring_within_thirty_days_is_high(write_portfolio: WritePortfolio) -> None:
    ctx = _ctx(write_portfolio, as_of="2026-12-10")  # A's lease ends in 21 days
    [found] = [f for f in _results(ctx).findings if f.kind == "lease-expiring"]
    assert found.severity == "high"


def test_income_expenses_and_noi(flat: Context) -> None:
    results = _results(flat)
    assert _value(results, "rent.collected.ttm") == Decimal(3000)
    assert _value(results, "expenses.ttm") == Decimal(4150)
    assert _value(results, "opex.ttm") == Decimal(350)
    assert _value(results, "noi.ttm") == Decimal(2650)
    assert _value(results, "capex.ttm") == Decimal(3000)
    assert _value(results, "debt_service.ttm") == Decimal(1200)
    assert _value(results, "cash_flow.after_debt.ttm") == Decimal(-1550)  # 2650 - 1200 - 3000
    assert _value(results, "dscr.ttm") == Decimal(2650) / Decimal(1200)
    assert results.figures["property.flat.dscr.ttm"].unit == "x"
    assert not [f for f in results.findings if f.kind == "low-dscr"]
    assert results.figures["property.flat.opex.ttm"].sources == ("data/ledger.csv:7,12",)
    assert results.figures["property.flat.rent.collected.ttm"].sources == ("data/ledger.csv:3-6",)
    roles = {(a, r) for a, _, _, r in results.expenses["flat"]}
    assert ("Expenses:Repairs", "capital item") in roles and ("Expenses:Repairs", "operating") in roles


@pytest.mark.parametrize(
    ("principal", "severity", "needed"),
    [
        # debt service 800 + 1700 = 2500: DSCR 2650 / 2500 = 1.06, under 1.25; 1.25 x 2500 - 2650 = 475 more NOI
        ("-1700", "medium", Decimal(475)),
        # debt service 800 + 2200 = 3000: DSCR 0.88, under 1: the rent does not cover the loan; 3750 - 2650 = 1100
        ("-2200", "high", Decimal(1100)),
    ],
)
def test_low_debt_service_coverage(write_portfolio: WritePortfolio, principal: str, severity: str,
                                   needed: Decimal) -> None:  # fmt: skip
    ctx = _ctx(write_portfolio, ledger=LEDGER.replace("Liabilities:Mortgage,-400", f"Liabilities:Mortgage,{principal}"))
    results = _results(ctx)
    service = 800 - Decimal(principal)
    assert _value(results, "dscr.ttm") == Decimal(2650) / service
    assert _value(results, "cash_flow.after_debt.ttm") == 2650 - service - 3000
    [found] = [f for f in results.findings if f.kind == "low-dscr"]
    assert (found.severity, found.amount, found.entity) == (severity, needed, "flat")
    assert found.title.startswith(f"The Flat: net operating income covers debt service {Decimal(2650) / service:.2f} ")
    doc = loads(dumps(build_report(ctx, "property").to_json()))
    noi = next(s for s in doc["sections"] if s["id"] == "flat-noi")
    assert noi["figures"][-3:] == ["property.flat.dscr.ttm", "property.flat.capex.ttm",
                                   "property.flat.cash_flow.after_debt.ttm"]  # fmt: skip


def test_cash_flow_without_debt_deducts_capital_repairs(write_portfolio: WritePortfolio) -> None:
    # no interest or mortgage rows: no debt service, no DSCR; cash flow = noi 2650 - capital repairs 3000 = -350
    ledger = "".join(line + "\n" for line in LEDGER.splitlines() if "Mortgage" not in line)
    results = _results(_ctx(write_portfolio, ledger=ledger))
    assert "property.flat.debt_service.ttm" not in results.figures and "property.flat.dscr.ttm" not in results.figures
    assert _value(results, "cash_flow.after_debt.ttm") == Decimal(-350)


def test_timeline_helpers_directly() -> None:
    rows = [
        (dt.datetime(2026, 1, 1), "lease", "t1", None, json.dumps({"unit": "A", "monthly_rent": 3100,
                                                                   "start": "2026-01-01"}), "e.jsonl", 1),
        (dt.datetime(2026, 1, 20), "move_out", "t1", None, json.dumps({"unit": "A", "date": "2026-01-20"}),
         "e.jsonl", 2),
    ]  # fmt: skip
    rental = read_rental("x", rows)
    [lease] = rental.leases
    assert (lease.tenant, lease.end, lease.until) == ("t1", None, dt.date(2026, 1, 20))  # tenant from customer
    # January 2026: occupied 1..20 = 20 days of 31; vacant 21..31 = 11 days at 3100/31 = 100 a day -> 1100
    assert occupancy_days(rental, dt.date(2026, 1, 1), dt.date(2026, 1, 31)) == (20, 31)
    assert vacancy_loss(rental, dt.date(2026, 1, 1), dt.date(2026, 1, 31)) == (Decimal(1100), [])
    [line] = rent_roll(rental, dt.date(2026, 1, 25))
    assert (line.status, line.tenant, line.next_start) == ("vacant", None, None)


def test_a_renewal_signed_in_advance_replaces_the_old_lease_from_its_start() -> None:
    rows = [
        (dt.datetime(2025, 1, 1), "lease", None, None, json.dumps({"unit": "A", "tenant": "t1", "monthly_rent": 1000,
                                                                   "start": "2025-01-01", "end": "2026-12-31"}),
         "e.jsonl", 1),
        (dt.datetime(2026, 3, 1), "lease", None, None, json.dumps({"unit": "A", "tenant": "t1", "monthly_rent": 1100,
                                                                   "start": "2026-04-01", "end": "2027-03-31"}),
         "e.jsonl", 2),
    ]  # fmt: skip
    rental = read_rental("x", rows)
    assert [x.until for x in rental.leases] == [dt.date(2026, 3, 31), dt.date(2027, 3, 31)]
    [line] = rent_roll(rental, dt.date(2026, 5, 1))
    assert (line.rent, line.end) == (Decimal(1100), dt.date(2027, 3, 31))


def test_rental_without_lease_events(write_portfolio: WritePortfolio) -> None:
    ctx = _ctx(write_portfolio, events=None)
    results = _results(ctx)
    assert "property.flat.units" not in results.figures
    assert _value(results, "noi.ttm") == Decimal(2650)
    doc = build_report(ctx, "property")
    assert doc.missing[0]["data"].startswith("`lease` events")
    assert doc.missing[0]["needed_for"] == "the rent roll, occupancy, vacancy loss and lease findings"


def test_entity_with_lease_events_is_covered_without_rental_model(write_portfolio: WritePortfolio) -> None:
    ctx = _ctx(write_portfolio, revenue_model=None, ledger=None)
    results = _results(ctx)
    assert results.covered == ["flat"]
    assert "property.flat.noi.ttm" not in results.figures
    doc = build_report(ctx, "property")
    assert {"data": "ledger of The Flat (flat)", "needed_for": (
        "rent collected, expenses by account and net operating income")} in doc.missing  # fmt: skip


def test_no_rental_entity(write_portfolio: WritePortfolio) -> None:
    ctx = context(write_portfolio(base_manifest()), as_of="2026-11-15")
    doc = build_report(ctx, "property")
    assert doc.summary == ["No rental entity: no entity has `revenue_model: rental` or lease events."]
    assert doc.figures == {} and doc.findings == []
    assert "the property report" in doc.missing[0]["needed_for"]


def test_report_on_the_hand_computed_rental(flat: Context) -> None:
    doc = loads(dumps(build_report(flat, "property").to_json()))
    assert doc["title"] == "Property report"
    assert doc["summary"][:2] == [
        "The Flat: 1 of 3 units let (33.3%), 41.5% occupancy over the last twelve months, rent roll $1,200.00 a month.",
        "The Flat: net operating income of $2,650.00 over the last twelve months on $3,000.00 collected.",
    ]  # 454 / 1095 = 41.46%
    roll = next(s for s in doc["sections"] if s["id"] == "flat-rent-roll")
    assert roll["rows"][0] == ["A", "occupied", "t2", 1200, "2026-02-01", "2026-12-31", 46, None]
    findings = next(s for s in doc["sections"] if s["id"] == "flat-findings")
    assert [doc["findings"][i]["kind"] for i in findings["findings"]] == ["unit-vacant", "lease-expiring",
                                                                          "unit-vacant"]  # fmt: skip
    occupancy = next(s for s in doc["sections"] if s["id"] == "flat-occupancy")
    assert "names no unit" in occupancy["note"]


# --- the demo portfolio (docs/demo.md) ----------------------------------------------------------


@pytest.fixture(scope="module")
def demo_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly generated demo portfolio."""
    return generate_demo(tmp_path_factory.mktemp("demo") / "portfolio")


@pytest.fixture(scope="module")
def demo_property(demo_manifest: Path) -> Document:
    """The property report of the demo on its report date."""
    return build_report(context(demo_manifest), "property")


def test_demo_one_vacant_month(demo_property: Document) -> None:
    figures = loads(dumps(demo_property.to_json()))["figures"]
    assert figures["property.rental-3028.units"]["value"] == 2
    assert figures["property.rental-3028.occupancy"]["value"] == 1
    assert figures["property.rental-3028.rent_roll.monthly"]["value"] == 4745  # 2450 + 2295
    # unit B empty 2026-09-01..09-30: 30 of 2 x 365 unit-days; priced at the next lease's 2295
    assert figures["property.rental-3028.vacancy.days.ttm"]["value"] == 30
    assert figures["property.rental-3028.occupancy.ttm"]["value"] == Decimal(700) / Decimal(730)
    assert figures["property.rental-3028.vacancy_loss.ttm"]["value"] == 2295
    # A: 6 x 2375 + 6 x 2450 = 28950; B: 9 x 2150 + 2 x 2295 = 23940
    assert figures["property.rental-3028.rent.collected.ttm"]["value"] == 52890
    assert figures["property.rental-3028.capex.ttm"]["value"] == 2980  # the water heater, out of NOI
    # NOI 42,427.74 over debt service 34,131.72 (interest and principal): DSCR 1.243, under 1.25 by 236.91 a year
    assert figures["property.rental-3028.dscr.ttm"]["value"].quantize(Decimal("0.001")) == Decimal("1.243")
    # cash flow after debt service and the water heater: 42,427.74 - 34,131.72 - 2,980 = 5,316.02
    assert figures["property.rental-3028.cash_flow.after_debt.ttm"]["value"] == Decimal("5316.02")
    [coverage] = [f for f in demo_property.findings if f.kind != "stale-source"]  # every report lists those
    assert (coverage.kind, coverage.severity, coverage.amount) == ("low-dscr", "medium", Decimal("236.91"))
    assert "95.9% occupancy over the last twelve months" in demo_property.summary[0]


def test_demo_vacancy_and_expiry_on_earlier_dates(demo_manifest: Path) -> None:
    during = build_report(context(demo_manifest, as_of="2026-09-10"), "property")
    [vacant] = [
        f for f in during.findings if f.kind not in ("low-dscr", "stale-source")
    ]  # t-b02's lease is signed on 2026-09-18
    assert (vacant.kind, vacant.severity) == ("unit-vacant", "high")
    assert vacant.title == "Unit B is vacant since 2026-09-01; no lease signed"
    before = build_report(context(demo_manifest, as_of="2026-08-15"), "property")
    [expiring] = [f for f in before.findings if f.kind not in ("low-dscr", "stale-source")]
    assert (expiring.kind, expiring.severity, expiring.amount) == ("lease-expiring", "high", Decimal(2150))
    assert "ends 2026-08-31, in 16 days" in expiring.title
