"""The SMTP mailer (``smtp://[user@]host[:port]``, ``smtps://...``): one connection for the whole run.

The DATA phase is split so the commit point sits immediately before the final ``.``: MAIL FROM, RCPT TO,
DATA and the whole message go out first, then ``commit()``, then ``.\\r\\n`` in one write. If ``commit()``
raises, the connection is closed without the final dot; the server then drops the unfinished transaction
(RFC 5321 section 3.8) and nothing is delivered. ``RSET`` cannot be used at that point: inside DATA it would
be read as a line of the message.

Once the final dot is written the outcome belongs to the server: a 2xx reply means delivered, 4xx or 5xx not
delivered, and anything else (no reply within RFC 5321's ten minutes, a dropped connection, a garbled reply) is
an *ambiguous* failure: the delivery becomes "unknown" and is never sent again on its own. Every step has a
deadline for the whole step (:mod:`.smtp_wire`), so a server that trickles or never ends a reply cannot hold a
run.
"""

from __future__ import annotations

import ipaddress
import os
import re
import smtplib
import socket
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from execintel.delivery.compose import message_id
from execintel.delivery.mailers.base import (
    Commit,
    Mailer,
    MailerError,
    Reconciled,
    Reconciliation,
    SendOutcome,
    url_error,
)
from execintel.delivery.mailers.smtp_wire import Connection, Timeouts, TlsConnection
from execintel.errors import ConfigError, Problem

if TYPE_CHECKING:
    from execintel.config.settings import Settings
    from execintel.delivery.compose import OutgoingMessage

__all__ = ["CAFILE_ENV", "PASSWORD_ENV", "SmtpMailer", "Timeouts"]

PASSWORD_ENV = "EXECINTEL_SMTP_PASSWORD"  # noqa: S105 - the variable's name, not a password
CAFILE_ENV = "EXECINTEL_SMTP_CAFILE"
DEFAULT_PORTS = {"smtp": 587, "smtps": 465}
_QUEUE_ID_RES = (
    re.compile(rb"queued as ([\w.-]+)", re.IGNORECASE),  # Postfix
    re.compile(rb"\bid=([\w.-]+)"),  # Exim
    re.compile(rb"^(?:2\.\d+\.\d+ )?ok ([\w.-]{8,})$", re.IGNORECASE),  # Amazon SES SMTP
)


class SmtpMailer(Mailer):
    """Send through an SMTP server, with STARTTLS when offered (or required) and AUTH when a user is given."""

    scheme = "smtp"
    quick_commit = True  # only the final dot follows commit(): no fsync between them

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        user: str | None = None,
        password: str | None = None,
        implicit_tls: bool = False,
        starttls_required: bool = False,
        cafile: str | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        scheme = "smtps" if implicit_tls else "smtp"
        self.host = host
        self.port = port or DEFAULT_PORTS[scheme]
        self.user = user
        self._password = password
        self.implicit_tls = implicit_tls
        self.starttls_required = starttls_required
        self.cafile = cafile
        self.timeouts = timeouts or Timeouts()
        self.where = f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"
        query = "?starttls=required" if starttls_required else ""
        self.url = f"{scheme}://{quote_user(user)}{self.where}{query}"
        self.connections = 0
        """How many connections this mailer has opened (one per run unless the server dropped one)."""
        self._conn: Connection | TlsConnection | None = None

    @classmethod
    def from_url(cls, url: str, settings: Settings, *, client: Any = None, source: str = "EXECINTEL_MAILER") -> Self:
        """Parse the URL; the password comes from ``settings.smtp_password``, a CA file from the URL or env.

        ``?timeout=SECONDS`` caps every step's deadline (otherwise RFC 5321's, up to ten minutes).
        """
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise url_error(url, f"the SMTP URL is not valid ({exc})", source) from None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/") or parts.fragment:
            raise url_error(url, "an SMTP mailer URL needs a host and nothing after it but ?options", source)
        if parts.password is not None:
            raise url_error(url, f"the SMTP password does not belong in the URL: set {PASSWORD_ENV}", source)
        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = sorted(set(query) - {"starttls", "cafile", "timeout"})
        unknown += sorted(name for name, values in query.items() if len(values) > 1)
        if unknown:
            raise url_error(url, f"unknown or repeated option {unknown[0]!r} (known: starttls, cafile, timeout)",
                            source)  # fmt: skip
        starttls = query.get("starttls", ["auto"])[0]
        if starttls not in ("auto", "required") or (scheme == "smtps" and "starttls" in query):
            raise url_error(url, "starttls=required is the only STARTTLS option, and only for smtp://", source)
        timeouts = Timeouts()
        if "timeout" in query:
            try:
                cap = float(query["timeout"][0])
            except ValueError:
                cap = 0.0
            if not 0 < cap <= 3600:
                raise url_error(url, f"timeout must be a number of seconds from 0 to 3600, not "
                                     f"{query['timeout'][0][:20]!r}", source)  # fmt: skip
            timeouts = timeouts.capped(cap)
        cafile = query.get("cafile", [os.environ.get(CAFILE_ENV, "")])[0] or None
        if cafile is not None and not Path(cafile).is_file():
            where = f"{source} (its cafile option)" if "cafile" in query else CAFILE_ENV
            raise ConfigError(Problem(where, f"the CA file {cafile} for the SMTP server does not exist"))
        user = unquote(parts.username) if parts.username else None
        secret = settings.smtp_password
        password = secret.get_secret_value() if secret is not None else None
        mailer = cls(
            parts.hostname,
            port,
            user=user,
            password=password,
            implicit_tls=scheme == "smtps",
            starttls_required=starttls == "required",
            cafile=cafile,
            timeouts=timeouts,
        )
        mailer.source = source
        if user and not password:
            raise ConfigError(
                Problem(PASSWORD_ENV, f"the SMTP user {user!r} at {mailer.where} needs a password: set {PASSWORD_ENV}")
            )
        return mailer

    def open(self) -> None:
        """Connect, EHLO, STARTTLS (then EHLO again) when offered or required, and log in when a user is set."""
        if self._conn is not None:
            return
        context = ssl.create_default_context(cafile=self.cafile)
        conn: Connection | TlsConnection
        conn = TlsConnection(self.timeouts, self._deadline, context) if self.implicit_tls else \
            Connection(self.timeouts, self._deadline)  # fmt: skip
        try:
            # connect() sets the host name that TLS checks the certificate against.
            code, reply = conn.connect(self.host, self.port)
        except (smtplib.SMTPException, OSError) as exc:
            conn.close()
            raise self._connect_error(exc) from exc
        if code != 220:
            conn.close()
            raise self._connect_error(smtplib.SMTPConnectError(code, reply))
        if conn.sock is not None and conn.sock.family in (socket.AF_INET, socket.AF_INET6):
            # The final dot is a write of its own (see send): without this, Nagle's algorithm holds it back until
            # the server's delayed ACK of the body, some 40 ms per message.
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            conn.ehlo_or_helo_if_needed()
            secure = self.implicit_tls
            if not secure and conn.has_extn("starttls"):
                conn.starttls(context=context)
                conn.ehlo()
                secure = True
            if not secure and self.starttls_required:
                raise MailerError(
                    f"The SMTP server {self.where} does not offer STARTTLS, which the mailer URL requires.",
                    permanent=True,
                )
            if self.user:
                if not secure and not _is_loopback(self.host):
                    raise MailerError(
                        f"Refusing to send the password of {self.user!r} to the SMTP server {self.where} over a "
                        "connection without TLS: the server does not offer STARTTLS (use smtps:// or fix the server).",
                        permanent=True,
                    )
                conn.login(self.user, self._password or "")
        except BaseException as exc:
            conn.close()
            if isinstance(exc, Exception) and not isinstance(exc, MailerError):
                raise self._connect_error(exc) from exc
            raise
        self._conn = conn
        self.connections += 1

    def _deadline(self) -> float | None:
        return self.deadline

    def close(self) -> None:
        """Say QUIT and close the connection; the next send connects again."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()  # within the run's deadline, which is cleared only after
            except (smtplib.SMTPException, OSError):
                conn.close()
        super().close()

    def send(self, message: OutgoingMessage, commit: Commit) -> SendOutcome:
        """MAIL, RCPT for every envelope recipient, DATA and the message, ``commit()``, the final dot, the reply."""
        conn = self._mail_from(message)
        to = ", ".join(message.to)
        wanted = {address.lower() for address in message.to}
        refused: dict[str, str] = {}
        try:
            for recipient in message.envelope_recipients:
                code, reply = conn.rcpt(recipient)
                if code in (250, 251):
                    continue
                refused[recipient] = _reply(code, reply)
                if code == 421:  # the server is closing the connection
                    self._drop()
                elif recipient.lower() in wanted:
                    self._reset()
                if code == 421 or recipient.lower() in wanted:
                    raise MailerError(
                        f"The SMTP server {self.where} refused the recipient {recipient}: {_reply(code, reply)}.",
                        permanent=code >= 500,
                    )
            conn.putcmd("data")
            code, reply = conn.getreply()
            if code != 354:
                self._reset()
                raise MailerError(
                    f"The SMTP server {self.where} refused DATA for {to}: {_reply(code, reply)}.", permanent=code >= 500
                )
            conn.send_message_data(_dot_stuffed(message.data))
        except MailerError:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise MailerError(
                f"Lost the connection to the SMTP server {self.where} while sending to {to}: {exc}.", permanent=False
            ) from exc
        try:
            commit()
        except BaseException:
            self._drop()  # closing inside DATA aborts the transaction; RSET would be read as message text
            raise
        try:
            conn.arm("the reply to the final dot", self.timeouts.final)
            conn.send(b".\r\n")  # the hand-off
        except (smtplib.SMTPException, OSError) as exc:  # the dot did not go out: nothing was delivered
            self._drop()
            raise MailerError(
                f"Lost the connection to the SMTP server {self.where} before the end of the message to {to} "
                f"went out ({exc}); it was not delivered.",
                permanent=False,
            ) from exc
        try:
            code, reply = conn.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise MailerError(
                f"The SMTP server {self.where} did not confirm the message to {to} after it was sent ({exc}): it "
                "may or may not have been delivered, so it is not sent again on its own (--resend-unknown does).",
                permanent=False, ambiguous=True,
            ) from exc  # fmt: skip
        if 200 <= code < 300:
            return SendOutcome(provider_id=_queue_id(reply) or message_id(message.key, message.sender),
                               refused=refused)  # fmt: skip
        if code == 421 or not 400 <= code < 600:  # closing, or not a reply at all
            self._drop()
        if 400 <= code < 600:  # a definite "no": the server did not take it
            raise MailerError(
                f"The SMTP server {self.where} did not accept the message to {to}: {_reply(code, reply)}.",
                permanent=code >= 500,
            )
        raise MailerError(
            f"The SMTP server {self.where} answered the message to {to} with something that is not an SMTP reply "
            f"({_reply(code, reply)[:80]!r}): it may or may not have been delivered, so it is not sent again on its "
            "own (--resend-unknown does).",
            permanent=False, ambiguous=True,
        )  # fmt: skip

    def reconcile(self, message: OutgoingMessage) -> Reconciliation:
        """SENT, not confirmed: "sending" is recorded microseconds before the final dot (see the module doc)."""
        return Reconciliation(
            Reconciled.SENT,
            note=(
                f"not confirmed by the SMTP server {self.where}: the run stopped after the message was handed over "
                '("sending" is recorded immediately before the final dot, so the server almost certainly has it)'
            ),
            confirmed=False,
        )

    def _mail_from(self, message: OutgoingMessage) -> Connection | TlsConnection:
        """Open if needed and start the transaction; reconnect once if the server dropped the idle connection."""
        for attempt in (1, 2):
            self.open()
            assert self._conn is not None  # noqa: S101 - open() set it or raised
            conn = self._conn
            options = [f"SIZE={len(message.data)}"] if conn.has_extn("size") else []
            try:
                code, reply = conn.mail(message.sender, options)
            except (smtplib.SMTPException, OSError) as exc:
                self._drop()
                if attempt == 2:
                    raise MailerError(
                        f"Lost the connection to the SMTP server {self.where} at MAIL FROM {message.sender}: {exc}.",
                        permanent=False,
                    ) from exc
                continue
            if code == 421:  # the server is closing an idle connection
                self._drop()
                if attempt == 2:
                    raise MailerError(
                        f"The SMTP server {self.where} is not taking mail: {_reply(code, reply)}.", permanent=False
                    )
                continue
            if code != 250:
                self._reset()
                raise MailerError(
                    f"The SMTP server {self.where} refused the sender {message.sender}: {_reply(code, reply)}.",
                    permanent=code >= 500,
                )
            return conn
        raise AssertionError("unreachable")  # pragma: no cover

    def _reset(self) -> None:
        """RSET the transaction; drop the connection if even that fails."""
        if self._conn is not None:
            try:
                self._conn.rset()
            except (smtplib.SMTPException, OSError):
                self._drop()

    def _drop(self) -> None:
        """Close the socket without a word (no QUIT, no final dot)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _connect_error(self, exc: Exception) -> MailerError:
        where = f"the SMTP server {self.where}"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return MailerError(
                f"{where} refused the login of {self.user!r}: {_reply(exc.smtp_code, exc.smtp_error)}.",
                permanent=exc.smtp_code >= 500,
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return MailerError(f"{where} does not support what the mailer URL asks for: {exc}.", permanent=True)
        if isinstance(exc, smtplib.SMTPResponseException):
            return MailerError(
                f"{where} refused the session: {_reply(exc.smtp_code, exc.smtp_error)}.", permanent=exc.smtp_code >= 500
            )
        if isinstance(exc, ssl.SSLCertVerificationError):
            return MailerError(
                f"The TLS certificate of {where} is not trusted ({exc.verify_message}); for a private CA set "
                f"?cafile=PATH in the URL or {CAFILE_ENV}.",
                permanent=True,
            )
        if isinstance(exc, ssl.SSLError):
            return MailerError(f"TLS with {where} failed: {exc}.", permanent=True)
        return MailerError(f"Could not reach {where}: {exc}.", permanent=False)


def quote_user(user: str | None) -> str:
    """The ``user@`` part of a display URL (empty without a user)."""
    return f"{user.replace('%', '%25').replace('@', '%40')}@" if user else ""


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _dot_stuffed(data: bytes) -> bytes:
    """CRLF line endings, a leading dot doubled on every line, and a final CRLF (RFC 5321 section 4.5.2).

    A composed message has CRLF line endings already and seldom a line that starts with a dot: counting in C
    finds that out, so the regular expressions run only when there is something to change (a 100 KiB message
    to each of 1,000 recipients spent 1.8 s in them).
    """
    crlf = data.count(b"\r\n")
    if data.count(b"\n") != crlf or data.count(b"\r") != crlf:
        data = re.sub(rb"\r\n|\r|\n", b"\r\n", data)
    if data.startswith(b".") or b"\n." in data:
        data = re.sub(rb"(?m)^\.", b"..", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _reply(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return f"{code} {' '.join(text.split())}"


def _queue_id(reply: bytes) -> str | None:
    for pattern in _QUEUE_ID_RES:
        found = pattern.search(reply.strip())
        if found:
            return found.group(1).decode("ascii", "replace")
    return None
