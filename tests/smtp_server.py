"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 and a free port, recording every accepted message.

Import it from a test module (the tests folder is on ``sys.path``)::

    from smtp_server import SmtpTestServer, smtp_server, smtp_server_factory  # noqa: F401 - fixtures

Options: a seeded share of RCPT or DATA commands answered with a failure code (``fail_share``, ``fail_code``,
``fail_command``), recipients always refused (``refuse``), STARTTLS or implicit TLS with a trustme
certificate (``tls``, ``implicit_tls``; the client trusts ``ca_file``), AUTH LOGIN/PLAIN with one user
(``auth``), ``require_starttls``, and an idle timeout after which the server closes the connection
(silently, or after a ``421`` reply like Postfix). ``on_message`` runs when a message has been received
(its final dot read) and queued, before the server replies: a crash test kills the client there.
``reply_delay`` makes the server wait that many seconds before it answers the final dot.

:class:`HostileSmtpServer` is a raw loopback server that runs a script per connection, to misbehave in ways
aiosmtpd cannot: trickle a reply a byte at a time, never end a multi-line reply, never answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Received:
    """One message the server accepted: the envelope, the bytes after DATA, and how the session was set up."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes
    queue_id: str
    tls: bool
    user: str | None


class SmtpTestServer:
    """aiosmtpd in a thread on 127.0.0.1; use it as a context manager."""

    def __init__(
        self,
        *,
        fail_share: float = 0.0,
        fail_code: int = 451,
        fail_command: str = "RCPT",
        seed: int = 0,
        refuse: Mapping[str, int] | None = None,
        tls: bool = False,
        implicit_tls: bool = False,
        auth: tuple[str, str] | None = None,
        require_starttls: bool = False,
        idle_timeout: float = 300.0,
        idle_reply: str | None = None,
        on_message: Callable[[Received], None] | None = None,
        reply_delay: float = 0.0,
    ) -> None:
        assert fail_command in ("RCPT", "DATA")
        self.fail_share, self.fail_code, self.fail_command = fail_share, fail_code, fail_command
        self.refuse = {address.lower(): code for address, code in (refuse or {}).items()}
        self.tls, self.implicit_tls, self.auth = tls, implicit_tls, auth
        self.require_starttls, self.idle_timeout, self.idle_reply = require_starttls, idle_timeout, idle_reply
        self.on_message, self.reply_delay = on_message, reply_delay
        self.host = HOST
        self.port = 0
        self.ca_file: Path | None = None
        self.connections = 0
        """TCP connections clients opened (not counting the controller's own start-up probe)."""
        self.login_attempts: list[str] = []
        self._messages: list[Received] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)  # noqa: S311 - a seeded test schedule, not a secret
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[Received]:
        """A copy of the messages accepted so far."""
        with self._lock:
            return list(self._messages)

    def url(self, scheme: str = "smtp", user: str | None = None, **query: str) -> str:
        """The mailer URL for this server, e.g. ``smtp://reports@127.0.0.1:PORT?cafile=...``."""
        userinfo = f"{quote(user, safe='')}@" if user else ""
        return f"{scheme}://{userinfo}{self.host}:{self.port}" + (f"?{urlencode(query)}" if query else "")

    def __enter__(self) -> SmtpTestServer:
        server_context: ssl.SSLContext | None = None
        if self.tls or self.implicit_tls:
            self._tmp = tempfile.TemporaryDirectory(prefix="smtp-test-")
            ca = trustme.CA()
            self.ca_file = Path(self._tmp.name) / "ca.pem"
            ca.cert_pem.write_to_path(str(self.ca_file))
            server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert(HOST, "localhost").configure_cert(server_context)
        self.port = _free_port()
        self._controller = _Controller(self, server_context)
        self._controller.start()
        self.connections = 0  # forget the controller's start-up probe
        return self

    def __exit__(self, *exc: object) -> None:
        if self._controller is not None:
            self._controller.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def verdict(self, command: str, address: str = "") -> int | None:
        """The failure code to answer ``command`` with, or None to accept it."""
        with self._lock:
            if command == "RCPT" and address.lower() in self.refuse:
                return self.refuse[address.lower()]
            if command == self.fail_command and self._random.random() < self.fail_share:
                return self.fail_code
        return None

    def record(self, envelope: Envelope, tls: bool, user: str | None) -> str:
        """Keep an accepted message (then run ``on_message``); return its queue id."""
        with self._lock:
            queue_id = f"TEST{len(self._messages) + 1:05d}"
            received = Received(
                sender=envelope.mail_from or "",
                recipients=tuple(envelope.rcpt_tos),
                data=envelope.original_content or b"",
                queue_id=queue_id,
                tls=tls,
                user=user,
            )
            self._messages.append(received)
        if self.on_message is not None:
            self.on_message(received)
        return queue_id

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        """aiosmtpd's ``authenticator``: accept the one configured user and password."""
        assert isinstance(data, LoginPassword) and self.auth is not None
        login, password = data.login.decode(), data.password.decode()
        with self._lock:
            self.login_attempts.append(login)
        ok = (login, password) == self.auth
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)


class _Handler:
    """aiosmtpd hooks: refuse or accept recipients and messages as the server's options say."""

    def __init__(self, owner: SmtpTestServer) -> None:
        self.owner = owner

    async def handle_RCPT(  # aiosmtpd hook names are upper case
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        code = self.owner.verdict("RCPT", address)
        if code is not None:
            return f"{code} {'4.2.0 try again later' if code < 500 else '5.1.1 mailbox unavailable'}: {address}"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        code = self.owner.verdict("DATA")
        if code is not None:
            return f"{code} {'4.3.0 queue full, try again later' if code < 500 else '5.6.0 message refused'}"
        tls = server.transport is not None and server.transport.get_extra_info("ssl_object") is not None
        user = session.auth_data if isinstance(session.auth_data, str) else None
        queue_id = self.owner.record(envelope, tls, user)
        if self.owner.reply_delay:
            await asyncio.sleep(self.owner.reply_delay)
        return f"250 2.0.0 Ok: queued as {queue_id}"


class _Smtp(SMTP):
    """aiosmtpd's SMTP, optionally saying ``421`` before it closes an idle connection."""

    def __init__(self, handler: Any, idle_reply: str | None, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.idle_reply = idle_reply

    def _timeout_cb(self) -> None:
        if self.idle_reply and self.transport is not None:
            self.transport.write(f"{self.idle_reply}\r\n".encode())  # type: ignore[attr-defined]
        super()._timeout_cb()


class _Controller(Controller):
    def __init__(self, owner: SmtpTestServer, server_context: ssl.SSLContext | None) -> None:
        self.owner = owner
        starttls = server_context if owner.tls else None
        super().__init__(
            _Handler(owner),
            hostname=HOST,
            port=owner.port,
            ssl_context=server_context if owner.implicit_tls else None,
            server_hostname="smtp.test",
            tls_context=starttls,
            require_starttls=owner.require_starttls and starttls is not None,
            authenticator=owner.authenticate if owner.auth else None,
            # AUTH only after TLS when there is TLS; on plain loopback connections AUTH is offered at once.
            auth_require_tls=starttls is not None,
            auth_required=owner.auth is not None and starttls is not None,
            timeout=owner.idle_timeout,
        )

    def factory(self) -> SMTP:
        self.owner.connections += 1
        return _Smtp(self.handler, self.owner.idle_reply, **self.SMTP_kwargs)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[SmtpTestServer]:
    """A plain SMTP server (no TLS, no AUTH) for one test."""
    with SmtpTestServer() as server:
        yield server


@pytest.fixture
def smtp_server_factory() -> Iterator[Callable[..., SmtpTestServer]]:
    """Start servers with options (``smtp_server_factory(tls=True, auth=("u", "p"))``); all stop after the test."""
    started: list[SmtpTestServer] = []

    def start(**options: Any) -> SmtpTestServer:
        server = SmtpTestServer(**options).__enter__()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.__exit__(None, None, None)


Script = Callable[["HostileSmtpServer", socket.socket], None]


class HostileSmtpServer:
    """A loopback TCP server that runs ``script(server, connection)`` for each client, in a thread of its own.

    ``sent`` counts the bytes scripts managed to write; ``client_gone`` is set when a write failed or a read saw
    the end of the stream: the client gave up. Scripts stop within a second of the server closing.
    """

    def __init__(self, script: Script) -> None:
        self.script = script
        self.sent = 0
        self.client_gone = threading.Event()
        self.stopping = threading.Event()
        self._listener = socket.create_server((HOST, 0))
        self._listener.settimeout(0.2)  # closing a socket does not wake a thread blocked in accept()
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._connections: list[socket.socket] = []

    def url(self, scheme: str = "smtp") -> str:
        """The mailer URL for this server."""
        return f"{scheme}://{HOST}:{self.port}"

    def __enter__(self) -> HostileSmtpServer:
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self._threads.append(accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._listener.close()
        for connection in self._connections:
            with contextlib.suppress(OSError):
                connection.close()
        for thread in self._threads:
            thread.join(5)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._connections.append(connection)
            worker = threading.Thread(target=self._run, args=(connection,), daemon=True)
            worker.start()
            self._threads.append(worker)

    def _run(self, connection: socket.socket) -> None:
        connection.settimeout(1.0)
        with contextlib.suppress(OSError):
            self.script(self, connection)

    def write(self, connection: socket.socket, data: bytes) -> bool:
        """Write ``data``; False (and ``client_gone`` set) when the client has closed the connection."""
        try:
            connection.sendall(data)
        except OSError:
            self.client_gone.set()
            return False
        self.sent += len(data)
        return True

    def read_line(self, connection: socket.socket) -> bytes | None:
        """One command line from the client; None when it closed (or the server is stopping)."""
        line = b""
        while not line.endswith(b"\n"):
            try:
                chunk = connection.recv(1)
            except TimeoutError:
                if self.stopping.is_set():
                    return None
                continue
            except OSError:
                chunk = b""
            if not chunk:
                self.client_gone.set()
                return None
            line += chunk
        return line

    def trickle(self, connection: socket.socket, data: bytes, interval: float) -> None:
        """Write ``data`` one byte every ``interval`` seconds, stopping when the client leaves."""
        for byte in data:
            if self.stopping.is_set() or not self.write(connection, bytes([byte])):
                return
            time.sleep(interval)
        self.stopping.wait(2)  # nothing more to say; give the client time to notice


def converse(answers: Mapping[str, Callable[[HostileSmtpServer, socket.socket], bool]]) -> Script:
    """A script that greets, then answers each command: a function from ``answers`` for its verb, else ``250``
    (``354`` for DATA, after which it reads the message up to the final dot). A function returning False ends
    the conversation."""

    def script(server: HostileSmtpServer, connection: socket.socket) -> None:
        if not server.write(connection, b"220 hostile.test ESMTP\r\n"):
            return
        while (line := server.read_line(connection)) is not None:
            verb = line.split(b" ", 1)[0].strip().upper().decode("ascii", "replace")
            if verb in answers:
                if not answers[verb](server, connection):
                    return
                continue
            if verb == "DATA":
                server.write(connection, b"354 go ahead\r\n")
                body = server.read_line(connection)
                while body not in (None, b".\r\n"):
                    body = server.read_line(connection)
                if body is None:
                    return
                if "." in answers and not answers["."](server, connection):
                    return
                if "." not in answers:
                    server.write(connection, b"250 2.0.0 queued as HOSTILE1\r\n")
                continue
            reply = b"221 bye\r\n" if verb == "QUIT" else b"250 ok\r\n"
            if not server.write(connection, reply) or verb == "QUIT":
                return

    return script
