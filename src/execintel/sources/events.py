"""Events connectors: JSONL files and DynamoDB tables (CONTRACT.md section 3)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from execintel.sources.base import Source, register
from execintel.sources.values import parse_decimal, parse_timestamp

KNOWN_TYPES = ("lead", "signup", "booking", "cancellation", "completion", "login", "nps", "churn")
_COLUMNS = ("ts", "entity", "type", "customer", "amount", "units", "channel", "segment", "score")


class EventSource(Source):
    """Shared normalisation of one event record, from any transport."""

    table = "events"

    def event_row(self, item: Mapping[str, Any], line: int | None, key: str | None = None) -> tuple[Any, ...] | None:
        """The facts row of one event, or None (rejected) when it is invalid."""
        where = f"{key}." if key else ""
        ts_raw = item.get("ts")
        ts = parse_timestamp(ts_raw) if isinstance(ts_raw, str) else None
        if ts is None:
            self.reject(f"ts {ts_raw!r} is not an ISO 8601 timestamp", line, f"{where}ts")
            return None
        kind = item.get("type")
        if not isinstance(kind, str) or not kind.strip():
            self.reject("type is missing", line, f"{where}type")
            return None
        numbers: dict[str, Decimal | None] = {}
        for name in ("amount", "units"):
            raw = item.get(name)
            if raw is None or raw == "":
                numbers[name] = None
                continue
            value = None if isinstance(raw, bool) else parse_decimal(str(raw))
            if value is None:
                self.reject(f"{name} {raw!r} is not a number", line, f"{where}{name}")
                return None
            numbers[name] = value
        score_raw = item.get("score")
        score: int | None = None
        if score_raw is not None:
            number = None if isinstance(score_raw, bool) else parse_decimal(str(score_raw))
            if number is None or number != number.to_integral_value() or not 0 <= number <= 10:
                self.reject(f"score {score_raw!r} must be a whole number from 0 to 10", line, f"{where}score")
                return None
            score = int(number)
        elif kind == "nps":
            self.reject("an nps event needs a score from 0 to 10", line, f"{where}score")
            return None
        entity_raw = item.get("entity", "")
        entity = self.check_entity(str(entity_raw) if entity_raw is not None else "", line, f"{where}entity")
        if entity is None:
            return None
        attrs = {k: v for k, v in item.items() if k not in _COLUMNS}
        return (
            ts, entity, kind.strip(), _text(item.get("customer")),
            _opt(numbers["amount"]), _opt(numbers["units"]),
            _text(item.get("channel")), _text(item.get("segment")), score,
            json.dumps(attrs, default=str, sort_keys=True) if attrs else None,
            self.spec.display, line,
        )  # fmt: skip


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@register
class EventsJsonl(EventSource):
    """One JSON object per line."""

    kind = "events-jsonl"

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Yield one event per valid line."""
        text = self.read_text()
        for line, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                item = json.loads(raw, parse_float=Decimal)
            except json.JSONDecodeError as exc:
                self.reject(f"is not valid JSON: {exc.msg} (column {exc.colno})", line)
                continue
            if not isinstance(item, dict):
                self.reject("must be a JSON object like {\"ts\": ..., \"type\": ...}", line)
                continue
            row = self.event_row(item, line)
            if row is not None:
                yield row
