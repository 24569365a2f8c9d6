"""The mailer interface: ``send`` with a commit hook, ``reconcile`` after a crash, and the errors.

The commit hook is what makes delivery exactly-once across ``kill -9``. ``send(message, commit)`` calls
``commit()`` exactly once, as the very last step before the irrevocable hand-off to the provider, after
everything that can fail cheaply; it never calls it when it fails before that point, and when ``commit()``
raises it aborts without handing the message over and lets the exception propagate. The engine records the
delivery as "sending" inside ``commit()``; for a delivery it later finds in "sending" it asks
``reconcile(message)`` what happened.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from execintel.errors import ConfigError, DeliveryError, Problem

if TYPE_CHECKING:
    from execintel.config.settings import Settings
    from execintel.delivery.compose import OutgoingMessage

__all__ = [
    "ALLOWED_URLS", "Commit", "Mailer", "MailerError", "Reconciled", "Reconciliation", "SendOutcome", "redact",
    "url_error",
]  # fmt: skip

Commit = Callable[[], None]
"""The engine's hook that records a delivery as "sending"; see the module docstring."""


class MailerError(DeliveryError):
    """The provider did not take a message, or could not be reached.

    ``permanent`` is True when sending the same message again cannot succeed (a refused recipient, a rejected
    sender, a failed login); False for a transient failure worth retrying later (a 4xx reply, throttling, a
    dropped connection). ``reason`` is a sentence naming the server or region and the address or code.
    """

    def __init__(self, reason: str, *, permanent: bool) -> None:
        self.reason = reason
        self.permanent = permanent
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What the provider said when it took a message."""

    provider_id: str
    """outbox: the file name; SMTP: the queue id from the 250 reply, else the Message-ID; SES: the MessageId."""
    refused: Mapping[str, str] = field(default_factory=dict)
    """Envelope recipients refused while the message still went out (e.g. the audit BCC): address -> reason."""


class Reconciled(StrEnum):
    """What became of a delivery that was interrupted while "sending"."""

    SENT = "sent"
    NOT_SENT = "not-sent"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The answer of :meth:`Mailer.reconcile`."""

    status: Reconciled
    provider_id: str | None = None
    note: str = ""


class Mailer(ABC):
    """A way to hand messages to a mail provider; one instance serves one run, from one thread."""

    scheme: ClassVar[str]
    url: str
    """The mailer URL in display form; it never holds a secret."""

    @classmethod
    @abstractmethod
    def from_url(cls, url: str, settings: Settings, *, client: Any = None) -> Self:
        """Build the mailer for ``url``; raise :class:`ConfigError` for a bad URL or missing setting."""

    def open(self) -> None:  # noqa: B027 - optional hook: not every mailer connects
        """Connect or check the configuration, once per run; calling it again does nothing."""

    def close(self) -> None:  # noqa: B027 - optional hook: not every mailer holds a connection
        """Release the connection, if any; the mailer can be opened again."""

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def check_sender(self, sender: str) -> None:  # noqa: B027 - only SES knows which senders it accepts
        """Raise :class:`ConfigError` when the provider will not accept mail from ``sender``."""

    @abstractmethod
    def send(self, message: OutgoingMessage, commit: Commit) -> SendOutcome:
        """Hand ``message`` to the provider, calling ``commit()`` once just before the hand-off.

        Raises :class:`MailerError` when the provider refuses it or cannot be reached; whatever ``commit()``
        raises propagates after the send was aborted.
        """

    @abstractmethod
    def reconcile(self, message: OutgoingMessage) -> Reconciliation:
        """Say whether ``message``, interrupted after ``commit()``, reached the provider."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


ALLOWED_URLS = "outbox:DIR, smtp://[user@]host[:port], smtps://[user@]host[:port], ses://REGION"


def redact(url: str) -> str:
    """``url`` with any password in it replaced by ``***``, shortened for an error message."""
    scheme, sep, rest = url.partition("://")
    if sep:
        authority, slash, tail = rest.partition("/")
        userinfo, at, host = authority.rpartition("@")
        if at and ":" in userinfo:
            rest = f"{userinfo.split(':', 1)[0]}:***@{host}{slash}{tail}"
        url = f"{scheme}{sep}{rest}"
    return url if len(url) <= 120 else url[:119] + "\u2026"


def url_error(url: str, problem: str) -> ConfigError:
    """The :class:`ConfigError` for a mailer URL that cannot be used, with the allowed forms."""
    return ConfigError(Problem("EXECINTEL_MAILER", f"{problem} (mailer {redact(url)!r}; allowed: {ALLOWED_URLS})"))
