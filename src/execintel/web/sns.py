"""Verify an Amazon SNS HTTP(S) message before anything trusts it (AWS: "Verifying the signatures of Amazon SNS
messages").

A message is accepted only when every check passes, cheapest first, so junk never causes a fetch:

1. the body is at most 256 KiB of UTF-8 strict JSON (no duplicate keys, no NaN) holding one object whose ``Type``
   is ``Notification``, ``SubscriptionConfirmation`` or ``UnsubscribeConfirmation``, with every field its type
   signs, as strings, and ``SignatureVersion`` "1" (SHA1withRSA) or "2" (SHA256withRSA);
2. its ``TopicArn`` is in the allow-list (an empty list refuses everything);
3. its ``Timestamp`` is at most ``max_age`` seconds old and at most 5 minutes in the future (``max_age=0``:
   no age check);
4. ``SigningCertURL`` (and ``SubscribeURL``) is ``https://sns.<region>.amazonaws.com[.cn]/...`` with no user,
   port, query or fragment, the certificate's path ending ``.pem``: checked on the parsed URL before any fetch;
5. the certificate (pre-seeded directory first, then fetched over HTTPS without redirects, 64 KiB at most, cached
   by URL) is an X.509 certificate with an RSA key of 2048 bits or more, valid now;
6. the ``Signature`` (base64) verifies over the string to sign of the message's type.

A refusal is an :class:`SnsRejected` whose ``reason`` says which check failed; it never holds the message body.
Imports only the standard library, and ``cryptography`` only when a signature is checked: the AWS API package
(api.zip) ships this module, for ``parse_topic_arns``, without ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import json
import re
import ssl
import threading
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import SplitResult, parse_qs, urlsplit

from execintel.errors import AuthError

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = [
    "CACHE_SIZE", "FUTURE_SKEW", "MAX_BODY", "MAX_CERTIFICATE", "SnsConfig", "SnsRejected", "SnsVerifier",
    "check_sns_url", "fetch_https", "now_utc", "parse_message", "parse_topic_arns", "string_to_sign",
]  # fmt: skip

MAX_BODY = 256 * 1024  # SNS messages are at most 256 KB
MAX_CERTIFICATE = 64 * 1024
FETCH_TIMEOUT = 5.0
CACHE_SIZE = 32
FUTURE_SKEW = timedelta(minutes=5)  # clocks differ a little; a message from further ahead is forged or broken
MIN_KEY_BITS = 2048
HASHES = {"1": "SHA1", "2": "SHA256"}  # SignatureVersion -> the cryptography hash class it signs with

# The fields of each type's string to sign, in byte order as AWS lists them; Subject only when the message has one.
_CONFIRMATION = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
SIGNED: dict[str, tuple[str, ...]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": _CONFIRMATION, "UnsubscribeConfirmation": _CONFIRMATION,
}  # fmt: skip
OPTIONAL = frozenset({"Subject"})
SIGNATURE = ("Signature", "SignatureVersion", "SigningCertURL")

_HOST = re.compile(r"sns\.[a-z]{2}(?:-[a-z]+)+-\d{1,2}\.amazonaws\.com(?:\.cn)?")
# Segments may not start with a dot: no "..", no hidden files, so the path maps safely into the certificate dir.
_CERT_PATH = re.compile(r"(?:/[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}){1,4}\.pem")
_URL = re.compile(r"[\x21-\x7e]{1,2048}")  # printable ASCII: no space, no control character urlsplit would drop
_TOPIC_ARN = re.compile(r"arn:aws(?:-cn|-us-gov)?:sns:[a-z]{2}(?:-[a-z]+)+-\d{1,2}:\d{12}:[A-Za-z0-9_-]{1,256}"
                        r"(?:\.fifo)?")  # fmt: skip

Failure = Literal["format", "topic", "age", "certificate", "signature"]
Fetch = Callable[[str], bytes]


class SnsRejected(AuthError):
    """An SNS message that is not authentic, not for an allowed topic, too old, or not an SNS message at all.

    ``kind`` names the check that failed; ``reason`` is a sentence for the log (it holds no message body and no
    secret). The webhook answers 403 with a fixed body and changes nothing.
    """

    def __init__(self, kind: Failure, reason: str) -> None:
        self.kind, self.reason = kind, reason
        super().__init__(reason)


def now_utc() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def _quote(value: object, limit: int = 120) -> str:
    """``value`` for a log line: repr (no raw control characters), cut short (it may come from an attacker)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class SnsConfig:
    """What the webhook accepts: which topics, how old a message may be, and where certificates come from."""

    topic_arns: frozenset[str]
    """The allow-list of topic ARNs; empty refuses every message."""
    max_age: float = 3600.0
    """Seconds a message may be old; 0 disables the age check."""
    cert_dir: Path | None = None
    """Pre-seeded certificates for offline use, at ``<dir>/<host>/<path of the URL>``; read before any fetch."""
    fetch: Fetch | None = None
    """How to GET a certificate URL; None: HTTPS with the system's CAs, no redirects, 5 s, 64 KiB at most."""
    max_body: int = MAX_BODY

    def __post_init__(self) -> None:
        if not isinstance(self.topic_arns, frozenset):
            raise TypeError(f"topic_arns must be a frozenset of ARNs, not {type(self.topic_arns).__name__}")
        if not self.max_age >= 0:
            raise ValueError(f"max_age must be 0 (no age check) or a positive number of seconds, not {self.max_age!r}")
        if self.max_body < 1:
            raise ValueError(f"max_body must be a positive number of bytes, not {self.max_body!r}")


def parse_topic_arns(text: str, *, name: str = "EXECINTEL_SNS_TOPIC_ARNS") -> frozenset[str]:
    """The comma-separated SNS topic ARNs of a setting; ValueError naming the setting and quoting a bad ARN."""
    arns = [part.strip() for part in text.split(",") if part.strip()]
    for arn in arns:
        if not _TOPIC_ARN.fullmatch(arn):
            raise ValueError(f"{name}: {arn!r} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC).")
    return frozenset(arns)


def check_sns_url(url: object, field: str, *, certificate: bool = False) -> SplitResult:
    """``url`` parsed when it is ``https://sns.<region>.amazonaws.com[.cn]/...`` (no user, port or fragment;
    with ``certificate``, no query and a path ending ``.pem``); SnsRejected("certificate") otherwise."""

    def refuse(why: str) -> SnsRejected:
        return SnsRejected("certificate", f"{field} {_quote(url)} {why}; only https://sns.<region>.amazonaws.com/ "
                                          "is trusted.")  # fmt: skip

    if not isinstance(url, str) or not _URL.fullmatch(url) or "\\" in url:
        raise refuse("is not a plain URL")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise refuse("is not a valid URL") from exc
    if parts.scheme != "https":
        raise refuse("does not use https")
    # The whole netloc, not .hostname: hostname drops a user and a port, and lower-cases what must be lower case.
    if not _HOST.fullmatch(parts.netloc):
        raise refuse("is not on an Amazon SNS host")
    if parts.fragment:
        raise refuse("has a fragment")
    if certificate and (parts.query or not _CERT_PATH.fullmatch(parts.path)):
        raise refuse("is not the path of a .pem certificate")
    return parts


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The bytes SNS signed: each signed field of the message's type as ``name\\nvalue\\n``, in AWS's order."""
    lines = []
    for name in SIGNED[str(message["Type"])]:
        value = message.get(name)
        if value is None and name in OPTIONAL:
            continue
        lines.append(f"{name}\n{value}\n")
    return "".join(lines).encode("utf-8")


class _Duplicate(ValueError):
    """A JSON object with a key twice: which value a reader sees would depend on the reader."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Duplicate(key)
        result[key] = value
    return result


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse_message(body: bytes, *, max_body: int = MAX_BODY) -> dict[str, Any]:
    """The SNS message in ``body`` when it is well-formed (size, strict JSON, type, fields); SnsRejected("format")
    otherwise. Nothing here is authentic yet: :meth:`SnsVerifier.verify` checks that."""

    def refuse(why: str) -> SnsRejected:
        return SnsRejected("format", f"The body {why}.")

    if not isinstance(body, bytes | bytearray):
        raise refuse(f"is a {type(body).__name__}, not bytes")
    if len(body) > max_body:
        raise refuse(f"is {len(body)} bytes, more than the {max_body} an SNS message may be")
    try:
        message = json.loads(bytes(body).decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise refuse("is not UTF-8") from None
    except _Duplicate as exc:
        raise refuse(f"has the key {_quote(str(exc))} more than once") from None
    except (ValueError, RecursionError):
        raise refuse("is not JSON") from None
    if not isinstance(message, dict):
        raise refuse("is not a JSON object")
    kind = message.get("Type")
    if not isinstance(kind, str) or kind not in SIGNED:
        raise refuse(f"has Type {_quote(kind)}, not one of {', '.join(SIGNED)}")
    needed = [name for name in (*SIGNED[kind], *SIGNATURE) if name not in OPTIONAL]
    missing = [name for name in needed if not isinstance(message.get(name), str)]
    if missing:
        raise refuse(f"is a {kind} without the string field(s) {', '.join(missing)}")
    if any(message.get(name) is not None and not isinstance(message[name], str) for name in OPTIONAL):
        raise refuse(f"is a {kind} whose {', '.join(sorted(OPTIONAL))} is not a string")
    try:
        sent = datetime.fromisoformat(message["Timestamp"])
    except ValueError:
        raise refuse(f"has Timestamp {_quote(message['Timestamp'])}, not an ISO 8601 time") from None
    if sent.tzinfo is None:
        raise refuse(f"has Timestamp {_quote(message['Timestamp'])} without a time zone")
    return message


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: a certificate is trusted for the host checked, not wherever that host points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        """Follow no redirect (urllib then raises HTTPError for the 3xx answer)."""


def fetch_https(url: str, *, timeout: float = FETCH_TIMEOUT, limit: int = MAX_CERTIFICATE,
                context: ssl.SSLContext | None = None) -> bytes:  # fmt: skip
    """GET ``url`` over HTTPS (``context``, else the system's CAs; no redirect) in ``timeout`` s and ``limit`` bytes."""
    if urlsplit(url).scheme != "https":
        raise ValueError(f"{_quote(url)} is not an https URL")
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.HTTPSHandler(context=context))
    request = urllib.request.Request(url, headers={"User-Agent": "execintel-sns-webhook"})  # noqa: S310 - https only
    with opener.open(request, timeout=timeout) as response:
        data: bytes = response.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"the answer is larger than {limit} bytes")
    return data


class SnsVerifier:
    """Checks SNS messages against one :class:`SnsConfig`; safe to share between threads (the cache is locked)."""

    def __init__(self, config: SnsConfig, clock: Callable[[], datetime] = now_utc) -> None:
        self.config = config
        self.clock = clock
        self._cache: OrderedDict[str, x509.Certificate] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, body: bytes) -> dict[str, Any]:
        """The parsed message when it is authentic, in the allow-list and fresh; else SnsRejected."""
        message = parse_message(body, max_body=self.config.max_body)
        if message["SignatureVersion"] not in HASHES:
            raise SnsRejected("format", f"SignatureVersion {_quote(message['SignatureVersion'])} is not supported; "
                                        "SNS signs with version 1 (SHA1withRSA) or 2 (SHA256withRSA).")  # fmt: skip
        self._check_topic(message["TopicArn"])
        self._check_age(message["Timestamp"])
        cert_url = check_sns_url(message["SigningCertURL"], "SigningCertURL", certificate=True)
        if message.get("SubscribeURL") is not None:
            check_sns_url(message["SubscribeURL"], "SubscribeURL")
        try:
            signature = base64.b64decode(message["Signature"], validate=True)
        except (binascii.Error, ValueError):
            raise SnsRejected("signature", "The Signature is not valid base64.") from None
        if not signature:
            raise SnsRejected("signature", "The Signature is empty.")
        from cryptography.exceptions import InvalidSignature  # noqa: PLC0415 - see the module's docstring
        from cryptography.hazmat.primitives import hashes  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import padding  # noqa: PLC0415

        key = self._public_key(cert_url)
        algorithm: type[hashes.HashAlgorithm] = getattr(hashes, HASHES[message["SignatureVersion"]])
        try:
            key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm())
        except (InvalidSignature, ValueError):
            raise SnsRejected("signature", f"The signature of SNS message {_quote(message['MessageId'])} does not "
                                           "match its content and signing certificate.") from None  # fmt: skip
        return message

    def confirm_url(self, message: Mapping[str, Any]) -> str:
        """The SubscribeURL of a verified SubscriptionConfirmation for an allowed topic, host-checked like the
        certificate's (and its query must confirm this message's topic); SnsRejected otherwise."""
        if message.get("Type") != "SubscriptionConfirmation":
            raise SnsRejected("format", f"A {_quote(message.get('Type'))} message has no subscription to confirm.")
        self._check_topic(message.get("TopicArn"))
        url = message.get("SubscribeURL")
        query = parse_qs(check_sns_url(url, "SubscribeURL").query)
        if query.get("Action") != ["ConfirmSubscription"] or query.get("TopicArn", [message["TopicArn"]]) != [
            message["TopicArn"]
        ]:
            raise SnsRejected("certificate", f"SubscribeURL {_quote(url)} does not confirm a subscription to "
                                             f"{_quote(message['TopicArn'])}.")  # fmt: skip
        assert isinstance(url, str)  # noqa: S101 - check_sns_url refused anything else
        return url

    def confirm(self, message: Mapping[str, Any]) -> str:
        """Confirm a verified SubscriptionConfirmation by GETting its SubscribeURL with the configured fetch; the
        URL. SnsRejected when the URL is refused; the fetch's OSError/ValueError when SNS cannot be reached."""
        url = self.confirm_url(message)
        (self.config.fetch or fetch_https)(url)
        return url

    # The checks.
    def _check_topic(self, topic: object) -> None:
        if not self.config.topic_arns:
            raise SnsRejected("topic", "No SNS topic is allowed (the topic allow-list is empty), so every message is "
                                       "refused; set EXECINTEL_SNS_TOPIC_ARNS.")  # fmt: skip
        if not isinstance(topic, str) or topic not in self.config.topic_arns:
            raise SnsRejected("topic", f"TopicArn {_quote(topic)} is not in the allowed topics.")

    def _check_age(self, timestamp: str) -> None:
        if not self.config.max_age:
            return
        sent = datetime.fromisoformat(timestamp)  # parse_message checked it
        now = self.clock()
        if sent < now - timedelta(seconds=self.config.max_age):
            raise SnsRejected("age", f"The message was sent at {timestamp}, more than {self.config.max_age:g} s ago: "
                                     "a replayed old message is refused.")  # fmt: skip
        if sent > now + FUTURE_SKEW:
            raise SnsRejected("age", f"The message's Timestamp {timestamp} is more than 5 minutes in the future.")

    def _public_key(self, parts: SplitResult) -> rsa.RSAPublicKey:
        """The RSA key of the certificate at ``parts``, from the cache, the certificate dir or a fetch."""
        url = parts.geturl()
        with self._lock:
            certificate = self._cache.get(url)
            if certificate is not None:
                self._cache.move_to_end(url)
        if certificate is None:
            pem = self._read_seeded(parts)
            if pem is None:
                pem = self._fetch(url)
            certificate = _load_certificate(pem, url)
            self._check_validity(certificate, url)
            with self._lock:
                self._cache[url] = certificate
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        else:
            self._check_validity(certificate, url)  # a cached certificate may have expired since
        from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415 - see the module's docstring

        key = certificate.public_key()
        assert isinstance(key, rsa.RSAPublicKey)  # noqa: S101 - _load_certificate refused any other key
        return key

    def _read_seeded(self, parts: SplitResult) -> bytes | None:
        """The pre-seeded certificate for this URL, or None when there is none; never read from outside the dir."""
        if self.config.cert_dir is None:
            return None
        try:
            root = self.config.cert_dir.resolve(strict=True)
            real = (root / parts.netloc / parts.path.lstrip("/")).resolve(strict=True)
        except FileNotFoundError:
            return None
        except (OSError, RuntimeError) as exc:  # a link loop is a RuntimeError before Python 3.13
            raise SnsRejected("certificate", f"The pre-seeded certificate for {parts.geturl()} cannot be read: "
                                             f"{type(exc).__name__}.") from None  # fmt: skip
        if not real.is_relative_to(root) or not real.is_file():
            raise SnsRejected("certificate", f"The pre-seeded certificate for {parts.geturl()} is not a file inside "
                                             "the certificate directory.")  # fmt: skip
        try:
            with real.open("rb") as handle:
                data = handle.read(MAX_CERTIFICATE + 1)
        except OSError as exc:
            raise SnsRejected("certificate", f"The pre-seeded certificate for {parts.geturl()} cannot be read: "
                                             f"{type(exc).__name__}.") from None  # fmt: skip
        if len(data) > MAX_CERTIFICATE:
            raise SnsRejected("certificate", f"The pre-seeded certificate for {parts.geturl()} is larger than "
                                             f"{MAX_CERTIFICATE} bytes.")  # fmt: skip
        return data

    def _fetch(self, url: str) -> bytes:
        try:
            data = (self.config.fetch or fetch_https)(url)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise SnsRejected("certificate", f"The signing certificate {url} could not be fetched: "
                                             f"{type(exc).__name__}.") from None  # fmt: skip
        if not isinstance(data, bytes) or len(data) > MAX_CERTIFICATE:
            raise SnsRejected("certificate", f"The signing certificate {url} is not at most {MAX_CERTIFICATE} bytes.")
        return data

    def _check_validity(self, certificate: x509.Certificate, url: str) -> None:
        now = self.clock()
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise SnsRejected("certificate", f"The signing certificate {url} is not valid now (valid from "
                                             f"{certificate.not_valid_before_utc:%Y-%m-%d %H:%M} to "
                                             f"{certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC).")  # fmt: skip


def _load_certificate(pem: bytes, url: str) -> x509.Certificate:
    """The X.509 certificate in ``pem`` when its key is RSA of at least 2048 bits; SnsRejected otherwise."""
    from cryptography import x509  # noqa: PLC0415 - see the module's docstring
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415

    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise SnsRejected("certificate", f"The signing certificate {url} is not a PEM X.509 certificate.") from None
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_KEY_BITS:
        raise SnsRejected("certificate", f"The signing certificate {url} does not hold an RSA key of at least "
                                         f"{MIN_KEY_BITS} bits.")  # fmt: skip
    return certificate
