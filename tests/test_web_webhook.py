"""The SES webhook of the web app: SNS notifications, signed as SNS signs them with a certificate made at test
time, change suppressions only when authentic, allowed and fresh; everything else is 403 with nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from test_sns import CERT_URL, SUBSCRIBE_URL, TOPIC, Fetcher, Keys, body, confirmation, keys, notification, seed, sign
from web_helpers import web_app

__all__ = ["keys"]  # the module fixture of test_sns: one RSA key pair for these tests too


EVIL_CERT = "https://sns.us-east-1.amazonaws.com.evil.test/x.pem"


def fresh(**changes: Any) -> dict[str, Any]:
    """The SES bounce sample in an SNS notification sent a second ago."""
    stamp = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return notification(Timestamp=stamp, **changes)


def test_only_an_authentic_allowed_fresh_notification_changes_anything(tmp_path: Path, keys: Keys) -> None:
    certs = tmp_path / "certs"
    seed(certs, CERT_URL, keys.pem)
    fetch = Fetcher()
    with web_app(tmp_path, sns_topic_arns=TOPIC, sns_cert_dir=certs, sns_fetch=fetch) as web:
        refused = {
            "bad signature": {**sign(fresh(), keys.key), "Message": fresh()["Message"].replace("jane", "joan")},
            "wrong key": sign(fresh(), keys.other),
            "certificate on another host": sign(fresh(SigningCertURL=EVIL_CERT), keys.key),
            "replayed old message": sign(notification(Timestamp="2026-01-01T00:00:00.000Z"), keys.key),
            "other topic": sign(fresh(TopicArn="arn:aws:sns:us-east-1:123456789012:other"), keys.key),
        }
        for name, message in refused.items():
            answer = web.client.post("/api/webhooks/ses", content=body(message))
            assert (answer.status_code, answer.json()) == (403, {"detail": "The SNS message was refused."}), name
        assert web.store.suppressions() == [] and web.store.entries() == []
        assert fetch.calls == []  # the seeded certificate was used, and nothing off an SNS host was fetched

        ok = web.client.post("/api/webhooks/ses", content=body(sign(fresh(), keys.key, "2")))
        assert ok.status_code == 200 and ok.json()["status"] == "ok"
        assert [s.address for s in web.store.suppressions()] == ["jane@example.com"]
        assert [e.kind for e in web.store.entries()] == ["suppression.added", "feedback.bounce"]


def test_a_subscription_is_confirmed_through_its_checked_url(tmp_path: Path, keys: Keys) -> None:
    fetch = Fetcher(answers={CERT_URL: keys.pem, SUBSCRIBE_URL: b"<ConfirmSubscriptionResponse/>"})
    with web_app(tmp_path, sns_topic_arns=TOPIC, sns_fetch=fetch) as web:
        stamp = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        answer = web.client.post("/api/webhooks/ses", content=body(sign(confirmation(Timestamp=stamp), keys.key)))
        assert answer.json() == {"status": "confirmed", "counts": {}}
        assert fetch.calls == [CERT_URL, SUBSCRIBE_URL]
