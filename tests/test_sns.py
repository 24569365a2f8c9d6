"""The SNS webhook's verifier: only authentic, allowed, fresh SNS messages pass, and junk never causes a fetch.

Messages are signed here exactly as Amazon SNS signs them (the string to sign is built from AWS's documentation,
independently of the module), with a self-signed RSA certificate made at test time and served from a pre-seeded
certificate folder or a fetch function; nothing goes to the network.
"""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from conftest import SHARED
from execintel.web.sns import (
    CACHE_SIZE,
    MAX_BODY,
    SnsConfig,
    SnsRejected,
    SnsVerifier,
    fetch_https,
    parse_topic_arns,
)

NOW = datetime(2026, 11, 15, 9, 0, tzinfo=UTC)
TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-feedback"
HOST = "sns.us-east-1.amazonaws.com"
CERT_URL = f"https://{HOST}/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem"
SUBSCRIBE_URL = f"https://{HOST}/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=2336412f37fb687f5d51e6e241d0"
BOUNCE = (SHARED / "ses" / "bounce-1.json").read_text(encoding="utf-8")


def certificate(key: Any, *, start: datetime = NOW - timedelta(days=30), days: int = 365) -> bytes:
    """A self-signed certificate for ``key``, valid from ``start`` for ``days``, in PEM."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    built = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start)
        .not_valid_after(start + timedelta(days=days)).sign(key, hashes.SHA256())
    )  # fmt: skip
    return built.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Keys:
    """The key SNS signs with (its certificate is the one served) and another key nobody trusts."""

    key: rsa.RSAPrivateKey
    other: rsa.RSAPrivateKey
    pem: bytes


@pytest.fixture(scope="module")
def keys() -> Keys:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Keys(key, rsa.generate_private_key(public_exponent=65537, key_size=2048), certificate(key))


def string_to_sign(message: dict[str, Any]) -> bytes:
    """AWS's documented string to sign: name, newline, value, newline, for these fields in this order."""
    if message["Type"] == "Notification":
        names = ["Message", "MessageId", *(["Subject"] if message.get("Subject") is not None else []), "Timestamp",
                 "TopicArn", "Type"]  # fmt: skip
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    return "".join(f"{name}\n{message[name]}\n" for name in names).encode()


def sign(message: dict[str, Any], key: rsa.RSAPrivateKey, version: str = "1") -> dict[str, Any]:
    """``message`` signed as SNS signs it: SignatureVersion 1 is SHA1withRSA, 2 is SHA256withRSA."""
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 - SNS's version 1 is SHA1
    signature = key.sign(string_to_sign(message), padding.PKCS1v15(), algorithm)
    return {**message, "SignatureVersion": version, "Signature": base64.b64encode(signature).decode()}


def notification(**changes: Any) -> dict[str, Any]:
    """An SNS notification carrying the SES bounce sample, sent 10 s before NOW (unsigned)."""
    base = {
        "Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", "TopicArn": TOPIC,
        "Subject": "Amazon SES Email Event Notification", "Message": BOUNCE,
        "Timestamp": (NOW - timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "SigningCertURL": CERT_URL,
        "UnsubscribeURL": f"https://{HOST}/?Action=Unsubscribe&SubscriptionArn={TOPIC}:c9135db0-26c4-47ec",
    }  # fmt: skip
    return {**base, **changes}


def confirmation(kind: str = "SubscriptionConfirmation", **changes: Any) -> dict[str, Any]:
    """An SNS (un)subscribe confirmation for TOPIC (unsigned)."""
    base = {
        "Type": kind, "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b", "Token": "2336412f37fb687f5d51e6e241d0",
        "TopicArn": TOPIC, "Message": f"You have chosen to subscribe to the topic {TOPIC}.\nTo confirm the "
        "subscription, visit the SubscribeURL included in this message.", "SubscribeURL": SUBSCRIBE_URL,
        "Timestamp": "2026-11-15T08:59:58.123Z", "SigningCertURL": CERT_URL,
    }  # fmt: skip
    return {**base, **changes}


def body(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode()


@dataclass
class Fetcher:
    """Serves certificates by URL as the network would, and remembers every URL asked for."""

    answers: dict[str, bytes] = field(default_factory=dict)
    default: bytes | None = None
    calls: list[str] = field(default_factory=list)

    def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        answer = self.answers.get(url, self.default)
        if answer is None:
            raise OSError(f"no route to {url}")
        return answer


def verifier(fetch: Fetcher | None = None, **config: Any) -> SnsVerifier:
    settings: dict[str, Any] = {"topic_arns": frozenset({TOPIC}), "fetch": fetch, **config}
    return SnsVerifier(SnsConfig(**settings), clock=lambda: NOW)


def seed(folder: Path, url: str, pem: bytes) -> Path:
    """Put a certificate where the pre-seeded folder keeps the one for ``url``: <folder>/<host>/<path>."""
    host, _, path = url.removeprefix("https://").partition("/")
    target = folder / host / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(pem)
    return target


# Authentic messages pass.


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_notification_passes_with_the_certificate_fetched_once(keys: Keys, version: str) -> None:
    fetch = Fetcher({CERT_URL: keys.pem})
    check = verifier(fetch)
    message = check.verify(body(sign(notification(), keys.key, version)))
    assert message["Message"] == BOUNCE and message["TopicArn"] == TOPIC
    check.verify(body(sign(notification(MessageId="another"), keys.key, version)))
    assert fetch.calls == [CERT_URL]  # cached by URL


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_notification_passes_with_a_pre_seeded_certificate_and_no_fetch(
    keys: Keys, version: str, tmp_path: Path
) -> None:
    seed(tmp_path, CERT_URL, keys.pem)
    fetch = Fetcher()
    message = verifier(fetch, cert_dir=tmp_path).verify(body(sign(notification(), keys.key, version)))
    assert message["MessageId"] == "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"
    assert fetch.calls == []


def test_without_a_subject_and_with_escapes_and_unicode_the_signature_still_matches(keys: Keys) -> None:
    plain = notification(Message='line one\nline "two"\t\u05de\u05e1\U0001f680 \\ end')
    del plain["Subject"]
    check = verifier(Fetcher({CERT_URL: keys.pem}))
    assert check.verify(body(sign(plain, keys.key)))["Message"] == plain["Message"]
    assert check.verify(body(sign(notification(Subject=None), keys.key, "2")))["Subject"] is None  # null: no Subject


def test_a_subscription_confirmation_passes_and_gives_its_subscribe_url_to_confirm(keys: Keys) -> None:
    fetch = Fetcher({CERT_URL: keys.pem, SUBSCRIBE_URL: b"<ConfirmSubscriptionResponse/>"})
    check = verifier(fetch)
    message = check.verify(body(sign(confirmation(), keys.key, "2")))
    assert check.confirm_url(message) == SUBSCRIBE_URL
    assert check.confirm(message) == SUBSCRIBE_URL
    assert fetch.calls == [CERT_URL, SUBSCRIBE_URL]
    unsubscribed = check.verify(body(sign(confirmation("UnsubscribeConfirmation"), keys.key)))
    with pytest.raises(SnsRejected, match="no subscription to confirm"):
        check.confirm_url(unsubscribed)


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.amazonaws.com.evil.test/?Action=ConfirmSubscription",
        "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
        f"https://{HOST}/?Action=Unsubscribe&TopicArn={TOPIC}",
        f"https://{HOST}/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:123456789012:other",
    ],
)
def test_a_confirmation_whose_subscribe_url_is_not_sns_confirming_this_topic_is_refused(keys: Keys, url: str) -> None:
    fetch = Fetcher({CERT_URL: keys.pem})
    check = verifier(fetch)
    with pytest.raises(SnsRejected) as refused:
        check.confirm(check.verify(body(sign(confirmation(SubscribeURL=url), keys.key))) | {"SubscribeURL": url})
    assert refused.value.kind == "certificate"
    assert url not in fetch.calls


def test_an_old_message_passes_when_the_age_check_is_off(keys: Keys) -> None:
    old = sign(notification(Timestamp="2016-01-27T14:59:38.237Z"), keys.key)
    with pytest.raises(SnsRejected, match="replayed old message") as refused:
        verifier(Fetcher({CERT_URL: keys.pem})).verify(body(old))
    assert refused.value.kind == "age"
    assert verifier(Fetcher({CERT_URL: keys.pem}), max_age=0).verify(body(old))["Timestamp"] == old["Timestamp"]


# Everything else is refused, and says why (never quoting the message body).


def _changed_message(keys: Keys) -> bytes:
    return body(sign(notification(), keys.key) | {"Message": BOUNCE.replace("Permanent", "Transient")})


REFUSALS: dict[str, tuple[Any, str, str]] = {
    # name: (how to make the body from the keys, the kind, a phrase of the reason)
    "changed Message": (_changed_message, "signature", "does not match"),
    "wrong key": (lambda k: body(sign(notification(), k.other)), "signature", "does not match"),
    "v2 signature sent as v1": (
        lambda k: body(sign(notification(), k.key, "2") | {"SignatureVersion": "1"}),
        "signature",
        "does not match",
    ),
    "changed Subject": (lambda k: body(sign(notification(), k.key) | {"Subject": "x"}), "signature", "does not match"),
    "dropped Subject": (
        lambda k: body({n: v for n, v in sign(notification(), k.key).items() if n != "Subject"}),
        "signature",
        "does not match",
    ),
    "bad base64": (lambda k: body(sign(notification(), k.key) | {"Signature": "not*base64!"}), "signature", "base64"),
    "SignatureVersion 3": (
        lambda k: body(sign(notification(), k.key) | {"SignatureVersion": "3"}),
        "format",
        "SignatureVersion '3' is not supported",
    ),
    "topic not allowed": (
        lambda k: body(sign(notification(TopicArn=TOPIC + "-other"), k.key)),
        "topic",
        "not in the allowed topics",
    ),
    "too old": (
        lambda k: body(sign(notification(Timestamp="2026-11-15T07:59:59.999Z"), k.key)),
        "age",
        "replayed old message",
    ),
    "from the future": (
        lambda k: body(sign(notification(Timestamp="2026-11-15T09:05:01Z"), k.key)),
        "age",
        "in the future",
    ),
    "oversized": (lambda k: body(sign(notification(Message="x" * MAX_BODY), k.key)), "format", "more than"),
    "not JSON": (lambda k: b"Hello from SNS!", "format", "is not JSON"),
    "not UTF-8": (lambda k: b'{"Type": "\xff"}', "format", "not UTF-8"),
    "NaN": (lambda k: body(sign(notification(), k.key))[:-1] + b', "x": NaN}', "format", "is not JSON"),
    "a JSON list": (lambda k: b"[1, 2]", "format", "not a JSON object"),
    "duplicate key": (
        lambda k: body(sign(notification(), k.key))[:-1] + b', "TopicArn": "' + TOPIC.encode() + b'"}',
        "format",
        "more than once",
    ),
    "unknown Type": (lambda k: body(sign(notification(), k.key) | {"Type": "Subscribe"}), "format", "Type 'Subscribe'"),
    "Type a list": (lambda k: body(sign(notification(), k.key) | {"Type": ["Notification"]}), "format", "Type ["),
    "no Signature": (lambda k: body(notification(SignatureVersion="1")), "format", "Signature"),
    "Message not a string": (
        lambda k: body(sign(notification(), k.key) | {"Message": {"a": 1}}),
        "format",
        "string field(s) Message",
    ),
    "bad Timestamp": (lambda k: body(sign(notification(Timestamp="yesterday"), k.key)), "format", "ISO 8601"),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_a_message_that_is_not_authentic_allowed_fresh_and_well_formed_is_refused(keys: Keys, name: str) -> None:
    make, kind, phrase = REFUSALS[name]
    with pytest.raises(SnsRejected) as refused:
        verifier(Fetcher({CERT_URL: keys.pem})).verify(make(keys))
    assert refused.value.kind == kind
    assert phrase in refused.value.reason
    assert "john@example.com" not in refused.value.reason and "xxxxxxxx" not in refused.value.reason


def test_confirming_a_message_that_is_not_a_verified_confirmation_is_refused(keys: Keys) -> None:
    check = verifier(Fetcher({CERT_URL: keys.pem}))
    for message, kind in [({"Type": ["x"]}, "format"), (confirmation(TopicArn=["x"]), "topic"),
                          (confirmation(TopicArn=TOPIC + "-other"), "topic")]:  # fmt: skip
        with pytest.raises(SnsRejected) as refused:
            check.confirm_url(message)
        assert refused.value.kind == kind


def test_an_empty_allow_list_refuses_every_message_and_says_so(keys: Keys) -> None:
    with pytest.raises(SnsRejected, match=r"allow-list is empty.*EXECINTEL_SNS_TOPIC_ARNS") as refused:
        verifier(Fetcher({CERT_URL: keys.pem}), topic_arns=frozenset()).verify(body(sign(notification(), keys.key)))
    assert refused.value.kind == "topic"


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.amazonaws.com.evil.test/x.pem",
        "http://sns.us-east-1.amazonaws.com/x.pem",
        "https://evil.test/sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com:8443/x.pem",
        "https://user@sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com/x.pem?a=1",
        "https://sns.us-east-1.amazonaws.com/x.pem#f",
        "https://sns.us-east-1.amazonaws.com/x.txt",
        "https://sns.us-east-1.amazonaws.com/../x.pem",
        "https://SNS.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com\\@evil.test/x.pem",
        "https://sns.us-east-1.amazonaws.com/x\n.pem",
        "https://sns.amazonaws.com/x.pem",
        "https://sqs.us-east-1.amazonaws.com/x.pem",
        "file:///etc/ssl/cert.pem",
    ],
)
def test_a_certificate_url_off_an_sns_host_is_refused_before_any_fetch(keys: Keys, url: str, tmp_path: Path) -> None:
    fetch = Fetcher(default=keys.pem)  # would serve the right certificate for any URL
    check = verifier(fetch, cert_dir=tmp_path)
    with pytest.raises(SnsRejected) as refused:
        check.verify(body(sign(notification(SigningCertURL=url), keys.key)))
    assert refused.value.kind == "certificate"
    assert fetch.calls == []


def test_china_region_hosts_are_sns_hosts(keys: Keys) -> None:
    url = "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem"
    fetch = Fetcher({url: keys.pem})
    assert verifier(fetch).verify(body(sign(notification(SigningCertURL=url), keys.key, "2")))
    assert fetch.calls == [url]


# Certificates.


@pytest.mark.parametrize(
    ("pem", "phrase"),
    [
        (lambda k: certificate(k.key, start=NOW - timedelta(days=400)), "not valid now"),
        (lambda k: certificate(k.key, start=NOW + timedelta(days=1)), "not valid now"),
        (lambda k: b"-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n", "not a PEM X.509"),
        (lambda k: certificate(ec.generate_private_key(ec.SECP256R1())), "RSA key"),
        (lambda k: certificate(rsa.generate_private_key(public_exponent=65537, key_size=1024)), "RSA key"),  # noqa: S505 - refused
        (lambda k: b"x" * (64 * 1024 + 1), "at most"),
    ],
)
def test_a_certificate_that_is_not_a_current_rsa_x509_certificate_is_refused_and_not_cached(
    keys: Keys, pem: Any, phrase: str
) -> None:
    fetch = Fetcher({CERT_URL: pem(keys)})
    check = verifier(fetch)
    for _ in range(2):
        with pytest.raises(SnsRejected, match=phrase) as refused:
            check.verify(body(sign(notification(), keys.key)))
        assert refused.value.kind == "certificate"
    assert fetch.calls == [CERT_URL, CERT_URL]


def test_a_certificate_that_cannot_be_fetched_is_a_refusal(keys: Keys) -> None:
    with pytest.raises(SnsRejected, match="could not be fetched: OSError") as refused:
        verifier(Fetcher()).verify(body(sign(notification(), keys.key)))
    assert refused.value.kind == "certificate"


def test_a_cached_certificate_that_expired_is_refused(keys: Keys) -> None:
    now = [NOW]
    check = SnsVerifier(SnsConfig(frozenset({TOPIC}), max_age=0, fetch=Fetcher({CERT_URL: keys.pem})),
                        clock=lambda: now[0])  # fmt: skip
    check.verify(body(sign(notification(), keys.key)))
    now[0] = NOW + timedelta(days=400)
    with pytest.raises(SnsRejected, match="not valid now"):
        check.verify(body(sign(notification(), keys.key)))


def test_the_certificate_cache_is_bounded(keys: Keys) -> None:
    urls = [f"https://{HOST}/SimpleNotificationService-{n}.pem" for n in range(CACHE_SIZE + 1)]
    fetch = Fetcher(default=keys.pem)
    check = verifier(fetch)
    for url in [*urls, urls[-1], urls[0]]:
        check.verify(body(sign(notification(SigningCertURL=url), keys.key)))
    assert fetch.calls == [*urls, urls[0]]  # the last one was still cached, the first had been dropped


def test_a_pre_seeded_certificate_is_never_read_through_a_link_out_of_the_folder(keys: Keys, tmp_path: Path) -> None:
    outside = tmp_path / "outside.pem"
    outside.write_bytes(keys.pem)
    folder = tmp_path / "certs"
    (folder / HOST).mkdir(parents=True)
    (folder / HOST / CERT_URL.rsplit("/", 1)[1]).symlink_to(outside)
    fetch = Fetcher({CERT_URL: keys.pem})
    with pytest.raises(SnsRejected, match="not a file inside the certificate directory") as refused:
        verifier(fetch, cert_dir=folder).verify(body(sign(notification(), keys.key)))
    assert refused.value.kind == "certificate" and fetch.calls == []
    (folder / HOST / CERT_URL.rsplit("/", 1)[1]).unlink()
    (folder / HOST / CERT_URL.rsplit("/", 1)[1]).symlink_to("loop.pem")
    (folder / HOST / "loop.pem").symlink_to(CERT_URL.rsplit("/", 1)[1])
    with pytest.raises(SnsRejected, match="cannot be read"):
        verifier(fetch, cert_dir=folder).verify(body(sign(notification(), keys.key)))


def test_an_oversized_pre_seeded_certificate_is_refused(keys: Keys, tmp_path: Path) -> None:
    seed(tmp_path, CERT_URL, keys.pem + b"\n" * (64 * 1024))
    with pytest.raises(SnsRejected, match="larger than 65536 bytes"):
        verifier(Fetcher({CERT_URL: keys.pem}), cert_dir=tmp_path).verify(body(sign(notification(), keys.key)))


def test_a_certificate_missing_from_the_folder_is_fetched(keys: Keys, tmp_path: Path) -> None:
    seed(tmp_path, f"https://{HOST}/SimpleNotificationService-other.pem", keys.pem)
    fetch = Fetcher({CERT_URL: keys.pem})
    assert verifier(fetch, cert_dir=tmp_path).verify(body(sign(notification(), keys.key)))
    assert fetch.calls == [CERT_URL]


# The public Lambda SNS sample: the same fields in Lambda's spelling are not an HTTP message.


def test_the_lambda_sns_sample_is_refused_as_is_and_passes_once_signed_in_the_http_spelling(keys: Keys) -> None:
    record = json.loads((SHARED / "events" / "snsEvent.json").read_text(encoding="utf-8"))["Records"][0]["Sns"]
    fetch = Fetcher(default=keys.pem)
    check = verifier(fetch, max_age=0, topic_arns=frozenset({record["TopicArn"]}))
    with pytest.raises(SnsRejected, match="SigningCertURL") as refused:
        check.verify(body(record))  # Lambda writes SigningCertUrl; an HTTP endpoint never gets that
    assert refused.value.kind == "format" and fetch.calls == []
    http = {name: record[name] for name in ("Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp")}
    url = record["SigningCertUrl"] + ".pem"  # the sample's URL is cut short before its .pem
    message = check.verify(body(sign({**http, "SigningCertURL": url}, keys.key)))
    assert (message["Message"], message["Subject"]) == ("Hello from SNS!", "TestInvoke")
    assert fetch.calls == ["https://sns.us-east-2.amazonaws.com/SimpleNotification.pem"]


# Configuration.


def test_topic_arns_are_read_from_a_comma_separated_setting() -> None:
    assert parse_topic_arns(f" {TOPIC}, arn:aws-cn:sns:cn-north-1:123456789012:b.fifo ,") == {
        TOPIC, "arn:aws-cn:sns:cn-north-1:123456789012:b.fifo"
    }  # fmt: skip
    assert parse_topic_arns("") == frozenset()
    with pytest.raises(ValueError, match=r"EXECINTEL_SNS_TOPIC_ARNS: 'arn:aws:s3:::bucket' is not an SNS topic ARN"):
        parse_topic_arns(f"{TOPIC},arn:aws:s3:::bucket")


def test_a_negative_max_age_is_refused() -> None:
    with pytest.raises(ValueError, match=r"max_age must be 0 \(no age check\) or a positive number"):
        SnsConfig(frozenset({TOPIC}), max_age=-1)


# The default fetch, against an HTTPS server on loopback.


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/redirect.pem":
            self.send_response(302)
            self.send_header("Location", "/cert.pem")
            self.end_headers()
            return
        payload = b"x" * (64 * 1024 + 1) if self.path == "/big.pem" else b"PEM"
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def https_server() -> Iterator[tuple[str, ssl.SSLContext]]:
    ca = trustme.CA()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://localhost:{server.server_address[1]}", client_context
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_default_fetch_reads_https_follows_no_redirect_and_caps_the_size(
    https_server: tuple[str, ssl.SSLContext],
) -> None:
    base, context = https_server
    assert fetch_https(f"{base}/cert.pem", context=context) == b"PEM"
    with pytest.raises(OSError, match="302"):
        fetch_https(f"{base}/redirect.pem", context=context)
    with pytest.raises(ValueError, match="larger than 65536 bytes"):
        fetch_https(f"{base}/big.pem", context=context)
    with pytest.raises(OSError, match="CERTIFICATE_VERIFY_FAILED"):
        fetch_https(f"{base}/cert.pem")  # the system's CAs do not trust this test CA
    with pytest.raises(ValueError, match="not an https URL"):
        fetch_https(base.replace("https", "http") + "/cert.pem", context=context)


# What importing the webhook costs.


def test_the_webhook_modules_import_no_analysis_stack() -> None:
    heavy = ["numpy", "pandas", "pyarrow", "duckdb", "matplotlib", "execintel.analysis", "execintel.reports"]
    code = (
        "import sys, execintel.web.sns, execintel.feedback\n"
        f"print(sorted(name for name in {heavy!r} if name in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert found.stdout.strip() == "[]", found.stdout
