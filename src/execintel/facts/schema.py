"""The facts tables: one per kind of input, each row keeping its source file and line."""

from __future__ import annotations

from typing import Final

AMOUNT: Final = "DECIMAL(38,18)"
PROVENANCE: Final = (("source_file", "VARCHAR"), ("source_line", "INTEGER"))

TABLES: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "transactions": (
        ("entity", "VARCHAR"),
        ("date", "DATE"),
        ("account", "VARCHAR"),
        ("amount", AMOUNT),
        ("description", "VARCHAR"),
        ("counterparty", "VARCHAR"),
        ("service_date", "DATE"),
        ("receipt", "VARCHAR"),
        *PROVENANCE,
    ),
    # Postings to Assets accounts of beancount ledgers (a CSV ledger has one implicit cash account and none of
    # these): what the CFO report splits cash on hand by. ``amount`` in the portfolio currency (at cost when the
    # posting holds a lot), positive = the asset grew; ``at_cost`` = the posting holds a lot (an investment).
    "asset_postings": (
        ("entity", "VARCHAR"),
        ("date", "DATE"),
        ("account", "VARCHAR"),
        ("amount", AMOUNT),
        ("at_cost", "BOOLEAN"),
        *PROVENANCE,
    ),
    "events": (
        ("ts", "TIMESTAMP"),
        ("entity", "VARCHAR"),
        ("type", "VARCHAR"),
        ("customer", "VARCHAR"),
        ("amount", AMOUNT),
        ("units", AMOUNT),
        ("channel", "VARCHAR"),
        ("segment", "VARCHAR"),
        ("score", "INTEGER"),
        ("attrs", "JSON"),
        *PROVENANCE,
    ),
    "contacts": (
        ("entity", "VARCHAR"),
        ("email", "VARCHAR"),
        ("email_key", "VARCHAR"),
        ("email_valid", "BOOLEAN"),
        ("name", "VARCHAR"),
        ("source", "VARCHAR"),
        ("subscribed", "BOOLEAN"),
        ("last_engaged", "DATE"),
        ("segment", "VARCHAR"),
        *PROVENANCE,
    ),
    "cloud_costs": (
        ("month", "VARCHAR"),
        ("service", "VARCHAR"),
        ("amount", AMOUNT),
        ("entity", "VARCHAR"),
        ("period_start", "TIMESTAMP"),  # UTC start of the charge period, when the source gives one
        ("source_key", "VARCHAR"),
        *PROVENANCE,
    ),
    "handoffs": (
        ("project", "VARCHAR"),
        ("entity", "VARCHAR"),
        ("status", "VARCHAR"),
        ("updated", "DATE"),
        ("summary", "VARCHAR"),
        ("financials", "JSON"),
        ("risks", "JSON"),
        ("blockers", "JSON"),
        ("next_steps", "JSON"),
        ("notes", "VARCHAR"),
        *PROVENANCE,
    ),
    "repo_commits": (
        ("entity", "VARCHAR"),
        ("repo", "VARCHAR"),
        ("sha", "VARCHAR"),
        ("parents", "VARCHAR"),
        ("author_name", "VARCHAR"),
        ("author_email", "VARCHAR"),
        ("authored_at", "TIMESTAMP"),
        ("committed_at", "TIMESTAMP"),
        ("subject", "VARCHAR"),
        *PROVENANCE,
    ),
    "repo_files": (
        ("entity", "VARCHAR"),
        ("repo", "VARCHAR"),
        ("path", "VARCHAR"),
        ("size", "BIGINT"),
        ("binary", "BOOLEAN"),
        ("content", "VARCHAR"),
        *PROVENANCE,
    ),
    "repo_changes": (
        ("entity", "VARCHAR"),
        ("repo", "VARCHAR"),
        ("sha", "VARCHAR"),
        ("path", "VARCHAR"),
        ("change", "VARCHAR"),
        ("line", "INTEGER"),
        ("text", "VARCHAR"),
        *PROVENANCE,
    ),
}

# The column each table's "date range" is measured on (``execintel sources``).
DATE_COLUMNS: Final[dict[str, str]] = {
    "transactions": "date",
    "events": "ts",
    "contacts": "last_engaged",
    "cloud_costs": "month",
    "handoffs": "updated",
    "repo_commits": "committed_at",
}


def column_names(table: str) -> tuple[str, ...]:
    """The column names of a facts table, in order."""
    return tuple(name for name, _ in TABLES[table])
