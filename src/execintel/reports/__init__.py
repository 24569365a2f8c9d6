"""Report builders, one module per report id, each with ``TITLE`` and ``build(ctx) -> Document``."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from execintel.errors import ConfigError, Problem
from execintel.reports.document import Document, DocumentBuilder, dumps, loads

if TYPE_CHECKING:
    from execintel.analysis.context import Context

__all__ = ["REPORTS", "Document", "DocumentBuilder", "build_report", "build_reports", "dumps", "loads",
           "parse_report_id", "parse_report_ids", "unknown_report"]  # fmt: skip

# Report id -> module. The order is the order of a run.
REPORTS: dict[str, str] = {
    "ceo": "execintel.reports.ceo",
    "cto": "execintel.reports.cto",
    "cfo": "execintel.reports.cfo",
    "cmo": "execintel.reports.cmo",
    "accounting": "execintel.reports.accounting",
    "property": "execintel.reports.property",
    "delivery-ops": "execintel.reports.delivery_ops",
    "billing-audit": "execintel.reports.billing_audit",
    "daily": "execintel.reports.daily",
}


def unknown_report(report_id: str, option: str) -> Problem:
    """The problem of an unknown report id: the closest known id when there is one, else every known id."""
    close = difflib.get_close_matches(report_id, list(REPORTS), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(REPORTS)}"
    return Problem(option, f"unknown report {report_id!r} ({hint})")


def parse_report_ids(text: str | Iterable[str] | None, option: str = "--reports") -> list[str]:
    """Report ids from ``--reports`` (comma-separated or repeated); all reports when None; unknown ids are errors.

    Call it before any data is loaded: a typo costs nothing. ``option`` names where the ids came from.
    """
    if text is None:
        return list(REPORTS)
    items = text.split(",") if isinstance(text, str) else [p for t in text for p in t.split(",")]
    ids = [i.strip() for i in items if i.strip()]
    unknown = [unknown_report(i, option) for i in dict.fromkeys(ids) if i not in REPORTS]
    if unknown:
        raise ConfigError(unknown)
    if not ids:
        raise ConfigError(Problem(option, f"names no report; give one or more of {', '.join(REPORTS)}"))
    return list(dict.fromkeys(ids))


def parse_report_id(text: str, option: str = "REPORT") -> str:
    """Exactly one report id (``preview cfo``); a list or an unknown id is an error naming ``option``."""
    ids = [i.strip() for i in text.split(",") if i.strip()]
    if len(ids) > 1:
        raise ConfigError(Problem(option, f"{text!r} names {len(ids)} reports; give one report id, e.g. {ids[0]}"))
    return parse_report_ids(ids, option)[0]


def build_report(ctx: Context, report: str) -> Document:
    """Build one report document."""
    module = importlib.import_module(REPORTS[report])
    document: Document = module.build(ctx)
    return document


def build_reports(
    ctx: Context, reports: Iterable[str], progress: Callable[[str], None] | None = None
) -> list[Document]:
    """Build the listed reports in order (analyses shared between them run once)."""
    documents = []
    for report in reports:
        if progress is not None:
            progress(report)
        documents.append(build_report(ctx, report))
    return documents
