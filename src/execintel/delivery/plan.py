"""Who gets which report, for which period, under which delivery key.

A delivery is one report for one recipient. Its key is stable for (portfolio,
schedule or ad hoc, period, report, recipient), so a rerun of the same run finds
what already went out and sends only the rest; ``--force`` adds the run id to
the key, which makes every delivery new (and is recorded as forced).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import zoneinfo
from dataclasses import dataclass

from execintel.config.models import ROLES, Manifest, Schedule, Stakeholder

ADHOC = "adhoc"
NOTICE = "failure-notice"  # the report id of the message that tells the audit mailbox what failed


@dataclass(frozen=True, slots=True)
class Planned:
    """One delivery to make: a report for a stakeholder."""

    key: str
    report: str
    stakeholder: Stakeholder
    schedule_id: str | None
    period: str

    @property
    def recipient(self) -> str:
        """The To address."""
        return self.stakeholder.email


def receives(person: Stakeholder, report: str) -> bool:
    """True when ``person``'s roles give them ``report``: the role of that name (``cfo`` gets the CFO report,
    ``daily`` the daily digest) or ``admin``, who gets every report."""
    return report in person.roles or "admin" in person.roles


def recipients(manifest: Manifest, report: str, schedule: Schedule | None = None) -> list[Stakeholder]:
    """The stakeholders who get ``report``: the schedule's ``to`` list when it has one, else by role."""
    if schedule is not None and schedule.to is not None:
        chosen = set(schedule.to)
        return [p for p in manifest.stakeholders if p.id in chosen]
    return [p for p in manifest.stakeholders if receives(p, report)]


def schedule_tick(schedule: Schedule, timezone: str, now: dt.datetime) -> dt.datetime:
    """The latest time ``schedule`` fired at or before ``now`` (aware, in the portfolio's time zone)."""
    from croniter import croniter  # noqa: PLC0415

    local = now.astimezone(zoneinfo.ZoneInfo(timezone))
    # croniter's get_prev is strictly before its start: start one second later so a tick at `now` counts
    prev: dt.datetime = croniter(schedule.cron, local + dt.timedelta(seconds=1)).get_prev(dt.datetime)
    return prev


def next_tick(schedule: Schedule, timezone: str, after: dt.datetime) -> dt.datetime:
    """The first time ``schedule`` fires strictly after ``after`` (aware, in the portfolio's time zone)."""
    from croniter import croniter  # noqa: PLC0415

    nxt: dt.datetime = croniter(schedule.cron, after.astimezone(zoneinfo.ZoneInfo(timezone))).get_next(dt.datetime)
    return nxt


def period_of(tick: dt.datetime) -> str:
    """A schedule period's name: the local time it fired, ``2026-11-16T07:00``."""
    return tick.strftime("%Y-%m-%dT%H:%M")


def delivery_key(portfolio: str, schedule_id: str | None, period: str, report: str, address: str, *,
                 salt: str = "") -> str:  # fmt: skip
    """A stable, file-name-safe key: readable report and period, then a hash of everything that identifies it."""
    identity = "\x1f".join((portfolio, schedule_id or ADHOC, period, report, address.lower(), salt))
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:20]
    return f"{report}.{re.sub(r'[^0-9A-Za-z]', '', period)}.{digest}"


def plan(
    manifest: Manifest, reports: list[str], *, schedule: Schedule | None, period: str, salt: str = ""
) -> tuple[list[Planned], list[str]]:
    """Every delivery of ``reports`` for ``period``, and the reports nobody receives."""
    planned: list[Planned] = []
    unreceived: list[str] = []
    name = manifest.portfolio.name
    schedule_id = schedule.id if schedule is not None else None
    for report in reports:
        people = recipients(manifest, report, schedule)
        if not people:
            unreceived.append(report)
        seen: set[str] = set()
        for person in people:
            if person.email.lower() in seen:  # two stakeholders sharing an address get one message
                continue
            seen.add(person.email.lower())
            key = delivery_key(name, schedule_id, period, report, person.email, salt=salt)
            planned.append(Planned(key, report, person, schedule_id, period))
    return planned, unreceived


def roles_help() -> str:
    """The roles a stakeholder can have, for messages."""
    return f"{', '.join(ROLES)} or a report id"
