"""Parsing and checking of cell values shared by connectors; the parsers return None when invalid.

Numbers and dates are read as the docs describe them, with ASCII digits only: Python's ``Decimal`` and ``int``
would also take ``1_000``, Arabic-Indic ``١٢٣`` and fullwidth digits, which a spreadsheet or a reader may not
take for the number execintel would add up.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

ACCOUNT_ROOTS = ("Assets", "Liabilities", "Equity", "Income", "Expenses")
# The facts database holds amounts as DECIMAL(38,18): under 10**20 once rounded to 18 places.
AMOUNT_INTEGER_DIGITS = 20
_AMOUNT_LIMIT = Decimal(10) ** AMOUNT_INTEGER_DIGITS
_AMOUNT_PLACES = Decimal("1e-18")
_WIDE = Context(prec=80)
_DECIMAL = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_MONTH = re.compile(r"[0-9]{4}-(?:0[1-9]|1[0-2])\Z")
_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f", ""}


def parse_date(text: str) -> dt.date | None:
    """An ISO date ``YYYY-MM-DD`` (ASCII digits; not the week or compact forms ``fromisoformat`` also takes)."""
    if not _DATE.match(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def is_iso_date(text: str) -> bool:
    """True when ``text`` is a valid date written exactly ``YYYY-MM-DD`` (what :func:`parse_date` writes back)."""
    value = parse_date(text)
    return value is not None and value.isoformat() == text


def is_month(text: str) -> bool:
    """True when ``text`` is a month written ``YYYY-MM``."""
    return _MONTH.match(text) is not None


def parse_timestamp(text: str) -> dt.datetime | None:
    """An ISO 8601 timestamp (naive means UTC) or a bare date (midnight UTC), in UTC; None when invalid or when
    it falls outside years 1-9999 once in UTC (``0001-01-01T00:00:00+14:00``)."""
    if not text.isascii():
        return None
    try:
        value = dt.datetime.fromisoformat(text)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None


def timestamp_problem(text: str) -> str:
    """Why :func:`parse_timestamp` refuses ``text``, completing "ts '...' ..."."""
    if text.isascii():
        try:
            dt.datetime.fromisoformat(text)
        except ValueError:
            pass
        else:  # it parses: converting it to UTC overflowed
            return "is out of range: in UTC it falls before year 1 or after year 9999"
    return "is not an ISO 8601 timestamp"


def parse_decimal(text: str) -> Decimal | None:
    """A finite decimal number with ASCII digits (``1234.56``, ``-12``, ``1.5e3``); no thousands or digit
    separators (``1,000``, ``1_000``), no other script's digits (``١٢٣``, fullwidth, superscripts)."""
    text = text.strip()
    if not _DECIMAL.match(text):
        return None
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


MAX_JSON_DEPTH = 64
"""Levels of nested arrays and objects a JSON document (or events line) may have."""
# A JSON string (skipped: brackets inside it do not count) or a bracket.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


class JsonProblem(ValueError):
    """JSON that is refused: not valid, or nested too deeply; ``line`` and ``column`` are 1-based when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def json_depth_line(text: str, limit: int = MAX_JSON_DEPTH) -> int | None:
    """The line where ``text`` first nests arrays and objects more than ``limit`` deep; None when it never does."""
    if text.count("[") + text.count("{") <= limit:  # the common case, at C speed
        return None
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > limit:
                return text.count("\n", 0, match.start()) + 1
        elif token in ("]", "}"):
            depth -= 1
    return None


def load_json(text: str, *, parse_float: Any = None) -> Any:
    """``json.loads(text)``, refusing with :class:`JsonProblem` a document nested deeper than
    :data:`MAX_JSON_DEPTH` (Python's parser would raise ``RecursionError``) or an integer too long to convert."""
    line = json_depth_line(text)
    if line is not None:
        raise JsonProblem(f"nests arrays and objects more than {MAX_JSON_DEPTH} levels deep", line)
    try:
        return json.loads(text, parse_float=parse_float)
    except json.JSONDecodeError as exc:
        raise JsonProblem(f"is not valid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except (ValueError, RecursionError) as exc:  # an integer of more than 4,300 digits
        raise JsonProblem(f"is not valid JSON: {str(exc).split(';')[0]}") from None
