"""The findings lifecycle (CONTRACT section 8): what earlier runs reported, and each finding's first_seen and status.

A :class:`History` holds the *earlier runs* of one portfolio as the audit store recorded them: runs of the same
portfolio (by name) that started before this one, each with its ``as_of`` and, per report it recorded, the id,
severity, amount, entity and title of every finding. The pipeline reads it from the store
(:func:`execintel.pipeline.previous_documents`); analysis only reads it, so it is pure and easy to build by hand.

- ``first_seen`` of a finding = the smallest ``as_of`` among this run's and every earlier run that reported a
  finding with its id in any report: the ``as_of`` of the earliest earlier run that reported it when runs go
  forward in time, and never a date after this run's ``as_of`` when an older period is run later.
- the *previous recorded run* for a report = the latest earlier run that recorded that report (a run that built
  other reports only, such as a daily digest between two weekly runs, is not the CEO report's previous run);
- ``status`` = ``open`` when a finding with its id was reported (in any report) by that previous run, else ``new``.

Without a store, or before the first recorded run, every finding is ``new`` and first seen at this ``as_of``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cached_property
from typing import Any

from execintel.analysis.model import SEVERITY_ORDER, Finding, Status


@dataclass(frozen=True)
class PastFinding:
    """A finding as an earlier run recorded it."""

    id: str
    severity: str
    amount: Decimal | None = None
    entity: str | None = None
    title: str = ""

    @property
    def kind(self) -> str:
        """The finding kind: its id without the 12 hex digits."""
        return self.id.rsplit("-", 1)[0]


@dataclass(frozen=True)
class PastRun:
    """An earlier run of the portfolio: when it started, its ``as_of``, and the findings of each report it recorded."""

    run_id: str
    started: dt.datetime
    as_of: dt.date
    reports: Mapping[str, Mapping[str, PastFinding]]  # report id -> finding id -> finding

    @cached_property
    def findings(self) -> dict[str, PastFinding]:
        """Every finding of the run by id, over all its reports (the most severe record of an id)."""
        out: dict[str, PastFinding] = {}
        for report in sorted(self.reports):
            for fid, finding in self.reports[report].items():
                known = out.get(fid)
                if known is None or SEVERITY_ORDER.get(finding.severity, 9) < SEVERITY_ORDER.get(known.severity, 9):
                    out[fid] = finding
        return out


FigureLoader = Callable[[str, str], Mapping[str, Any]]


def _no_figures(_run_id: str, _report: str) -> Mapping[str, Any]:
    return {}


@dataclass
class History:
    """The earlier runs of a portfolio (oldest first) and the lifecycle rules over them."""

    runs: list[PastRun] = field(default_factory=list)
    load_figures: FigureLoader = field(default=_no_figures, repr=False)
    """The figures snapshot (id -> value as recorded) of one report of one run; read only when asked."""

    def __post_init__(self) -> None:
        self.runs = sorted(self.runs, key=lambda r: (r.started, r.run_id))
        self._figures: dict[tuple[str, str], Mapping[str, Any]] = {}

    def previous_run(self, report: str) -> PastRun | None:
        """The latest earlier run that recorded ``report``; None on a first recorded run."""
        return next((run for run in reversed(self.runs) if report in run.reports), None)

    def first_seen(self, finding_id: str, as_of: dt.date) -> dt.date:
        """The smallest ``as_of`` of this run (``as_of``) and of every earlier run that reported ``finding_id``."""
        return min([as_of, *(run.as_of for run in self.runs if finding_id in run.findings)])

    def status(self, report: str, finding_id: str) -> Status:
        """``open`` when the previous recorded run for ``report`` reported ``finding_id`` (any report), else ``new``."""
        previous = self.previous_run(report)
        return "open" if previous is not None and finding_id in previous.findings else "new"

    def figures(self, run: PastRun, report: str) -> Mapping[str, Any]:
        """The figures snapshot ``run`` recorded for ``report`` (values as the store keeps them)."""
        key = (run.run_id, report)
        if key not in self._figures:
            self._figures[key] = self.load_figures(run.run_id, report)
        return self._figures[key]

    def annotate(self, report: str, findings: Iterable[Finding], as_of: dt.date) -> list[Finding]:
        """The findings of ``report`` with their ``first_seen`` and ``status`` set."""
        return [replace(f, first_seen=self.first_seen(f.id, as_of), status=self.status(report, f.id)) for f in findings]


def past_finding(finding_id: str, recorded: Mapping[str, Any]) -> PastFinding:
    """A finding as the store's findings snapshot records it (``{"severity", "amount", "entity", "title"}``)."""
    amount = recorded.get("amount")
    return PastFinding(
        id=finding_id,
        severity=str(recorded.get("severity", "")),
        amount=None if amount is None else Decimal(str(amount)),
        entity=None if recorded.get("entity") is None else str(recorded["entity"]),
        title=str(recorded.get("title") or ""),
    )
