"""Connectors that read each kind of input into the facts database.

Each connector module registers one or more :class:`Source` classes by kind;
:func:`plan_sources` turns a manifest into the list of sources to read and
:func:`load_sources` reads them all, each inside its own trap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from execintel.config.load import DYNAMODB_PREFIX, Portfolio
from execintel.errors import Problem
from execintel.facts import Facts
from execintel.safefs import UnsafeFile, open_regular
from execintel.sources import beancount, contacts, costs, dynamodb, events, git, handoffs, ledger  # noqa: F401
from execintel.sources.base import SOURCES, Source, SourceReport, SourceSpec, register
from execintel.sources.costs import detect_costs_kind

__all__ = ["SOURCES", "LoadResult", "Source", "SourceReport", "SourceSpec", "load_sources", "plan_sources", "register"]

log = logging.getLogger(__name__)

BEANCOUNT_SUFFIXES = (".beancount", ".bean")


def _ledger_kind(location: str) -> str:
    return "beancount" if location.lower().endswith(BEANCOUNT_SUFFIXES) else "ledger-csv"


def plan_sources(portfolio: Portfolio) -> list[SourceSpec]:
    """Every source the manifest names, in manifest order, with its connector kind."""
    manifest = portfolio.manifest
    ids = manifest.entity_ids
    currency = manifest.portfolio.currency
    specs: list[SourceSpec] = []
    confine = portfolio.confinement
    allow_plugins = portfolio.allow_plugins

    def add(kind: str, location: str, key: str, entity: str | None, remote: bool = False) -> None:
        path = None if remote else portfolio.resolve(location)
        display = location if remote else portfolio.display(portfolio.location(location))
        specs.append(SourceSpec(kind, location, display, key, path, entity, ids, currency, confine, allow_plugins))

    if manifest.ledger:
        add(_ledger_kind(manifest.ledger), manifest.ledger, "ledger", None)
    for i, entity in enumerate(manifest.entities):
        if entity.ledger:
            add(_ledger_kind(entity.ledger), entity.ledger, f"entities[{i}].ledger", entity.id)
        if entity.events:
            if entity.events.startswith(DYNAMODB_PREFIX):
                add("events-dynamodb", entity.events, f"entities[{i}].events", entity.id, remote=True)
            else:
                add("events-jsonl", entity.events, f"entities[{i}].events", entity.id)
        if entity.contacts:
            add("contacts-csv", entity.contacts, f"entities[{i}].contacts", entity.id)
        for j, repo in enumerate(entity.repos):
            add("git", repo, f"entities[{i}].repos[{j}]", entity.id)
    if manifest.cloud_costs:
        path = portfolio.resolve(manifest.cloud_costs)
        try:
            with open_regular(path, confine=confine) as handle:
                head = handle.read(4096)
        except (UnsafeFile, OSError):
            head = b""  # the connector reports why the file cannot be read
        add(detect_costs_kind(head, path.suffix), manifest.cloud_costs, "cloud_costs", None)
    if manifest.handoffs:
        add("handoffs", manifest.handoffs, "handoffs", None)
    return specs


@dataclass
class LoadResult:
    """The facts of a portfolio and what loading each source did."""

    portfolio: Portfolio
    facts: Facts
    reports: list[SourceReport] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """Every problem that fails validation, source by source."""
        return [p for r in self.reports for p in r.errors]

    @property
    def warnings(self) -> list[Problem]:
        """Problems that do not fail validation."""
        return [p for r in self.reports for p in r.problems if p.severity == "warning"]


def load_sources(
    portfolio: Portfolio,
    *,
    settings: Any = None,
    clients: dict[str, Any] | None = None,
    facts: Facts | None = None,
    progress: Callable[[SourceSpec], None] | None = None,
    specs: Iterable[SourceSpec] | None = None,
) -> LoadResult:
    """Read every source of ``portfolio`` into a facts database.

    ``clients`` maps a source kind to an injected client (e.g. a boto3
    DynamoDB client pointed at moto). A source that fails entirely is recorded
    with its problem and the others still load.
    """
    result = LoadResult(portfolio, facts or Facts())
    for spec in specs if specs is not None else plan_sources(portfolio):
        if progress is not None:
            progress(spec)
        connector = SOURCES[spec.kind](spec, client=(clients or {}).get(spec.kind), settings=settings)
        try:
            result.reports.append(connector.load(result.facts))
        except Exception as exc:
            log.debug("source %s failed unexpectedly", spec.display, exc_info=True)
            report = SourceReport(spec, connector.table)
            report.problems.append(
                Problem(spec.display, f"could not be read ({type(exc).__name__}: {exc}); run with --debug for details")
            )
            result.reports.append(report)
    return result
