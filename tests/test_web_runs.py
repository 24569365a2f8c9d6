"""Runs started from the web: the real run service builds and delivers the report through the outbox; roles
decide who may start, watch and read it; one report runs once at a time and the queue is bounded."""

from __future__ import annotations

import threading
from pathlib import Path

from execintel.web.jobs import Job, Jobs
from web_helpers import served, sign_in, wait_for_run, web_app


def test_a_cfo_runs_the_cfo_report_watches_it_and_reads_the_latest_html(tmp_path: Path) -> None:
    with served(tmp_path) as web:
        csrf = sign_in(web, "cfo@example.com")
        assert web.client.get("/api/reports/cfo/latest").status_code == 404  # nothing rendered yet
        started = web.client.post("/api/reports/cfo", headers={"X-CSRF-Token": csrf})
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        run = wait_for_run(web, run_id)
        assert run["status"] == "ok", run
        assert run["reports"] == ["cfo"] and run["trigger"] == "web:cfo@example.com"
        sent = sorted((d["recipient"], d["state"]) for d in run["deliveries"])
        assert sent == [("admin@example.org", "sent"), ("cfo@example.com", "sent")]  # admin gets every report
        assert any(p.name.startswith("cfo") and p.suffix == ".eml" for p in web.outbox.iterdir())
        html = web.client.get("/api/reports/cfo/latest")
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert "CFO report" in html.text and "sandbox" in html.headers["content-security-policy"]
        charts = [p.name for p in (web.out / run_id).glob("cfo-*.png")]
        if charts:
            assert web.client.get(f"/api/reports/cfo/{charts[0]}").headers["content-type"] == "image/png"
        listed = web.client.get("/api/reports").json()["reports"][0]
        assert listed["latest"]["run_id"] == run_id and listed["running"] is None
        assert [r["run_id"] for r in web.client.get("/api/history").json()["runs"]] == [run_id]
        # a second run the same day still builds a fresh report; the CFO already has today's email
        second = web.client.post("/api/reports/cfo", headers={"X-CSRF-Token": csrf})
        assert second.status_code == 202 and second.json()["run_id"] != run_id
        again = wait_for_run(web, second.json()["run_id"])
        assert again["status"] == "ok" and again["deliveries"] == []
        assert web.client.get("/api/reports").json()["reports"][0]["latest"]["run_id"] == again["run_id"]

        # the CTO sees none of it
        web.client.cookies.clear()
        cto = sign_in(web, "cto@example.com")
        assert web.client.get(f"/api/runs/{run_id}").status_code == 404
        assert web.client.get("/api/history").json()["runs"] == []
        assert web.client.get("/api/reports/cfo/latest").status_code == 403
        assert web.client.post("/api/reports/cfo", headers={"X-CSRF-Token": cto}).status_code == 403


class Gate:
    """A job that waits until the test opens the gate (the queue and the 409/503 rules are what is tested)."""

    def __init__(self) -> None:
        self.open, self.started = threading.Event(), threading.Event()

    def __call__(self, job: Job) -> None:
        self.started.set()
        self.open.wait(30)


def test_one_report_runs_once_at_a_time_and_a_full_queue_says_so(tmp_path: Path) -> None:
    gate = Gate()
    with web_app(tmp_path, runner=gate, jobs=Jobs(size=1)) as web:
        csrf = {"X-CSRF-Token": sign_in(web, "admin@example.org")}
        first = web.client.post("/api/reports/cfo", headers=csrf)
        assert first.status_code == 202 and gate.started.wait(10)
        busy = web.client.post("/api/reports/cfo", headers=csrf)
        assert busy.status_code == 409 and busy.json()["run_id"] == first.json()["run_id"]
        assert web.client.get(f"/api/runs/{first.json()['run_id']}").json()["status"] == "running"
        assert web.client.post("/api/reports/cto", headers=csrf).status_code == 202  # waits in the queue
        full = web.client.post("/api/reports/cmo", headers=csrf)
        assert full.status_code == 503 and full.headers["retry-after"] == "60"
        running = {r["id"]: r["running"] for r in web.client.get("/api/reports").json()["reports"]}
        assert running["cfo"] == first.json()["run_id"] and running["cmo"] is None
        gate.open.set()
