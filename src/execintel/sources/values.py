"""Parsing of cell values shared by connectors; each returns None when invalid."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

ACCOUNT_ROOTS = ("Assets", "Liabilities", "Equity", "Income", "Expenses")
_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f", ""}


def parse_date(text: str) -> dt.date | None:
    """An ISO date ``YYYY-MM-DD``."""
    if len(text) != 10:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def parse_timestamp(text: str) -> dt.datetime | None:
    """An ISO 8601 timestamp (naive means UTC) or a bare date (midnight UTC)."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def parse_decimal(text: str) -> Decimal | None:
    """A finite decimal number (``1234.56``, ``-12``); no thousands separators."""
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError, TypeError):
        return None
    return value if value.is_finite() else None


def parse_bool(text: str) -> bool | None:
    """``true``/``false`` (also yes/no, 1/0); empty is false."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None
