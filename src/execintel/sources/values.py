"""Parsing and checking of cell values shared by connectors; the parsers return None when invalid."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

ACCOUNT_ROOTS = ("Assets", "Liabilities", "Equity", "Income", "Expenses")
# The facts database holds amounts as DECIMAL(38,18): under 10**20 once rounded to 18 places.
AMOUNT_INTEGER_DIGITS = 20
_AMOUNT_LIMIT = Decimal(10) ** AMOUNT_INTEGER_DIGITS
_AMOUNT_PLACES = Decimal("1e-18")
_WIDE = Context(prec=80)
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


def is_iso_date(text: str) -> bool:
    """True when ``text`` is a valid date written exactly ``YYYY-MM-DD`` (what :func:`parse_date` writes back)."""
    value = parse_date(text)
    return value is not None and value.isoformat() == text


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


def fits_amount(value: Decimal) -> bool:
    """True when the facts database can hold ``value``: under 10**20 once rounded to 18 decimal places."""
    if not value:
        return True
    if value.adjusted() >= AMOUNT_INTEGER_DIGITS:
        return False
    return abs(value.quantize(_AMOUNT_PLACES, rounding=ROUND_HALF_UP, context=_WIDE)) < _AMOUNT_LIMIT


def too_large(name: str, text: object) -> str:
    """The message for an amount the facts database cannot hold."""
    return f"{name} {str(text)!r} is too large (at most {AMOUNT_INTEGER_DIGITS} digits before the point)"


def parse_bool(text: str) -> bool | None:
    """``true``/``false`` (also yes/no, 1/0); empty is false."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None
