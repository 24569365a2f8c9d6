"""Who gets which report, under which key, for which period; retry policies and cron checks in the manifest."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from conftest import base_manifest, delivery_manifest
from execintel.config.models import DAILY_RETRY, WEEKLY_RETRY, Manifest, Schedule
from execintel.delivery.plan import delivery_key, next_tick, period_of, plan, recipients, schedule_tick


def _manifest(**overrides: Any) -> Manifest:
    return Manifest.model_validate(delivery_manifest(**overrides))


def test_reports_go_by_role_and_admin_gets_every_one() -> None:
    manifest = Manifest.model_validate(base_manifest(stakeholders=[
        {"id": "c", "name": "C", "email": "c@example.com", "roles": ["cfo"]},
        {"id": "a", "name": "A", "email": "a@example.com", "roles": ["admin"]},
        {"id": "d", "name": "D", "email": "d@example.com", "roles": ["daily"]},
    ]))  # fmt: skip
    assert [p.id for p in recipients(manifest, "cfo")] == ["c", "a"]
    assert [p.id for p in recipients(manifest, "daily")] == ["a", "d"]
    assert [p.id for p in recipients(manifest, "property")] == ["a"]
    planned, unreceived = plan(manifest, ["cfo", "cmo"], schedule=None, period="2026-11-15")
    assert [(p.report, p.recipient) for p in planned] == [("cfo", "c@example.com"), ("cfo", "a@example.com"),
                                                          ("cmo", "a@example.com")]  # fmt: skip
    assert unreceived == []


def test_a_schedule_to_list_overrides_roles_and_a_shared_address_gets_one_message() -> None:
    manifest = Manifest.model_validate(base_manifest(stakeholders=[
        {"id": "c", "name": "C", "email": "same@example.com", "roles": ["ceo"]},
        {"id": "e", "name": "E", "email": "SAME@example.com", "roles": ["ceo"]},
        {"id": "x", "name": "X", "email": "x@example.com", "roles": []},
    ]))  # fmt: skip
    schedule = Schedule(id="s", cron="0 7 * * *", reports=("ceo",), to=("x",))
    assert [p.id for p in recipients(manifest, "ceo", schedule)] == ["x"]
    planned, _ = plan(manifest, ["ceo"], schedule=None, period="p")
    assert len(planned) == 1
    _, nobody = plan(manifest, ["cto"], schedule=None, period="p")
    assert nobody == ["cto"]


def test_keys_are_stable_distinct_and_safe_as_file_names() -> None:
    one = delivery_key("Demo", "weekly", "2026-11-30T07:00", "cfo", "a@example.com")
    assert one == delivery_key("Demo", "weekly", "2026-11-30T07:00", "cfo", "A@Example.com")
    assert one.startswith("cfo.20261130T0700.")
    others = {
        delivery_key("Demo", "weekly", "2026-12-07T07:00", "cfo", "a@example.com"),
        delivery_key("Demo", None, "2026-11-30T07:00", "cfo", "a@example.com"),
        delivery_key("Other", "weekly", "2026-11-30T07:00", "cfo", "a@example.com"),
        delivery_key("Demo", "weekly", "2026-11-30T07:00", "cfo", "a@example.com", salt="run-2"),
    }
    assert one not in others and len(others) == 4
    hostile = delivery_key("<script>\n{{7*7}}", None, "2026-11-15", "ceo", "a@example.com")
    assert hostile.isascii() and " " not in hostile and "/" not in hostile and "\n" not in hostile


def test_periods_are_the_latest_tick_in_the_portfolio_time_zone() -> None:
    weekly = Schedule(id="w", cron="0 7 * * MON", reports=("ceo",))
    # Tuesday 2026-12-01 06:05 UTC is Monday 22:05 in Los Angeles: this week's tick is Monday 07:00 there
    now = dt.datetime(2026, 12, 1, 6, 5, tzinfo=dt.UTC)
    tick = schedule_tick(weekly, "America/Los_Angeles", now)
    assert period_of(tick) == "2026-11-30T07:00"
    assert tick.utcoffset() == dt.timedelta(hours=-8)
    # a tick at exactly now belongs to now
    at = dt.datetime(2026, 11, 30, 15, 0, tzinfo=dt.UTC)
    assert period_of(schedule_tick(weekly, "America/Los_Angeles", at)) == "2026-11-30T07:00"
    assert period_of(next_tick(weekly, "America/Los_Angeles", at)) == "2026-12-07T07:00"
    # across the spring-forward change, 07:00 local is still 07:00 local
    daily = Schedule(id="d", cron="0 7 * * *", reports=("daily",))
    march = dt.datetime(2027, 3, 14, 16, 0, tzinfo=dt.UTC)
    assert period_of(schedule_tick(daily, "America/Los_Angeles", march)) == "2027-03-14T07:00"


def test_retry_policy_follows_the_cadence_unless_the_schedule_sets_one() -> None:
    assert Schedule(id="d", cron="30 6 * * *", reports=("daily",)).retry_policy == DAILY_RETRY
    assert Schedule(id="w", cron="0 7 * * MON", reports=("ceo",)).retry_policy == WEEKLY_RETRY
    own = Schedule.model_validate({"id": "o", "cron": "0 7 * * *", "reports": ["daily"],
                                   "retry": {"attempts": 7, "initial_delay": 0.5}})  # fmt: skip
    assert own.retry_policy.attempts == 7 and own.retry_policy.initial_delay == Decimal("0.5")


@pytest.mark.parametrize("cron", ["0 7 * *", "61 7 * * *", "0 7 * * FUNDAY"])
def test_a_bad_cron_is_refused(cron: str) -> None:
    with pytest.raises(ValidationError, match="cron"):
        Schedule(id="s", cron=cron, reports=("ceo",))
