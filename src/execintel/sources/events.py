"""Events connectors: JSONL files and DynamoDB tables (CONTRACT.md section 3)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from execintel.sources.base import Source, register
from execintel.sources.values import AMOUNT_INTEGER_DIGITS, fits_amount, parse_decimal, parse_timestamp

KNOWN_TYPES = ("lead", "signup", "booking", "cancellation", "completion", "login", "nps", "churn")
_COLUMNS = ("ts", "entity", "type", "customer", "amount", "units", "channel", "segment", "score")
_COLUMN_SET = frozenset(_COLUMNS)
_INT_LIMIT = 10**AMOUNT_INTEGER_DIGITS
# One decoder for every line: json.loads(..., parse_float=Decimal) would build a new one per call.
_DECODER = json.JSONDecoder(parse_float=Decimal)


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
    """``json.loads(line, parse_float=Decimal)``, quicker for the usual line: one object, no spaces around it."""
    if line[0] == "{" and line[-1] == "}":
        item, end = _DECODER.raw_decode(line)
        if end == len(line):
            return item
    return json.loads(line, parse_float=Decimal)  # anything else, with json.loads' own errors


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@register
class EventsJsonl(EventSource):
    """One JSON object per line."""

    kind = "events-jsonl"

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Yield one event per valid line."""
        for line, raw in enumerate(self.read_text().splitlines(), start=1):
            if not raw or raw.isspace():
                continue
            try:
                item = _decode(raw)
            except json.JSONDecodeError as exc:
                self.reject(f"is not valid JSON: {exc.msg} (column {exc.colno})", line)
                continue
            if not isinstance(item, dict):
                self.reject('must be a JSON object like {"ts": ..., "type": ...}', line)
                continue
            row = self.event_row(item, line)
            if row is not None:
                yield row
