"""Contacts CSV connector (CONTRACT.md section 4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from execintel.config.models import is_valid_email
from execintel.sources.base import CsvBatch, CsvSource, distinct_misses, mapped, register
from execintel.sources.values import is_iso_date, parse_bool, parse_date


@register
class ContactsCsv(CsvSource):
    """``email,name,source,subscribed,last_engaged,segment``.

    Syntactically invalid addresses are kept (with ``email_valid`` false): the
    contact figures count them in the total and not among the valid ones.
    """

    kind = "contacts-csv"
    table = "contacts"
    required = ("email",)
    optional = ("name", "source", "subscribed", "last_engaged", "segment", "entity")

    def columns(self, batch: CsvBatch) -> tuple[dict[str, pa.Array], list[pa.Array | None]]:
        """The batch's contact columns and the rows a whole-column check cannot vouch for."""
        emails = batch.texts("email")
        subscribed = batch.array("subscribed")
        last_engaged = batch.array("last_engaged")
        masks = [
            distinct_misses(subscribed, lambda text: parse_bool(text) is not None),
            distinct_misses(last_engaged, lambda text: not text or is_iso_date(text)),
        ]
        if self.spec.entity is None:  # the entity column only counts in a contacts file no entity lists
            entity = batch.array("entity")
            masks.append(distinct_misses(entity, lambda text: self.entity_problem(text)[1] is None))
        else:
            entity = pa.nulls(len(batch), pa.string()).fill_null(self.spec.entity)
        arrays = {
            "entity": entity,
            "email": batch.array("email"),
            "email_key": pa.array([email.lower() for email in emails], type=pa.string()),
            "email_valid": pa.array([is_valid_email(email) for email in emails], type=pa.bool_()),
            "name": batch.array("name"),
            "source": batch.array("source"),
            "subscribed": mapped(subscribed, lambda text: parse_bool(text) or False, pa.bool_()),
            "last_engaged": pc.if_else(pc.equal(last_engaged, ""), pa.scalar(None, pa.string()), last_engaged),
            "segment": batch.array("segment"),
        }
        return arrays, masks

    def check_row(self, get: Callable[[str], str], line: int) -> dict[str, Any] | tuple[str, str | None]:
        """One row's values for the facts table, or why it is refused (in the order the columns are checked)."""
        text = get("subscribed")
        if parse_bool(text) is None:
            return f"subscribed {text!r} must be true or false", "subscribed"
        text = get("last_engaged")
        last_engaged = parse_date(text) if text else None
        if text and last_engaged is None:
            return f"last_engaged {text!r} is not an ISO date", "last_engaged"
        values: dict[str, Any] = {"last_engaged": last_engaged.isoformat() if last_engaged else None}
        if self.spec.entity is None:
            entity, why = self.entity_problem(get("entity"))
            if why is not None:
                return why, "entity"
            values["entity"] = entity
        return values
