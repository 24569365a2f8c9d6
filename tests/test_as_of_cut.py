"""Timestamped sources are cut at the instant as_of ends in the portfolio's time zone, not by UTC date or month.

``as_of`` is a date in ``portfolio.timezone``; it ends at midnight starting the next day there. An event counts
when its ``ts`` is before that instant; a FOCUS or Cost Explorer cost row when its charge period starts before it
(and its billing month is not after the month of ``as_of``). Dates of events (windows, months) are read in the
portfolio's zone too.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from conftest import WritePortfolio, base_manifest
from execintel.analysis import cloud
from execintel.analysis.context import day_end
from helpers import context

D = Decimal


def _events_portfolio(write_portfolio: WritePortfolio, zone: str, as_of: str, stamps: list[str]) -> Any:
    lines = "".join(json.dumps({"ts": ts, "type": "lead", "customer": f"c{i}"}) + "\n" for i, ts in enumerate(stamps))
    manifest = base_manifest(
        portfolio={"name": "Test Holdings", "as_of": as_of, "timezone": zone},
        entities=[{"id": "qosd", "name": "Q", "events": "events.jsonl"}],
    )
    return context(write_portfolio(manifest, {"events.jsonl": lines}))


def _leads(ctx: Any) -> int:
    return int(ctx.results("marketing").figures["funnel.qosd.leads"].value)


@pytest.mark.parametrize(
    ("zone", "as_of", "expected"),
    [
        ("UTC", "2026-10-31", dt.datetime(2026, 11, 1)),
        ("America/Los_Angeles", "2026-10-31", dt.datetime(2026, 11, 1, 7)),  # PDT, UTC-7
        ("America/Los_Angeles", "2026-11-01", dt.datetime(2026, 11, 2, 8)),  # the 25-hour day DST ends: PST, UTC-8
        ("Pacific/Kiritimati", "2026-10-31", dt.datetime(2026, 10, 31, 10)),  # UTC+14
    ],
)
def test_the_instant_as_of_ends(zone: str, as_of: str, expected: dt.datetime) -> None:
    assert day_end(dt.date.fromisoformat(as_of), zone) == expected


def test_events_count_up_to_the_end_of_as_of_in_the_portfolio_zone(write_portfolio: WritePortfolio) -> None:
    # Los Angeles, as_of 2026-10-31 (PDT, UTC-7): the day ends at 2026-11-01T07:00Z. The 12-month window is the
    # local dates 2025-11-01 .. 2026-10-31 (PDT until 2025-11-02: it starts at 2025-11-01T07:00Z).
    stamps = [
        "2025-11-01T06:30:00Z",  # 2025-10-31 23:30 local: before the window
        "2025-11-01T07:30:00Z",  # 2025-11-01 00:30 local: the window's first day
        "2026-10-31T12:00:00Z",  # 05:00 local on as_of
        "2026-11-01T06:59:59Z",  # 23:59:59 local on as_of: a UTC date after as_of, still counted
        "2026-10-31T23:30:00-07:00",  # the same day written with its offset
        "2026-11-01T07:00:00Z",  # 00:00 local on 2026-11-01: after as_of, ignored
        "2026-11-01",  # a bare date is midnight UTC: 2026-10-31 17:00 local, counted
    ]
    ctx = _events_portfolio(write_portfolio, "America/Los_Angeles", "2026-10-31", stamps)
    # in the view: everything but the 07:00Z event (6 of 7); in the window: those minus the first (5)
    assert ctx.query("SELECT count(*) FROM ev")[0][0] == 6
    assert _leads(ctx) == 5
    # every event is dated by its local date: the late-evening event of as_of is on 2026-10-31
    assert ctx.query("SELECT max(CAST(ts AS DATE)) FROM ev")[0][0] == dt.date(2026, 10, 31)


def test_events_east_of_utc_end_before_midnight_utc(write_portfolio: WritePortfolio) -> None:
    # Kiritimati (UTC+14), as_of 2026-10-31: ends at 2026-10-31T10:00Z. Before, an event at 10:00Z-23:59Z of the
    # same UTC date (already 2026-11-01 there) was counted.
    stamps = ["2026-10-31T09:59:59Z", "2026-10-31T10:00:00Z", "2026-10-31T23:00:00Z", "2026-10-30T10:00:00Z"]
    ctx = _events_portfolio(write_portfolio, "Pacific/Kiritimati", "2026-10-31", stamps)
    assert _leads(ctx) == 2  # 09:59:59Z (23:59:59 local) and the day before


def _focus(write_portfolio: WritePortfolio, zone: str, as_of: str, rows: list[tuple[str, str]]) -> Any:
    text = "BilledCost,ServiceName,ChargePeriodStart\n" + "".join(f"{a},Amazon S3,{s}\n" for a, s in rows)
    manifest = base_manifest(portfolio={"name": "Test Holdings", "as_of": as_of, "timezone": zone},
                             cloud_costs="focus.csv")  # fmt: skip
    return context(write_portfolio(manifest, {"focus.csv": text}))


DAILY = [
    ("1", "2026-11-14 00:00:00"),
    ("2", "2026-11-15 00:00:00"),
    ("4", "2026-11-16 00:00:00"),
    ("8", "2026-11-16T08:00:00Z"),
    ("16", "2026-11-20 00:00:00"),
    ("32", "2026-10-31 00:00:00"),
]


def test_focus_charges_are_cut_at_the_instant_as_of_ends(write_portfolio: WritePortfolio) -> None:
    # UTC: as_of 2026-11-15 ends at 2026-11-16T00:00Z: the charges starting 11-14 and 11-15 count (1 + 2 = 3);
    # before, every November row counted (1 + 2 + 4 + 8 + 16 = 31)
    figures = cloud.analyze(_focus(write_portfolio, "UTC", "2026-11-15", DAILY)).figures
    assert figures["cloud.spend.month.2026-11"].value == D(3)
    assert figures["cloud.spend.month.2026-10"].value == D(32)


def test_focus_charges_in_a_zone_west_of_utc(write_portfolio: WritePortfolio) -> None:
    # Los Angeles (PST, UTC-8): as_of 2026-11-15 ends at 2026-11-16T08:00Z. The charge period starting
    # 2026-11-16T00:00Z begins on 2026-11-15 at 16:00 local, before as_of ends: it counts (1 + 2 + 4 = 7); the one
    # starting at 08:00Z (midnight local) does not.
    figures = cloud.analyze(_focus(write_portfolio, "America/Los_Angeles", "2026-11-15", DAILY)).figures
    assert figures["cloud.spend.month.2026-11"].value == D(7)


def test_focus_charges_in_a_zone_east_of_utc(write_portfolio: WritePortfolio) -> None:
    # Tokyo (UTC+9): as_of 2026-11-15 ends at 2026-11-15T15:00Z: 11-14 and 11-15 00:00Z count (1 + 2 = 3)
    figures = cloud.analyze(_focus(write_portfolio, "Asia/Tokyo", "2026-11-15", DAILY)).figures
    assert figures["cloud.spend.month.2026-11"].value == D(3)


def test_a_charge_of_the_next_billing_month_is_not_counted_at_a_month_end(write_portfolio: WritePortfolio) -> None:
    # Los Angeles, as_of 2026-10-31 (ends 2026-11-01T07:00Z). The charge period starting 2026-11-01T00:00Z starts
    # on Oct 31 at 17:00 local, but it is billed in November, a month after the month of as_of: not counted.
    rows = [("5", "2026-10-31 00:00:00"), ("7", "2026-11-01 00:00:00")]
    figures = cloud.analyze(_focus(write_portfolio, "America/Los_Angeles", "2026-10-31", rows)).figures
    assert figures["cloud.spend.month.2026-10"].value == D(5)
    assert "cloud.spend.month.2026-11" not in figures


def test_cost_explorer_daily_periods_after_as_of_are_ignored(write_portfolio: WritePortfolio) -> None:
    def period(start: str, amount: str) -> dict[str, Any]:
        return {"TimePeriod": {"Start": start},
                "Groups": [{"Keys": ["Amazon S3"], "Metrics": {"UnblendedCost": {"Amount": amount}}}]}  # fmt: skip

    response = {"GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}],
                "ResultsByTime": [period("2026-11-15", "1.5"), period("2026-11-16", "2.5")]}  # fmt: skip
    path = write_portfolio(base_manifest(cloud_costs="ce.json"), {"ce.json": json.dumps(response)})
    # UTC, as_of 2026-11-15: the period starting 2026-11-16 (midnight UTC) is after as_of; before, both counted (4)
    figures = cloud.analyze(context(path)).figures
    assert figures["cloud.spend.month.2026-11"].value == D("1.5")


def test_own_cost_csv_is_cut_by_month_only(write_portfolio: WritePortfolio) -> None:
    csv = "month,service,amount,entity\n2026-11,Amazon S3,3,\n2026-12,Amazon S3,9,\n"
    path = write_portfolio(base_manifest(cloud_costs="aws.csv"), {"aws.csv": csv})
    figures = cloud.analyze(context(path)).figures  # a month row has no instant: the month of as_of counts whole
    assert (figures["cloud.spend.month.2026-11"].value, "cloud.spend.month.2026-12" in figures) == (D(3), False)
