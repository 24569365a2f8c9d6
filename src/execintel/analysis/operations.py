"""Operations: the handoff projects, yesterday's activity, and how recent each source's data is.

"Yesterday" is the date ``as_of - 1 day`` in the portfolio's time zone: event timestamps are stored in UTC and
the ``ev`` view shows them in local time (docs/sources.md, "Timestamps and as_of").
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from execintel.analysis.context import Context
from execintel.analysis.model import Figure, Results, compress_lines

STATUSES = ("on-track", "at-risk", "blocked")
RECENT_DAYS = 7


@dataclass(frozen=True)
class Project:
    """One handoff project: status, dates, and its lists of risks, blockers and next steps."""

    project: str
    entity: str | None
    status: str
    updated: dt.date | None
    summary: str
    risks: tuple[str, ...]
    blockers: tuple[str, ...]
    next_steps: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Activity:
    """How many events of one type an entity recorded on one day."""

    entity: str
    type: str
    count: int


@dataclass(frozen=True)
class Freshness:
    """The latest date a source holds data for (up to ``as_of``)."""

    table: str
    source: str
    latest: str


def _strings(value: Any) -> tuple[str, ...]:
    data = json.loads(value) if isinstance(value, str) else value
    return tuple(str(v) for v in data) if isinstance(data, list) else ()


def projects(ctx: Context) -> list[Project]:
    """Every handoff project, most urgent first (blocked, at-risk, on-track, other), then by name."""
    rows = ctx.query(
        "SELECT project, entity, status, updated, summary, risks, blockers, next_steps, source_file, source_line"
        " FROM handoffs"
    )
    order = {s: i for i, s in enumerate(reversed(STATUSES))}
    out = [
        Project(
            project=project,
            entity=entity,
            status=status or "",
            updated=updated,
            summary=summary or "",
            risks=_strings(risks),
            blockers=_strings(blockers),
            next_steps=_strings(next_steps),
            source=compress_lines([(file, line)])[0] if file else "",
        )
        for project, entity, status, updated, summary, risks, blockers, next_steps, file, line in rows
    ]
    return sorted(out, key=lambda p: (order.get(p.status, len(STATUSES)), p.project))


def recently_updated(ctx: Context, days: int = RECENT_DAYS) -> list[Project]:
    """Handoff projects updated in the ``days`` days ending at ``as_of`` (``as_of - days < updated <= as_of``)."""
    start = ctx.as_of - dt.timedelta(days=days)
    chosen = [p for p in projects(ctx) if p.updated is not None and start < p.updated <= ctx.as_of]
    return sorted(chosen, key=lambda p: (p.updated or ctx.as_of, p.project), reverse=True)


def yesterday_date(ctx: Context) -> dt.date:
    """The day before ``as_of``."""
    return ctx.as_of - dt.timedelta(days=1)


def yesterday(ctx: Context) -> list[Activity]:
    """Events on the day before ``as_of`` (local date of ``ts``), counted by entity and type."""
    rows = ctx.query(
        "SELECT entity, type, count(*) FROM ev WHERE CAST(ts AS DATE) = ? GROUP BY ALL ORDER BY entity, type",
        [yesterday_date(ctx)],
    )
    return [Activity(entity, kind, int(count)) for entity, kind, count in rows]


# Facts table (view) -> its label and the SQL of its latest date per source file.
_LATEST = {
    "ledger": "SELECT source_file, CAST(max(date) AS VARCHAR) FROM tx GROUP BY 1",
    "events": "SELECT source_file, CAST(max(CAST(ts AS DATE)) AS VARCHAR) FROM ev GROUP BY 1",
    "cloud_costs": "SELECT source_file, max(month) FROM costs GROUP BY 1",
    "handoffs": "SELECT source_file, CAST(max(updated) AS VARCHAR) FROM handoffs WHERE updated <= ? GROUP BY 1",
}


def latest_by_source(ctx: Context) -> list[Freshness]:
    """The latest date (``YYYY-MM`` for monthly cloud costs) each source file holds, up to ``as_of``."""
    out: list[Freshness] = []
    for table, sql in _LATEST.items():
        params = [ctx.as_of] if "?" in sql else None
        for source, latest in sorted(ctx.query(sql, params), key=lambda r: str(r[0])):
            if latest is not None:
                out.append(Freshness(table, str(source), str(latest)))
    return out


def analyze(ctx: Context) -> Results:
    """Project status counts, yesterday's event count and the latest data date per kind of source."""
    results = Results()
    if ctx.manifest.handoffs is not None:
        all_projects = projects(ctx)
        for status in STATUSES:
            chosen = [p for p in all_projects if p.status == status]
            results.add(
                Figure(
                    f"projects.{status}",
                    len(chosen),
                    "count",
                    f"number of handoff projects with status: {status}",
                    tuple(p.source for p in chosen),
                    name=f"Projects {status}",
                )
            )
    day = yesterday_date(ctx)
    results.add(
        Figure(
            "activity.yesterday",
            sum(a.count for a in yesterday(ctx)),
            "count",
            f"number of events dated {day.isoformat()} (local date of ts in the portfolio's time zone)",
            ctx.provenance("FROM ev WHERE CAST(ts AS DATE) = ?", [day]),
            name=f"Events on {day.isoformat()}",
        )
    )
    freshness = latest_by_source(ctx)
    latest: dict[str, str] = {}
    for item in freshness:
        latest[item.table] = max(latest.get(item.table, ""), item.latest)
    for table, value in latest.items():
        results.add(
            Figure(
                f"data.latest.{table}",
                value,
                "date",
                f"latest date in the {table} data up to {ctx.as_of.isoformat()}",
                tuple(sorted({f.source for f in freshness if f.table == table})),
                name=f"Latest {table.replace('_', ' ')} data",
            )
        )
    return results
