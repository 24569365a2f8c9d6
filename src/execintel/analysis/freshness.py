"""Freshness (CONTRACT section 8): each source's newest dated row and its age, and ``stale-source`` findings.

Every source the manifest names is listed, in manifest order: the portfolio-wide ledger, then per entity its
ledger, events, contacts and repositories, then cloud costs and handoffs. A source's *newest dated row* is its
row with the latest date on or before ``as_of``:

| source | the date of a row |
|---|---|
| ledger (CSV or beancount, with its included files) | ``date`` |
| events (JSONL or DynamoDB) | the local date of ``ts`` (portfolio.timezone) |
| contacts | ``last_engaged`` |
| git repository | the UTC date of a commit's ``committed_at`` |
| cloud costs | the last day of ``month`` (``as_of`` for the month of ``as_of``, which is not over) |
| handoffs (a folder) | ``updated`` of any of its files |

Its age is ``as_of`` minus that date, in days. A ledger or events source whose newest row is more than
``policies.max_source_age_days`` (default 7) days old is stale: a ``stale-source`` finding (severity medium). A
source with no dated row up to ``as_of`` is listed with no date and is not called stale (there is no newest row to
be old; the report's missing data says what is absent).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from execintel.analysis.context import Context
from execintel.analysis.model import Figure, Finding, Results, add_months

FIGURE_ID = "sources.freshness"
CHECKED = ("ledger", "events")  # the kinds of source a stale-source finding is raised for

# Kind -> the SQL of each file's newest dated row on or before as_of: (source_file, date, source_line).
_NEWEST = {
    "ledger": "SELECT DISTINCT ON (source_file) source_file, date, source_line FROM tx "
    "ORDER BY source_file, date DESC, source_line DESC",
    "events": "SELECT DISTINCT ON (source_file) source_file, CAST(ts AS DATE), source_line FROM ev "
    "ORDER BY source_file, ts DESC, source_line DESC NULLS LAST",
    "contacts": "SELECT DISTINCT ON (source_file) source_file, last_engaged, source_line FROM contacts "
    "WHERE last_engaged <= $as_of ORDER BY source_file, last_engaged DESC, source_line DESC",
    "git": "SELECT DISTINCT ON (source_file) source_file, CAST(committed_at AS DATE), NULL FROM repo_commits "
    "WHERE CAST(committed_at AS DATE) <= $as_of ORDER BY source_file, committed_at DESC",
    "cloud_costs": "SELECT DISTINCT ON (source_file) source_file, month, source_line FROM costs "
    "ORDER BY source_file, month DESC, source_line DESC",
    "handoffs": "SELECT DISTINCT ON (source_file) source_file, updated, source_line FROM handoffs "
    "WHERE updated <= $as_of ORDER BY source_file, updated DESC, source_line DESC",
}


@dataclass(frozen=True)
class Source:
    """A source the manifest names: its kind, how files name it, the entity listing it, its manifest key."""

    kind: str
    display: str
    entity: str | None
    key: str


@dataclass(frozen=True)
class Newest:
    """A source's newest dated row up to ``as_of`` (``date`` None when it has none) and its age."""

    source: Source
    shown: str | None  # the date as the source has it (``YYYY-MM`` for a cloud cost month)
    date: dt.date | None  # the date its age is counted from
    row: str | None  # file:line of that row
    age_days: int | None
    stale: bool | None  # None for the kinds that are never called stale

    def to_json(self) -> dict[str, Any]:
        """The item of the ``sources.freshness`` figure."""
        return {"source": self.source.display, "kind": self.source.kind, "entity": self.source.entity,
                "key": self.source.key, "newest": self.shown, "row": self.row, "age_days": self.age_days,
                "stale": self.stale}  # fmt: skip


def sources(ctx: Context) -> list[Source]:
    """Every source the manifest names, in manifest order (see the module docstring)."""
    manifest, portfolio = ctx.manifest, ctx.portfolio

    def shown(location: str) -> str:
        return location if location.startswith("dynamodb:") else portfolio.display(portfolio.location(location))

    out: list[Source] = []
    if manifest.ledger:
        out.append(Source("ledger", shown(manifest.ledger), None, "ledger"))
    for i, entity in enumerate(manifest.entities):
        for kind, location in (("ledger", entity.ledger), ("events", entity.events), ("contacts", entity.contacts)):
            if location:
                out.append(Source(kind, shown(location), entity.id, f"entities[{i}].{kind}"))
        out += [
            Source("git", shown(repo), entity.id, f"entities[{i}].repos[{j}]") for j, repo in enumerate(entity.repos)
        ]
    if manifest.cloud_costs:
        out.append(Source("cloud_costs", shown(manifest.cloud_costs), None, "cloud_costs"))
    if manifest.handoffs:
        out.append(Source("handoffs", shown(manifest.handoffs).rstrip("/"), None, "handoffs"))
    return out


def _owner(file: str, kind: str, candidates: list[Source]) -> Source | None:
    """The source a facts row's file belongs to: the source of that name, the folder holding it (handoffs), or the
    beancount ledger whose folder is the nearest above it (a file the ledger includes)."""
    same = [s for s in candidates if s.kind == kind]
    for source in same:
        if file == source.display or file.startswith(source.display + "/"):
            return source
    if kind != "ledger":
        return None
    ledgers = [s for s in same if s.display.lower().endswith((".beancount", ".bean"))]
    path = PurePosixPath(file)

    def depth(source: Source) -> int:
        folder = PurePosixPath(source.display).parent
        return len(folder.parts) if path.is_relative_to(folder) else -1

    best = max(ledgers, key=depth, default=None)  # max keeps the first of equals: manifest order
    return best


def _as_date(kind: str, value: Any, as_of: dt.date) -> dt.date:
    if kind == "cloud_costs":
        year, month = (int(part) for part in str(value).split("-")[:2])
        return min(add_months(dt.date(year, month, 1), 1) - dt.timedelta(days=1), as_of)
    return (
        value
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime)
        else dt.date.fromisoformat(str(value)[:10])
    )


def newest_rows(ctx: Context) -> list[Newest]:
    """Each source's newest dated row up to ``as_of``, in manifest order."""
    listed = sources(ctx)
    best: dict[Source, tuple[dt.date, str, str | None]] = {}
    for kind, sql in _NEWEST.items():
        if not any(s.kind == kind for s in listed):
            continue
        for file, value, line in ctx.query(sql.replace("$as_of", f"DATE '{ctx.as_of.isoformat()}'")):
            if value is None or file is None:
                continue
            owner = _owner(str(file), kind, listed)
            if owner is None:
                continue
            day = _as_date(kind, value, ctx.as_of)
            row = f"{file}:{line}" if line is not None else str(file)
            if owner not in best or day > best[owner][0]:
                best[owner] = (day, row, str(value)[:10] if kind != "cloud_costs" else str(value))
    limit = ctx.manifest.policies.max_source_age_days
    out: list[Newest] = []
    for source in listed:
        if source not in best:
            out.append(Newest(source, None, None, None, None, False if source.kind in CHECKED else None))
            continue
        day, row, shown = best[source]
        age = max(0, (ctx.as_of - day).days)
        out.append(Newest(source, shown, day, row, age, age > limit if source.kind in CHECKED else None))
    return out


def _findings(ctx: Context, items: list[Newest]) -> Iterator[Finding]:
    limit = ctx.manifest.policies.max_source_age_days
    policy = ctx.manifest_key("policies.max_source_age_days")
    for item in items:
        if not item.stale or item.row is None:
            continue
        file, _, line = item.row.rpartition(":")
        what = "ledger" if item.source.kind == "ledger" else "events"
        yield Finding(
            kind="stale-source",
            severity="medium",
            title=f"The {what} source {item.source.display} is {item.age_days} days old (newest row {item.shown})",
            entity=item.source.entity,
            evidence=(
                f"newest row dated on or before {ctx.as_of}: {item.row}, {item.shown}",
                f"more than {limit} days before {ctx.as_of} ({policy} = {limit})",
                f"{ctx.manifest_key(item.source.key)}: {item.source.display}",
            ),
            file=file if line.isdigit() else item.row,
            line=int(line) if line.isdigit() else None,
            recommendation="Bring the source up to date (export or sync the newer rows) or fix what feeds it: every "
            "figure computed from it stops at its newest row.",
            subject=f"source {item.source.display}",
        )


def analyze(ctx: Context) -> Results:
    """The ``sources.freshness`` figure and the ``stale-source`` findings."""
    results = Results()
    items = newest_rows(ctx)
    if not items:
        return results
    limit = ctx.manifest.policies.max_source_age_days
    results.add(
        Figure(
            FIGURE_ID,
            [item.to_json() for item in items],
            "list",
            f"for each source the manifest names: its newest row dated on or before {ctx.as_of} (events: "
            "the local date; commits: the UTC date; cloud costs: the last day of the month, or as_of for the month "
            "not over), "
            f"age_days = as_of - that date; stale = a ledger or events source more than {limit} days old "
            "(policies.max_source_age_days)",
            tuple(ctx.manifest_key(item.source.key) for item in items),
            name="Source freshness",
        )
    )
    for finding in _findings(ctx, items):
        results.find(finding)
    return results
