"""The delivery engine against real components: a SQLite store, the outbox and an SMTP server on loopback.

Retries, the daily limit, suppression and crash recovery, each seen from what the provider received and what
the store recorded.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conftest import AWS_TEST_ENV, delivery_manifest
from execintel.config.models import Manifest, RetryPolicy
from execintel.config.settings import Settings
from execintel.delivery.compose import OutgoingMessage, compose
from execintel.delivery.engine import Engine, backoff
from execintel.delivery.interrupts import Interrupted, stop_on_signals
from execintel.delivery.mailers import SmtpMailer, open_mailer
from execintel.delivery.mailers.base import Mailer, Reconciled, Reconciliation, SendOutcome
from execintel.delivery.mailers.smtp_wire import Timeouts
from execintel.delivery.plan import Planned, plan
from execintel.store import SqliteStore, Store, open_store
from smtp_server import SmtpTestServer

FAST = RetryPolicy(attempts=4, initial_delay=Decimal("0.01"), max_delay=Decimal("0.05"))


class Clock:
    """A clock the test moves by hand, shared by the store and the engine."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 16, 15, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Store:
    return SqliteStore(tmp_path / "audit.db", clock=clock)


def _messages(manifest: Manifest, planned: list[Planned]) -> dict[str, OutgoingMessage]:
    return {
        p.key: compose(key=p.key, sender=manifest.sender, to=(p.stakeholder.name, p.recipient),
                       subject=f"{p.report} report", text=f"{p.report} for {p.recipient}\n",
                       html=f"<p>{p.report}</p>", images={},
                       bcc=(manifest.audit_mailbox,) if manifest.audit_mailbox else ())
        for p in planned
    }  # fmt: skip


def _run(store: Store, mailer: Mailer, manifest: Manifest, run_id: str = "run-1", *, clock: Clock | None = None,
         retry: RetryPolicy = FAST, sleeps: list[float] | None = None, **options: Any) -> Any:  # fmt: skip
    planned, _ = plan(manifest, ["ceo", "daily"], schedule=None, period="2026-11-15")
    record = sleeps if sleeps is not None else []
    engine = Engine(store=store, mailer=mailer, manifest=manifest, run_id=run_id, retry=retry, clock=clock,
                    sleep=record.append, **options)  # fmt: skip
    with mailer:
        return engine.deliver(planned, _messages(manifest, planned)), planned


def _keys(server: SmtpTestServer) -> list[str]:
    return [email.message_from_bytes(m.data, policy=email.policy.default)["X-Execintel-Delivery"]
            for m in server.messages]  # fmt: skip


def test_every_delivery_goes_out_once_and_a_rerun_sends_nothing(store: Store, smtp_server: SmtpTestServer) -> None:
    manifest = Manifest.model_validate(delivery_manifest(3))
    result, planned = _run(store, open_mailer(smtp_server.url()), manifest)
    assert result.ok and len(result.of("sent")) == 6
    assert sorted(_keys(smtp_server)) == sorted(p.key for p in planned)
    # the audit mailbox is in every envelope (and in no header)
    assert all(m.recipients[-1] == "audit@example.org" for m in smtp_server.messages)
    assert all(b"audit@example.org" not in m.data for m in smtp_server.messages)
    for item in planned:
        delivery = store.get_delivery(item.key)
        assert delivery is not None and delivery.state == "sent" and delivery.attempts == 1
        assert delivery.provider_id and delivery.provider_id.startswith("TEST")  # the server's queue id
    again, _ = _run(store, open_mailer(smtp_server.url()), manifest, "run-2")
    assert len(again.of("already-sent")) == 6 and len(smtp_server.messages) == 6
    states = [e.data["to"] for e in store.entries() if e.kind.startswith("delivery.")]
    assert states.count("sending") == 6 and states.count("sent") == 6  # every change is in the audit log
    assert store.verify().ok


def test_transient_failures_are_retried_with_growing_waits_until_delivered(
    store: Store, smtp_server_factory: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server_factory(fail_share=0.4, fail_code=451, fail_command="DATA", seed=3)
    manifest = Manifest.model_validate(delivery_manifest(5))
    sleeps: list[float] = []
    retry = RetryPolicy(attempts=8, initial_delay=Decimal(1), max_delay=Decimal(4))
    result, planned = _run(store, open_mailer(server.url()), manifest, retry=retry, sleeps=sleeps)
    assert result.ok, result.problems
    assert sorted(_keys(server)) == sorted(p.key for p in planned)  # each exactly once
    assert any(d.attempts > 1 for d in store.deliveries())
    # waits between rounds double up to the cap, each with equal jitter (between half and all of it)
    assert sleeps and all(0.5 * min(4, 2**i) <= s <= min(4, 2**i) for i, s in enumerate(sleeps))


def test_a_permanent_refusal_is_not_retried_and_the_audit_mailbox_is_told(
    store: Store, smtp_server_factory: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server_factory(refuse={"p1@example.com": 550})
    manifest = Manifest.model_validate(delivery_manifest(3))
    result, _ = _run(store, open_mailer(server.url()), manifest)
    assert not result.ok
    [failed, also] = result.of("failed")
    assert {failed.recipient, also.recipient} == {"p1@example.com"}
    assert failed.permanent is True and failed.attempts == 1 and "550" in (failed.reason or "")
    notices = [m for m in server.messages if m.recipients == ("audit@example.org",)]
    assert len(notices) == 1
    body = email.message_from_bytes(notices[0].data, policy=email.policy.default)
    text = body.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "ceo to p1@example.com" in text and "daily to p1@example.com" in text and "550" in text
    assert "failure notice went to audit@example.org" in (result.notice or "")
    assert len(server.messages) == 4 + 1  # p0 and p2 got both reports; one notice


def test_the_daily_limit_holds_what_would_exceed_it_until_the_window_moves(
    store: Store, clock: Clock, tmp_path: Path
) -> None:
    # each message has two envelope recipients (To + the audit BCC): a limit of 4 lets two through
    manifest = Manifest.model_validate(delivery_manifest(2, policies={"daily_send_limit": 4}))
    outbox = tmp_path / "outbox"
    result, _ = _run(store, open_mailer(f"outbox:{outbox}"), manifest, clock=clock)
    assert len(result.of("sent")) == 2 and len(result.of("held")) == 2
    assert "daily send limit is 4" in (result.of("held")[0].reason or "")
    assert len(list(outbox.glob("*.eml"))) == 2  # the held ones were not sent, nor was a notice: no room left
    assert "could not be sent: held: the daily send limit" in (result.notice or "")
    assert store.recipients_since("Test Holdings", clock() - dt.timedelta(hours=24)) == 4
    clock.now += dt.timedelta(hours=23)  # still inside the window: still held
    later, _ = _run(store, open_mailer(f"outbox:{outbox}"), manifest, "run-2", clock=clock)
    assert len(later.of("held")) == 2
    clock.now += dt.timedelta(hours=1, minutes=1)  # the first sends left the window
    last, _ = _run(store, open_mailer(f"outbox:{outbox}"), manifest, "run-3", clock=clock)
    assert len(last.of("sent")) == 2 and len(last.of("already-sent")) == 2
    assert len(list(outbox.glob("*.eml"))) == 4


def test_suppressed_addresses_are_skipped_and_recorded(store: Store, smtp_server: SmtpTestServer) -> None:
    store.suppress("P1@example.com", "hard bounce", source="test")
    manifest = Manifest.model_validate(delivery_manifest(2))
    result, _ = _run(store, open_mailer(smtp_server.url()), manifest)
    assert result.ok
    assert {o.recipient for o in result.of("suppressed")} == {"p1@example.com"}
    assert "hard bounce" in (result.of("suppressed")[0].reason or "")
    assert {m.recipients[0] for m in smtp_server.messages} == {"p0@example.com"}
    store.unsuppress("p1@example.com", source="test")
    again, _ = _run(store, open_mailer(smtp_server.url()), manifest, "run-2")
    assert {o.recipient for o in again.of("sent")} == {"p1@example.com"}


def test_the_send_rate_paces_the_messages(store: Store, tmp_path: Path) -> None:
    manifest = Manifest.model_validate(delivery_manifest(3, policies={"send_rate_per_second": 2}))
    sleeps: list[float] = []
    result, _ = _run(store, open_mailer(f"outbox:{tmp_path / 'o'}"), manifest, sleeps=sleeps)
    assert result.ok
    assert len(sleeps) >= 5 and all(0 < s <= 0.5 for s in sleeps)  # every send after the first waits


class _Interrupted(BaseException):
    """Stands for the process dying right after the commit hook."""


class _DyingMailer(Mailer):
    """Wraps a mailer; dies after the commit of the n-th message, before or after the hand-off."""

    scheme = "dying"

    def __init__(self, inner: Mailer, die_at: int, *, after_handoff: bool) -> None:
        self.inner, self.die_at, self.after, self.count = inner, die_at, after_handoff, 0
        self.url = inner.url

    @classmethod
    def from_url(cls, url: str, settings: Any, *, client: Any = None) -> _DyingMailer:  # pragma: no cover
        raise NotImplementedError

    def send(self, message: OutgoingMessage, commit: Callable[[], None]) -> SendOutcome:
        self.count += 1
        if self.count != self.die_at:
            return self.inner.send(message, commit)
        if not self.after:
            commit()
            raise _Interrupted
        self.inner.send(message, commit)
        raise _Interrupted

    def reconcile(self, message: OutgoingMessage) -> Reconciliation:
        return self.inner.reconcile(message)


@pytest.mark.parametrize("after_handoff", [False, True])
def test_an_interrupted_run_is_resumed_without_loss_or_duplicate(
    store: Store, tmp_path: Path, after_handoff: bool
) -> None:
    manifest = Manifest.model_validate(delivery_manifest(3))
    outbox = tmp_path / "outbox"
    with pytest.raises(_Interrupted):
        _run(store, _DyingMailer(open_mailer(f"outbox:{outbox}"), 3, after_handoff=after_handoff), manifest)
    [stuck] = store.deliveries(states=["sending"])
    result, planned = _run(store, open_mailer(f"outbox:{outbox}"), manifest, "run-2")
    assert result.ok
    assert sorted(p.name for p in outbox.glob("*.eml")) == sorted(f"{p.key}.eml" for p in planned)
    resumed = store.get_delivery(stuck.key)
    assert resumed is not None and resumed.state == "sent"
    assert resumed.attempts == (1 if after_handoff else 2)


class _UnknownMailer(Mailer):
    """A provider that cannot say what became of an interrupted message (as SES cannot)."""

    scheme = "unknown"
    url = "unknown:"

    def __init__(self) -> None:
        self.sent: list[str] = []

    @classmethod
    def from_url(cls, url: str, settings: Any, *, client: Any = None) -> _UnknownMailer:  # pragma: no cover
        raise NotImplementedError

    def send(self, message: OutgoingMessage, commit: Callable[[], None]) -> SendOutcome:
        commit()
        self.sent.append(message.key)
        return SendOutcome(provider_id=f"id-{len(self.sent)}")

    def reconcile(self, message: OutgoingMessage) -> Reconciliation:
        return Reconciliation(Reconciled.UNKNOWN, note="the provider has no lookup")


def test_an_unknown_outcome_is_reported_and_resent_only_when_asked(store: Store) -> None:
    manifest = Manifest.model_validate(delivery_manifest(1, audit_mailbox=None))
    planned, _ = plan(manifest, ["ceo"], schedule=None, period="2026-11-15")
    [item] = planned
    store.add_delivery(_delivery(item, "run-0"))
    store.transition(item.key, "sending", run_id="run-0", expect=("rendered",), attempts=1)
    mailer = _UnknownMailer()
    engine = Engine(store=store, mailer=mailer, manifest=manifest, run_id="run-1", retry=FAST, sleep=lambda _s: None)
    result = engine.deliver(planned, _messages(manifest, planned))
    assert [o.state for o in result.outcomes] == ["unknown"] and mailer.sent == []
    assert "no lookup" in (result.outcomes[0].reason or "")
    engine = Engine(store=store, mailer=mailer, manifest=manifest, run_id="run-2", retry=FAST,
                    sleep=lambda _s: None, resend_unknown=True)  # fmt: skip
    result = engine.deliver(planned, _messages(manifest, planned))
    assert [o.state for o in result.outcomes] == ["sent"] and mailer.sent == [item.key]


def _delivery(item: Planned, run_id: str) -> Any:
    from execintel.store import Delivery

    return Delivery(key=item.key, portfolio="Test Holdings", schedule_id=None, period=item.period,
                    report=item.report, recipient=item.recipient, recipients=1, state="rendered", run_id=run_id)  # fmt: skip


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = RetryPolicy(attempts=5, initial_delay=Decimal(2), max_delay=Decimal(10))
    assert [backoff(policy, i, lambda: 1.0) for i in range(5)] == [2, 4, 8, 10, 10]
    assert [backoff(policy, i, lambda: 0.0) for i in range(3)] == [1, 2, 4]


def test_a_message_already_in_the_outbox_is_recorded_as_sent_not_written_again(tmp_path: Path, clock: Clock) -> None:
    manifest = Manifest.model_validate(delivery_manifest(2))
    outbox = tmp_path / "outbox"
    first, _ = _run(SqliteStore(tmp_path / "one.db", clock=clock), open_mailer(f"outbox:{outbox}"), manifest)
    assert first.ok
    before = {p.name: p.stat().st_mtime_ns for p in outbox.glob("*.eml")}
    # a new, empty store with the same outbox: the files are there, so nothing is written twice
    fresh = SqliteStore(tmp_path / "two.db", clock=clock)
    again, _ = _run(fresh, open_mailer(f"outbox:{outbox}"), manifest, "run-2")
    assert len(again.of("sent")) == 4 and again.ok
    assert {p.name: p.stat().st_mtime_ns for p in outbox.glob("*.eml")} == before
    assert all(d.state == "sent" and d.reason == "the provider already had it" for d in fresh.deliveries())


# --- outcomes that stay open, deadlines and signals -------------------------------------------------------------


def test_a_message_without_an_answer_to_its_final_dot_is_unknown_and_resent_only_on_request(
    store: Store, smtp_server_factory: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server_factory(reply_delay=2.0)
    manifest = Manifest.model_validate(delivery_manifest(1, audit_mailbox=None))
    quick = Timeouts(final=0.5)  # the server answers after the (shortened) RFC deadline for the final reply
    result, planned = _run(store, SmtpMailer("127.0.0.1", server.port, timeouts=quick), manifest)
    assert [o.state for o in result.outcomes] == ["unknown", "unknown"]
    assert all("may or may not have been delivered" in (o.reason or "") for o in result.outcomes)
    assert len(server.messages) == 2  # the server had both: a retry would have doubled them
    assert {d.state for d in store.deliveries()} == {"unknown"}
    assert [e.data["to"] for e in store.entries() if e.kind.startswith("delivery.")].count("unknown") == 2
    # a rerun reports them again and sends nothing
    again, _ = _run(store, SmtpMailer("127.0.0.1", server.port, timeouts=quick), manifest, "run-2")
    assert [o.state for o in again.outcomes] == ["unknown", "unknown"] and len(server.messages) == 2
    # --resend-unknown sends them again, with the same Message-ID, so a mail client shows one message
    server.reply_delay = 0.0
    resent, _ = _run(store, open_mailer(server.url()), manifest, "run-3", resend_unknown=True)
    assert [o.state for o in resent.outcomes] == ["sent", "sent"] and len(server.messages) == 4
    ids = [email.message_from_bytes(m.data, policy=email.policy.default)["Message-ID"] for m in server.messages]
    assert ids[:2] == ids[2:] or sorted(ids[:2]) == sorted(ids[2:])
    assert store.verify().ok and len(planned) == 2


def test_with_a_store_that_answers_late_an_interrupted_smtp_delivery_is_unknown_not_sent(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpTestServer, tmp_path: Path
) -> None:
    # DynamoDB may apply the "sending" write while the process waits for the answer, then the process dies before
    # the final dot: "sent" cannot be inferred from the commit point there.
    for name, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EXECINTEL_DATA_DIR", str(tmp_path))
    import boto3

    client = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    table = f"execintel-engine-{uuid.uuid4().hex[:8]}"
    dynamo = open_store(f"dynamodb://{table}", Settings(), client=client, mode="init")
    manifest = Manifest.model_validate(delivery_manifest(1, audit_mailbox=None))
    planned, _ = plan(manifest, ["ceo"], schedule=None, period="2026-11-15")
    dynamo.add_delivery(_delivery(planned[0], "run-0"))
    dynamo.transition(planned[0].key, "sending", run_id="run-0", expect=("rendered",), attempts=1)
    engine = Engine(store=dynamo, mailer=open_mailer(smtp_server.url()), manifest=manifest, run_id="run-1",
                    retry=FAST, sleep=lambda _s: None)  # fmt: skip
    result = engine.deliver(planned, _messages(manifest, planned))
    assert [o.state for o in result.outcomes] == ["unknown"] and smtp_server.messages == []
    stored = dynamo.get_delivery(planned[0].key)
    assert stored is not None and stored.state == "unknown" and "may not have gone out" in (stored.reason or "")
    dynamo.close()
    client.delete_table(TableName=table)


def test_nothing_starts_after_the_runs_deadline(store: Store, smtp_server: SmtpTestServer) -> None:
    manifest = Manifest.model_validate(delivery_manifest(2, audit_mailbox=None))
    result, _ = _run(store, open_mailer(smtp_server.url()), manifest, deadline=time.monotonic() - 1)
    assert {o.state for o in result.outcomes} == {"failed"} and smtp_server.messages == []
    assert all("time limit" in (o.reason or "") and o.permanent is False for o in result.outcomes)
    later, _ = _run(store, open_mailer(smtp_server.url()), manifest, "run-2")  # the next run sends them
    assert len(later.of("sent")) == 4


class _Signalling(Mailer):
    """Wraps a mailer; sends its own process SIGTERM from inside the commit hook of the n-th message."""

    scheme = "signalling"

    def __init__(self, inner: Mailer, at: int) -> None:
        self.inner, self.at, self.count, self.url = inner, at, 0, inner.url

    @classmethod
    def from_url(
        cls, url: str, settings: Any, *, client: Any = None, source: str = ""
    ) -> _Signalling:  # pragma: no cover
        raise NotImplementedError

    def send(self, message: OutgoingMessage, commit: Callable[[], None]) -> SendOutcome:
        self.count += 1

        def commit_and_signal() -> None:
            commit()
            if self.count == self.at:
                os.kill(os.getpid(), signal.SIGTERM)  # between the commit point and the hand-off

        return self.inner.send(message, commit_and_signal)

    def reconcile(self, message: OutgoingMessage) -> Reconciliation:
        return self.inner.reconcile(message)

    def close(self) -> None:
        self.inner.close()


def test_sigterm_during_a_hand_off_finishes_that_delivery_then_stops(store: Store, smtp_server: SmtpTestServer) -> None:
    manifest = Manifest.model_validate(delivery_manifest(2, audit_mailbox=None))
    mailer = _Signalling(open_mailer(smtp_server.url()), at=2)
    with stop_on_signals(), pytest.raises(Interrupted) as stopped:
        _run(store, mailer, manifest)
    assert stopped.value.code == 128 + signal.SIGTERM
    # the message being handed over when the signal came went out and is recorded; nothing after it started
    assert len(smtp_server.messages) == 2
    assert sorted(d.state for d in store.deliveries()) == ["rendered", "rendered", "sent", "sent"]
    rest, _ = _run(store, open_mailer(smtp_server.url()), manifest, "run-2")
    assert len(rest.of("sent")) == 2 and len(rest.of("already-sent")) == 2 and len(smtp_server.messages) == 4


STRACED = """
import sys
from decimal import Decimal
from execintel.config.models import Manifest, RetryPolicy
from execintel.delivery.compose import compose
from execintel.delivery.engine import Engine
from execintel.delivery.mailers import open_mailer
from execintel.delivery.plan import plan
from execintel.store import SqliteStore

manifest = Manifest.model_validate({"version": 1, "portfolio": {"name": "T"}, "sender": "reports@example.com",
    "stakeholders": [{"id": "p", "name": "P", "email": "p@example.com", "roles": ["ceo"]}],
    "entities": [{"id": "e", "name": "E"}]})
planned, _ = plan(manifest, ["ceo"], schedule=None, period="2026-11-15")
messages = {p.key: compose(key=p.key, sender="reports@example.com", to=("P", p.recipient), subject="s",
                           text="x" * 200_000, html="<p>x</p>", images={}) for p in planned}
store = SqliteStore(sys.argv[1])  # synchronous=full: every other commit waits for the disk
with open_mailer(sys.argv[2]) as mailer:
    engine = Engine(store=store, mailer=mailer, manifest=manifest, run_id="r", retry=RetryPolicy(attempts=1,
                    initial_delay=Decimal(1), max_delay=Decimal(1)))
    assert engine.deliver(planned, messages).ok
"""


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_no_fsync_comes_between_an_smtp_message_and_its_final_dot(tmp_path: Path, smtp_server: SmtpTestServer) -> None:
    # The window in which a kill -9 loses a message (recorded "sending", the dot never written) is the time
    # between the commit point and the dot. An fsync there made it milliseconds long; it must be microseconds.
    trace = tmp_path / "trace.txt"
    done = subprocess.run(["strace", "-f", "-qq", "-e", "trace=fsync,fdatasync,sendto,write", "-o", str(trace),
                           sys.executable, "-c", STRACED, str(tmp_path / "audit.db"), smtp_server.url()],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0 and "ptrace" in done.stderr.lower():
        pytest.skip(f"strace cannot trace here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    calls = trace.read_text().splitlines()
    dot = next(i for i, call in enumerate(calls) if re.search(r'send(to)?\(\d+, "\.\\r\\n", 3', call))
    socket_fd = re.search(r"send(?:to)?\((\d+),", calls[dot]).group(1)  # type: ignore[union-attr]
    body = max(i for i, call in enumerate(calls[:dot]) if re.search(rf"send(?:to)?\({socket_fd},", call))
    between = [call for call in calls[body + 1 : dot] if "fsync" in call or "fdatasync" in call]
    assert between == [], between  # "sending" was recorded with no wait for the disk
    assert any("fsync" in call or "fdatasync" in call for call in calls[dot:])  # "sent" then makes it durable
    assert len(smtp_server.messages) == 1
