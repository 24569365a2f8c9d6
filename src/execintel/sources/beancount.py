"""Beancount ledgers, read with beancount's own loader (the only module importing beancount).

Postings to ``Income`` and ``Expenses`` become transaction rows with the sign
flipped to the cash convention of the ledger CSV (positive = cash in). So do
postings to ``Equity`` and ``Liabilities``, so that cash on hand (the sum of
all rows) equals the net change of the ``Assets`` accounts, as in a CSV
ledger with an opening-balance row. Postings in another commodity than the
portfolio currency are converted at their cost or price when one is in that
currency, otherwise skipped and counted in one warning.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from execintel.sources.base import Source, register
from execintel.sources.values import fits_amount, parse_date, too_large

CASH_SIDE_ROOTS = ("Income", "Expenses", "Equity", "Liabilities")


@register
class BeancountLedger(Source):
    """A ``.beancount`` file and everything it includes."""

    kind = "beancount"
    table = "transactions"

    def _display(self, filename: str | None) -> str:
        if not filename or self.spec.path is None:
            return self.spec.display
        path = Path(filename)
        if path.resolve() == self.spec.path.resolve():
            return self.spec.display
        base = Path(self.spec.display).parent
        try:
            return str(base / path.resolve().relative_to(self.spec.path.resolve().parent))
        except ValueError:
            return str(path)

    def _reject_at(self, file: str, message: str, line: int | None, key: str) -> None:
        """Reject a transaction of ``file`` (the ledger or a file it includes)."""
        self._report.rows_rejected += 1
        self.problem_at(file, message, line, key, warning=False)

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Yield one row per cash-side posting of every transaction."""
        from beancount import loader  # noqa: PLC0415 - heavy; only when a beancount ledger exists
        from beancount.core import data  # noqa: PLC0415

        if self.spec.path is None:
            raise self.fail("is not a local file")
        self.read_text()  # same clear errors as other files for missing/binary/non-UTF-8
        entries, errors, _options = loader.load_file(str(self.spec.path))
        for error in errors:
            source = getattr(error, "source", None) or {}
            message = " ".join(str(getattr(error, "message", error)).split())
            self.problem_at(self._display(source.get("filename")), message, source.get("lineno"), warning=False)
        currency = self.spec.currency
        skipped: Counter[str] = Counter()
        for entry in entries:
            if not isinstance(entry, data.Transaction):
                continue
            meta = entry.meta or {}
            file = self._display(meta.get("filename"))
            entity_meta = meta.get("entity")
            if entity_meta is not None:
                entity = self.check_entity(str(entity_meta), meta.get("lineno"), "entity")
            elif self.spec.entity is not None:
                entity = self.spec.entity
            else:
                self._reject_at(file, "transaction has no entity metadata and the file is not listed by an entity",
                                meta.get("lineno"), "entity")  # fmt: skip
                continue
            if entity is None:
                continue
            service_date = meta.get("service_date")
            if service_date is not None and not isinstance(service_date, dt.date):
                text = str(service_date)
                service_date = parse_date(text)
                if service_date is None:
                    self._reject_at(file, f"service_date {text!r} is not an ISO date like 2026-11-15",
                                    meta.get("lineno"), "service_date")  # fmt: skip
                    continue
            for posting in entry.postings:
                pmeta = posting.meta or {}
                if posting.account.split(":", 1)[0] not in CASH_SIDE_ROOTS or posting.units is None:
                    continue
                amount = _in_currency(posting, currency)
                if amount is None:
                    skipped[str(posting.units.currency)] += 1
                    continue
                if not fits_amount(amount):
                    line = pmeta.get("lineno", meta.get("lineno"))
                    self._reject_at(file, too_large("amount", amount), line, "amount")
                    continue
                receipt = pmeta.get("receipt", meta.get("receipt", ""))
                yield (
                    entity, entry.date, posting.account, str(-amount), entry.narration or "",
                    entry.payee or "", service_date if isinstance(service_date, dt.date) else None,
                    str(receipt or ""), file, pmeta.get("lineno", meta.get("lineno")),
                )  # fmt: skip
        if skipped:
            listed = ", ".join(f"{n} in {c}" for c, n in sorted(skipped.items()))
            self.problem(f"postings not in {currency} and without a {currency} cost or price were skipped: {listed}",
                         warning=True)  # fmt: skip


def _in_currency(posting: Any, currency: str) -> Decimal | None:
    units = posting.units
    if units.currency == currency:
        return Decimal(units.number)
    cost = posting.cost
    if cost is not None and getattr(cost, "currency", None) == currency and cost.number is not None:
        return Decimal(units.number) * Decimal(cost.number)
    price = posting.price
    if price is not None and price.currency == currency and price.number is not None:
        return Decimal(units.number) * Decimal(price.number)
    return None
