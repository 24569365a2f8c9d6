"""The audit store: one contract suite over SQLite (a file) and DynamoDB (moto on loopback), then each backend."""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

import boto3
import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from conftest import AWS_TEST_ENV
from execintel.config.settings import Settings
from execintel.errors import ConfigError, StoreError
from execintel.pipeline import load_history
from execintel.store import (
    Delivery,
    DynamoStore,
    ReportRecord,
    RunRecord,
    SqliteStore,
    StateConflict,
    Store,
    StoreDamaged,
    StoreLost,
    StoreMissing,
    open_store,
)
from execintel.store.sqlite import MIGRATIONS

T0 = datetime(2026, 11, 15, 9, 0, tzinfo=UTC)
HOSTILE = "[bold]x[/bold] <script>alert(1)</script> \u05de\u05e1\u05e2\u05d3\u05ea \U0001f680"


class Clock:
    """A clock the test moves; each reading is 1 ms after the one before, so entries have distinct times."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Raw(Protocol):
    """Direct access to what a backend wrote, to tamper with it the way someone with the file or table could."""

    def edit_entry(self, seq: int, data: dict[str, Any]) -> None: ...
    def delete_entry(self, seq: int) -> None: ...
    def set_delivery_state(self, key: str, state: str) -> None: ...


class SqliteRaw:
    """Raw SQL on the database file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _run(self, sql: str, *args: Any) -> None:
        with sqlite3.connect(self.path) as db:
            assert db.execute(sql, args).rowcount == 1

    def edit_entry(self, seq: int, data: dict[str, Any]) -> None:
        self._run("UPDATE audit_log SET data = ? WHERE seq = ?", json.dumps(data), seq)

    def delete_entry(self, seq: int) -> None:
        self._run("DELETE FROM audit_log WHERE seq = ?", seq)

    def set_delivery_state(self, key: str, state: str) -> None:
        self._run('UPDATE deliveries SET state = ? WHERE "key" = ?', state, key)


class DynamoRaw:
    """Raw PutItem, DeleteItem and UpdateItem on the table."""

    def __init__(self, client: Any, table: str) -> None:
        self.client, self.table = client, table

    def edit_entry(self, seq: int, data: dict[str, Any]) -> None:
        key = {"pk": {"S": "LOG"}, "sk": {"S": f"SEQ#{seq:012d}"}}
        item = self.client.get_item(TableName=self.table, Key=key)["Item"]
        self.client.put_item(TableName=self.table, Item={**item, "data": {"S": json.dumps(data)}})

    def delete_entry(self, seq: int) -> None:
        self.client.delete_item(TableName=self.table, Key={"pk": {"S": "LOG"}, "sk": {"S": f"SEQ#{seq:012d}"}})

    def set_delivery_state(self, key: str, state: str) -> None:
        self.client.update_item(
            TableName=self.table, Key={"pk": {"S": f"DELIVERY#{key}"}, "sk": {"S": "DELIVERY"}},
            UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":s": {"S": state}},
        )  # fmt: skip


@dataclass
class Backend:
    """A store under test, how to open it again (in this process or another), and raw access to its data."""

    name: str
    url: str
    store: Store
    raw: Raw
    env: dict[str, str]
    client: Any = None

    racing_endpoint: str | None = None

    def reopen(self, clock: Clock | None = None, *, racing: bool = False) -> Store:
        """A second, independent store object on the same data (its own connection or client).

        ``racing``: for clients that run at the same time; on DynamoDB they go through a moto server that, like
        DynamoDB, applies one request at a time (see ``atomic_moto``).
        """
        if self.client is None:
            return open_store(self.url, Settings(), clock=clock)
        endpoint = self.racing_endpoint if racing and self.racing_endpoint else self.env["AWS_ENDPOINT_URL"]
        return open_store(self.url, Settings(), client=_dynamo_client(endpoint), clock=clock)


def _dynamo_client(endpoint: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")


@pytest.fixture
def clock() -> Clock:
    return Clock()


class _QuietHandler(MotoRequestHandler):
    def log_request(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def atomic_moto(moto_endpoint: str) -> Iterator[str]:
    """A second moto server on loopback, sharing the session server's tables, that handles one request at a time.

    DynamoDB applies each request atomically. moto's threaded server does not: a cancelled TransactWriteItems
    restores a copy of the whole table taken when it began, wiping what other requests wrote meanwhile. Clients
    that race each other go through this server, so the races tested are the store's, not moto's.
    """
    server = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app), threaded=False,
                         request_handler=_QuietHandler)  # fmt: skip
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture(params=["sqlite", "dynamodb"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Backend]:
    """A fresh store: an SQLite file in tmp_path, or a new table on the session's moto server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXECINTEL_", "AWS_"))}
    monkeypatch.setenv("EXECINTEL_DATA_DIR", str(tmp_path / "data"))  # where a DynamoDB store's marker goes
    env["EXECINTEL_DATA_DIR"] = str(tmp_path / "data")
    if request.param == "sqlite":
        path = tmp_path / "state" / "audit.db"
        url = f"sqlite:///{path}"
        store = open_store(url, Settings(), clock=clock)
        yield Backend("sqlite", url, store, SqliteRaw(path), {**env, "EXECINTEL_STORE": url})
        store.close()
        return
    endpoint = request.getfixturevalue("moto_endpoint")
    for key, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(key, value)
    table = f"execintel-test-{uuid.uuid4().hex[:12]}"
    client = _dynamo_client(endpoint)
    url = f"dynamodb://{table}"
    store = open_store(url, Settings(), client=client, clock=clock, mode="init")
    env |= {**AWS_TEST_ENV, "AWS_ENDPOINT_URL": endpoint, "EXECINTEL_STORE": url}
    yield Backend("dynamodb", url, store, DynamoRaw(client, table), env, client, request.getfixturevalue("atomic_moto"))
    store.close()
    client.delete_table(TableName=table)


def run(run_id: str = "run-1", **changes: Any) -> RunRecord:
    base = RunRecord(run_id, "Test Holdings", "cli:alice@laptop", "weekly-strategy", "2026-W46", T0)
    return replace(base, **changes)


def delivery(key: str = "d-1", **changes: Any) -> Delivery:
    base = Delivery(key, "Test Holdings", "weekly-strategy", "2026-W46", "cfo", "cfo@example.com", 2, "rendered",
                    "run-1")  # fmt: skip
    return replace(base, **changes)


def python(code: str, env: dict[str, str], **kwargs: Any) -> subprocess.Popen[str]:
    """Start a Python process that imports execintel (the store it opens comes from EXECINTEL_STORE)."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)  # fmt: skip


def populate(store: Store) -> None:
    """A run that generated a report and delivered it to two recipients, one of them bounced."""
    store.start_run(run())
    store.record_report(ReportRecord("run-1", "cfo", "2026-W46", "ab" * 32, {"cash": 1250.5}, T0))
    store.add_delivery(delivery("d-1"))
    store.add_delivery(delivery("d-2", recipient="cto@example.com"))
    for key in ("d-1", "d-2"):
        store.transition(key, "sending", run_id="run-1", expect={"rendered"}, attempts=1)
    store.transition("d-1", "sent", run_id="run-1", expect={"sending"}, provider_id="msg-1")
    store.transition("d-2", "failed", run_id="run-1", expect={"sending"}, reason="550 no such user", permanent=True)
    store.suppress("cto@example.com", "hard bounce", source="delivery:run-1")
    store.finish_run("run-1", "ok", {"sent": 1, "failed": 1})


# The contract: every backend behaves the same.


def test_a_run_is_recorded_started_and_finished_once(backend: Backend) -> None:
    store = backend.store
    store.start_run(run(summary={"note": HOSTILE}))
    assert store.get_run("run-1") == run(summary={"note": HOSTILE})
    with pytest.raises(StoreError, match=r"Run 'run-1' already exists in " + backend.url):
        store.start_run(run())
    store.finish_run("run-1", "held", {"held": ["cfo"], "ratio": 0.1})
    finished = store.get_run("run-1")
    assert finished is not None and finished.status == "held" and finished.summary == {"held": ["cfo"], "ratio": 0.1}
    assert finished.finished is not None and finished.finished > finished.started
    with pytest.raises(StoreError, match=r"Run 'run-1' already finished \(held\)"):
        store.finish_run("run-1", "ok", {})
    with pytest.raises(StoreError, match=r"Run 'nope' is not in"):
        store.finish_run("nope", "ok", {})
    assert store.get_run("nope") is None
    assert [(e.seq, e.kind, e.run_id) for e in store.entries()] == [(1, "run.started", "run-1"),
                                                                    (2, "run.finished", "run-1")]  # fmt: skip


def test_runs_are_listed_newest_first(backend: Backend) -> None:
    for day in (3, 1, 2):
        backend.store.start_run(run(f"run-{day}", started=T0 + timedelta(days=day)))
    assert [r.run_id for r in backend.store.list_runs()] == ["run-3", "run-2", "run-1"]
    assert [r.run_id for r in backend.store.list_runs(limit=2)] == ["run-3", "run-2"]


def test_times_come_back_as_the_same_instant_in_utc(backend: Backend) -> None:
    started = datetime(2026, 11, 15, 11, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    backend.store.start_run(run(started=started))
    stored = backend.store.get_run("run-1")
    assert stored is not None and stored.started == started and stored.started.tzinfo == UTC
    assert backend.store.entries()[0].data["started"] == "2026-11-15T09:30:00.123456+00:00"
    with pytest.raises(ValueError, match="no time zone"):
        backend.store.start_run(run("run-2", started=datetime(2026, 11, 15, 9, 0)))
    assert backend.store.get_run("run-2") is None


def test_a_report_keeps_its_content_hash_and_figures_snapshot(backend: Backend) -> None:
    store = backend.store
    figures = {"cash.qosd": 1250.75, "runway.days": 412, "ratio": 0.1, "flags": [True, None, "late"], "note": HOSTILE}
    with pytest.raises(StoreError, match=r"Run 'run-1' is not in .*start it before"):
        store.record_report(ReportRecord("run-1", "cfo", "2026-W46", "ab" * 32, figures, T0))
    store.start_run(run())
    store.record_report(ReportRecord("run-1", "cfo", "2026-W46", "ab" * 32, figures, T0))
    store.record_report(ReportRecord("run-1", "ceo", "2026-W46", "cd" * 32, {}, T0))
    assert store.reports("run-1") == [ReportRecord("run-1", "ceo", "2026-W46", "cd" * 32, {}, T0),
                                      ReportRecord("run-1", "cfo", "2026-W46", "ab" * 32, figures, T0)]  # fmt: skip
    generated = store.entries()[1]
    assert generated.kind == "report.generated"
    assert generated.data["content_hash"] == "ab" * 32 and generated.data["figures"] == figures
    with pytest.raises(StoreError, match="already recorded"):
        store.record_report(ReportRecord("run-1", "cfo", "2026-W46", "ef" * 32, {}, T0))
    with pytest.raises(TypeError, match="figures must be JSON"):
        store.record_report(ReportRecord("run-1", "cto", "2026-W46", "ef" * 32, {"bad": object()}, T0))
    assert [r.report for r in store.reports("run-1")] == ["ceo", "cfo"] and len(store.entries()) == 3


def test_report_history_keeps_each_reports_as_of_and_findings(backend: Backend) -> None:
    """What the findings lifecycle reads: the runs of one portfolio, oldest first, with each report's as_of and
    findings (id, severity, amount as exact text, entity, title), without the figures snapshot."""
    store = backend.store
    findings = {"no-waf-0123456789ab": {"severity": "high", "entity": "qosd", "title": HOSTILE},
                "deferred-revenue-0123456789ab": {"severity": "medium", "amount": "1800.10", "entity": "qosd"}}  # fmt: skip
    store.start_run(run("run-2", started=T0 + timedelta(days=7)))
    store.start_run(run("run-1"))
    store.start_run(run("other", portfolio="Other Holdings"))
    store.record_report(
        ReportRecord("run-1", "cto", "2026-W46", "ab" * 32, {"cash": "1.5"}, T0, "2026-11-15", findings)
    )
    store.record_report(ReportRecord("run-1", "ceo", "2026-W46", "cd" * 32, {}, T0, "2026-11-15", {}))
    store.record_report(ReportRecord("run-2", "cto", "2026-W47", "ef" * 32, {}, T0, "2026-11-22", findings))
    store.record_report(ReportRecord("other", "cto", "2026-W46", "ab" * 32, {}, T0, "2026-11-15", findings))
    history = store.report_history("Test Holdings")
    assert [(r.run_id, [(x.report, x.as_of) for x in reports]) for r, reports in history] == [
        ("run-1", [("ceo", "2026-11-15"), ("cto", "2026-11-15")]), ("run-2", [("cto", "2026-11-22")])]  # fmt: skip
    cto = history[0][1][1]
    assert cto.findings == findings and cto.figures == {} and cto.content_hash == "ab" * 32
    assert store.reports("run-1")[1].figures == {"cash": "1.5"}  # the figures stay where they were
    assert store.entries(run_id="run-1")[1].data["findings"] == findings  # and the audit entry holds them


def test_adding_a_delivery_twice_changes_nothing(backend: Backend) -> None:
    store = backend.store
    added, new = store.add_delivery(delivery(recipient=HOSTILE + "@example.com"))
    assert new and added.state == "rendered" and added.updated is not None
    again, new_again = store.add_delivery(delivery(state="sending", recipient="other@example.com"))
    assert not new_again and again == added == store.get_delivery("d-1")
    assert [e.kind for e in store.entries()] == ["delivery.rendered"]


def test_racing_inserts_of_one_key_insert_it_once(backend: Backend) -> None:
    stores = [backend.reopen(racing=True) for _ in range(6)]
    with ThreadPoolExecutor(len(stores)) as pool:
        results = list(pool.map(lambda s: s.add_delivery(delivery(run_id=f"run-{id(s)}")), stores))
    assert sorted(new for _, new in results) == [False] * 5 + [True]
    winner = next(d for d, new in results if new)
    assert all(d == winner for d, _ in results)
    assert len(backend.store.entries()) == 1 and backend.store.verify().ok
    for s in stores:
        s.close()


def test_a_transition_is_conditional_and_audited(backend: Backend, clock: Clock) -> None:
    store = backend.store
    store.add_delivery(delivery())
    sending = store.transition("d-1", "sending", run_id="run-2", expect={"rendered", "failed"}, attempts=1,
                               mailer="ses")  # fmt: skip
    assert sending.state == "sending" and sending.run_id == "run-2" and sending.attempts == 1
    assert sending.sending_at == sending.updated == clock.now  # entering "sending" starts the 24 h count
    assert store.get_delivery("d-1") == sending
    with pytest.raises(StateConflict, match=r"Delivery 'd-1' is 'sending', not 'failed' or 'rendered'") as conflict:
        store.transition("d-1", "sending", run_id="run-3", expect={"rendered", "failed"})
    assert (conflict.value.key, conflict.value.current, conflict.value.expected) == ("d-1", "sending",
                                                                                     ("failed", "rendered"))  # fmt: skip
    sent = store.transition("d-1", "sent", run_id="run-2", expect={"sending"}, provider_id="0100-abc", permanent=False)
    assert (sent.state, sent.provider_id, sent.permanent, sent.mailer) == ("sent", "0100-abc", False, "ses")
    assert sent.sending_at == sending.sending_at  # only entering "sending" moves it
    assert store.get_delivery("d-1") == sent
    last = store.entries()[-1]
    assert last.kind == "delivery.sent" and last.run_id == "run-2"
    assert last.data == {"key": "d-1", "from": "sending", "to": "sent", "provider_id": "0100-abc", "permanent": False}
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        store.transition("d-1", "failed", run_id="run-2", expect={"sent"}, colour="red")
    with pytest.raises(TypeError, match="attempts must be int"):
        store.transition("d-1", "failed", run_id="run-2", expect={"sent"}, attempts="2")
    with pytest.raises(StoreError, match=r"Delivery 'nope' is not in"):
        store.transition("nope", "sent", run_id="run-2", expect={"sending"})
    assert store.get_delivery("d-1") == sent and len(store.entries()) == 3


def test_two_workers_sending_one_delivery_send_it_once(backend: Backend) -> None:
    backend.store.add_delivery(delivery())
    stores = [backend.reopen(racing=True) for _ in range(6)]

    def claim(store: Store) -> bool:
        try:
            store.transition("d-1", "sending", run_id="run-1", expect={"rendered"})
        except StateConflict:
            return False
        return True

    with ThreadPoolExecutor(len(stores)) as pool:
        assert sorted(pool.map(claim, stores)) == [False] * 5 + [True]
    assert [e.kind for e in backend.store.entries()] == ["delivery.rendered", "delivery.sending"]
    for s in stores:
        s.close()


def test_one_store_shared_by_worker_threads_keeps_one_chain(backend: Backend) -> None:
    keys = [f"d-{i}" for i in range(40)]
    shared = backend.reopen(racing=True)
    for key in keys:
        shared.add_delivery(delivery(key))

    def send(key: str) -> str:
        shared.transition(key, "sending", run_id="run-1", expect={"rendered"}, attempts=1)
        return shared.transition(key, "sent", run_id="run-1", expect={"sending"}, provider_id=key).state

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(send, keys)) == ["sent"] * 40
    result = backend.store.verify()
    assert result.ok and result.entries == 120
    assert [e.seq for e in backend.store.entries()] == list(range(1, 121))
    shared.close()


def test_racing_writers_keep_one_chain(backend: Backend) -> None:
    stores = [backend.reopen(racing=True) for _ in range(4)]

    def append(pair: tuple[int, Store]) -> None:
        for i in range(15):
            pair[1].suppress(f"w{pair[0]}-{i}@example.com", "bounce", source=f"worker-{pair[0]}")

    with ThreadPoolExecutor(len(stores)) as pool:
        list(pool.map(append, enumerate(stores)))
    result = backend.store.verify()
    assert result.ok and result.entries == 60 and len(backend.store.suppressions()) == 60
    assert [e.seq for e in backend.store.entries()] == list(range(1, 61))
    for store in stores:
        store.close()


def test_deliveries_are_filtered_and_counted_toward_the_daily_limit(backend: Backend, clock: Clock) -> None:
    store = backend.store
    store.add_delivery(delivery("old", recipients=5))
    store.transition("old", "sending", run_id="run-1", expect={"rendered"})
    store.transition("old", "sent", run_id="run-1", expect={"sending"})
    clock.advance(25 * 3600)
    since = clock.now - timedelta(hours=24)
    for key, recipients, state in (("a", 2, "sent"), ("b", 3, "sending"), ("c", 7, "failed"), ("d", 11, None)):
        store.add_delivery(delivery(key, recipients=recipients, run_id="run-2"))
        if state:
            store.transition(key, "sending", run_id="run-2", expect={"rendered"})
        if state not in (None, "sending"):
            store.transition(key, state, run_id="run-2", expect={"sending"})  # type: ignore[arg-type]
    store.add_delivery(delivery("other", portfolio="Other Co", state="sending", recipients=13))
    assert store.recipients_since("Test Holdings", since) == 2 + 3  # sent and sending; not failed, old or rendered
    assert store.recipients_since("Test Holdings", since - timedelta(days=2)) == 2 + 3 + 5
    assert store.recipients_since("Other Co", since) == 13
    assert [d.key for d in store.deliveries(run_id="run-2")] == ["a", "b", "c", "d"]
    assert [d.key for d in store.deliveries(portfolio="Test Holdings", states=("sent", "failed"))] == ["a", "c", "old"]
    assert store.deliveries(period="2026-W47") == []


def test_suppression_is_case_insensitive_and_audited(backend: Backend) -> None:
    store = backend.store
    store.suppress("Casey@Example.COM", "hard bounce", source="delivery:run-1")
    store.suppress("casey@example.com", "complaint", source="cli:alice@laptop")
    found = store.suppression("CASEY@example.com")
    assert found is not None and found.address == "casey@example.com"
    assert (found.reason, found.source) == ("complaint", "cli:alice@laptop")  # re-adding updates the reason
    assert [s.address for s in store.suppressions()] == ["casey@example.com"]
    assert store.unsuppress("CASEY@EXAMPLE.COM", source="cli:alice@laptop") is True
    assert store.unsuppress("casey@example.com", source="cli:alice@laptop") is False
    assert store.suppression("casey@example.com") is None and store.suppressions() == []
    assert [e.kind for e in store.entries()] == ["suppression.added", "suppression.added", "suppression.removed"]


def test_a_lock_is_held_until_released_expired_or_lost(backend: Backend, clock: Clock) -> None:
    store, other = backend.store, backend.reopen(clock)
    lock = store.acquire("weekly", ttl=60)
    assert lock is not None and store.holder("weekly") == lock
    assert other.acquire("weekly", ttl=60) is None  # live, and held by a live process
    clock.advance(30)
    lock = store.renew(lock, ttl=60)
    clock.advance(59)
    assert other.acquire("weekly", ttl=60) is None
    clock.advance(2)
    taken = other.acquire("weekly", ttl=60)  # expired: taken over
    assert taken is not None and taken.owner != lock.owner and store.holder("weekly") == taken
    with pytest.raises(StoreError, match=f"Lock 'weekly' in {backend.url} was lost .*held by {taken.owner}"):
        store.renew(lock, ttl=60)
    store.release(lock)  # no longer the owner: nothing happens
    assert store.holder("weekly") == taken
    other.release(taken)
    assert store.holder("weekly") is None and store.acquire("weekly", ttl=60) is not None
    assert store.entries() == []  # locks are not audited
    other.close()


def test_the_lock_of_a_killed_run_does_not_block_the_rerun(backend: Backend) -> None:
    holder = python("""
        import sys
        from execintel.store import open_store
        lock = open_store(None).acquire("weekly", ttl=3600)
        print(lock.owner, flush=True)
        sys.stdin.read()
    """, backend.env)  # fmt: skip
    assert holder.stdout is not None
    owner = holder.stdout.readline().strip()
    assert owner, holder.stderr.read() if holder.stderr else ""
    store = backend.reopen()  # the real clock: the lock is an hour from expiring
    try:
        assert store.acquire("weekly", ttl=60) is None
        holder.send_signal(signal.SIGKILL)
        assert holder.wait(10) == -signal.SIGKILL
        rerun = store.acquire("weekly", ttl=60)
        assert rerun is not None and rerun.owner != owner
    finally:
        holder.kill()
        holder.communicate()
        store.close()


def test_scheduler_state(backend: Backend) -> None:
    store = backend.store
    assert store.last_fired("weekly-strategy") is None
    fired = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    store.set_fired("weekly-strategy", fired, "run-1")
    store.set_fired("weekly-strategy", fired + timedelta(days=7))
    assert store.last_fired("weekly-strategy") == fired + timedelta(days=7)
    assert [(e.kind, e.run_id, e.data["fired"]) for e in store.entries()] == [
        ("schedule.fired", "run-1", "2026-11-16T08:00:00.000000+00:00"),
        ("schedule.fired", None, "2026-11-23T08:00:00.000000+00:00"),
    ]


def test_entries_are_read_by_run_and_page(backend: Backend) -> None:
    populate(backend.store)
    entries = backend.store.entries()
    assert [e.seq for e in entries] == list(range(1, 11))
    assert all(e.prev_hash == p.hash for p, e in itertools.pairwise(entries))
    assert [e.seq for e in backend.store.entries(after=3, limit=4)] == [4, 5, 6, 7]
    assert [e.kind for e in backend.store.entries(run_id="run-1", after=8)] == ["run.finished"]
    assert all(e.run_id == "run-1" for e in backend.store.entries(run_id="run-1"))


def test_an_untouched_store_verifies(backend: Backend) -> None:
    populate(backend.store)
    assert backend.store.verify() == backend.store.verify()
    result = backend.store.verify()
    assert result.ok and result.entries == 10 and result.problems == ()


def test_an_edited_entry_is_found_by_its_seq(backend: Backend) -> None:
    populate(backend.store)
    finished = backend.store.entries()[-1]
    assert finished.seq == 10 and finished.kind == "run.finished"
    backend.raw.edit_entry(10, {"status": "ok", "summary": {"sent": 2, "failed": 0}})
    assert backend.store.verify().problems == ("entry 10 (run.finished): hash does not match its content (edited)",)
    backend.raw.edit_entry(3, {**backend.store.entries()[2].data, "recipient": "attacker@example.com"})
    problems = backend.store.verify().problems
    assert problems[0] == "entry 3 (delivery.rendered): hash does not match its content (edited)"
    assert any("delivery 'd-1': recipient is 'cfo@example.com' in the deliveries table" in p for p in problems)


def test_a_deleted_entry_is_found(backend: Backend) -> None:
    populate(backend.store)
    backend.raw.delete_entry(5)
    result = backend.store.verify()
    assert not result.ok and result.entries == 9
    assert "entry 5 is missing: seq jumps from 4 to 6 (deleted)" in result.problems


def test_a_deleted_last_entry_is_found(backend: Backend) -> None:
    populate(backend.store)
    backend.raw.delete_entry(10)
    assert backend.store.verify().problems == (
        "the head says the log ends at entry 10 but it ends at 9: entry 10 is missing (deleted from the end of the log)",
    )


def test_an_edited_delivery_row_is_found(backend: Backend) -> None:
    populate(backend.store)
    backend.raw.set_delivery_state("d-2", "sent")  # pretend the bounced report went out
    assert backend.store.verify().problems == (
        "delivery 'd-2': state is 'sent' in the deliveries table but 'failed' in the audit log (last change: entry 8)",
    )


# SQLite only.


def _sqlite(backend: Backend) -> Path:
    if backend.name != "sqlite":
        pytest.skip("SQLite only")
    return Path(backend.url.removeprefix("sqlite:///"))


def test_two_processes_appending_to_one_file_keep_one_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    env = {**os.environ, "EXECINTEL_STORE": url}
    code = """
        import sys, time
        from execintel.store import open_store
        store = open_store(None)
        print("ready", flush=True)
        start = float(sys.stdin.readline())
        time.sleep(max(0.0, start - time.time()))  # both start at the same instant
        for i in range(200):
            store.suppress(f"{sys.argv[1]}-{i}@example.com", "bounce", source=sys.argv[1])
            time.sleep(0.001)  # other work between appends, as a real run does: the lock changes hands
    """
    workers = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), name], env=env, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE) for name in ("one", "two")]  # fmt: skip
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline() == "ready\n"
    start = time.time() + 0.2
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write(f"{start}\n")
        worker.stdin.close()
    for worker in workers:
        assert worker.wait(60) == 0
        assert worker.stdout is not None
        worker.stdout.close()
    with SqliteStore(tmp_path / "audit.db") as store:
        result = store.verify()
        entries = store.entries()
    assert result.ok and result.entries == 400
    assert [e.seq for e in entries] == list(range(1, 401))
    sources = [e.data["source"] for e in entries]
    assert sources.count("one") == sources.count("two") == 200
    assert sum(a != b for a, b in itertools.pairwise(sources)) > 1  # they did interleave


def test_sqlite_file_is_wal_and_a_v1_database_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        MIGRATIONS[0](db)
        db.execute("PRAGMA user_version = 1")
        db.execute("INSERT INTO deliveries VALUES ('d-1', 'Test Holdings', NULL, '2026-W46', 'cfo', 'cfo@example.com', "
                   "1, 'rendered', 'run-1', 0, NULL, NULL, NULL, NULL, '2026-11-15T09:00:00.000000+00:00')")  # fmt: skip
    db.close()
    with SqliteStore(path) as store:
        assert store.schema_version == len(MIGRATIONS) > 1
        old = store.get_delivery("d-1")
        assert old is not None and old.recipient == "cfo@example.com" and old.mailer is None
        sent = store.transition("d-1", "sending", run_id="run-2", expect={"rendered"}, mailer="smtp")
        assert sent.mailer == "smtp"
        assert store.acquire("weekly", ttl=60) is not None  # the locks table came with version 2
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_a_v3_database_gains_each_reports_as_of_and_findings(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    with sqlite3.connect(path) as db:
        for migrate in MIGRATIONS[:3]:
            migrate(db)
        db.execute("PRAGMA user_version = 3")
        db.execute("INSERT INTO runs VALUES ('run-1', 'Test Holdings', 'cli', NULL, '2026-11-08', "
                   "'2026-11-08T07:00:00.000000+00:00', 1, 0, '', NULL, NULL, '{}')")  # fmt: skip
        db.execute("INSERT INTO reports VALUES ('run-1', 'ceo', '2026-11-08', ?, '{\"cash\":\"1\"}', "
                   "'2026-11-08T07:00:01.000000+00:00')", ["ab" * 32])  # fmt: skip
    db.close()
    with SqliteStore(path) as store:
        assert store.schema_version == len(MIGRATIONS) == 5
        [(old_run, [old])] = store.report_history("Test Holdings")
        assert (old_run.run_id, old.report, old.as_of, old.findings) == ("run-1", "ceo", None, None)
        assert store.reports("run-1")[0].figures == {"cash": "1"}
        # the lifecycle leaves out what the old schema did not record: no earlier run to compare with
        assert load_history(store, "Test Holdings", exclude="x").runs == []
        store.start_run(run("run-2", started=T0))
        store.record_report(ReportRecord("run-2", "ceo", "2026-W46", "cd" * 32, {}, T0, "2026-11-15",
                                         {"no-waf-0123456789ab": {"severity": "high"}}))  # fmt: skip
        [earlier] = load_history(store, "Test Holdings", exclude="x").runs
        assert (earlier.run_id, earlier.as_of.isoformat(), list(earlier.findings)) == (
            "run-2", "2026-11-15", ["no-waf-0123456789ab"])  # fmt: skip


def test_sqlite_refuses_a_newer_schema_and_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(StoreError, match=rf"has schema version {len(MIGRATIONS) + 1}, newer than this execintel knows "
                                         rf"\({len(MIGRATIONS)}\); upgrade"):  # fmt: skip
        SqliteStore(newer)
    text = tmp_path / "notes.db"
    text.write_text("not a database, just notes\n" * 100)
    with pytest.raises(StoreDamaged, match=f"the store file {text} is damaged or is not an execintel store "
                                           r"\(SQLite says: file is not a database\)"):  # fmt: skip
        SqliteStore(text)


def test_sqlite_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    with open_store("sqlite:///relative/audit.db", settings) as store:
        assert isinstance(store, SqliteStore) and store.path == Path("relative/audit.db")
    assert (tmp_path / "relative" / "audit.db").is_file()
    with open_store(f"sqlite:///{tmp_path}/abs.db?synchronous=normal", settings) as store:
        assert isinstance(store, SqliteStore) and store.path == tmp_path / "abs.db" and store.synchronous == "normal"
    for bad, message in (
        ("sqlite:///", "names no database file"),
        ("sqlite://host/audit.db", "names no database file"),
        ("sqlite:///a.db?synchronous=off", r"the only SQLite URL option is \?synchronous=full"),
        ("postgres://db/audit", "the scheme must be sqlite:// or dynamodb://"),
        ("audit.db", "the scheme must be sqlite:// or dynamodb://"),
        ("dynamodb://a b", "names no valid DynamoDB table"),
    ):
        with pytest.raises(ConfigError, match=message) as error:
            open_store(bad, settings)
        assert error.value.problems[0].file == "--store"


def test_default_store_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EXECINTEL_STORE", "EXECINTEL_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    with open_store(None, Settings()) as store:
        assert store.url == f"sqlite:///{tmp_path}/xdg/execintel/execintel.db"
    monkeypatch.setenv("EXECINTEL_DATA_DIR", str(tmp_path / "data"))
    with open_store(None, Settings()) as store:
        store.suppress("a@example.com", "test", source="test")
    assert (tmp_path / "data" / "execintel.db").is_file()
    monkeypatch.setenv("EXECINTEL_STORE", "mysql://x")
    with pytest.raises(ConfigError) as error:
        open_store(None, Settings())
    assert error.value.problems[0].file == "EXECINTEL_STORE"


# DynamoDB only.


def test_dynamodb_init_creates_the_table_once(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(key, value)
    client = _dynamo_client(moto_endpoint)
    table = f"execintel-init-{uuid.uuid4().hex[:8]}"
    store = DynamoStore(table, client=client)
    with pytest.raises(StoreMissing, match=f"table '{table}' does not exist; create it with: execintel store init "
                                           f"--store dynamodb://{table}"):  # fmt: skip
        store.start_run(run())
    store.init()
    store.init()  # idempotent
    described = client.describe_table(TableName=table)["Table"]
    assert described["TableStatus"] == "ACTIVE"
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert {(k["AttributeName"], k["KeyType"]) for k in described["KeySchema"]} == {("pk", "HASH"), ("sk", "RANGE")}
    store.start_run(run())
    assert store.get_run("run-1") == run()
    client.delete_table(TableName=table)


def test_dynamodb_refuses_a_table_that_is_not_a_store(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(key, value)
    client = _dynamo_client(moto_endpoint)
    table = f"events-{uuid.uuid4().hex[:8]}"
    client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])  # fmt: skip
    with pytest.raises(StoreError, match=f"table '{table}' exists but its key is not"):
        DynamoStore(table, client=client).init()
    client.delete_table(TableName=table)


def test_the_store_imports_nothing_a_small_lambda_should_not_carry() -> None:
    code = "import sys, execintel.store; print('\\n'.join(sorted(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    heavy = ("duckdb", "pyarrow", "matplotlib", "jinja2", "boto3", "botocore", "execintel.analysis",
             "execintel.reports", "execintel.render", "execintel.sources", "execintel.facts")  # fmt: skip
    assert [m for m in loaded if m.startswith(heavy)] == []


# A store that lost its history: deleted, emptied, replaced, rolled back.


def _used(path: Path, deliveries: int = 3) -> None:
    """Use the store at ``path`` as a run would (through open_store, which keeps its marker): new deliveries."""
    with open_store(f"sqlite:///{path}", Settings()) as store:
        start = len(store.deliveries())
        for i in range(start, start + deliveries):
            store.add_delivery(delivery(f"{path.stem}-{i}"))


def _older_copy(path: Path) -> None:
    copy = path.with_name("backup.db")
    with sqlite3.connect(path) as source, sqlite3.connect(copy) as target:
        source.backup(target)  # a consistent copy, taken now...
    source.close()
    target.close()
    _used(path, 2)  # ...and the store moves on
    copy.replace(path)
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _replaced(path: Path) -> None:
    other = path.with_name("other.db")
    _used(other)
    other.replace(path)
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _emptied(path: Path) -> None:
    path.write_bytes(b"")
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _deleted(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (_deleted, "it is empty, but it held 3 audit entries when execintel last used it (the store was deleted"),
        (_emptied, "it is empty, but it held 3 audit entries"),
        (_replaced, "it is another store than the one execintel used before, which held 3 audit entries"),
        (_older_copy, "its audit log ends at entry 3, but it held 5 audit entries when execintel last used it"),
    ],
    ids=["deleted", "emptied", "replaced", "older-copy"],
)
def test_a_store_that_lost_its_history_is_refused_until_accepted(
    tmp_path: Path, damage: Any, said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EXECINTEL_STORE", raising=False)
    path = tmp_path / "audit.db"
    url = f"sqlite:///{path}"
    _used(path)
    damage(path)
    assert (tmp_path / ".audit.db.marker").is_file()  # the marker survives: it is hidden beside the file
    with pytest.raises(StoreLost) as refused:
        open_store(url, Settings())
    message = str(refused.value)
    assert message.startswith(f"--store: the store {url} has lost its history: ") and said in message
    assert "--new-store" in message
    if damage is not _deleted:  # audit verify, which only reads, reports it among its problems
        with open_store(url, Settings(), mode="read") as reading:
            result = reading.verify()
        assert not result.ok and result.problems[0].startswith("the store has lost its history: ")
    with open_store(url, Settings(), new_store=True) as accepted:  # told to: the store is accepted as it is
        assert accepted.entries()[-1].kind == "store.accepted"
        assert said in accepted.entries()[-1].data["loss"]
    open_store(url, Settings()).close()  # and from then on it is the store of record


def test_a_store_used_again_as_it_was_left_opens_and_its_marker_follows_it(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    _used(path)
    _used(path, 2)  # the marker moved on with the store
    marker = json.loads((tmp_path / ".audit.db.marker").read_text())
    with SqliteStore(path) as store:
        assert marker["seq"] == 5 and marker["store_id"] == store.store_id()
        assert marker["hash"] == store.entries()[-1].hash


def test_a_damaged_marker_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    _used(path)
    (tmp_path / ".audit.db.marker").write_text("{not json")
    with pytest.raises(StoreDamaged, match=r"the store's marker .*\.audit\.db\.marker cannot be read"):
        open_store(f"sqlite:///{path}", Settings())


def test_an_emptied_or_recreated_dynamodb_table_is_refused(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("EXECINTEL_DATA_DIR", str(tmp_path))  # where the table's marker is kept
    client = _dynamo_client(moto_endpoint)
    table = f"execintel-lost-{uuid.uuid4().hex[:8]}"
    url = f"dynamodb://{table}"
    with open_store(url, Settings(), client=client, mode="init") as store:
        store.add_delivery(delivery())
    # emptied: every item deleted (identity included); the table itself is still there
    for item in client.scan(TableName=table)["Items"]:
        client.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    with pytest.raises(StoreLost, match="it is empty, but it held 1 audit entry when execintel last used it"):
        open_store(url, Settings(), client=client)
    with pytest.raises(StoreLost):  # store init does not paper over it either
        open_store(url, Settings(), client=client, mode="init")
    # on a machine with no marker, an empty table without an identity is refused as well: it is not set up
    monkeypatch.setenv("EXECINTEL_DATA_DIR", str(tmp_path / "elsewhere"))
    with pytest.raises(StoreMissing, match="has never been set up, or it was emptied"):
        open_store(url, Settings(), client=client)
    monkeypatch.setenv("EXECINTEL_DATA_DIR", str(tmp_path))
    with open_store(url, Settings(), client=client, new_store=True) as accepted:
        assert accepted.entries()[-1].kind == "store.accepted"
    client.delete_table(TableName=table)


def test_a_commit_without_fsync_survives_kill_9(tmp_path: Path) -> None:
    # The SMTP commit point writes "sending" without waiting for the disk: a process kill must not lose it.
    path = tmp_path / "audit.db"
    with SqliteStore(path) as store:
        store.add_delivery(delivery())
    code = f"""
        import os, signal
        from execintel.store import SqliteStore
        store = SqliteStore({str(path)!r})
        store.transition("d-1", "sending", run_id="run-2", expect={{"rendered"}}, attempts=1, sync=False)
        os.kill(os.getpid(), signal.SIGKILL)
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=False)
    assert done.returncode == -signal.SIGKILL
    with SqliteStore(path) as store:
        found = store.get_delivery("d-1")
        assert found is not None and found.state == "sending" and store.verify().ok


def test_auth_and_feedback_events_are_audited_and_verify(backend: Backend) -> None:
    store = backend.store
    store.record_event("auth.link_requested", {"subject": "cfo@example.com"})
    store.record_event("feedback.bounce", {"recipient": "x@example.com"}, run_id=None)
    with pytest.raises(ValueError, match="must start with"):
        store.record_event("delivery.sent", {})  # events never impersonate a delivery change
    assert [(e.kind, dict(e.data)) for e in store.entries()] == [
        ("auth.link_requested", {"subject": "cfo@example.com"}),
        ("feedback.bounce", {"recipient": "x@example.com"}),
    ]
    assert store.verify().ok


def test_a_delivery_is_found_by_its_provider_message_id(backend: Backend) -> None:
    store = backend.store
    store.start_run(run())
    store.add_delivery(delivery("d-1"))
    store.add_delivery(delivery("d-2"))
    store.transition("d-2", "sending", run_id="run-1", expect=["rendered"])
    store.transition("d-2", "sent", run_id="run-1", expect=["sending"], provider_id="0100-abc")
    found = store.delivery_by_provider_id("0100-abc")
    assert found is not None and found.key == "d-2"
    assert store.delivery_by_provider_id("0100-other") is None


def test_a_login_token_is_used_once_and_only_before_it_expires(backend: Backend, clock: Clock) -> None:
    store = backend.store
    store.add_login("h" * 64, "cfo", ttl=900)
    store.add_login("e" * 64, "cfo", ttl=900)
    other = backend.reopen(clock)
    token, why = other.consume_login("h" * 64)
    assert token is not None and token.subject == "cfo" and why == ""
    assert store.consume_login("h" * 64) == (None, "used")  # a second use, from another connection
    assert store.consume_login("x" * 64) == (None, "unknown")
    clock.advance(901)
    assert store.consume_login("e" * 64) == (None, "expired")
    kinds = [(e.kind, e.data.get("subject"), e.data.get("reason")) for e in store.entries()]
    assert kinds == [
        ("auth.link_requested", "cfo", None), ("auth.link_requested", "cfo", None), ("auth.link_consumed", "cfo", None),
        ("auth.link_failed", "cfo", "used"), ("auth.link_failed", None, "unknown"),
        ("auth.link_failed", "cfo", "expired"),
    ]  # fmt: skip
    assert all("h" * 64 not in json.dumps(dict(e.data)) for e in store.entries())  # the hash is not in the log
    assert store.verify().ok


def test_racing_uses_of_one_login_token_sign_in_once(backend: Backend, clock: Clock) -> None:
    backend.store.add_login("r" * 64, "cfo", ttl=900)
    stores = [backend.reopen(clock, racing=True) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda s: s.consume_login("r" * 64)[0], stores))
    assert sum(r is not None for r in results) == 1


def test_a_session_is_revoked_once(backend: Backend, clock: Clock) -> None:
    store = backend.store
    store.start_session("j-1", "cfo", clock() + timedelta(hours=1))
    found = store.session("j-1")
    assert found is not None and found.revoked is None and found.subject == "cfo"
    assert store.revoke_session("j-1") is True
    assert store.revoke_session("j-1") is False and store.revoke_session("nope") is False
    revoked = store.session("j-1")
    assert revoked is not None and revoked.revoked is not None
    assert [e.kind for e in store.entries()] == ["auth.session_started", "auth.session_revoked"]


def test_sign_in_items_carry_the_ttl_attribute_the_table_expires_them_by(backend: Backend, clock: Clock) -> None:
    """deploy/template.yaml turns DynamoDB's TTL on for ``ttl``: a link's and a session's items carry it, in epoch
    seconds a day after they expire, so the table drops them without a sweeper."""
    if backend.name != "dynamodb":
        pytest.skip("TTL is DynamoDB's (SQLite keeps the column for the same record)")
    link = backend.store.add_login("t" * 64, "cfo", ttl=900)
    session = backend.store.start_session("j-ttl", "cfo", clock() + timedelta(hours=12))
    table = backend.url.removeprefix("dynamodb://")
    items = backend.client.scan(TableName=table)["Items"]
    ttls = {item["pk"]["S"].split("#")[0]: int(item["ttl"]["N"]) for item in items if "ttl" in item}
    assert ttls == {
        "LOGIN": int(link.expires.timestamp()) + 86_400,
        "SESSION": int(session.expires.timestamp()) + 86_400,
    }
