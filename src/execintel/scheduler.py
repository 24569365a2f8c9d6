"""The local scheduler: fires each schedule of the manifest on time, one run at a time, and survives restarts.

When a schedule fired last is kept in the store. At every wake-up each schedule whose latest tick (in the
portfolio's time zone) is later than its last firing is run once, for that tick's period, so a scheduler that
was down over several ticks catches up with one run, not one per missed tick; the run itself sends only what
has not gone out for that period. A run is a child process (`execintel run --schedule ID`), the same command a
person runs, so a crash in one run never takes the scheduler down.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from execintel.config.models import Manifest, Schedule
from execintel.delivery.plan import next_tick, period_of, schedule_tick
from execintel.store import Lock, Store

log = logging.getLogger(__name__)

LOCK_TTL = 300.0
MAX_SLEEP = 30.0  # wake at least this often: to renew the lock, notice a changed manifest or a clock jump

Launch = Callable[[Schedule, str], int]
"""Run one schedule for one period; returns the run's exit status."""


@dataclass(frozen=True, slots=True)
class Firing:
    """One run the scheduler started."""

    schedule_id: str
    period: str
    status: int


def schedule_key(manifest: Manifest, schedule: Schedule) -> str:
    """The store's key for when ``schedule`` of this portfolio last fired."""
    return f"{manifest.portfolio.name}:{schedule.id}"


class Scheduler:
    """Fires due schedules through ``launch``; ``clock`` and ``sleep`` are injectable for tests."""

    def __init__(
        self, store: Store, load: Callable[[], Manifest], launch: Launch, *, catch_up: bool = True,
        clock: Callable[[], dt.datetime] | None = None, sleep: Callable[[float], None] = time.sleep,
        max_sleep: float = MAX_SLEEP,
    ) -> None:  # fmt: skip
        self.store, self.load, self.launch, self.catch_up = store, load, launch, catch_up
        self.max_sleep = max_sleep
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.sleep = sleep
        self.manifest = load()
        self.lock: Lock | None = None
        self._started = self.clock()

    def start(self) -> Lock | None:
        """Take the portfolio's scheduler lock; None when another scheduler holds it."""
        self.lock = self.store.acquire(f"scheduler:{self.manifest.portfolio.name}", ttl=LOCK_TTL)
        return self.lock

    def stop(self) -> None:
        """Release the scheduler lock."""
        if self.lock is not None:
            self.store.release(self.lock)
            self.lock = None

    def due(self, now: dt.datetime) -> list[tuple[Schedule, dt.datetime]]:
        """Each schedule whose latest tick at ``now`` is later than when it last fired, with that tick."""
        out = []
        for schedule in self.manifest.schedules:
            tick = schedule_tick(schedule, self.manifest.portfolio.timezone, now)
            last = self.store.last_fired(schedule_key(self.manifest, schedule))
            if not self.catch_up and tick < self._started:
                continue  # --no-catch-up: only ticks after the scheduler started
            if last is None or last < tick:
                out.append((schedule, tick))
        return sorted(out, key=lambda item: (item[1], item[0].id))

    def fire_due(self) -> list[Firing]:
        """Run every due schedule once, one after the other, and record each firing."""
        fired = []
        for schedule, tick in self.due(self.clock()):
            period = period_of(tick)
            log.info("running schedule %s for %s", schedule.id, period)
            status = self.launch(schedule, period)
            self.store.set_fired(schedule_key(self.manifest, schedule), tick)
            if status != 0:
                log.warning("schedule %s for %s exited %d (see its output and `execintel audit list`)",
                            schedule.id, period, status)  # fmt: skip
            fired.append(Firing(schedule.id, period, status))
        return fired

    def seconds_to_next(self) -> float:
        """Seconds until the next tick of any schedule (at most ``max_sleep``)."""
        now = self.clock()
        ticks = [next_tick(s, self.manifest.portfolio.timezone, now) for s in self.manifest.schedules]
        if not ticks:
            return self.max_sleep
        return max(0.0, min(self.max_sleep, (min(ticks) - now).total_seconds()))

    def run_forever(self, *, until: Callable[[], bool] = lambda: False) -> None:
        """Fire due schedules, sleep until the next tick, repeat (``until()`` stops it, for tests)."""
        while not until():
            self.fire_due()
            self.sleep(self.seconds_to_next())
            self._reload()
            if self.lock is not None:
                self.lock = self.store.renew(self.lock, ttl=LOCK_TTL)

    def _reload(self) -> None:
        """Pick up an edited manifest; keep the old one (and say so) when the new one is invalid."""
        try:
            self.manifest = self.load()
        except Exception as exc:  # a bad edit must not stop the schedules already running
            log.error("the manifest could not be reloaded, keeping the previous one: %s", exc)


def manifest_loader(path: Path, *, allow_outside: bool = False) -> Callable[[], Manifest]:
    """Load the manifest at ``path``, re-reading it only when the file changed."""
    from execintel.config import load_portfolio  # noqa: PLC0415

    cache: dict[str, object] = {}

    def load() -> Manifest:
        stamp = path.stat().st_mtime_ns
        if cache.get("stamp") != stamp:
            cache["manifest"] = load_portfolio(path, allow_outside=allow_outside).manifest
            cache["stamp"] = stamp
        manifest = cache["manifest"]
        assert isinstance(manifest, Manifest)  # noqa: S101 - set just above
        return manifest

    return load
