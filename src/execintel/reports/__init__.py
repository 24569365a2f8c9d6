"""Report builders, one module per report id, each with ``TITLE`` and ``build(ctx) -> Document``."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

from execintel.analysis.context import Context
from execintel.errors import ConfigError, Problem
from execintel.reports.document import Document, DocumentBuilder, dumps, loads

__all__ = ["REPORTS", "Document", "DocumentBuilder", "build_report", "build_reports", "dumps", "loads",
           "parse_report_ids"]  # fmt: skip

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


def parse_report_ids(text: str | Iterable[str] | None) -> list[str]:
    """Report ids from ``--reports`` (comma-separated); all reports when None; unknown ids are an error."""
    if text is None:
        return list(REPORTS)
    items = text.split(",") if isinstance(text, str) else [p for t in text for p in t.split(",")]
    ids = [i.strip() for i in items if i.strip()]
    unknown = [i for i in ids if i not in REPORTS]
    if unknown:
        raise ConfigError([Problem("--reports", f"unknown report {u!r}; known: {', '.join(REPORTS)}") for u in unknown])
    if not ids:
        raise ConfigError(Problem("--reports", "names no report"))
    return list(dict.fromkeys(ids))


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
