"""Ledger CSV connector (CONTRACT.md section 2)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from execintel.sources.base import Source, register
from execintel.sources.values import ACCOUNT_ROOTS, parse_date, parse_decimal


@register
class LedgerCsv(Source):
    """``date,entity,account,amount,description,counterparty,service_date,receipt``."""

    kind = "ledger-csv"
    table = "transactions"

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Yield one transaction row per valid CSV line."""
        required = ("date", "account", "amount") + (("entity",) if self.spec.entity is None else ())
        optional = ("entity", "description", "counterparty", "service_date", "receipt")
        source = self.spec.display
        for line, get in self.csv_rows(required, optional):
            text = get("date")
            date = parse_date(text)
            if date is None:
                self.reject(f"date {text!r} is not an ISO date like 2026-11-15", line, "date")
                continue
            account = get("account")
            if account.split(":", 1)[0] not in ACCOUNT_ROOTS:
                self.reject(
                    f"account {account!r} must start with one of {', '.join(ACCOUNT_ROOTS)}", line, "account"
                )
                continue
            text = get("amount")
            amount = parse_decimal(text)
            if amount is None:
                self.reject(f"amount {text!r} is not a number", line, "amount")
                continue
            service_text = get("service_date")
            service_date = parse_date(service_text) if service_text else None
            if service_text and service_date is None:
                self.reject(f"service_date {service_text!r} is not an ISO date", line, "service_date")
                continue
            entity = self.check_entity(get("entity"), line)
            if entity is None:
                continue
            yield (
                entity, date, account, str(amount), get("description"), get("counterparty"),
                service_date, get("receipt"), source, line,
            )  # fmt: skip
