"""Ledger CSV connector (CONTRACT.md section 2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from execintel.sources.base import CsvBatch, CsvSource, distinct_misses, pattern_misses, register
from execintel.sources.values import (
    ACCOUNT_ROOTS,
    AMOUNT_INTEGER_DIGITS,
    fits_amount,
    is_iso_date,
    parse_date,
    parse_decimal,
)

# Amounts the database reads exactly as Python's Decimal does; anything else is checked row by row.
PLAIN_AMOUNT = rf"^-?[0-9]{{1,{AMOUNT_INTEGER_DIGITS}}}(\.[0-9]{{1,18}})?$"


def _known_root(account: str) -> bool:
    return account.split(":", 1)[0] in ACCOUNT_ROOTS


@register
class LedgerCsv(CsvSource):
    """``date,entity,account,amount,description,counterparty,service_date,receipt``."""

    kind = "ledger-csv"
    table = "transactions"
    optional = ("entity", "description", "counterparty", "service_date", "receipt")

    def csv_columns(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``date,account,amount`` and, in a portfolio-wide ledger, ``entity``."""
        return ("date", "account", "amount") + (("entity",) if self.spec.entity is None else ()), self.optional

    def columns(self, batch: CsvBatch) -> tuple[dict[str, pa.Array], list[pa.Array | None]]:
        """The batch's transaction columns and the rows a whole-column check cannot vouch for."""
        date, account, amount = batch.array("date"), batch.array("account"), batch.array("amount")
        service_date = batch.array("service_date")
        masks = [
            distinct_misses(date, is_iso_date),
            distinct_misses(account, _known_root),
            pattern_misses(amount, PLAIN_AMOUNT),
            distinct_misses(service_date, lambda text: not text or is_iso_date(text)),
        ]
        if batch.has("entity"):
            entity = batch.array("entity")
            masks.append(distinct_misses(entity, lambda text: self.entity_problem(text)[1] is None))
            if self.spec.entity is not None:
                entity = pc.if_else(pc.equal(entity, ""), self.spec.entity, entity)
        else:
            entity = pa.nulls(len(batch), pa.string()).fill_null(self.spec.entity)
        arrays = {
            "entity": entity,
            "date": date,
            "account": account,
            "amount": amount,
            "description": batch.array("description"),
            "counterparty": batch.array("counterparty"),
            "service_date": pc.if_else(pc.equal(service_date, ""), pa.scalar(None, pa.string()), service_date),
            # NULL when the file has no receipt column: it does not track receipts (an empty cell is a missing one)
            "receipt": batch.array("receipt") if batch.has("receipt") else pa.nulls(len(batch), pa.string()),
        }
        return arrays, masks

    def check_row(self, get: Callable[[str], str], line: int) -> dict[str, Any] | tuple[str, str | None]:
        """One row's values for the facts table, or why it is refused (in the order the columns are checked)."""
        text = get("date")
        date = parse_date(text)
        if date is None:
            return f"date {text!r} is not an ISO date like 2026-11-15", "date"
        account = get("account")
        if not _known_root(account):
            return f"account {account!r} must start with one of {', '.join(ACCOUNT_ROOTS)}", "account"
        text = get("amount")
        amount = parse_decimal(text)
        if amount is None:
            return f"amount {text!r} is not a number", "amount"
        if not fits_amount(amount):
            return f"amount {text!r} is too large (at most {AMOUNT_INTEGER_DIGITS} digits before the point)", "amount"
        service_text = get("service_date")
        service_date = parse_date(service_text) if service_text else None
        if service_text and service_date is None:
            return f"service_date {service_text!r} is not an ISO date", "service_date"
        entity, why = self.entity_problem(get("entity"))
        if why is not None:
            return why, "entity"
        return {
            "entity": entity,
            "date": date.isoformat(),
            "amount": str(amount),
            "service_date": service_date.isoformat() if service_date else None,
        }
