"""Report builders, one module per report id, each with ``TITLE`` and ``build(ctx) -> Document``."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

# the ids, their modules and their parsing, importable without the builders (the web app needs them alone)
from execintel.report_ids import REPORTS, parse_report_id, parse_report_ids, unknown_report
from execintel.reports.document import Document, DocumentBuilder, dumps, loads

if TYPE_CHECKING:
    from execintel.analysis.context import Context

__all__ = ["REPORTS", "Document", "DocumentBuilder", "build_report", "build_reports", "dumps", "loads",
           "parse_report_id", "parse_report_ids", "unknown_report"]  # fmt: skip


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
