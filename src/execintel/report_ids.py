"""The report ids, in the order of a run, and each report's title, without importing the report builders.

The web app lists and checks report ids at import time and must not pull in the analysis stack (pandas,
pyarrow, DuckDB, matplotlib) that the builders in :mod:`execintel.reports` import; this module imports only
:mod:`execintel.errors`.
``tests/test_service.py`` checks that :data:`TITLES` matches each builder module's ``TITLE``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from execintel.errors import ConfigError, Problem

__all__ = ["REPORTS", "TITLES", "parse_report_id", "parse_report_ids", "unknown_report"]

# Report id -> its builder module. The order is the order of a run.
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

# Report id -> the ``TITLE`` of its builder module (what a report's heading and mail subject call it).
TITLES: dict[str, str] = {
    "ceo": "CEO report",
    "cto": "CTO report",
    "cfo": "CFO report",
    "cmo": "CMO report",
    "accounting": "Accounting report",
    "property": "Property report",
    "delivery-ops": "Delivery operations",
    "billing-audit": "Billing audit",
    "daily": "Daily digest",
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
