"""Mailers, chosen by URL from an explicit registry: ``outbox:DIR``, ``smtp://``, ``smtps://``, ``ses://REGION``.

Use one mailer per run as a context manager::

    with open_mailer(settings.mailer, settings) as mailer:
        mailer.check_sender(sender)
        outcome = mailer.send(message, commit=lambda: store.mark_sending(message.key))

See :mod:`.base` for the commit contract and ``docs/mailers.md`` for each mailer's settings and crash
behaviour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from execintel.delivery.mailers.base import (
    Commit,
    Mailer,
    MailerError,
    Reconciled,
    Reconciliation,
    SendOutcome,
    url_error,
)
from execintel.delivery.mailers.outbox import OutboxMailer
from execintel.delivery.mailers.ses import SesMailer
from execintel.delivery.mailers.smtp import SmtpMailer

if TYPE_CHECKING:
    from execintel.config.settings import Settings

__all__ = [
    "MAILERS", "Commit", "Mailer", "MailerError", "OutboxMailer", "Reconciled", "Reconciliation", "SendOutcome",
    "SesMailer", "SmtpMailer", "open_mailer",
]  # fmt: skip

MAILERS: dict[str, type[Mailer]] = {
    "outbox": OutboxMailer,
    "smtp": SmtpMailer,
    "smtps": SmtpMailer,
    "ses": SesMailer,
}


def open_mailer(
    url: str, settings: Settings | None = None, *, client: Any = None, source: str = "EXECINTEL_MAILER"
) -> Mailer:
    """Build the mailer for ``url``; nothing connects until ``open()`` or the first send.

    ``settings`` defaults to :func:`~execintel.config.settings.load_settings` (the environment). ``client``
    replaces the boto3 client of the SES mailer (tests point one at a moto server); the others ignore it.
    ``source`` is where the URL came from (``--mailer`` or ``EXECINTEL_MAILER``): errors name it.
    Raises :class:`~execintel.errors.ConfigError` for an unknown scheme, a malformed URL or a missing setting.
    """
    scheme, colon, _ = url.partition(":")
    mailer_class = MAILERS.get(scheme.lower()) if colon else None
    if mailer_class is None:
        raise url_error(url, "unknown mailer", source)
    if settings is None:
        from execintel.config.settings import load_settings  # noqa: PLC0415

        settings = load_settings()
    mailer = mailer_class.from_url(url, settings, client=client, source=source)
    mailer.source = source
    return mailer
