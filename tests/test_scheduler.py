"""The local scheduler: on time in the portfolio's zone, once per missed stretch, across restarts, never two at
once. The loop runs here with a clock the test moves; ``execintel schedule --once`` runs as a user runs it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from conftest import WritePortfolio, cli, delivery_manifest
from execintel.config.models import Manifest, Schedule
from execintel.scheduler import Scheduler
from execintel.store import SqliteStore, Store

LA = dt.timezone(dt.timedelta(hours=-8))  # Los Angeles in winter
SCHEDULES = [
    {"id": "daily-ops", "cron": "0 7 * * *", "reports": ["daily"]},
    {"id": "weekly", "cron": "0 7 * * MON", "reports": ["ceo"]},
]


class World:
    """A clock, a sleep that moves it, and a launcher that records what ran."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.ran: list[tuple[str, str]] = []
        self.manifest = Manifest.model_validate(
            delivery_manifest(1, portfolio={"name": "Sched Co", "timezone": "America/Los_Angeles"},
                              schedules=SCHEDULES))  # fmt: skip

    def clock(self) -> dt.datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)

    def launch(self, schedule: Schedule, period: str) -> int:
        self.ran.append((schedule.id, period))
        return 0

    def scheduler(self, store: Store, **options: Any) -> Scheduler:
        return Scheduler(store, lambda: self.manifest, self.launch, clock=self.clock, sleep=self.sleep, **options)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return SqliteStore(tmp_path / "audit.db")


def test_first_start_runs_each_schedule_once_for_its_current_period(store: Store) -> None:
    world = World(dt.datetime(2026, 12, 2, 10, 0, tzinfo=LA))  # a Wednesday, after 07:00
    scheduler = world.scheduler(store)
    assert [f.schedule_id for f in scheduler.fire_due()] == ["weekly", "daily-ops"]
    assert world.ran == [("weekly", "2026-11-30T07:00"), ("daily-ops", "2026-12-02T07:00")]
    assert scheduler.fire_due() == []  # nothing more is due until the next tick


def test_the_loop_fires_on_time_and_catches_up_once_after_a_long_stop(store: Store) -> None:
    world = World(dt.datetime(2026, 12, 2, 10, 0, tzinfo=LA))
    scheduler = world.scheduler(store, max_sleep=6 * 3600)
    wakes: list[dt.datetime] = []

    def until() -> bool:
        wakes.append(world.now)
        return world.now > dt.datetime(2026, 12, 8, 8, 0, tzinfo=LA)

    scheduler.run_forever(until=until)
    assert len(wakes) < 40  # it slept until each tick (or 6 hours), not in small steps
    daily = [period for schedule, period in world.ran if schedule == "daily-ops"]
    assert daily == [f"2026-12-0{d}T07:00" for d in range(2, 9)]  # every morning once, on the tick
    assert [p for s, p in world.ran if s == "weekly"] == ["2026-11-30T07:00", "2026-12-07T07:00"]
    # the scheduler was stopped for three days; started again it runs each schedule once, for the latest tick
    world.now = dt.datetime(2026, 12, 11, 9, 30, tzinfo=LA)
    world.ran.clear()
    again = world.scheduler(store)
    again.fire_due()
    assert world.ran == [("daily-ops", "2026-12-11T07:00")]
    assert again.fire_due() == []


def test_a_restart_does_not_repeat_a_run(store: Store) -> None:
    world = World(dt.datetime(2026, 12, 2, 7, 0, 5, tzinfo=LA))
    world.scheduler(store).fire_due()
    assert len(world.ran) == 2
    world.now += dt.timedelta(minutes=1)
    assert world.scheduler(store).fire_due() == []  # the store remembers what fired


def test_without_catch_up_only_ticks_after_the_start_run(store: Store) -> None:
    world = World(dt.datetime(2026, 12, 2, 10, 0, tzinfo=LA))
    scheduler = world.scheduler(store, catch_up=False)
    assert scheduler.fire_due() == []
    assert scheduler.seconds_to_next() == 30  # woken at least every 30 s; the next tick is tomorrow 07:00
    world.now = dt.datetime(2026, 12, 3, 7, 0, tzinfo=LA)
    assert [f.period for f in scheduler.fire_due()] == ["2026-12-03T07:00"]


def test_a_second_scheduler_of_the_same_portfolio_does_not_start(store: Store, tmp_path: Path) -> None:
    world = World(dt.datetime(2026, 12, 2, 10, 0, tzinfo=LA))
    first = world.scheduler(store)
    assert first.start() is not None
    other = SqliteStore(tmp_path / "audit.db")
    assert world.scheduler(other).start() is None
    first.stop()
    assert world.scheduler(other).start() is not None


def test_schedule_once_runs_what_is_due_and_records_the_trigger(
    write_portfolio: WritePortfolio, tmp_path: Path
) -> None:
    data = delivery_manifest(2, schedules=[{"id": "morning", "cron": "0 7 * * *", "reports": ["daily"]}])
    manifest = write_portfolio(data)
    env = {"EXECINTEL_DATA_DIR": str(tmp_path / "data")}
    first = cli("schedule", str(manifest), "--once", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "1 schedule ran." in first.stdout
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2
    second = cli("schedule", str(manifest), "--once", cwd=tmp_path, env=env)
    assert second.returncode == 0 and "Nothing was due." in second.stdout
    runs = cli("audit", "list", cwd=tmp_path, env=env)
    assert "schedule:morning" in runs.stdout
