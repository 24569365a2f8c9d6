"""The Amazon SES mailer (``ses://REGION``): SES v2 ``SendEmail`` with the raw message.

boto3 is imported only when the mailer opens, and only here. ``commit()`` runs immediately before the
``SendEmail`` call. Every call is bounded (10 s to connect, 30 s for the answer). botocore retries nothing:
a retry after a lost answer could send a message twice. The mailer itself tries ``SendEmail`` again only when
SES certainly did not take it (throttled, or the connection never opened); a call whose answer was lost (a read
timeout, a dropped connection) is an ambiguous failure, and the delivery becomes "unknown". SES has no lookup by
message, so a delivery interrupted after ``commit()`` reconciles as UNKNOWN too.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable
from functools import partial
from hashlib import sha256
from typing import TYPE_CHECKING, Any, Self, TypeVar
from urllib.parse import parse_qs, urlsplit

from execintel.delivery.mailers.base import (
    Commit,
    Mailer,
    MailerError,
    Reconciled,
    Reconciliation,
    SendOutcome,
    url_error,
)
from execintel.errors import ConfigError, Problem

if TYPE_CHECKING:
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sesv2.type_defs import DestinationTypeDef, SendEmailRequestTypeDef

    from execintel.config.settings import Settings
    from execintel.delivery.compose import OutgoingMessage

__all__ = ["CONFIGURATION_SET_ENV", "DELIVERY_TAG", "SesMailer", "tag_value"]

CONFIGURATION_SET_ENV = "EXECINTEL_SES_CONFIGURATION_SET"
DELIVERY_TAG = "execintel-delivery"
TRANSIENT_CODES = frozenset({"TooManyRequestsException", "Throttling", "ThrottlingException", "LimitExceededException"})
PERMANENT_CODES = frozenset({
    "MessageRejected", "MailFromDomainNotVerifiedException", "NotFoundException", "AccountSuspendedException",
    "SendingPausedException", "BadRequestException",
})  # fmt: skip
# botocore's errors for a request that never reached SES: trying again cannot send a message twice.
NOT_SENT_ERRORS = frozenset({"EndpointConnectionError", "ConnectTimeoutError", "ProxyConnectionError"})
CONNECT_TIMEOUT, READ_TIMEOUT = 10.0, 30.0
ATTEMPTS = 4  # tries of one call while SES throttles, with backoff (0.5, 1, 2 s, with jitter)
T = TypeVar("T")
_REGION_RE = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
_CONFIGURATION_SET_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TAG_LIMIT = 256


def tag_value(key: str) -> str:
    """``key`` as an SES tag value (letters, digits, ``_`` and ``-`` only, at most 256 characters).

    Every other character, and ``_`` itself, becomes ``_XX`` (its UTF-8 bytes in hex), so different keys keep
    different tags: ``cfo:2026`` becomes ``cfo_3A2026``. A longer result is cut and ends in a hash of the key.
    """
    value = "".join(
        char if char.isascii() and (char.isalnum() or char == "-") else "".join(f"_{b:02X}" for b in char.encode())
        for char in key
    )
    if len(value) > _TAG_LIMIT:
        value = f"{value[: _TAG_LIMIT - 17]}-{sha256(key.encode()).hexdigest()[:16]}"
    return value


class SesMailer(Mailer):
    """Send the raw message through the SES v2 API of one region."""

    scheme = "ses"

    def __init__(
        self,
        region: str,
        *,
        configuration_set: str | None = None,
        client: Any = None,
        client_kwargs: dict[str, str] | None = None,
        timeouts: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.region = region
        self.timeouts, self.sleep = timeouts, sleep
        self.configuration_set = configuration_set
        query = f"?configuration_set={configuration_set}" if configuration_set else ""
        self.url = f"ses://{region}{query}"
        self._client: SESV2Client | None = client
        self._owns_client = False
        self._client_kwargs = {k: v for k, v in (client_kwargs or {}).items() if k != "region_name"}

    @classmethod
    def from_url(cls, url: str, settings: Settings, *, client: Any = None, source: str = "EXECINTEL_MAILER") -> Self:
        """``ses://REGION[?configuration_set=NAME]``; AWS credentials and endpoint come from ``settings``."""
        parts = urlsplit(url)
        region = parts.netloc
        if parts.scheme.lower() != cls.scheme or not _REGION_RE.fullmatch(region) or parts.path not in ("", "/"):
            raise url_error(url, "an SES mailer URL names a region, like ses://us-east-1", source)
        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = sorted(name for name, values in query.items() if name != "configuration_set" or len(values) > 1)
        if unknown:
            raise url_error(url, f"unknown or repeated option {unknown[0]!r} (known: configuration_set)", source)
        name = query.get("configuration_set", [os.environ.get(CONFIGURATION_SET_ENV, "")])[0] or None
        if name is not None and not _CONFIGURATION_SET_RE.fullmatch(name):
            where = source if "configuration_set" in query else CONFIGURATION_SET_ENV
            raise ConfigError(
                Problem(where, f"{name[:80]!r} is not an SES configuration set name (letters, digits, _ and -)")
            )
        mailer = cls(region, configuration_set=name, client=client, client_kwargs=settings.aws_client_kwargs())
        mailer.source = source
        return mailer

    @property
    def client(self) -> SESV2Client:
        """The SES v2 client: the injected one, or one built on first use."""
        if self._client is None:
            import boto3  # noqa: PLC0415 - boto3 is optional and slow to import
            from botocore.config import Config  # noqa: PLC0415

            kwargs = self._client_kwargs
            self._client = boto3.client(
                "sesv2",
                region_name=self.region,
                endpoint_url=kwargs.get("endpoint_url"),
                aws_access_key_id=kwargs.get("aws_access_key_id"),
                aws_secret_access_key=kwargs.get("aws_secret_access_key"),
                # No retries inside botocore: see the module docstring.
                config=Config(retries={"mode": "standard", "total_max_attempts": 1},
                              connect_timeout=self.timeouts[0], read_timeout=self.timeouts[1]),
            )  # fmt: skip
            self._owns_client = True
        return self._client

    def open(self) -> None:
        """Build the client (no request is made)."""
        _ = self.client

    def close(self) -> None:
        """Close the client if this mailer built it."""
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client, self._owns_client = None, False
        super().close()

    def check_sender(self, sender: str) -> None:
        """Raise :class:`ConfigError` unless the address or its domain is an SES identity verified for sending."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        found: list[str] = []
        for identity in (sender, sender.rpartition("@")[2]):
            try:
                answer = self._call(partial(self.client.get_email_identity, EmailIdentity=identity), safe=True)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "NotFoundException":
                    found.append(f"{identity}: no such identity")
                    continue
                raise self._error(exc, f"checking the sender {sender}", handoff=False) from exc
            except BotoCoreError as exc:
                raise self._error(exc, f"checking the sender {sender}", handoff=False) from exc
            # moto reports VerifiedForSendingStatus false for every identity, but VerificationStatus SUCCESS.
            if answer.get("VerifiedForSendingStatus") or answer.get("VerificationStatus") == "SUCCESS":
                return
            found.append(f"{identity}: {answer.get('VerificationStatus', 'not verified')}")
        raise ConfigError(
            Problem(
                self.url,
                f"the sender {sender} is not a verified SES identity in {self.region}: verify it or its domain, "
                f"then try again ({'; '.join(found)})",
                key="sender",
            )
        )

    def send(self, message: OutgoingMessage, commit: Commit) -> SendOutcome:
        """Build the request, ``commit()``, then ``SendEmail`` (tried again only when SES surely did not take it)."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        client = self.client
        wanted = {address.lower() for address in message.to}
        destination: DestinationTypeDef = {"ToAddresses": list(message.to)}
        bcc = [address for address in message.envelope_recipients if address.lower() not in wanted]
        if bcc:
            destination["BccAddresses"] = bcc
        request: SendEmailRequestTypeDef = {
            "FromEmailAddress": message.sender,
            "Destination": destination,
            "Content": {"Raw": {"Data": message.data}},
            "EmailTags": [{"Name": DELIVERY_TAG, "Value": tag_value(message.key)}],
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        what = f"the message to {', '.join(message.to)}"
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise MailerError(f"The run's time limit ran out before {what} was handed to SES.", permanent=False)
        commit()
        try:
            answer = self._call(lambda: client.send_email(**request), safe=False)  # the hand-off
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, what, handoff=True) from exc
        return SendOutcome(provider_id=answer["MessageId"])

    def _call(self, call: Callable[[], T], *, safe: bool) -> T:
        """``call()``, tried again (with backoff, within the run's deadline) while SES throttles or cannot be
        reached; when ``safe`` (a read: asking twice does no harm) also after a 5xx or a lost answer."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        for attempt in range(ATTEMPTS):
            try:
                return call()
            except (ClientError, BotoCoreError) as exc:
                again = _throttled(exc) or type(exc).__name__ in NOT_SENT_ERRORS or (safe and not _answered(exc))
                delay = 0.5 * 2**attempt * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not a secret
                late = self.deadline is not None and time.monotonic() + delay >= self.deadline
                if not again or late or attempt + 1 == ATTEMPTS:
                    raise
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def reconcile(self, message: OutgoingMessage) -> Reconciliation:
        """UNKNOWN: SES cannot be asked whether it accepted a given message."""
        return Reconciliation(
            Reconciled.UNKNOWN,
            note=(
                f"interrupted around the SES SendEmail call in {self.region}: SES has no lookup by message, so the "
                f"call may or may not have been accepted (look for the {DELIVERY_TAG}={tag_value(message.key)} tag "
                "in the configuration set's event destination)"
            ),
        )

    def _error(self, exc: Exception, what: str, *, handoff: bool) -> MailerError | ConfigError:
        """Translate a botocore exception: throttling, 5xx and connection errors are transient; a lost answer to
        ``SendEmail`` (``handoff``) is ambiguous."""
        from botocore.exceptions import ClientError, NoCredentialsError  # noqa: PLC0415

        if isinstance(exc, NoCredentialsError):
            return ConfigError(
                Problem("AWS_ACCESS_KEY_ID", f"no AWS credentials for SES in {self.region}: set them or a profile")
            )
        if not isinstance(exc, ClientError):
            if type(exc).__name__ in NOT_SENT_ERRORS or not handoff:
                return MailerError(f"Could not reach SES in {self.region} for {what}: {exc}.", permanent=False)
            return MailerError(
                f"SES in {self.region} did not answer the call for {what} ({exc}): it may or may not have taken it, "
                "so it is not sent again on its own (--resend-unknown does).",
                permanent=False, ambiguous=True,
            )  # fmt: skip
        error = exc.response.get("Error", {})
        code = error.get("Code", "Unknown")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        transient = code in TRANSIENT_CODES or status == 429 or status >= 500
        transient = transient or (code not in PERMANENT_CODES and not status)  # no HTTP status: not from SES
        return MailerError(
            f"SES in {self.region} refused {what}: {code}: {error.get('Message', '')}.", permanent=not transient
        )


def _answered(exc: Exception) -> bool:
    """SES gave a definite answer (a 4xx other than throttling): asking again gets the same one."""
    status = (getattr(exc, "response", None) or {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return 400 <= status < 500 and not _throttled(exc)


def _throttled(exc: Exception) -> bool:
    """SES refused the call for the rate: it did not take the message, and may take it a moment later."""
    response = getattr(exc, "response", None) or {}
    code = response.get("Error", {}).get("Code", "")
    return code in TRANSIENT_CODES or response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 429
