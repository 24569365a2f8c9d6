"""The run history the web app shows: read from the store once per change of the store, never stale.

The history routes used to read every run and report of the store on every request (and the report list once per
report), so their cost grew with the store: 70 ms a request at 500 runs (benchmarks/bench_api.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from execintel.delivery.mailers import open_mailer
from execintel.store import ReportRecord, RunRecord, SqliteStore, Store
from execintel.web import create_app
from execintel.web.config import web_config
from web_helpers import Web, settings, sign_in, write_web_portfolio

PORTFOLIO = "Test Holdings"  # the name in web_helpers' manifest
T0 = datetime(2026, 11, 1, 7, 0, tzinfo=UTC)


class CountingStore(SqliteStore):
    """A SQLite store that counts how often the whole history of a portfolio is read."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.history_reads = 0

    def report_history(self, portfolio: str) -> list[tuple[RunRecord, list[ReportRecord]]]:
        """Count, then read as usual."""
        self.history_reads += 1
        return super().report_history(portfolio)


def record_run(store: Store, n: int, reports: tuple[str, ...]) -> str:
    """A finished run ``n`` hours after T0 that recorded ``reports``; returns its id."""
    started = T0 + timedelta(hours=n)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{n:04x}"
    store.start_run(RunRecord(run_id, PORTFOLIO, "schedule:weekly", "weekly", "2026-W45", started))
    for report in reports:
        store.record_report(ReportRecord(run_id, report, "2026-W45", secrets.token_hex(32), {}, started))
    store.finish_run(run_id, "ok", {"reports": len(reports)})
    return run_id


@contextmanager
def counted_app(tmp: Path) -> Iterator[tuple[Web, CountingStore]]:
    """The app over a counting SQLite store and an outbox, with a TestClient."""
    portfolio = write_web_portfolio(tmp / "portfolio")
    chosen = settings(tmp)
    config = web_config(chosen, portfolio)
    store = CountingStore(tmp / "audit.sqlite")
    app = create_app(config, store=store, mailer=open_mailer(f"outbox:{tmp / 'outbox'}", chosen), settings=chosen)
    try:
        with TestClient(app, base_url="http://127.0.0.1:8000") as client:
            yield Web(client, store, tmp / "outbox", tmp / "out", config, portfolio), store
    finally:
        store.close()


def run_ids(answer: Any) -> list[str]:
    """The run ids of a /api/history answer."""
    assert answer.status_code == 200, answer.text
    return [run["run_id"] for run in answer.json()["runs"]]


def test_the_history_is_read_once_per_change_of_the_store_not_per_request(tmp_path: Path) -> None:
    with counted_app(tmp_path) as (web, store):
        runs = [record_run(store, n, ("cfo", "ceo") if n % 2 else ("cto",)) for n in range(40)]
        sign_in(web, "admin@example.org")
        reads = store.history_reads
        for _ in range(5):
            assert run_ids(web.client.get("/api/history?limit=10")) == runs[::-1][:10]
        listed = web.client.get("/api/reports").json()["reports"]  # an admin's list: every report's latest run
        assert len(listed) == 9 and all(report["latest"] is None for report in listed)  # none rendered any HTML
        assert store.history_reads - reads == 1
        newer = record_run(store, 100, ("cfo",))
        assert run_ids(web.client.get("/api/history?limit=1")) == [newer]
        assert run_ids(web.client.get("/api/history?limit=1")) == [newer]
        assert store.history_reads - reads == 2


def test_a_run_recorded_by_another_process_shows_at_once_and_only_to_its_readers(tmp_path: Path) -> None:
    with counted_app(tmp_path) as (web, store):
        first = record_run(store, 1, ("cfo",))
        sign_in(web, "cfo@example.com")
        assert run_ids(web.client.get("/api/history")) == [first]
        # a CLI run or a schedule writes the same SQLite file through its own connection
        with SqliteStore(tmp_path / "audit.sqlite") as other:
            second = record_run(other, 2, ("cfo", "cto"))
            record_run(other, 3, ("cto",))  # not the CFO's
        history = web.client.get("/api/history").json()["runs"]
        assert [(run["run_id"], run["reports"], run["status"]) for run in history] == [
            (second, ["cfo"], "ok"), (first, ["cfo"], "ok")]  # fmt: skip
