"""Cloud cost connectors: own CSV, FOCUS 1.x CSV, Cost Explorer JSON (CONTRACT.md section 5)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from execintel.sources.base import Source, register
from execintel.sources.values import (
    JsonProblem,
    fits_amount,
    is_month,
    load_json,
    parse_decimal,
    parse_timestamp,
    too_large,
)

# Cost Explorer metrics in order of preference: unblended is what one account is billed.
CE_METRICS = ("UnblendedCost", "NetUnblendedCost", "AmortizedCost", "BlendedCost", "NetAmortizedCost")
FOCUS_NULL = "NULL"
ENTITY_TAG_KEYS = ("entity", "Entity", "execintel:entity", "user:entity")


def detect_costs_kind(head: bytes, suffix: str) -> str:
    """Which cost connector reads a file, from its extension and first line."""
    if suffix.lower() == ".json":
        return "costs-ce"
    first_line = head.split(b"\n", 1)[0]
    return "costs-focus" if b"BilledCost" in first_line else "costs-csv"


@register
class CostsCsv(Source):
    """``month,service,amount,entity`` with ``month`` as ``YYYY-MM``."""

    kind = "costs-csv"
    table = "cloud_costs"

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Yield one cost line per CSV row."""
        for line, get in self.csv_rows(("month", "service", "amount"), ("entity",)):
            month = get("month")
            if not is_month(month):
                self.reject(f"month {month!r} must look like 2026-11", line, "month")
                continue
            text = get("amount")
            amount = parse_decimal(text)
            if amount is None:
                self.reject(f"amount {text!r} is not a number", line, "amount")
                continue
            if not fits_amount(amount):
                self.reject(too_large("amount", text), line, "amount")
                continue
            service = get("service")
            if not service:
                self.reject("service is empty", line, "service")
                continue
            entity_text = get("entity")
            entity = self.check_entity(entity_text, line) if entity_text else None
            if entity_text and entity is None:
                continue
            yield month, service, str(amount), entity, None, None, self.spec.display, line


@register
class CostsFocus(Source):
    """A FOCUS 1.x export: ``BilledCost``, ``ServiceName``, ``ChargePeriodStart``, ``Tags``."""

    kind = "costs-focus"
    table = "cloud_costs"

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Yield one cost line per FOCUS row, month from ``ChargePeriodStart``."""
        required = ("BilledCost", "ServiceName", "ChargePeriodStart")
        for line, get in self.csv_rows(required, ("Tags", "Id")):
            text = get("BilledCost")
            amount = parse_decimal(text)
            if amount is None:
                self.reject(f"BilledCost {text!r} is not a number", line, "BilledCost")
                continue
            if not fits_amount(amount):
                self.reject(too_large("BilledCost", text), line, "BilledCost")
                continue
            text = get("ChargePeriodStart")
            start = parse_timestamp(text.replace(" ", "T"))
            if start is None:
                self.reject(f"ChargePeriodStart {text!r} is not a timestamp", line, "ChargePeriodStart")
                continue
            service = get("ServiceName")
            service = "(unspecified)" if service in ("", FOCUS_NULL) else service
            entity = self._entity_from_tags(get("Tags"), line)
            # The month is the provider's billing month (the UTC month the period starts in); the instant itself
            # is kept so a report ignores charges that start after as_of ends.
            naive = start.replace(tzinfo=None)
            yield f"{start:%Y-%m}", service, str(amount), entity, naive, get("Id") or None, self.spec.display, line

    def _entity_from_tags(self, text: str, line: int) -> str | None:
        if text in ("", FOCUS_NULL):
            return None
        try:
            tags = load_json(text)
        except JsonProblem as exc:
            why = "is not a JSON object" if exc.message.startswith("is not valid JSON") else exc.message
            self.problem(f"Tags {why}; row kept as a shared cost", line, "Tags", warning=True)
            return None
        if not isinstance(tags, dict):
            return None
        for key in ENTITY_TAG_KEYS:
            value = tags.get(key)
            if isinstance(value, str) and value in self.spec.entities:
                return value
        return None


@register
class CostsCostExplorer(Source):
    """A ``GetCostAndUsage`` JSON response grouped by ``SERVICE``."""

    kind = "costs-ce"
    table = "cloud_costs"

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Yield one cost line per (period, service group)."""
        try:
            data = load_json(self.read_text(), parse_float=Decimal)
        except JsonProblem as exc:
            raise self.fail(exc.message, line=exc.line) from None
        if not isinstance(data, dict) or not isinstance(data.get("ResultsByTime"), list):
            raise self.fail("is not a Cost Explorer GetCostAndUsage response (no ResultsByTime list)")
        definitions = data.get("GroupDefinitions") or []
        keys = [d.get("Key") for d in definitions if isinstance(d, dict)] if isinstance(definitions, list) else []
        if definitions and "SERVICE" not in keys:
            raise self.fail("is not grouped by SERVICE (GroupDefinitions lacks the SERVICE dimension)")
        service_index = keys.index("SERVICE") if "SERVICE" in keys else None
        for p, period in enumerate(data["ResultsByTime"]):
            where = f"ResultsByTime[{p}]"
            if not isinstance(period, dict):
                self.reject("is not an object with TimePeriod and Groups", None, where)
                continue
            time_period = period.get("TimePeriod")
            start = str(time_period.get("Start", "")) if isinstance(time_period, dict) else ""
            month = start[:7]
            if not is_month(month):
                self.reject(f"TimePeriod.Start {start!r} is not a date", None, where)
                continue
            begins = parse_timestamp(start)  # a date: midnight UTC, the day Cost Explorer's period starts
            period_start = None if begins is None else begins.replace(tzinfo=None)
            groups = period.get("Groups") or []
            if not isinstance(groups, list):
                self.reject("Groups is not a list", None, where)
                continue
            if not groups:
                amount = self._metric(period.get("Total"), where)
                if amount is not None and amount != 0:
                    yield month, "(total)", str(amount), None, period_start, where, self.spec.display, None
                continue
            for g, group in enumerate(groups):
                gwhere = f"{where}.Groups[{g}]"
                if not isinstance(group, dict):
                    self.reject("is not an object with Keys and Metrics", None, gwhere)
                    continue
                group_keys = group.get("Keys")
                service = "(unspecified)"
                if isinstance(group_keys, list) and service_index is not None and service_index < len(group_keys):
                    service = str(group_keys[service_index])
                amount = self._metric(group.get("Metrics"), gwhere)
                if amount is not None:
                    yield month, service, str(amount), None, period_start, gwhere, self.spec.display, None

    def _metric(self, metrics: Any, where: str) -> Decimal | None:
        if not isinstance(metrics, dict):
            metrics = {}
        for name in CE_METRICS:
            metric = metrics.get(name)
            if isinstance(metric, dict) and "Amount" in metric:
                amount = parse_decimal(str(metric["Amount"]))
                if amount is None:
                    self.reject(f"{name}.Amount {metric['Amount']!r} is not a number", None, where)
                elif not fits_amount(amount):
                    self.reject(too_large(f"{name}.Amount", metric["Amount"]), None, where)
                    return None
                return amount
        self.reject(f"has none of the cost metrics {', '.join(CE_METRICS)}", None, where)
        return None
