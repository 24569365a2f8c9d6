"""Events connectors: JSONL files and DynamoDB tables (CONTRACT.md section 3)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from execintel.sources.base import Source, register
from execintel.sources.values import (
    AMOUNT_INTEGER_DIGITS,
    JsonProblem,
    fits_amount,
    json_depth_line,
    load_json,
    parse_decimal,
    parse_timestamp,
    timestamp_problem,
)

log = logging.getLogger(__name__)

KNOWN_TYPES = ("lead", "signup", "booking", "cancellation", "completion", "login", "nps", "churn")
_COLUMNS = ("ts", "entity", "type", "customer", "amount", "units", "channel", "segment", "score")
_COLUMN_SET = frozenset(_COLUMNS)
_INT_LIMIT = 10**AMOUNT_INTEGER_DIGITS
# One decoder for every line: json.loads(..., parse_float=Decimal) would build a new one per call.
_DECODER = json.JSONDecoder(parse_float=Decimal)
MAX_LINE_CHARS = 1 << 20
"""Characters in one events line: an event is a few hundred; a longer line is refused without being held."""


class EventSource(Source):
    """Shared normalisation of one event record, from any transport."""

    table = "events"

    def _number(self, name: str, raw: Any, line: int | None, where: str) -> tuple[bool, str | None]:
        """``(ok, exact decimal text or None)`` for an ``amount``/``units`` value; rejects the row when not ok."""
        if raw is None or raw == "":
            return True, None
        kind = type(raw)
        value: Decimal | None
        if kind is int:  # the common JSON case: the text of the int is its exact decimal
            if -_INT_LIMIT < raw < _INT_LIMIT:
                return True, str(raw)
            value = Decimal(raw)
        elif kind is Decimal and raw.is_finite():  # JSON fractions and DynamoDB numbers
            value = raw
        else:
            value = None if isinstance(raw, bool) else parse_decimal(str(raw))
        if value is None:
            self.reject(f"{name} {raw!r} is not a number", line, f"{where}{name}")
            return False, None
        if not fits_amount(value):
            self.reject(
                f"{name} {str(raw) if isinstance(raw, Decimal) else repr(raw)} is too large "
                f"(at most {AMOUNT_INTEGER_DIGITS} digits before the point)",
                line,
                f"{where}{name}",
            )
            return False, None
        return True, str(value)

    def event_row(self, item: Mapping[str, Any], line: int | None, key: str | None = None) -> tuple[Any, ...] | None:
        """The facts row of one event, or None (rejected) when it is invalid."""
        where = f"{key}." if key else ""
        ts_raw = item.get("ts")
        ts = parse_timestamp(ts_raw) if isinstance(ts_raw, str) else None
        if ts is None:
            if ts_raw is None or ts_raw == "":
                message = "ts is missing (an ISO 8601 timestamp such as 2026-11-02T18:00:00Z)"
            elif isinstance(ts_raw, int | Decimal) and not isinstance(ts_raw, bool):
                message = f"ts {ts_raw} is a number; write it as an ISO 8601 timestamp such as 2026-11-02T18:00:00Z"
            elif isinstance(ts_raw, str):
                message = f"ts {ts_raw!r} {timestamp_problem(ts_raw)}"
            else:
                message = f"ts {ts_raw!r} is not an ISO 8601 timestamp"
            self.reject(message, line, f"{where}ts")
            return None
        kind = item.get("type")
        if not isinstance(kind, str) or not kind.strip():
            self.reject("type is missing", line, f"{where}type")
            return None
        ok, amount = self._number("amount", item.get("amount"), line, where)
        if not ok:
            return None
        ok, units = self._number("units", item.get("units"), line, where)
        if not ok:
            return None
        score_raw = item.get("score")
        score: int | None = None
        if type(score_raw) is int and 0 <= score_raw <= 10:
            score = score_raw
        elif score_raw is not None:
            number = None if isinstance(score_raw, bool) else parse_decimal(str(score_raw))
            if number is None or number != number.to_integral_value() or not 0 <= number <= 10:
                self.reject(f"score {score_raw!r} must be a whole number from 0 to 10", line, f"{where}score")
                return None
            score = int(number)
        elif kind == "nps":
            self.reject("an nps event needs a score from 0 to 10", line, f"{where}score")
            return None
        entity_raw = item.get("entity", "")
        if entity_raw is not None and entity_raw == self.spec.entity:  # the file's own entity, as written
            entity: str | None = self.spec.entity
        else:
            entity = self.check_entity(str(entity_raw) if entity_raw is not None else "", line, f"{where}entity")
            if entity is None:
                return None
        attrs = None if item.keys() <= _COLUMN_SET else {k: v for k, v in item.items() if k not in _COLUMN_SET}
        return (
            ts, entity, kind.strip(), _text(item.get("customer")), amount, units,
            _text(item.get("channel")), _text(item.get("segment")), score,
            json.dumps(attrs, default=str, sort_keys=True) if attrs else None,
            self.spec.display, line,
        )  # fmt: skip


def _decode(line: str) -> Any:
    """``json.loads(line, parse_float=Decimal)``, quicker for the usual line: one object, no spaces around it.

    A line nested too deeply or otherwise not JSON is :class:`JsonProblem`.
    """
    if line[0] == "{" and line[-1] == "}" and json_depth_line(line) is None:
        try:
            item, end = _DECODER.raw_decode(line)
        except ValueError:
            end = -1  # load_json says why
        if end == len(line):
            return item
    return load_json(line, parse_float=Decimal)  # anything else, with its own errors


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@register
class EventsJsonl(EventSource):
    """One JSON object per line."""

    kind = "events-jsonl"

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Yield one event per valid line; a bad line is rejected with its number and the others still load."""
        for line, raw in self.text_lines(MAX_LINE_CHARS):
            if raw is None:
                self.reject(f"is longer than {MAX_LINE_CHARS:,} characters; one event per line is expected", line)
                continue
            if not raw or raw.isspace():
                continue
            try:
                item = _decode(raw)
            except JsonProblem as exc:
                self.reject(exc.message + (f" (column {exc.column})" if exc.column else ""), line)
                continue
            if not isinstance(item, dict):
                self.reject('must be a JSON object like {"ts": ..., "type": ...}', line)
                continue
            try:
                row = self.event_row(item, line)
            except Exception as exc:  # one line must not sink the whole file
                log.debug("events line %s of %s failed", line, self.spec.display, exc_info=True)
                self.reject(f"could not be read ({type(exc).__name__}: {exc})", line)
                continue
            if row is not None:
                yield row
