"""Servers that never finish: every network step of a delivery has a deadline for the whole step, replies have a
size cap, and a message whose final step went out without an answer is never sent twice.

Hostile SMTP servers run on loopback (tests/smtp_server.py); SES and DynamoDB calls go to a loopback endpoint that
takes requests and never answers. Deadlines are shortened for the tests (the mailer's own are RFC 5321's).
"""

from __future__ import annotations

import gc
import socket
import threading
import time
import tracemalloc
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import AWS_TEST_ENV
from execintel.config.settings import Settings
from execintel.delivery.compose import OutgoingMessage, compose
from execintel.delivery.mailers import MailerError, SesMailer, SmtpMailer
from execintel.delivery.mailers.smtp_wire import MAX_REPLY, Timeouts
from execintel.errors import StoreError
from execintel.store import DynamoStore
from smtp_server import HostileSmtpServer, SmtpTestServer, converse


def _message(key: str = "k-1") -> OutgoingMessage:
    return compose(key=key, sender="reports@example.com", to=("Casey", "ceo@example.com"), subject="CFO report",
                   text="Cash\n", html="<p>Cash</p>", images={}, bcc=("audit@example.org",))  # fmt: skip


def _mailer(port: int, timeouts: Timeouts) -> SmtpMailer:
    return SmtpMailer("127.0.0.1", port, timeouts=timeouts)


def test_the_deadlines_are_rfc_5321s() -> None:
    # RFC 5321 section 4.5.3.2: initial 220 five minutes, MAIL and RCPT five, DATA initiation two, each data
    # block three, DATA termination (the reply to the final dot) ten.
    assert SmtpMailer("mail.example.com").timeouts == Timeouts(
        greeting=300, command=300, data=120, block=180, final=600, quit=10
    )
    assert SmtpMailer.from_url("smtp://mail.example.com?timeout=20", Settings()).timeouts == Timeouts().capped(20)


def _trickle_greeting(server: HostileSmtpServer, connection: socket.socket) -> None:
    server.trickle(connection, b"220 " + b"s" * 40 + b"\r\n", 0.2)  # 8.8 s for the whole line


def _silent(server: HostileSmtpServer, connection: socket.socket) -> None:
    server.stopping.wait(30)


def _trickle_mail_reply(server: HostileSmtpServer, connection: socket.socket) -> bool:
    server.trickle(connection, b"250 " + b"o" * 40 + b"\r\n", 0.2)
    return False


def _endless_ehlo(server: HostileSmtpServer, connection: socket.socket) -> bool:
    line = b"250-" + b"X" * 70 + b"\r\n"
    while not server.stopping.is_set() and server.write(connection, line * 100):
        pass
    return False


def _endless_line(server: HostileSmtpServer, connection: socket.socket) -> bool:
    while not server.stopping.is_set() and server.write(connection, b"250 " + b"Y" * 65536):
        pass
    return False


@pytest.mark.parametrize(
    ("script", "timeouts", "said"),
    [
        (_trickle_greeting, Timeouts(greeting=1), "no answer to the connection and greeting (within 1 s)"),
        (_silent, Timeouts(greeting=1), "no answer to the connection and greeting (within 1 s)"),
        (converse({"MAIL": _trickle_mail_reply}), Timeouts(command=2), "no answer to the reply to MAIL (within 2 s)"),
    ],
    ids=["trickled-greeting", "silent", "trickled-reply"],
)
def test_a_server_that_trickles_or_says_nothing_fails_the_step_at_its_deadline(
    script: Callable[[HostileSmtpServer, socket.socket], None], timeouts: Timeouts, said: str
) -> None:
    commits: list[str] = []
    with HostileSmtpServer(script) as server, pytest.raises(MailerError) as error:
        _mailer(server.port, timeouts).send(_message(), commit=lambda: commits.append("sending"))
    # Before the deadlines, a byte every 0.2 s reset smtplib's per-read timeout: the greeting took its 8.8 s.
    assert said in error.value.reason and not error.value.permanent and not error.value.ambiguous
    assert commits == []  # nothing was handed over: a retry later is safe


@pytest.mark.parametrize("script", [_endless_ehlo, _endless_line], ids=["endless-multiline", "endless-line"])
def test_an_endless_reply_is_cut_at_the_size_cap_without_growing_memory(
    script: Callable[[HostileSmtpServer, socket.socket], bool],
) -> None:
    tracemalloc.start()
    try:
        with HostileSmtpServer(converse({"EHLO": script})) as server:
            with pytest.raises(MailerError) as error:
                _mailer(server.port, Timeouts()).send(_message(), commit=lambda: None)  # RFC deadlines: the cap ends it
            _, peak = tracemalloc.get_traced_memory()
            assert server.client_gone.wait(10)  # the mailer hung up
    finally:
        tracemalloc.stop()
    assert f"longer than {MAX_REPLY // 1024} KiB" in error.value.reason
    assert peak < 4 * 1024 * 1024  # the server offered unlimited data; the client kept a few hundred KiB at most


def test_no_answer_to_the_final_dot_is_ambiguous_never_a_retry(
    smtp_server_factory: Callable[..., SmtpTestServer],
) -> None:
    server = smtp_server_factory(reply_delay=3.0)  # longer than the (shortened) ten minutes of the RFC
    commits: list[str] = []
    with pytest.raises(MailerError) as error:
        _mailer(server.port, Timeouts(final=1)).send(_message(), commit=lambda: commits.append("sending"))
    assert error.value.ambiguous and not error.value.permanent
    assert "may or may not have been delivered" in error.value.reason and "--resend-unknown" in error.value.reason
    assert commits == ["sending"] and len(server.messages) == 1  # the server has it: a resend would double it


def test_a_slow_server_within_the_deadline_gets_the_message_once(
    smtp_server_factory: Callable[..., SmtpTestServer],
) -> None:
    server = smtp_server_factory(reply_delay=1.5)  # slower than many clients wait, within the deadline
    with _mailer(server.port, Timeouts().capped(10)) as mailer:
        outcome = mailer.send(_message(), commit=lambda: None)
    assert [m.queue_id for m in server.messages] == [outcome.provider_id]


def test_the_runs_deadline_cuts_every_step_short() -> None:
    with HostileSmtpServer(_silent) as server:
        mailer = _mailer(server.port, Timeouts())  # the RFC's five minutes for the greeting...
        mailer.deadline = time.monotonic() + 1.0  # ...but the run has one second left
        with pytest.raises(MailerError, match="the run's time limit ran out while waiting for the connection"):
            mailer.send(_message(), commit=lambda: None)


# --- SES and DynamoDB: every call bounded ------------------------------------------------------------------


class SilentEndpoint:
    """An HTTP endpoint on loopback that reads requests and never answers; ``requests`` counts them."""

    def __init__(self) -> None:
        self.requests = 0
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                continue
            connection.settimeout(2)
            try:
                if connection.recv(65536):
                    self.requests += 1
            except OSError:
                pass
            self.held.append(connection)  # open, unanswered

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.listener.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def silent() -> Iterator[SilentEndpoint]:
    endpoint = SilentEndpoint()
    yield endpoint
    endpoint.close()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("aws_env")
def test_an_ses_call_whose_answer_never_comes_is_ambiguous_and_not_repeated(silent: SilentEndpoint) -> None:
    kwargs = {"endpoint_url": silent.url, "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    mailer = SesMailer("us-east-1", client_kwargs=kwargs, timeouts=(1.0, 1.0))
    commits: list[str] = []
    with pytest.raises(MailerError) as error:
        mailer.send(_message(f"k-{uuid.uuid4().hex[:6]}"), commit=lambda: commits.append("sending"))
    assert error.value.ambiguous and "may or may not have taken it" in error.value.reason
    # botocore used to try a timed-out SendEmail again (five attempts): each could have sent the message
    assert silent.requests == 1 and commits == ["sending"]
    with warnings.catch_warnings():  # urllib3 drops the timed-out connection without closing it (not ours)
        warnings.simplefilter("ignore", ResourceWarning)
        mailer.close()
        gc.collect()


@pytest.mark.usefixtures("aws_env")
def test_an_ses_endpoint_that_cannot_be_reached_is_a_transient_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kwargs = {"endpoint_url": f"http://127.0.0.1:{port}", "aws_access_key_id": "t", "aws_secret_access_key": "t"}
    mailer = SesMailer("us-east-1", client_kwargs=kwargs, timeouts=(1.0, 1.0), sleep=lambda _s: None)
    with pytest.raises(MailerError, match="Could not reach SES") as error:
        mailer.send(_message(), commit=lambda: None)
    assert not error.value.ambiguous and not error.value.permanent
    mailer.close()


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("aws_env")
def test_a_dynamodb_store_that_never_answers_fails_within_its_bounds(silent: SilentEndpoint, tmp_path: Path) -> None:
    settings = Settings(aws_endpoint_url=silent.url, aws_access_key_id="testing", aws_secret_access_key="testing",
                        aws_region="us-east-1", data_dir=tmp_path)  # fmt: skip
    store = DynamoStore("execintel-silent", settings=settings, timeouts=(1.0, 1.0, 2))
    with pytest.raises(StoreError, match="failed to read runs"):
        store.get_run("run-1")
    assert silent.requests == 2  # two attempts, then the error: never botocore's default of ten
    with warnings.catch_warnings():  # urllib3 drops the timed-out connections without closing them (not ours)
        warnings.simplefilter("ignore", ResourceWarning)
        store.close()
        gc.collect()
