"""The analysis context: the portfolio, its facts cut at ``as_of``, windows, provenance, memoised analyses."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import duckdb

from execintel.analysis.lifecycle import History
from execintel.analysis.model import Results, add_months, compress_lines, last_complete_months, month_key
from execintel.config import Portfolio
from execintel.config.models import Entity, Manifest
from execintel.errors import ConfigError, Problem
from execintel.facts import Facts

T = TypeVar("T")

# Analysis modules by name; each has ``analyze(ctx: Context) -> Results``. Imported on first use.
ANALYSES: dict[str, str] = {
    "finance": "execintel.analysis.finance",
    "accounting": "execintel.analysis.accounting",
    "security": "execintel.analysis.security",
    "cloud": "execintel.analysis.cloud",
    "marketing": "execintel.analysis.marketing",
    "kpis": "execintel.analysis.kpis",
    "rules": "execintel.analysis.rules",
    "property": "execintel.analysis.property",
    "delivery": "execintel.analysis.delivery",
    "billing": "execintel.analysis.billing",
    "operations": "execintel.analysis.operations",
    "workingcapital": "execintel.analysis.workingcapital",
    "forecast": "execintel.analysis.forecast",
    "freshness": "execintel.analysis.freshness",
}

# The facts with every row dated after ``as_of`` left out (CONTRACT section 7), as temporary tables sorted
# by entity: most analysis queries filter by entity, and DuckDB then skips the row groups of other entities.
# ``as_of`` is a date in the portfolio's time zone: it ends at $end, the instant the next day starts there (in
# UTC, as the facts hold timestamps). A timestamped row counts when its instant is before that: events by ``ts``,
# cost rows by the start of their charge period (FOCUS, Cost Explorer); cost rows also by their billing month. In
# ``ev``, ``ts`` is the event's wall-clock time in the portfolio's zone, so ``CAST(ts AS DATE)`` is its local date
# and every window of dates ("the 12 months ending at as_of") reads events by the calendar as_of belongs to.
# ``tx`` also holds each row's P&L month and category (``ledger_month``, ``ledger_cat``: the finance analysis's
# CATEGORIZED rows read them), computed once per context rather than in every query that groups by them.
_LEDGER_CAT = """CASE WHEN account = 'Expenses:COGS' OR starts_with(account, 'Expenses:COGS:') THEN 'cogs'
         WHEN split_part(account, ':', 1) = 'Expenses' THEN 'opex'
         WHEN split_part(account, ':', 1) = 'Income' THEN 'income'
         WHEN split_part(account, ':', 1) IN ('Equity', 'Liabilities') THEN 'financing'
         ELSE 'other' END"""
_VIEWS = {
    "tx": f"SELECT *, strftime(date, '%Y-%m') AS ledger_month, {_LEDGER_CAT} AS ledger_cat FROM transactions "
    "WHERE date <= $as_of ORDER BY entity, date",
    "ev": "SELECT * REPLACE ($local_ts AS ts) FROM events e WHERE e.ts < $end ORDER BY entity, e.ts",
    "costs": "SELECT * FROM cloud_costs c WHERE c.month <= $month AND coalesce(c.period_start < $end, true)",
}


def day_end(day: dt.date, timezone: str) -> dt.datetime:
    """The instant ``day`` ends in ``timezone`` (midnight starting the next day there), as a naive UTC datetime.

    Naive UTC is how the facts hold timestamps. Across a daylight-saving change the day is 23 or 25 hours long;
    the next day's midnight is always what ends it.
    """
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), ZoneInfo(timezone))
    return midnight.astimezone(dt.UTC).replace(tzinfo=None)


def resolve_as_of(manifest: Manifest, override: dt.date | None = None) -> dt.date:
    """The report date: ``override``, else ``portfolio.as_of``, else today in the portfolio's time zone."""
    if override is not None:
        return override
    if manifest.portfolio.as_of is not None:
        return manifest.portfolio.as_of
    return dt.datetime.now(ZoneInfo(manifest.portfolio.timezone)).date()


@dataclass
class Context:
    """Everything an analysis function reads: manifest, facts (cut at ``as_of``) and helpers.

    Analyses query the views ``tx`` (transactions), ``ev`` (events) and ``costs``
    (cloud costs), which hold only rows dated on or before ``as_of`` (timestamps
    before :attr:`as_of_end`; ``ev.ts`` in the portfolio's time zone); the other
    facts tables (contacts, handoffs, repo_*) are read directly.
    """

    portfolio: Portfolio
    facts: Facts
    as_of: dt.date
    previous: Callable[[str], dict[str, Any] | None] = field(default=lambda _report: None)
    history: History = field(default_factory=History)  # earlier runs of the portfolio (findings lifecycle)
    # An earlier date's context made by :meth:`at` for comparisons: analyses may leave out what no comparison reads
    # (figures no rule of :mod:`execintel.analysis.comparisons` matches, findings, tables).
    lean: bool = False
    _results: dict[str, Results] = field(default_factory=dict, repr=False)
    _earlier: dict[dt.date, Context] = field(default_factory=dict, repr=False)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        zone = self.timezone.replace("'", "''")  # an IANA name (the config checks it); quoted all the same
        local_ts = "e.ts" if zone == "UTC" else f"timezone('{zone}', e.ts AT TIME ZONE 'UTC')"
        if zone != "UTC":
            try:
                self.facts.con.execute(f"SELECT timezone('{zone}', TIMESTAMPTZ '2000-01-01 00:00:00+00')")
            except duckdb.Error:
                raise ConfigError(
                    Problem(self.manifest_file, f"time zone {self.timezone!r} is not an IANA zone name the facts "
                            "database knows (use a name like America/Los_Angeles)", key="portfolio.timezone")
                ) from None  # fmt: skip
        values = {
            "$as_of": f"DATE '{self.as_of.isoformat()}'",
            "$month": f"'{month_key(self.as_of)}'",
            "$end": f"TIMESTAMP '{self.as_of_end.isoformat(sep=' ')}'",
            "$local_ts": local_ts,
        }
        for name, template in _VIEWS.items():
            sql = template
            for key, value in values.items():
                sql = sql.replace(key, value)
            self.facts.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    @property
    def timezone(self) -> str:
        """The portfolio's time zone (an IANA name): ``as_of`` and every date window are dates there."""
        return self.manifest.portfolio.timezone

    @cached_property
    def as_of_end(self) -> dt.datetime:
        """The instant ``as_of`` ends (midnight starting the next day in the portfolio's zone), naive UTC."""
        return day_end(self.as_of, self.timezone)

    def local_date(self, instant: dt.datetime) -> dt.date:
        """The date in the portfolio's zone of an instant (a naive datetime is UTC, as the facts hold them)."""
        aware = instant if instant.tzinfo is not None else instant.replace(tzinfo=dt.UTC)
        return aware.astimezone(ZoneInfo(self.timezone)).date()

    @property
    def manifest(self) -> Manifest:
        """The parsed manifest."""
        return self.portfolio.manifest

    @property
    def currency(self) -> str:
        """The portfolio currency (every amount is in it)."""
        return self.manifest.portfolio.currency

    @cached_property
    def manifest_file(self) -> str:
        """The manifest's file name as sources name it (``portfolio.yaml``)."""
        return self.portfolio.display(self.portfolio.path)

    @cached_property
    def entities(self) -> dict[str, Entity]:
        """Entities by id, in manifest order."""
        return {e.id: e for e in self.manifest.entities}

    @cached_property
    def active_entities(self) -> list[Entity]:
        """Entities whose status is ``active``, in manifest order."""
        return [e for e in self.manifest.entities if e.status == "active"]

    def entity_key(self, entity_id: str, key: str = "") -> str:
        """A manifest source reference: ``portfolio.yaml:entities[1].unit_economics``."""
        index = list(self.entities).index(entity_id)
        return f"{self.manifest_file}:entities[{index}]{'.' + key if key else ''}"

    def manifest_key(self, key: str) -> str:
        """A manifest source reference for a top-level key: ``portfolio.yaml:policies.min_runway_days``."""
        return f"{self.manifest_file}:{key}"

    @property
    def window_start(self) -> dt.date:
        """Exclusive start of "the 12 months ending at ``as_of``": rows with ``window_start < date <= as_of``."""
        return add_months(self.as_of, -12)

    def complete_months(self, count: int = 3) -> Sequence[str]:
        """The ``count`` calendar months before the month of ``as_of``, oldest first (``YYYY-MM``)."""
        return last_complete_months(self.as_of, count)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run SQL over the facts and return every row."""
        return self.facts.query(sql, params)

    def provenance(self, where_sql: str, params: Sequence[Any] | None = None) -> tuple[str, ...]:
        """Source references (``file:2-418``) of the rows selected by ``SELECT source_file, source_line FROM ...``.

        ``where_sql`` is everything after ``SELECT source_file, source_line``, e.g.
        ``"FROM tx WHERE entity = ?"``.
        """
        return compress_lines(self.query(f"SELECT DISTINCT source_file, source_line {where_sql}", params))

    def at(self, as_of: dt.date) -> Context:
        """The same portfolio as of another date (memoised), for comparisons with an earlier period.

        It reads the same facts through a connection of its own, so its views (cut at its own ``as_of``) never
        replace this context's. It is :attr:`lean`: its analyses compute the figures comparisons read, every one
        exactly as a full run as of that date would, and may skip the rest.
        """
        if as_of == self.as_of:
            return self
        if as_of not in self._earlier:
            self._earlier[as_of] = Context(self.portfolio, Facts(self.facts.con.cursor()), as_of, lean=True)
        return self._earlier[as_of]

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()``, once per context and ``key``: a fact many figures ask for is read from the facts once."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[no-any-return]

    def results(self, name: str) -> Results:
        """The results of analysis ``name`` (memoised: each analysis runs once per context)."""
        if name not in self._results:
            module = importlib.import_module(ANALYSES[name])
            self._results[name] = module.analyze(self)
        return self._results[name]
