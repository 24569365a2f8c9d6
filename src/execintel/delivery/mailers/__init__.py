"""Mailers, chosen by URL from an explicit registry: ``outbox:DIR``, ``smtp://``, ``smtps://``, ``ses://REGION``.

Use one mailer per run as a context manager::

    with open_mailer(settings.mailer, settings) as mailer:
        mailer.check_sender(sender)
        outcome = mailer.send(message, commit=lambda: store.mark_sending(message.key))

See :mod:`.base` for the commit contract and ``docs/mailers.md`` for each mailer's settings and crash
behaviour.
"""

from __future__ import annotations

import importlib
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

if TYPE_CHECKING:
    from execintel.config.settings import Settings
    from execintel.delivery.mailers.outbox import OutboxMailer
    from execintel.delivery.mailers.ses import SesMailer
    from execintel.delivery.mailers.smtp import SmtpMailer

__all__ = [
    "MAILERS", "Commit", "Mailer", "MailerError", "OutboxMailer", "Reconciled", "Reconciliation", "SendOutcome",
    "SesMailer", "SmtpMailer", "open_mailer",
]  # fmt: skip

# scheme -> (module, class): a mailer's module is imported only when a URL names it (the AWS api handler sends
# through SES and never pays for smtplib, ssl and the message composer at its cold start)
MAILERS: dict[str, tuple[str, str]] = {
    "outbox": ("execintel.delivery.mailers.outbox", "OutboxMailer"),
    "smtp": ("execintel.delivery.mailers.smtp", "SmtpMailer"),
    "smtps": ("execintel.delivery.mailers.smtp", "SmtpMailer"),
    "ses": ("execintel.delivery.mailers.ses", "SesMailer"),
}
_CLASSES = {name: module for module, name in MAILERS.values()}


def __getattr__(name: str) -> Any:
    """The mailer classes (``OutboxMailer``, ``SmtpMailer``, ``SesMailer``), imported when first asked for."""
    if name in _CLASSES:
        return getattr(importlib.import_module(_CLASSES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def mailer_class(scheme: str) -> type[Mailer] | None:
    """The mailer class of a URL scheme (any case), or None for an unknown one."""
    found = MAILERS.get(scheme.lower())
    if found is None:
        return None
    cls: type[Mailer] = getattr(importlib.import_module(found[0]), found[1])
    return cls


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
    chosen = mailer_class(scheme) if colon else None
    if chosen is None:
        raise url_error(url, "unknown mailer", source)
    if settings is None:
        from execintel.config.settings import load_settings  # noqa: PLC0415

        settings = load_settings()
    mailer = chosen.from_url(url, settings, client=client, source=source)
    mailer.source = source
    return mailer
