"""The mailer interface: ``send`` with a commit hook, ``reconcile`` after a crash, and the errors.

The commit hook is what makes delivery exactly-once across ``kill -9``. ``send(message, commit)`` calls
``commit()`` exactly once, as the very last step before the irrevocable hand-off to the provider, after
everything that can fail cheaply; it never calls it when it fails before that point, and when ``commit()``
raises it aborts without handing the message over and lets the exception propagate. The engine records the
delivery as "sending" inside ``commit()``; for a delivery it later finds in "sending" it asks
``reconcile(message)`` what happened.

Once the hand-off has started, a failure that leaves the outcome open (no answer to the SMTP final dot, an SES
call that timed out after the request went out) is a :class:`MailerError` with ``ambiguous=True``: the message
may have gone out, so it must not be sent again on its own.
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

    def __init__(self, reason: str, *, permanent: bool, ambiguous: bool = False) -> None:
        self.reason = reason
        self.permanent = permanent and not ambiguous
        self.ambiguous = ambiguous
        """The hand-off had started: the provider may have the message (an "unknown" delivery, never resent
        on its own)."""
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
    confirmed: bool = True
    """False when SENT is inferred from where the commit point is (SMTP), not seen at the provider (the outbox's
    file): it holds only when the store's commit returns the instant it is written (see ``Store.instant_commit``)."""


class Mailer(ABC):
    """A way to hand messages to a mail provider; one instance serves one run, from one thread."""

    scheme: ClassVar[str]
    quick_commit: ClassVar[bool] = False
    """True when the hand-off must follow ``commit()`` at once (SMTP's final dot): the engine then records
    "sending" without waiting for the disk, which a process kill cannot undo (see docs/delivery.md)."""
    url: str
    """The mailer URL in display form; it never holds a secret."""
    source: str = "EXECINTEL_MAILER"
    """Where the URL came from (``--mailer`` or ``EXECINTEL_MAILER``), for error messages."""
    deadline: float | None = None
    """The run's deadline (``time.monotonic()`` seconds): no step of a send may go on past it."""

    @classmethod
    @abstractmethod
    def from_url(cls, url: str, settings: Settings, *, client: Any = None, source: str = "EXECINTEL_MAILER") -> Self:
        """Build the mailer for ``url``; raise :class:`ConfigError` (naming ``source``) for a bad URL or setting."""

    def open(self) -> None:  # noqa: B027 - optional hook: not every mailer connects
        """Connect or check the configuration, once per run; calling it again does nothing."""

    def close(self) -> None:
        """Release the connection, if any, and forget the run's deadline; the mailer can be opened again.

        A shell may keep one mailer for many runs (the web app): a later run, or a message sent outside a run (a
        sign-in link), must not be cut short by the deadline of a run that is over. Every mailer's ``close``
        clears it.
        """
        self.deadline = None

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def check_sender(self, sender: str) -> None:  # noqa: B027 - only SES knows which senders it accepts
        """Raise :class:`ConfigError` when the provider will not accept mail from ``sender``."""

    def check(self) -> None:  # noqa: B027 - only the outbox can be checked without sending
        """Raise :class:`ConfigError` for a configuration that cannot work, before any work is done."""

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


def url_error(url: str, problem: str, source: str = "EXECINTEL_MAILER") -> ConfigError:
    """The :class:`ConfigError` for a mailer URL that cannot be used, with the allowed forms."""
    return ConfigError(Problem(source, f"{problem} (mailer {redact(url)!r}; allowed: {ALLOWED_URLS})"))
