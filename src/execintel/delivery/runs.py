"""The pieces of a delivering run that are not about one message: the schedule and period, what is still
to be sent, the audit records of the reports, and the lock that keeps two runs from interleaving."""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import math
import os
import socket
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from execintel.config.models import Manifest, Schedule
from execintel.delivery.plan import Planned, period_of, schedule_tick
from execintel.errors import ConfigError, DeliveryError, Problem
from execintel.store import Lock, ReportRecord, Store
from execintel.store.records import findings_snapshot


def find_schedule(manifest: Manifest, schedule_id: str) -> Schedule:
    """The manifest's schedule ``schedule_id``; a :class:`ConfigError` listing the others when there is none."""
    for schedule in manifest.schedules:
        if schedule.id == schedule_id:
            return schedule
    known = ", ".join(s.id for s in manifest.schedules) or "none"
    raise ConfigError(Problem("--schedule", f"no schedule {schedule_id!r} in the manifest (its schedules: {known})"))


def run_period(manifest: Manifest, schedule: Schedule | None, as_of: dt.date, now: dt.datetime) -> str:
    """The period a run delivers for: its schedule's latest tick, or the report date of an ad-hoc run."""
    if schedule is None:
        return as_of.isoformat()
    return period_of(schedule_tick(schedule, manifest.portfolio.timezone, now))


def pending(store: Store, planned: list[Planned]) -> list[Planned]:
    """The planned deliveries that have not gone out yet."""
    out = []
    for item in planned:
        found = store.get_delivery(item.key)
        if found is None or found.state != "sent":
            out.append(item)
    return out


def trigger(user: str | None = None) -> str:
    """Who started a run from this machine: ``cli:alice@laptop``."""
    try:
        name = user or getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        name = "unknown"
    return f"cli:{name}@{socket.gethostname()}"


def _plain(value: Any) -> Any:
    """A figure value as plain JSON for the store: exact decimals as strings, dates as ISO text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):  # NaN is not JSON
        return None
    return value


def report_record(run_id: str, period: str, doc: Mapping[str, Any], text: str, now: dt.datetime) -> ReportRecord:
    """The audit record of one report: the hash of its JSON file, a snapshot of every figure's value, its as_of and
    its findings (for the findings lifecycle of later runs)."""
    figures = {fid: _plain(figure.get("value")) for fid, figure in doc.get("figures", {}).items()}
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return ReportRecord(run_id=run_id, report=str(doc["report"]), period=period, content_hash=digest,
                        figures=figures, generated=now, as_of=str(doc["as_of"]),
                        findings=findings_snapshot(list(doc.get("findings", []))))  # fmt: skip


DEADLINE_ENV = "EXECINTEL_DELIVERY_DEADLINE"


def delivery_deadline() -> float:
    """Seconds a run may spend delivering, retries included: ``EXECINTEL_DELIVERY_DEADLINE``, else one hour."""
    from execintel.delivery.engine import RUN_DEADLINE  # noqa: PLC0415

    text = os.environ.get(DEADLINE_ENV, "").strip()
    if not text:
        return RUN_DEADLINE
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 7 * 86400:
        raise ConfigError(Problem(DEADLINE_ENV, f"must be a number of seconds from 1 to 604800, not {text[:40]!r}"))
    return seconds


def lock_name(manifest: Manifest) -> str:
    """One lock per portfolio: its runs deliver one at a time (and count the daily limit together)."""
    return f"deliver:{manifest.portfolio.name}"


def wait_for_lock(
    store: Store, name: str, *, wait: float, ttl: float, on_wait: Callable[[Lock], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Lock:  # fmt: skip
    """Take the lock ``name``, waiting up to ``wait`` seconds for another run to finish with it."""
    deadline = time.monotonic() + wait
    told = False
    while True:
        lock = store.acquire(name, ttl=ttl)
        if lock is not None:
            return lock
        holder = store.holder(name)
        if holder is not None and not told and on_wait is not None:
            on_wait(holder)
            told = True
        if time.monotonic() >= deadline:
            who = holder.owner if holder is not None else "another run"
            raise DeliveryError(f"Another run ({who}) is still delivering for this portfolio after {wait:.0f} s; "
                                "this run sent nothing. Try again when it has finished (or raise --wait).")  # fmt: skip
        sleep(0.2)
