"""Mailers: one contract suite over outbox, SMTP (aiosmtpd) and SES (moto server), then each backend's own rules."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parseaddr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from conftest import AWS_TEST_ENV
from execintel.config.settings import Settings
from execintel.delivery.compose import OutgoingMessage, compose
from execintel.delivery.mailers import Mailer, MailerError, OutboxMailer, Reconciled, SesMailer, open_mailer
from execintel.delivery.mailers.ses import tag_value
from execintel.errors import ConfigError
from smtp_server import SmtpTestServer

AUDIT = "audit@example.org"
TO = "ceo@example.com"
REGION = "us-east-1"
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Delivered:
    """What a provider got: envelope sender, envelope recipients (lower case), the bytes, the provider's id."""

    sender: str
    recipients: frozenset[str]
    data: bytes
    provider_id: str


@dataclass
class Backend:
    """A ready mailer, the sender to use, and what its provider has received so far."""

    name: str
    mailer: Mailer
    sender: str
    received: Callable[[], list[Delivered]]


def _message(sender: str, key: str | None = None, bcc: tuple[str, ...] = (AUDIT,)) -> OutgoingMessage:
    return compose(
        key=key or f"run-1:cfo:{uuid.uuid4().hex[:8]}",
        sender=sender,
        to=("Casey Jones", TO),
        subject="CFO report",
        text="Cash $1,234\n.a line starting with a dot\n..and two\n",
        html="<p>Cash $1,234</p>",
        images={},
        bcc=bcc,
    )


def _sender() -> str:
    return f"reports-{uuid.uuid4().hex[:8]}@example.com"


# --- provider views -----------------------------------------------------------------------------------------


def _outbox_received(folder: Path) -> list[Delivered]:
    delivered = []
    for eml in sorted(folder.glob("*.eml")):
        envelope = json.loads(eml.with_name(eml.name.removesuffix(".eml") + ".envelope.json").read_text())
        recipients = frozenset(address.lower() for address in envelope["recipients"])
        delivered.append(Delivered(envelope["sender"], recipients, eml.read_bytes(), eml.name))
    return delivered


def _smtp_received(server: SmtpTestServer) -> list[Delivered]:
    return [
        Delivered(m.sender, frozenset(r.lower() for r in m.recipients), m.data, m.queue_id) for m in server.messages
    ]


def _ses_received(sender: str) -> list[Delivered]:
    """What the moto server recorded for ``sender``: ThreadedMotoServer runs in this process, so its SES backend
    is moto's module-level ``ses_backends`` (SES v2 sends are stored by the SES v1 backend as RawMessage)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return [
        # moto adds the addresses of the To/Cc headers to the API's destinations; as a set they are the envelope.
        Delivered(m.source, frozenset(parseaddr(d)[1].lower() for d in m.destinations), m.raw_data.encode(), m.id)
        for m in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
        if getattr(m, "source", None) == sender and hasattr(m, "raw_data")
    ]


def _ses_client(endpoint: str, attempts: int = 1) -> Any:
    return boto3.client(
        "sesv2",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
    )


@pytest.fixture
def ses_endpoint(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The moto server, with example.com a verified SES domain and no real AWS configuration in reach."""
    for name, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(name, value)
    _ses_client(moto_endpoint).create_email_identity(EmailIdentity="example.com")
    return moto_endpoint


@pytest.fixture(params=["outbox", "smtp", "ses"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each mailer, opened, with a provider to look into."""
    sender = _sender()
    if request.param == "outbox":
        folder = tmp_path / "outbox"
        mailer: Mailer = open_mailer(f"outbox:{folder}", Settings())
        received: Callable[[], list[Delivered]] = lambda: _outbox_received(folder)  # noqa: E731
    elif request.param == "smtp":
        server: SmtpTestServer = request.getfixturevalue("smtp_server")
        mailer = open_mailer(server.url(), Settings())
        received = lambda: _smtp_received(server)  # noqa: E731
    else:
        endpoint = request.getfixturevalue("ses_endpoint")
        mailer = open_mailer(f"ses://{REGION}", Settings(), client=_ses_client(endpoint))
        received = lambda: _ses_received(sender)  # noqa: E731
    with mailer:
        yield Backend(request.param, mailer, sender, received)


# --- the contract ---------------------------------------------------------------------------------------------


def test_a_message_arrives_once_with_the_bcc_in_the_envelope_only(backend: Backend) -> None:
    message = _message(backend.sender)
    seen_at_commit: list[list[Delivered]] = []
    outcome = backend.mailer.send(message, commit=lambda: seen_at_commit.append(backend.received()))
    assert seen_at_commit == [[]]  # commit ran once, and the provider did not have the message yet
    [delivered] = backend.received()
    assert (delivered.sender, delivered.recipients, delivered.data) == (
        backend.sender,
        frozenset({TO, AUDIT}),
        message.data,
    )
    assert b"audit" not in delivered.data
    assert outcome.provider_id == delivered.provider_id
    assert outcome.refused == {}


def test_when_commit_raises_nothing_is_handed_over_and_the_mailer_goes_on(backend: Backend) -> None:
    def store_down() -> None:
        raise RuntimeError("the audit store is down")

    with pytest.raises(RuntimeError, match="audit store is down"):
        backend.mailer.send(_message(backend.sender), commit=store_down)
    assert backend.received() == []
    after = _message(backend.sender)
    backend.mailer.send(after, commit=lambda: None)
    assert [d.data for d in backend.received()] == [after.data]


def test_provider_ids_are_the_providers_own(backend: Backend) -> None:
    outcomes = [backend.mailer.send(_message(backend.sender), commit=lambda: None) for _ in range(3)]
    ids = [outcome.provider_id for outcome in outcomes]
    assert sorted(ids) == sorted(d.provider_id for d in backend.received())
    assert len(set(ids)) == 3
    if backend.name == "outbox":
        assert all(i.endswith(".eml") for i in ids)
    if backend.name == "smtp":
        assert ids == ["TEST00001", "TEST00002", "TEST00003"]  # the queue ids from the servers' 250 replies


class Crash(BaseException):
    """Stands for the process dying right after commit() recorded the delivery as "sending"."""


EXPECTED_AFTER_SEND = {"outbox": Reconciled.SENT, "smtp": Reconciled.SENT, "ses": Reconciled.UNKNOWN}
# The SMTP row is the documented window: commit() runs just before the final dot, and a crash exactly there
# leaves a delivery that reconcile() reports as sent although the server dropped the unfinished transaction.
EXPECTED_AFTER_CRASH = {"outbox": Reconciled.NOT_SENT, "smtp": Reconciled.SENT, "ses": Reconciled.UNKNOWN}


def test_reconcile_after_a_completed_send(backend: Backend) -> None:
    message = _message(backend.sender)
    outcome = backend.mailer.send(message, commit=lambda: None)
    answer = backend.mailer.reconcile(message)
    assert answer.status is EXPECTED_AFTER_SEND[backend.name]
    assert answer.note
    if backend.name == "outbox":
        assert answer.provider_id == outcome.provider_id


def test_reconcile_after_a_crash_at_the_commit_point(backend: Backend) -> None:
    message = _message(backend.sender)
    states: list[str] = []

    def commit_then_die() -> None:
        states.append("sending")
        raise Crash

    with pytest.raises(Crash):
        backend.mailer.send(message, commit=commit_then_die)
    assert states == ["sending"]
    assert backend.received() == []
    answer = backend.mailer.reconcile(message)
    assert answer.status is EXPECTED_AFTER_CRASH[backend.name]
    assert answer.note


# --- outbox ---------------------------------------------------------------------------------------------------


def test_outbox_writes_the_message_and_its_envelope_into_a_new_folder(tmp_path: Path) -> None:
    folder = tmp_path / "deep" / "outbox"
    message = _message("reports@example.com", key="run-1/cfo:../casey")
    with open_mailer(f"outbox:{folder}", Settings()) as mailer:
        outcome = mailer.send(message, commit=lambda: None)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        "run-1%2Fcfo%3A..%2Fcasey.eml",
        "run-1%2Fcfo%3A..%2Fcasey.envelope.json",
    ]
    assert outcome.provider_id == "run-1%2Fcfo%3A..%2Fcasey.eml"
    assert (folder / outcome.provider_id).read_bytes() == message.data
    envelope = json.loads((folder / "run-1%2Fcfo%3A..%2Fcasey.envelope.json").read_text())
    assert envelope == {"key": message.key, "sender": "reports@example.com", "recipients": [TO, AUDIT]}


def test_outbox_sending_a_delivered_key_again_changes_nothing(tmp_path: Path) -> None:
    mailer = OutboxMailer(tmp_path)
    first = _message("reports@example.com", key="k-1")
    outcome = mailer.send(first, commit=lambda: None)
    commits: list[str] = []
    again = mailer.send(_message("other@example.com", key="k-1"), commit=lambda: commits.append("sending"))
    assert again == outcome
    assert commits == []  # nothing was handed over, so nothing was committed
    assert (tmp_path / "k-1.eml").read_bytes() == first.data


def test_outbox_kill_9_at_the_commit_point_reconciles_as_not_sent(tmp_path: Path) -> None:
    folder, marker = tmp_path / "outbox", tmp_path / "state"
    script = textwrap.dedent(
        """
        import os, signal, sys
        from pathlib import Path
        from execintel.delivery.compose import compose
        from execintel.delivery.mailers.outbox import OutboxMailer

        folder, marker = sys.argv[1], Path(sys.argv[2])
        message = compose(key="k-9", sender="reports@example.com", to=("Casey", "ceo@example.com"),
                          subject="s", text="t", html="<p>t</p>", images={}, bcc=("audit@example.org",))

        def commit():
            marker.write_text("sending")
            os.kill(os.getpid(), signal.SIGKILL)

        OutboxMailer(folder).send(message, commit)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", script, str(folder), str(marker)], env=env, check=False)
    assert done.returncode == -signal.SIGKILL
    assert marker.read_text() == "sending"
    assert len(list(folder.iterdir())) == 2  # the envelope and the fsynced temporary file, no .eml
    mailer = OutboxMailer(folder)
    message = _message("reports@example.com", key="k-9")
    answer = mailer.reconcile(message)
    assert answer.status is Reconciled.NOT_SENT
    assert list(folder.iterdir()) == []  # the leftovers are gone
    mailer.send(message, commit=lambda: None)
    assert [d.provider_id for d in _outbox_received(folder)] == ["k-9.eml"]


def test_outbox_folder_that_cannot_be_created_fails_before_commit(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a folder")
    commits: list[str] = []
    with pytest.raises(ConfigError, match=r"cannot use .*taken as the outbox folder"):
        OutboxMailer(tmp_path / "taken").send(_message("reports@example.com"), lambda: commits.append("x"))
    assert commits == []


# --- SMTP -----------------------------------------------------------------------------------------------------


def test_smtp_starttls_with_a_private_ca_and_auth(smtp_server_factory: Callable[..., SmtpTestServer]) -> None:
    server = smtp_server_factory(tls=True, require_starttls=True, auth=("reports", "s3cret"))
    url = server.url(user="reports", cafile=str(server.ca_file))
    with open_mailer(url, Settings(smtp_password="s3cret")) as mailer:
        mailer.send(_message("reports@example.com"), commit=lambda: None)
    [received] = server.messages
    assert (received.tls, received.user) == (True, "reports")
    assert "s3cret" not in repr(mailer) and mailer.url == f"smtp://reports@127.0.0.1:{server.port}"


def test_smtps_with_the_ca_file_from_the_environment(
    smtp_server_factory: Callable[..., SmtpTestServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = smtp_server_factory(implicit_tls=True)
    monkeypatch.setenv("EXECINTEL_SMTP_CAFILE", str(server.ca_file))
    with open_mailer(server.url("smtps"), Settings()) as mailer:
        mailer.send(_message("reports@example.com"), commit=lambda: None)
    assert [m.tls for m in server.messages] == [True]


def test_smtp_untrusted_certificate_is_a_permanent_error(smtp_server_factory: Callable[..., SmtpTestServer]) -> None:
    server = smtp_server_factory(tls=True)
    with pytest.raises(MailerError, match=r"certificate of the SMTP server 127\.0\.0\.1:\d+ is not trusted") as err:
        open_mailer(server.url(), Settings()).open()
    assert err.value.permanent and "EXECINTEL_SMTP_CAFILE" in err.value.reason


def test_smtp_wrong_password_is_a_permanent_error_naming_user_and_server(
    smtp_server_factory: Callable[..., SmtpTestServer],
) -> None:
    server = smtp_server_factory(tls=True, auth=("reports", "s3cret"))
    mailer = open_mailer(server.url(user="reports", cafile=str(server.ca_file)), Settings(smtp_password="wrong"))
    commits: list[str] = []
    with pytest.raises(
        MailerError, match=rf"SMTP server 127\.0\.0\.1:{server.port} refused the login of 'reports': 535"
    ):
        mailer.send(_message("reports@example.com"), commit=lambda: commits.append("x"))
    assert commits == [] and server.messages == []


def test_smtp_user_without_password_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"EXECINTEL_SMTP_PASSWORD: the SMTP user 'reports' .* set EXECINTEL_SMTP"):
        open_mailer("smtp://reports@mail.example.com", Settings(smtp_password=None))


def test_smtp_never_sends_a_password_in_clear_to_a_remote_host(
    smtp_server_factory: Callable[..., SmtpTestServer],
) -> None:
    server = smtp_server_factory(auth=("reports", "s3cret"))  # no TLS offered
    # "127.1" is 127.0.0.1 to the resolver but not a loopback name to the mailer: it stands for a remote host.
    remote = open_mailer(f"smtp://reports@127.1:{server.port}", Settings(smtp_password="s3cret"))
    with pytest.raises(MailerError, match="Refusing to send the password of 'reports'") as err:
        remote.open()
    assert err.value.permanent and server.login_attempts == []
    with open_mailer(server.url(user="reports"), Settings(smtp_password="s3cret")) as local:  # loopback: allowed
        local.send(_message("reports@example.com"), commit=lambda: None)
    assert server.login_attempts == ["reports"] and len(server.messages) == 1


def test_smtp_starttls_required_refuses_a_server_without_it(smtp_server: SmtpTestServer) -> None:
    with pytest.raises(MailerError, match="does not offer STARTTLS, which the mailer URL requires") as err:
        open_mailer(smtp_server.url(starttls="required"), Settings()).open()
    assert err.value.permanent


@pytest.mark.parametrize(
    ("command", "code", "permanent", "committed"),
    [("RCPT", 451, False, False), ("RCPT", 550, True, False), ("DATA", 451, False, True), ("DATA", 554, True, True)],
)
def test_smtp_refusals_are_transient_or_permanent_by_code(
    smtp_server_factory: Callable[..., SmtpTestServer], command: str, code: int, permanent: bool, committed: bool
) -> None:
    server = smtp_server_factory(fail_share=1.0, fail_code=code, fail_command=command)
    commits: list[str] = []
    with open_mailer(server.url(), Settings()) as mailer, pytest.raises(MailerError) as err:
        mailer.send(_message("reports@example.com"), commit=lambda: commits.append("sending"))
    assert err.value.permanent is permanent
    assert f"SMTP server 127.0.0.1:{server.port}" in err.value.reason and f": {code} " in err.value.reason
    assert TO in err.value.reason
    assert commits == (["sending"] if committed else [])  # RCPT refusals come before the commit point
    assert server.messages == []


def test_smtp_a_seeded_share_of_failures_is_reproducible(smtp_server_factory: Callable[..., SmtpTestServer]) -> None:
    def run() -> list[bool]:
        server = smtp_server_factory(fail_share=0.5, fail_code=451, seed=7)
        results = []
        with open_mailer(server.url(), Settings()) as mailer:
            for _ in range(8):
                try:
                    mailer.send(_message("reports@example.com", bcc=()), commit=lambda: None)
                    results.append(True)
                except MailerError as exc:
                    assert not exc.permanent
                    results.append(False)
        assert len(server.messages) == results.count(True)
        return results

    first = run()
    assert first == run() and 0 < first.count(True) < 8


def test_smtp_a_refused_bcc_still_delivers_to_the_recipient(smtp_server_factory: Callable[..., SmtpTestServer]) -> None:
    server = smtp_server_factory(refuse={AUDIT: 550})
    with open_mailer(server.url(), Settings()) as mailer:
        outcome = mailer.send(_message("reports@example.com"), commit=lambda: None)
    assert [m.recipients for m in server.messages] == [(TO,)]
    assert list(outcome.refused) == [AUDIT]
    assert outcome.refused[AUDIT].startswith("550 5.1.1")


def test_smtp_one_connection_for_many_messages(smtp_server: SmtpTestServer) -> None:
    with open_mailer(smtp_server.url(), Settings()) as mailer:
        for _ in range(5):
            mailer.send(_message("reports@example.com"), commit=lambda: None)
    assert len(smtp_server.messages) == 5 and smtp_server.connections == 1


@pytest.mark.parametrize("idle_reply", [None, "421 4.4.2 smtp.test Error: timeout exceeded"], ids=["silent", "421"])
def test_smtp_reconnects_once_after_the_server_closed_an_idle_connection(
    smtp_server_factory: Callable[..., SmtpTestServer], idle_reply: str | None
) -> None:
    server = smtp_server_factory(idle_timeout=0.3, idle_reply=idle_reply)
    with open_mailer(server.url(), Settings()) as mailer:
        mailer.send(_message("reports@example.com"), commit=lambda: None)
        time.sleep(0.6)
        mailer.send(_message("reports@example.com"), commit=lambda: None)
    assert len(server.messages) == 2 and server.connections == 2


def test_smtp_server_down_is_transient() -> None:
    port = _closed_port()
    with pytest.raises(MailerError, match=rf"Could not reach the SMTP server 127\.0\.0\.1:{port}") as err:
        open_mailer(f"smtp://127.0.0.1:{port}", Settings()).open()
    assert not err.value.permanent


def test_smtp_kill_9_at_the_commit_point_delivers_nothing(smtp_server: SmtpTestServer) -> None:
    script = textwrap.dedent(
        """
        import os, signal, sys
        from execintel.config.settings import Settings
        from execintel.delivery.compose import compose
        from execintel.delivery.mailers import open_mailer

        message = compose(key="k-9", sender="reports@example.com", to=("Casey", "ceo@example.com"),
                          subject="s", text="t", html="<p>t</p>", images={})
        with open_mailer(sys.argv[1], Settings()) as mailer:
            mailer.send(message, lambda: os.kill(os.getpid(), signal.SIGKILL))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", script, smtp_server.url()], env=env, check=False)
    assert done.returncode == -signal.SIGKILL
    time.sleep(0.2)  # let the server notice the closed connection
    assert smtp_server.messages == []  # the message body was out, the final dot was not


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- SES ------------------------------------------------------------------------------------------------------


def test_ses_check_sender(ses_endpoint: str) -> None:
    client = _ses_client(ses_endpoint)
    client.create_email_identity(EmailIdentity="solo@example.net")
    client.create_email_identity(EmailIdentity="pending.test")
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    # moto verifies every identity at once; SES says PENDING until the owner clicks the link or adds DNS records.
    ses_backends[DEFAULT_ACCOUNT_ID][REGION].email_identities["pending.test"].verification_status = "PENDING"
    mailer = SesMailer(REGION, client=client)
    mailer.check_sender("anyone@example.com")  # the domain is verified
    mailer.check_sender("solo@example.net")  # the address is verified
    with pytest.raises(ConfigError) as err:
        mailer.check_sender("reports@nowhere.test")
    assert (
        "the sender reports@nowhere.test is not a verified SES identity in us-east-1: verify it or its domain, "
        "then try again" in str(err.value)
    )
    with pytest.raises(ConfigError, match=r"reports@pending\.test is not a verified .*pending\.test: PENDING"):
        mailer.check_sender("reports@pending.test")


@pytest.mark.parametrize("source", ["url", "env"])
def test_ses_raw_message_tags_and_configuration_set_as_sent(
    ses_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    name = f"execintel-{uuid.uuid4().hex[:8]}"
    client = _ses_client(ses_endpoint)
    client.create_configuration_set(ConfigurationSetName=name)
    url = f"ses://{REGION}?configuration_set={name}" if source == "url" else f"ses://{REGION}"
    if source == "env":
        monkeypatch.setenv("EXECINTEL_SES_CONFIGURATION_SET", name)
    sender = _sender()
    message = _message(sender, key="run-1:cfo:casey@example.com")
    # moto keeps no tags or configuration set with a sent message, so its request recorder shows what SES got.
    monkeypatch.chdir(tmp_path)  # the recorder writes ./moto_recording
    _moto_api(ses_endpoint, "reset-recording")
    _moto_api(ses_endpoint, "start-recording")
    try:
        outcome = open_mailer(url, Settings(), client=client).send(message, commit=lambda: None)
    finally:
        _moto_api(ses_endpoint, "stop-recording")
    recording = urllib.request.urlopen(f"{ses_endpoint}/moto-api/recorder/download-recording").read()  # noqa: S310
    [request] = [entry for entry in map(json.loads, recording.splitlines()) if "/outbound-emails" in entry["url"]]
    body = json.loads(base64.b64decode(request["body"]) if request["body_encoded"] else request["body"])
    assert body["FromEmailAddress"] == sender
    assert body["Destination"] == {"ToAddresses": [TO], "BccAddresses": [AUDIT]}
    assert base64.b64decode(body["Content"]["Raw"]["Data"]) == message.data
    assert body["EmailTags"] == [{"Name": "execintel-delivery", "Value": "run-1_3Acfo_3Acasey_40example_2Ecom"}]
    assert body["EmailTags"][0]["Value"] == tag_value(message.key)
    assert body["ConfigurationSetName"] == name
    [stored] = _ses_received(sender)
    assert (stored.provider_id, stored.data) == (outcome.provider_id, message.data)


def _moto_api(endpoint: str, action: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/recorder/{action}", method="POST")  # noqa: S310
    urllib.request.urlopen(request).read()  # noqa: S310 - the loopback moto server


def test_ses_unverified_sender_is_rejected_permanently(ses_endpoint: str) -> None:
    mailer = SesMailer(REGION, client=_ses_client(ses_endpoint))
    commits: list[str] = []
    with pytest.raises(MailerError, match=r"SES in us-east-1 refused the message to ceo@example\.com: MessageRejected"):
        mailer.send(_message("reports@nowhere.test"), commit=lambda: commits.append("sending"))
    assert commits == ["sending"]  # the API call is the hand-off; SES said no


class FaultyEndpoint:
    """An HTTP endpoint on loopback in front of moto: the first ``faults`` SendEmail calls get an error reply."""

    def __init__(self, upstream: str, *, faults: int, status: int, code: str) -> None:
        self.upstream, self.faults, self.status, self.code = upstream, faults, status, code
        self.sends = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.endswith("/outbound-emails"):
                    owner.sends += 1
                    if owner.sends <= owner.faults:
                        return self._reply(owner.status, {"x-amzn-ErrorType": owner.code}, b'{"message": "fault"}')
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                forward = urllib.request.Request(  # noqa: S310 - the loopback moto server
                    owner.upstream + self.path, data=body, headers=headers, method="POST"
                )
                try:
                    with urllib.request.urlopen(forward) as answer:  # noqa: S310 - loopback moto server
                        return self._reply(answer.status, dict(answer.headers), answer.read())
                except urllib.error.HTTPError as answer:
                    return self._reply(answer.code, dict(answer.headers), answer.read())

            do_GET = do_POST

            def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() in ("content-type", "x-amzn-errortype", "x-amzn-requestid"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_ses_throttling_is_retried_inside_the_call_and_delivers_once(ses_endpoint: str) -> None:
    endpoint = FaultyEndpoint(ses_endpoint, faults=1, status=429, code="TooManyRequestsException")
    settings = Settings(aws_endpoint_url=endpoint.url, aws_access_key_id="testing", aws_secret_access_key="testing")
    sender = _sender()
    commits: list[str] = []
    try:
        with open_mailer(f"ses://{REGION}", settings) as mailer:  # its own client, with its retry settings
            outcome = mailer.send(_message(sender), commit=lambda: commits.append("sending"))
    finally:
        endpoint.close()
    assert endpoint.sends == 2 and commits == ["sending"]
    assert [d.provider_id for d in _ses_received(sender)] == [outcome.provider_id]


@pytest.mark.parametrize(
    ("status", "code", "permanent"),
    [
        (429, "TooManyRequestsException", False),
        (400, "LimitExceededException", False),
        (500, "InternalFailure", False),
        (503, "ServiceUnavailable", False),
        (400, "MessageRejected", True),
        (400, "AccountSuspendedException", True),
        (400, "SendingPausedException", True),
        (404, "NotFoundException", True),
    ],
)
def test_ses_errors_are_transient_or_permanent(ses_endpoint: str, status: int, code: str, permanent: bool) -> None:
    endpoint = FaultyEndpoint(ses_endpoint, faults=99, status=status, code=code)
    try:
        # one attempt per call inside botocore; the mailer tries a throttled call again, without waiting here
        mailer = SesMailer(REGION, client=_ses_client(endpoint.url), sleep=lambda _s: None)
        with pytest.raises(MailerError, match=rf"SES in us-east-1 refused the message to .*: {code}") as err:
            mailer.send(_message(_sender()), commit=lambda: None)
    finally:
        endpoint.close()
    assert err.value.permanent is permanent


def test_ses_unreachable_endpoint_is_transient() -> None:
    mailer = SesMailer(REGION, client=_ses_client(f"http://127.0.0.1:{_closed_port()}"), sleep=lambda _s: None)
    with pytest.raises(MailerError, match="Could not reach SES in us-east-1") as err:
        mailer.send(_message(_sender()), commit=lambda: None)
    assert not err.value.permanent


# --- URLs -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "sendmail:/usr/sbin/sendmail",
        "outbox:",
        "smtp://",
        "smtp://reports:hunter2@mail.example.com",
        "smtp://mail.example.com:99999",
        "smtp://mail.example.com?tls=yes",
        "smtps://mail.example.com?starttls=required",
        "ses://",
        "ses://us-east-1/queue",
        "ses://us-east-1?configuration_set=bad%20name",
    ],
)
def test_bad_mailer_urls_are_config_errors_without_secrets(url: str) -> None:
    with pytest.raises(ConfigError) as err:
        open_mailer(url, Settings())
    assert "hunter2" not in str(err.value)
    if "configuration_set" not in url:
        assert "allowed: outbox:DIR, smtp://[user@]host[:port], smtps://" in str(err.value)
        assert str(err.value).startswith("EXECINTEL_MAILER: ")


def test_dot_stuffing_makes_crlf_lines_and_doubles_leading_dots_whatever_the_input() -> None:
    """The SMTP mailer's DATA: CRLF everywhere, a leading dot doubled on every line (first line too), a final
    CRLF; a message that needs none of it goes out unchanged."""
    from execintel.delivery.mailers.smtp import _dot_stuffed

    assert _dot_stuffed(b".first\nbare LF\rbare CR\r\n.dot\r\n..two") == (
        b"..first\r\nbare LF\r\nbare CR\r\n..dot\r\n...two\r\n"
    )
    clean = b"Subject: x\r\n\r\nno dots here. none.\r\n"
    assert _dot_stuffed(clean) == clean
    assert _dot_stuffed(b"a\r\n.b") == b"a\r\n..b\r\n"
