"""Contacts CSV connector (CONTRACT.md section 4)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from execintel.config.models import is_valid_email
from execintel.sources.base import Source, register
from execintel.sources.values import parse_bool, parse_date


@register
class ContactsCsv(Source):
    """``email,name,source,subscribed,last_engaged,segment``.

    Syntactically invalid addresses are kept (with ``email_valid`` false): the
    contact figures count them in the total and not among the valid ones.
    """

    kind = "contacts-csv"
    table = "contacts"

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Yield one contact per CSV line."""
        optional = ("name", "source", "subscribed", "last_engaged", "segment", "entity")
        entity = self.spec.entity
        source = self.spec.display
        for line, get in self.csv_rows(("email",), optional):
            email = get("email")
            text = get("subscribed")
            subscribed = parse_bool(text)
            if subscribed is None:
                self.reject(f"subscribed {text!r} must be true or false", line, "subscribed")
                continue
            text = get("last_engaged")
            last_engaged = parse_date(text) if text else None
            if text and last_engaged is None:
                self.reject(f"last_engaged {text!r} is not an ISO date", line, "last_engaged")
                continue
            row_entity = self.check_entity(get("entity"), line) if entity is None else entity
            if row_entity is None:
                continue
            yield (
                row_entity, email, email.lower(), is_valid_email(email), get("name"), get("source"),
                subscribed, last_engaged, get("segment"), source, line,
            )  # fmt: skip
