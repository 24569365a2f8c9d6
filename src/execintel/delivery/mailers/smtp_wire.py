"""smtplib with deadlines: every step of an SMTP session has a time limit for the whole step, replies a size cap.

smtplib's own timeout applies to each ``recv`` call, so a server that sends one byte every few seconds, or a
multi-line reply that never ends, holds a client forever and grows its memory. Here each step (connecting and the
greeting, each command and its reply, each block of the message, the reply to the final dot) gets a deadline from
RFC 5321 section 4.5.3.2, cut short by the run's own deadline, and a reply longer than :data:`MAX_REPLY` bytes
ends the session.
"""

from __future__ import annotations

import smtplib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["MAX_REPLY", "Connection", "DeadlineError", "ReplyTooLong", "Timeouts", "TlsConnection"]

MAX_LINE = 8192  # smtplib's own limit for one reply line (RFC 5321 allows 512)
MAX_REPLY = 65536  # a whole multi-line reply: an EHLO reply is under 1 KiB
BLOCK = 65536  # the message is written in blocks of this size, each with the RFC's data-block timeout

# The commands whose name may appear in an error message; anything else (an AUTH continuation) is "the login".
_VERBS = frozenset({"ehlo", "helo", "starttls", "auth", "mail", "rcpt", "data", "rset", "quit", "noop"})


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds each step may take in all (not per read): RFC 5321 section 4.5.3.2 unless noted."""

    greeting: float = 300.0  # connecting (and TLS for smtps), then the 220 greeting: "Initial 220 Message: 5 minutes"
    command: float = 300.0  # MAIL and RCPT: 5 minutes; EHLO, STARTTLS, AUTH and RSET get the same
    data: float = 120.0  # "DATA Initiation: 2 minutes"
    block: float = 180.0  # "Data Block: 3 minutes", for each block of the message written
    final: float = 600.0  # "DATA Termination: 10 minutes": the reply to the final dot
    quit: float = 10.0  # not in the RFC: nothing depends on the reply to QUIT

    def capped(self, seconds: float) -> Timeouts:
        """These timeouts, none longer than ``seconds`` (the mailer URL's ``?timeout=``)."""
        return replace(self, **{f.name: min(getattr(self, f.name), seconds) for f in fields(self)})


class DeadlineError(smtplib.SMTPException):
    """A step of the session did not complete within its deadline (or the run's)."""


class ReplyTooLong(smtplib.SMTPException):
    """The server's reply exceeded the size cap (an endless multi-line reply, or a line without an end)."""


class _Deadlines:
    """The deadline and reply-reading overrides shared by :class:`Connection` and :class:`TlsConnection`."""

    sock: socket.socket | None
    command_encoding: str
    timeouts: Timeouts
    run_deadline: Callable[[], float | None]
    _deadline: float
    _step: str
    _by_run: bool
    _buffer: bytes
    _host: str
    close: Callable[[], None]  # smtplib.SMTP's

    def _setup(self, timeouts: Timeouts, run_deadline: Callable[[], float | None]) -> None:
        self.timeouts, self.run_deadline = timeouts, run_deadline
        self._buffer = b""
        self.arm("the greeting", timeouts.greeting)

    def arm(self, step: str, seconds: float) -> None:
        """Start a step that must complete within ``seconds`` (and before the run's deadline)."""
        deadline = time.monotonic() + seconds
        limit = self.run_deadline()
        self._by_run = limit is not None and limit < deadline
        self._deadline = min(deadline, limit) if limit is not None else deadline
        self._step = f"{step} (within {seconds:g} s)"

    def _remaining(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            self.close()
            if self._by_run:
                raise DeadlineError(f"the run's time limit ran out while waiting for {self._step.split(' (')[0]}")
            raise DeadlineError(f"no answer to {self._step}")
        return left

    def connect(self, host: str = "localhost", port: int = 0, source_address: Any = None) -> tuple[int, bytes]:
        """Connect and read the greeting, all within the greeting's deadline."""
        self.arm("the connection and greeting", self.timeouts.greeting)
        self._buffer = b""
        self._host = host  # the name TLS checks the certificate against (smtplib sets it only in __init__)
        answer: tuple[int, bytes] = super().connect(host, port, source_address)  # type: ignore[misc]
        return answer

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(host, port, self._remaining())  # type: ignore[misc]
        return sock

    def putcmd(self, cmd: str, args: str = "") -> None:
        """Send a command; its reply gets the RFC's deadline for that command."""
        verb = cmd.split(None, 1)[0].lower() if cmd.strip() else ""
        seconds = {"data": self.timeouts.data, "quit": self.timeouts.quit}.get(verb, self.timeouts.command)
        self.arm(f"the reply to {verb.upper()}" if verb in _VERBS else "the login", seconds)
        super().putcmd(cmd, args)  # type: ignore[misc]

    def send(self, s: ReadableBuffer | str) -> None:
        """Write all of ``s`` before the step's deadline."""
        data = s.encode(self.command_encoding) if isinstance(s, str) else s
        if self.sock is None:
            raise smtplib.SMTPServerDisconnected("please run connect() first")
        self.sock.settimeout(self._remaining())
        try:
            self.sock.sendall(data)  # since Python 3.5 the timeout bounds the whole sendall
        except TimeoutError:
            self.close()
            raise DeadlineError(f"the server did not take {self._step}") from None
        except OSError as exc:
            self.close()
            raise smtplib.SMTPServerDisconnected(f"the connection was lost: {exc}") from exc

    def send_message_data(self, data: bytes) -> None:
        """Write the (dot-stuffed) message in blocks, each within the RFC's data-block deadline."""
        for start in range(0, len(data), BLOCK):
            self.arm("the message data", self.timeouts.block)
            self.send(data[start : start + BLOCK])

    def _line(self, size: int) -> bytes:
        """One reply line (with its line break), read before the deadline; b"" when the server closed."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line, self._buffer = self._buffer[: end + 1], self._buffer[end + 1 :]
                return line
            if len(self._buffer) > MAX_LINE or size + len(self._buffer) > MAX_REPLY:
                self.close()
                raise ReplyTooLong(f"the server's reply to {self._step.split(' (')[0]} is longer than "
                                   f"{MAX_REPLY // 1024} KiB")  # fmt: skip
            if self.sock is None:
                return b""
            self.sock.settimeout(self._remaining())
            try:
                chunk = self.sock.recv(4096)
            except TimeoutError:
                self._deadline = 0.0
                self._remaining()  # raises DeadlineError
                raise  # pragma: no cover
            except OSError:
                chunk = b""
            if not chunk:
                self.close()
                return b""
            self._buffer += chunk

    def getreply(self) -> tuple[int, bytes]:
        """Read a whole reply (every line of a multi-line one) within the step's deadline and the size cap."""
        lines: list[bytes] = []
        size = 0
        while True:
            line = self._line(size)
            if not line:
                self.close()
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            size += len(line)
            lines.append(line[4:].strip(b" \t\r\n"))
            try:
                code = int(line[:3])
            except ValueError:
                return -1, b"\n".join(lines)
            if line[3:4] != b"-":
                return code, b"\n".join(lines)

    def starttls(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """STARTTLS; anything the server sent before the handshake is dropped, never read as if it came over TLS."""
        answer: tuple[int, bytes] = super().starttls(*args, **kwargs)  # type: ignore[misc]
        self._buffer = b""
        return answer


class Connection(_Deadlines, smtplib.SMTP):
    """A plain SMTP connection (STARTTLS later, when offered) with deadlines."""

    def __init__(self, timeouts: Timeouts, run_deadline: Callable[[], float | None]) -> None:
        smtplib.SMTP.__init__(self, timeout=timeouts.greeting)
        self._setup(timeouts, run_deadline)


class TlsConnection(_Deadlines, smtplib.SMTP_SSL):
    """An SMTPS connection (TLS from the first byte) with deadlines."""

    def __init__(self, timeouts: Timeouts, run_deadline: Callable[[], float | None], context: Any) -> None:
        smtplib.SMTP_SSL.__init__(self, timeout=timeouts.greeting, context=context)
        self._setup(timeouts, run_deadline)
