"""Starting a report again right after its run ended: answered at once, while the last run's worker tidies up.

A run is recorded as over before its job is done (the job then closes its render pool, for a few hundred ms).
A POST in that moment was held in the request for up to a second, retrying, and then refused with a 409
(benchmarks/bench_api.py: 202 in 350-600 ms, and 409s, on a busy machine).
"""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path

from execintel.store import ReportRecord, RunRecord, SqliteStore
from execintel.web.jobs import Job
from web_helpers import sign_in, wait_for_run, web_app


class RecordThenTidy:
    """A job that records its run as over in the store, then "tidies up" until the test lets it go."""

    def __init__(self, store_path: Path) -> None:
        self.store_path = store_path
        self.recorded, self.go = threading.Event(), threading.Event()

    def __call__(self, job: Job) -> None:
        now = datetime.now(UTC)
        with SqliteStore(self.store_path) as store:  # its own connection, as a run service's store may be
            store.start_run(RunRecord(job.run_id, "Test Holdings", f"web:{job.subject}", None, "2026-W46", now))
            store.record_report(ReportRecord(job.run_id, job.report, "2026-W46", secrets.token_hex(32), {}, now))
            store.finish_run(job.run_id, "ok", {"reports": 1})
        self.recorded.set()
        self.go.wait(30)


def test_a_report_started_again_while_the_last_run_tidies_up_is_queued_at_once(tmp_path: Path) -> None:
    job = RecordThenTidy(tmp_path / "audit.sqlite")
    with web_app(tmp_path, runner=job) as web:
        csrf = {"X-CSRF-Token": sign_in(web, "cfo@example.com")}
        first = web.client.post("/api/reports/cfo", headers=csrf)
        assert first.status_code == 202 and job.recorded.wait(20)
        assert wait_for_run(web, first.json()["run_id"])["status"] == "ok"
        assert web.client.get("/api/reports").json()["reports"][0]["running"] is None

        again = web.client.post("/api/reports/cfo", headers=csrf)  # the first job is still tidying up
        assert again.status_code == 202, again.text
        second = again.json()["run_id"]
        assert again.json()["status"] == "queued" and second != first.json()["run_id"]
        assert web.client.get("/api/reports").json()["reports"][0]["running"] == second
        busy = web.client.post("/api/reports/cfo", headers=csrf)  # the second one has not started: a real 409
        assert busy.status_code == 409 and busy.json()["run_id"] == second

        job.go.set()
        assert wait_for_run(web, second)["status"] == "ok"
