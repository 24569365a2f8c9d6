"""The SNS Lambda: SES feedback (bounces, complaints, deliveries) from an SNS subscription, applied to the store.

Each record's ``Sns.Message`` is parsed with :func:`execintel.feedback.parse_ses` and applied with
:func:`~execintel.feedback.apply_feedback` (a permanent bounce or a complaint suppresses the address). A record
that is not SES feedback (SNS's ``Hello from SNS!`` test message, a stray publish) is counted and logged, never
raised: raising would make Lambda retry a message that can never parse. SNS delivers to Lambda directly, with no
HTTP hop, so there is no signature to check (the subscription is the trust boundary). Answers the counts.
Imports no analysis stack; the store is opened once per instance, on the first invocation.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from execintel.aws.config import describe, load, log_event, setup_logging

if TYPE_CHECKING:
    from execintel.store import Store

__all__ = ["handle_records", "handler", "reset"]


@functools.cache
def _store() -> Store:
    from execintel.store import open_store  # noqa: PLC0415

    setup_logging()
    settings = load()
    return open_store(settings.store, settings)


def reset() -> None:
    """Forget the instance's store (tests: a new Lambda instance)."""
    if _store.cache_info().currsize:
        _store().close()
    _store.cache_clear()


def handle_records(store: Store, event: Any) -> dict[str, Any]:
    """Apply every record of an SNS->Lambda event; count what was applied and what was not SES feedback."""
    from execintel.feedback import apply_feedback, parse_ses  # noqa: PLC0415

    records = event.get("Records") if isinstance(event, Mapping) else None
    counts = {"records": 0, "notifications": 0, "malformed": 0, "suppressed": 0, "deliveries_failed": 0, "events": 0}
    if not isinstance(records, list):
        log_event("sns.malformed", reason="the event has no Records list", level=logging.WARNING)
        return {"status": "ignored", "reason": "the event has no Records list", **counts}
    for number, record in enumerate(records, 1):
        counts["records"] += 1
        sns = record.get("Sns") if isinstance(record, Mapping) else None
        topic = sns.get("TopicArn") if isinstance(sns, Mapping) else None
        try:
            if not isinstance(sns, Mapping):
                raise ValueError("the record has no Sns object")
            items = parse_ses(sns.get("Message"))  # type: ignore[arg-type]  # parse_ses says what is wrong
        except ValueError as exc:
            counts["malformed"] += 1
            log_event("sns.malformed", record=number, topic=str(topic)[:300], reason=str(exc)[:300],
                      level=logging.WARNING)  # fmt: skip
            continue
        done = apply_feedback(store, items, source=f"sns:{str(topic)[:300]}")  # a store failure raises: retried
        counts["notifications"] += len(items)
        for key, value in done.items():
            counts[key] += value
    log_event("sns.applied", **counts)
    return {"status": "ok", **counts}


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """The Lambda entry point: :func:`handle_records` on the instance's store."""
    try:
        store = _store()
    except Exception as exc:
        log_event("sns.store_error", error=describe(exc), level=logging.ERROR)
        raise  # the records stay with SNS/Lambda's retries until the store can be opened
    return handle_records(store, event)
