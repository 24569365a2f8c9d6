"""Amazon SES feedback (bounces, complaints, deliveries) turned into changes of the audit store.

:func:`parse_ses` reads what SES publishes to SNS in either style, identity notifications (``notificationType``)
or configuration-set event publishing (``eventType``), one notification or a batch (an SNS envelope, or a Lambda
SNS event's ``Records``). :func:`apply_feedback` then, for each item:

- a permanent bounce or a complaint suppresses every recipient it names (a transient bounce suppresses nobody);
- a permanent bounce of the message a "sent" delivery was handed over as (SES's ``messageId`` is the
  ``provider_id`` the SES mailer records) moves that delivery to "failed", permanent, when the bounced addresses
  include the delivery's recipient (a bounce of the audit mailbox's BCC copy alone does not fail it);
- an audit entry ``feedback.<kind>`` records the recipients, the message id, a short detail and the delivery key,
  never the message's headers or content.

Applying the same notification twice fails no delivery twice (the second transition finds it "failed" already).
Imports only the standard library and the store: the AWS API package ships this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any, Literal

from execintel.store import DeliveryState, StateConflict, Store

__all__ = ["DETAIL_CHARS", "Feedback", "FeedbackKind", "apply_feedback", "parse_ses"]

FeedbackKind = Literal["bounce", "complaint", "delivery", "other"]
DETAIL_CHARS = 200
_MAX_ITEMS = 1000  # a batch larger than this is not something SES or SNS sends
_MAX_RECIPIENTS = 100  # SES sends one message to at most 50 recipients
_SENT: tuple[DeliveryState, ...] = ("sent",)


@dataclass(frozen=True)
class Feedback:
    """One SES notification, reduced to what execintel acts on and audits."""

    kind: FeedbackKind
    recipients: tuple[str, ...]
    """The addresses concerned, lower-cased."""
    permanent: bool
    """A Permanent bounce; complaints count as permanent for suppression."""
    message_id: str | None
    """``mail.messageId``: SES's id, the ``provider_id`` the SES mailer records."""
    timestamp: str | None
    detail: str
    """bounceType/bounceSubType, complaintFeedbackType, or the event's type, with a short diagnostic."""


def _short(text: str) -> str:
    """One line of at most DETAIL_CHARS printable characters (a diagnostic may be long or hold control codes)."""
    flat = "".join(c if c.isprintable() else " " for c in text)
    flat = " ".join(flat.split())
    return flat if len(flat) <= DETAIL_CHARS else flat[: DETAIL_CHARS - 3] + "..."


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"The SES notification's {where} is not a JSON object ({type(value).__name__}).")
    return value


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _address(value: object, where: str) -> str:
    """The addr-spec of ``value`` (SES may write ``Name <addr>``), lower-cased; ValueError when there is none."""
    if isinstance(value, str):
        address = parseaddr(value)[1].strip().lower()
        local, at, domain = address.rpartition("@")
        if at and local and domain and not any(c.isspace() for c in address):
            return address
    raise ValueError(f"The SES notification's {where} holds {value!r}, which is not an email address.")


def _addresses(entries: object, where: str, *, key: str | None = "emailAddress") -> tuple[str, ...]:
    """The distinct addresses of a recipient list (objects with ``key``, or strings when ``key`` is None)."""
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"The SES notification's {where} is not a non-empty list of recipients.")
    if len(entries) > _MAX_RECIPIENTS:
        raise ValueError(f"The SES notification's {where} lists {len(entries)} recipients; SES sends a message to "
                         f"at most 50, so more than {_MAX_RECIPIENTS} is not SES feedback.")  # fmt: skip
    found: dict[str, None] = {}
    for entry in entries:
        value = _object(entry, where).get(key) if key is not None else entry
        found[_address(value, where)] = None
    return tuple(found)


def _one(note: Mapping[str, Any]) -> Feedback:
    """The feedback of one SES notification (either style)."""
    style = "notificationType" if "notificationType" in note else "eventType"
    event = note.get(style)
    if not isinstance(event, str):
        raise ValueError("The SES notification has no notificationType or eventType string; it is not from SES.")
    # AmazonSnsSubscriptionSucceeded (SES's hello when a topic is set up) has no mail object.
    mail = _object(note.get("mail") or {}, "mail")
    message_id = _text(mail.get("messageId"))
    if event == "Bounce":
        bounce = _object(note.get("bounce"), "bounce")
        recipients = _addresses(bounce.get("bouncedRecipients"), "bounce.bouncedRecipients")
        kind = f"{bounce.get('bounceType') or '?'}/{bounce.get('bounceSubType') or '?'}"
        codes = [r.get("diagnosticCode") for r in bounce["bouncedRecipients"] if isinstance(r, Mapping)]
        diagnostic = next((c for c in codes if isinstance(c, str) and c.strip()), None)
        detail = kind if diagnostic is None else f"{kind}: {diagnostic}"
        return Feedback("bounce", recipients, bounce.get("bounceType") == "Permanent", message_id,
                        _text(bounce.get("timestamp")), _short(detail))  # fmt: skip
    if event == "Complaint":
        complaint = _object(note.get("complaint"), "complaint")
        recipients = _addresses(complaint.get("complainedRecipients"), "complaint.complainedRecipients")
        detail = _text(complaint.get("complaintFeedbackType")) or "complaint (no feedback type)"
        return Feedback("complaint", recipients, True, message_id, _text(complaint.get("timestamp")), _short(detail))
    if event == "Delivery":
        delivery = _object(note.get("delivery"), "delivery")
        recipients = _addresses(delivery.get("recipients"), "delivery.recipients", key=None)
        detail = _text(delivery.get("smtpResponse")) or "delivered"
        return Feedback("delivery", recipients, False, message_id, _text(delivery.get("timestamp")), _short(detail))
    # Send, Reject, Open, Click, Rendering Failure, DeliveryDelay, Subscription, AmazonSnsSubscriptionSucceeded...:
    # recorded, nothing changed.
    destination = mail.get("destination")
    recipients = _addresses(destination, "mail.destination", key=None) if destination else ()
    return Feedback("other", recipients, False, message_id, _text(mail.get("timestamp")), _short(event))


def _items(document: Mapping[str, Any], depth: int = 0) -> Iterable[Feedback]:
    """Every notification in ``document``: one SES notification, an SNS envelope, or a Lambda SNS event."""
    if "notificationType" in document or "eventType" in document:
        yield _one(document)
    elif isinstance(document.get("Records"), list) and depth == 0:
        for number, record in enumerate(document["Records"], 1):
            sns = _object(_object(record, f"Records[{number}]").get("Sns"), f"Records[{number}].Sns")
            yield from _items(_decode(sns.get("Message"), f"Records[{number}].Sns.Message"), depth + 1)
    elif document.get("Type") == "Notification" and "Message" in document and depth <= 1:
        yield from _items(_decode(document["Message"], "SNS Message"), depth + 1)
    else:
        raise ValueError("The document is not an SES notification: it has no notificationType or eventType.")


def _decode(message: object, where: str) -> Mapping[str, Any]:
    if isinstance(message, Mapping):
        return message
    if not isinstance(message, str):
        raise ValueError(f"The {where} is neither JSON text nor a JSON object.")
    try:
        document = json.loads(message)
    except (ValueError, RecursionError):
        raise ValueError(f"The {where} is not JSON, so it is not an SES notification.") from None
    return _object(document, where)


def parse_ses(message: str | Mapping[str, Any]) -> list[Feedback]:
    """The feedback in an SES notification (JSON text or parsed), an SNS envelope or a Lambda SNS event.

    Accepts the ``notificationType`` and the ``eventType`` styles, one or many recipients; ValueError with a
    sentence for anything else.
    """
    items = list(_items(_decode(message, "SES notification")))
    if len(items) > _MAX_ITEMS:
        raise ValueError(f"The document holds {len(items)} notifications, more than {_MAX_ITEMS}.")
    return items


def apply_feedback(store: Store, items: list[Feedback], *, source: str) -> dict[str, int]:
    """Suppress, fail and audit as the module docstring says; counts of what was done.

    ``source`` says where the feedback came from (e.g. ``sns:<topic ARN>``) in each suppression and entry.
    Returns ``{"suppressed": addresses suppressed (again), "deliveries_failed": deliveries moved to "failed",
    "events": audit entries recorded}``.
    """
    counts = {"suppressed": 0, "deliveries_failed": 0, "events": 0}
    for item in items:
        delivery = store.delivery_by_provider_id(item.message_id) if item.message_id else None
        suppress = item.kind == "complaint" or (item.kind == "bounce" and item.permanent)
        if suppress:
            verb = "complained" if item.kind == "complaint" else "bounced"
            for address in item.recipients:
                store.suppress(address, f"{verb}: {item.detail}", source=source)
                counts["suppressed"] += 1
        failed = False
        if (
            item.kind == "bounce" and item.permanent and delivery is not None and delivery.state == "sent"
            and delivery.recipient.strip().lower() in item.recipients
        ):  # fmt: skip
            try:
                store.transition(delivery.key, "failed", run_id=delivery.run_id, expect=_SENT, permanent=True,
                                 reason=f"bounced: {item.detail}")  # fmt: skip
            except StateConflict:
                pass  # changed in between (another copy of this notification): it is failed once, not twice
            else:
                failed = True
                counts["deliveries_failed"] += 1
        data = {
            "recipients": list(item.recipients), "message_id": item.message_id, "detail": item.detail,
            "permanent": item.permanent, "timestamp": item.timestamp, "source": source,
            "delivery": None if delivery is None else delivery.key, "suppressed": suppress, "delivery_failed": failed,
        }  # fmt: skip
        store.record_event(f"feedback.{item.kind}", data, run_id=None if delivery is None else delivery.run_id)
        counts["events"] += 1
    return counts
