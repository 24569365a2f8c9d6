"""SES feedback: every public sample parses to the right kind, recipients and permanence, and applying it to a real
SQLite store suppresses the right addresses, fails the bounced delivery once, and audits each notification."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import SHARED
from execintel.config.settings import Settings
from execintel.feedback import Feedback, apply_feedback, parse_ses
from execintel.store import Delivery, RunRecord, Store, open_store
from execintel.web.sns import SnsConfig, SnsVerifier
from test_sns import CERT_URL, NOW, TOPIC, Fetcher, body, certificate, notification, sign

SES = SHARED / "ses"
T0 = datetime(2026, 11, 15, 9, 0, tzinfo=UTC)
JANE, MARY, RICHARD, RECIPIENT = "jane@example.com", "mary@example.com", "richard@example.com", "recipient@example.com"
EXAMPLE_ID = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"


def sample(name: str) -> str:
    return (SES / name).read_text(encoding="utf-8")


def message_id(name: str) -> str:
    return str(json.loads(sample(name))["mail"]["messageId"])


# file: (kind, recipients, permanent, message id, detail)
EXPECTED: dict[str, tuple[str, tuple[str, ...], bool, str, str]] = {
    "bounce-1.json": ("bounce", (JANE,), True, "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
                      "Permanent/General: smtp; 550 5.1.1 <jane@example.com>... User"),
    "bounce-2.json": ("bounce", (JANE, RICHARD), True, "00000137860315fd-34208509-5b74-41f3-95c5-22c1edc3c924-000000",
                      "Permanent/General"),
    "complaint-1.json": ("complaint", (RICHARD,), True,
                         "000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000", "abuse"),
    "complaint-2.json": ("complaint", (RICHARD,), True,
                         "0000013786031775-163e3910-53eb-4c8e-a04a-f29debf88a84-000000",
                         "complaint (no feedback type)"),
    "delivery-1.json": ("delivery", (JANE,), False, "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000",
                        "250 ok: Message 64111812 accepted"),
    "event-bounce.json": ("bounce", (RECIPIENT,), True, EXAMPLE_ID, "Permanent/General: smtp; 550 5.1.1 user unknown"),
    "event-complaint.json": ("complaint", (RECIPIENT,), True, EXAMPLE_ID, "abuse"),
    "event-delivery.json": ("delivery", (RECIPIENT,), False, EXAMPLE_ID, "250 2.6.0 Message received"),
    "event-send.json": ("other", (RECIPIENT,), False, EXAMPLE_ID, "Send"),
    "event-reject.json": ("other", ("sender@example.com",), False, EXAMPLE_ID, "Reject"),
    "event-open.json": ("other", (RECIPIENT,), False, EXAMPLE_ID, "Open"),
    "event-click.json": ("other", (RECIPIENT,), False, EXAMPLE_ID, "Click"),
    "event-rendering-failure.json": ("other", (RECIPIENT,), False, EXAMPLE_ID, "Rendering Failure"),
    "event-deliverydelay.json": ("other", (RECIPIENT,), False, EXAMPLE_ID, "DeliveryDelay"),
    "event-subscription.json": ("other", (RECIPIENT,), False,
                                "EXAMPLEe4bccb684-777bc8de-afa7-4970-92b0-f515137b1497-000000", "Subscription"),
}  # fmt: skip


def test_every_ses_sample_is_covered() -> None:
    assert sorted(path.name for path in SES.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_ses_sample_parses_to_its_kind_recipients_and_permanence(name: str) -> None:
    kind, recipients, permanent, mail_id, detail = EXPECTED[name]
    parsed = parse_ses(sample(name))
    assert [(f.kind, f.recipients, f.permanent, f.message_id, f.detail) for f in parsed] == [
        (kind, recipients, permanent, mail_id, detail)
    ]
    assert parsed[0].timestamp is not None and parsed[0].timestamp.startswith("20")
    assert parse_ses(json.loads(sample(name))) == parsed  # parsed JSON reads the same as its text


def test_an_sns_envelope_and_a_lambda_sns_event_carry_one_or_many_notifications() -> None:
    envelope = notification(Message=sample("bounce-2.json"))
    assert parse_ses(envelope) == parse_ses(json.dumps(envelope)) == parse_ses(sample("bounce-2.json"))
    event = json.loads((SHARED / "events" / "snsEvent.json").read_text(encoding="utf-8"))
    record = event["Records"][0]
    event["Records"] = [
        {**record, "Sns": {**record["Sns"], "Message": sample(name)}}
        for name in ("complaint-1.json", "event-open.json")
    ]
    assert [(f.kind, f.recipients) for f in parse_ses(event)] == [("complaint", (RICHARD,)), ("other", (RECIPIENT,))]


def test_addresses_are_lower_cased_and_read_from_display_names() -> None:
    note = json.loads(sample("bounce-2.json"))
    note["bounce"]["bouncedRecipients"] = [{"emailAddress": "Jane@Example.COM"}, {"emailAddress": "jane@example.com"},
                                           {"emailAddress": '"Richard Doe" <Richard@example.com>'}]  # fmt: skip
    assert parse_ses(note)[0].recipients == (JANE, RICHARD)


def test_a_transient_or_undetermined_bounce_is_not_permanent() -> None:
    for kind in ("Transient", "Undetermined"):
        note = json.loads(sample("bounce-1.json"))
        note["bounce"]["bounceType"] = kind
        assert parse_ses(note)[0].permanent is False


def test_a_long_diagnostic_is_cut_to_one_short_line() -> None:
    note = json.loads(sample("event-bounce.json"))
    note["bounce"]["bouncedRecipients"][0]["diagnosticCode"] = "smtp; 550\r\n\x1b[31m" + "x" * 500
    detail = parse_ses(note)[0].detail
    assert len(detail) == 200 and detail.startswith("Permanent/General: smtp; 550 [31mxxx") and detail.endswith("...")


def _drop(name: str, *path: str) -> dict[str, Any]:
    note: dict[str, Any] = json.loads(sample(name))
    target = note
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return note


@pytest.mark.parametrize(
    ("document", "phrase"),
    [
        ((SHARED / "events" / "snsEvent.json").read_text(encoding="utf-8"), "Sns.Message is not JSON"),
        ("Hello from SNS!", "is not JSON"),
        ("[1, 2]", "is not a JSON object"),
        ({}, "is not an SES notification"),
        ({"notificationType": 3}, "no notificationType or eventType string"),
        (_drop("bounce-1.json", "bounce"), "bounce is not a JSON object"),
        (_drop("complaint-1.json", "complaint", "complainedRecipients"), "complainedRecipients is not a non-empty"),
        ({**json.loads(sample("bounce-2.json")), "bounce": {"bouncedRecipients": [{"emailAddress": "not-an-address"}]}},
         "holds 'not-an-address', which is not an email address"),
        ({**json.loads(sample("delivery-1.json")), "delivery": {"recipients": []}}, "delivery.recipients"),
        ({**json.loads(sample("delivery-1.json")), "delivery": {"recipients": [JANE] * 101}}, "lists 101 recipients"),
        ('[' * 100_000, "is not JSON"),
    ],
)  # fmt: skip
def test_junk_is_a_value_error_with_a_sentence(document: Any, phrase: str) -> None:
    with pytest.raises(ValueError, match=phrase):
        parse_ses(document)


# Applying feedback to a real store.


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with open_store(f"sqlite:///{tmp_path / 'audit.db'}", Settings(), clock=Clock()) as opened:
        yield opened


def sent(store: Store, key: str, recipient: str, provider_id: str) -> None:
    """A delivery of run-1 that SES accepted as ``provider_id``."""
    store.add_delivery(Delivery(key, "Test Holdings", "weekly", "2026-W46", "cfo", recipient, 2, "rendered", "run-1"))
    store.transition(key, "sending", run_id="run-1", expect={"rendered"}, attempts=1)
    store.transition(key, "sent", run_id="run-1", expect={"sending"}, provider_id=provider_id)


@pytest.fixture
def delivered(store: Store) -> Store:
    """Three sent deliveries: to Jane (bounces in bounce-1), Richard (complains in complaint-1) and Mary (whose
    message, bounce-2's, bounced only for the other envelope recipients)."""
    store.start_run(RunRecord("run-1", "Test Holdings", "cli:test", "weekly", "2026-W46", T0))
    sent(store, "d-jane", "Jane@example.com", message_id("bounce-1.json"))
    sent(store, "d-richard", RICHARD, message_id("complaint-1.json"))
    sent(store, "d-mary", MARY, message_id("bounce-2.json"))
    return store


def feedback(*names: str) -> list[Feedback]:
    return [item for name in names for item in parse_ses(sample(name))]


NAMES = ("bounce-1.json", "bounce-2.json", "complaint-1.json", "delivery-1.json", "event-open.json")


def test_feedback_suppresses_bounced_and_complaining_addresses_and_fails_the_bounced_delivery(
    delivered: Store,
) -> None:
    store = delivered
    counts = apply_feedback(store, feedback(*NAMES), source="sns:test")
    assert counts == {"suppressed": 4, "deliveries_failed": 1, "events": 5}
    assert {(s.address, s.reason.split(":")[0], s.source) for s in store.suppressions()} == {
        (JANE, "bounced", "sns:test"), (RICHARD, "complained", "sns:test")
    }  # fmt: skip
    jane = store.get_delivery("d-jane")
    assert jane is not None and jane.state == "failed" and jane.permanent is True
    assert jane.reason == "bounced: Permanent/General: smtp; 550 5.1.1 <jane@example.com>... User"
    others = [store.get_delivery(key) for key in ("d-richard", "d-mary")]
    assert [d.state for d in others if d is not None] == ["sent", "sent"]  # a complaint, a BCC copy's bounce
    events = [e for e in store.entries() if e.kind.startswith("feedback.")]
    assert [(e.kind, e.data["delivery"], e.run_id) for e in events] == [
        ("feedback.bounce", "d-jane", "run-1"), ("feedback.bounce", "d-mary", "run-1"),
        ("feedback.complaint", "d-richard", "run-1"), ("feedback.delivery", None, None), ("feedback.other", None, None),
    ]  # fmt: skip
    assert events[0].data["recipients"] == [JANE] and events[0].data["delivery_failed"] is True
    assert events[1].data["delivery_failed"] is False and events[1].data["suppressed"] is True
    for entry in events:  # what was audited is who and why, never the mail's headers or content
        text = json.dumps(entry.data)
        assert "Hello" not in text and "John Doe" not in text and "headers" not in text
    assert store.verify().ok


def test_the_same_feedback_twice_fails_no_delivery_twice(delivered: Store) -> None:
    store = delivered
    apply_feedback(store, feedback(*NAMES), source="sns:test")
    again = apply_feedback(store, feedback(*NAMES), source="sns:test")
    assert again == {"suppressed": 4, "deliveries_failed": 0, "events": 5}
    assert [e.data["to"] for e in store.entries() if e.data.get("key") == "d-jane"] == ["rendered", "sending", "sent",
                                                                                        "failed"]  # fmt: skip
    assert len(store.suppressions()) == 2
    assert store.verify().ok


def test_a_transient_bounce_suppresses_nobody_and_fails_nothing(delivered: Store) -> None:
    note = json.loads(sample("bounce-1.json"))
    note["bounce"]["bounceType"] = "Transient"
    counts = apply_feedback(delivered, parse_ses(note), source="sns:test")
    assert counts == {"suppressed": 0, "deliveries_failed": 0, "events": 1}
    assert delivered.suppressions() == []
    jane = delivered.get_delivery("d-jane")
    assert jane is not None and jane.state == "sent"


def test_a_bounce_of_a_delivery_that_is_not_sent_changes_no_delivery(delivered: Store) -> None:
    delivered.transition("d-jane", "unknown", run_id="run-1", expect={"sent"})
    assert apply_feedback(delivered, feedback("bounce-1.json"), source="sns:test")["deliveries_failed"] == 0
    jane = delivered.get_delivery("d-jane")
    assert jane is not None and jane.state == "unknown"
    assert delivered.suppression(JANE) is not None and delivered.verify().ok


def test_a_verified_sns_notification_of_a_bounce_fails_its_delivery(delivered: Store) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    check = SnsVerifier(SnsConfig(frozenset({TOPIC}), fetch=Fetcher({CERT_URL: certificate(key)})), clock=lambda: NOW)
    message = check.verify(body(sign(notification(Message=sample("bounce-1.json")), key, "2")))
    assert apply_feedback(delivered, parse_ses(message["Message"]), source=f"sns:{message['TopicArn']}") == {
        "suppressed": 1, "deliveries_failed": 1, "events": 1
    }  # fmt: skip
    jane = delivered.get_delivery("d-jane")
    assert jane is not None and jane.state == "failed" and delivered.verify().ok
