"""The SES webhook's work: verify the SNS message, confirm a subscription, apply SES feedback to the store.

Imported by the app; the verifier and the feedback modules are imported on the first notification.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException

from execintel.web import models as m
from execintel.web.config import WebConfig
from execintel.web.http import log_event

if TYPE_CHECKING:
    from execintel.store import Store

log = logging.getLogger("execintel.web")


class Lazy:
    """A value made on first use (the SNS verifier: most apps never receive a notification)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make, self.value, self.lock = make, None, threading.Lock()

    def get(self) -> Any:
        """The value, made now if it is the first use."""
        with self.lock:
            if self.value is None:
                self.value = self.make()
            return self.value


def make_verifier(config: WebConfig, fetch: Callable[[str], bytes] | None) -> Any:
    """The app's SNS verifier (it caches certificates for as long as the app runs)."""
    from execintel.web.sns import SnsConfig, SnsVerifier  # noqa: PLC0415

    kwargs: dict[str, Any] = {"topic_arns": config.sns_topic_arns, "max_age": config.sns_max_age,
                              "cert_dir": config.sns_cert_dir}  # fmt: skip
    if fetch is not None:
        kwargs["fetch"] = fetch
    return SnsVerifier(SnsConfig(**kwargs))


def handle_sns(lazy: Lazy, store: Store, body: bytes) -> Any:
    """Answer one webhook call: 403 for a refused message, the counts of what the feedback changed otherwise."""
    from execintel.feedback import apply_feedback, parse_ses  # noqa: PLC0415
    from execintel.web.sns import SnsRejected  # noqa: PLC0415

    verifier = lazy.get()
    topic = ""
    try:
        message = verifier.verify(body)
        kind = message.get("Type")
        topic = str(message.get("TopicArn", ""))
        if kind == "SubscriptionConfirmation":
            verifier.confirm(message)  # GETs the host-checked SubscribeURL, following no redirect
            log_event(log, "sns.subscribed", topic=topic)
            return m.WebhookResult(status="confirmed")
    except SnsRejected as exc:
        log_event(log, "sns.rejected", reason=str(getattr(exc, "reason", exc))[:200], level=logging.WARNING)
        raise HTTPException(403, "The SNS message was refused.") from None
    except (OSError, ValueError) as exc:
        log_event(log, "sns.confirm_failed", topic=topic, error=type(exc).__name__, level=logging.WARNING)
        raise HTTPException(502, "The subscription could not be confirmed with SNS; it will send the "
                            "confirmation again.") from None  # fmt: skip
    if kind != "Notification":
        return m.WebhookResult(status="ignored")
    try:
        items = parse_ses(message.get("Message", ""))
    except ValueError as exc:
        log_event(log, "sns.unparsed", topic=topic, reason=str(exc)[:200], level=logging.WARNING)
        return m.WebhookResult(status="ignored")
    counts = apply_feedback(store, items, source=f"sns:{topic}"[:200])
    log_event(log, "sns.applied", topic=topic, **{k: v for k, v in counts.items() if isinstance(v, int)})
    return m.WebhookResult(status="ok", counts={k: int(v) for k, v in counts.items()})
