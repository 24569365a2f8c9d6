"""The run service every shell calls (:func:`execintel.service.run_reports`): against a real SQLite store, the
outbox and an SMTP server on loopback, from the main thread and from a worker thread as the web app runs it."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import delivery_manifest
from execintel.config import Portfolio, Settings
from execintel.delivery.compose import OutgoingMessage
from execintel.delivery.mailers import Mailer, OutboxMailer, SmtpMailer
from execintel.errors import ConfigError
from execintel.pipeline import load_facts, open_portfolio
from execintel.render.pool import RenderPool
from execintel.report_ids import REPORTS, TITLES
from execintel.run_ids import new_run_id
from execintel.service import RunEvent, RunRequest, RunResult, run_reports
from execintel.sources import LoadResult
from execintel.store import SqliteStore
from smtp_server import SmtpTestServer

SETTINGS = Settings(mailer="outbox:outbox")
PEOPLE = 2  # each gets the daily and the CEO report


@dataclass(frozen=True)
class Loaded:
    """A portfolio opened and loaded once for the module: loading is the slow part, and runs never change it."""

    portfolio: Portfolio
    result: LoadResult


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    root = tmp_path_factory.mktemp("service-portfolio")
    manifest = root / "portfolio.yaml"
    manifest.write_text(yaml.safe_dump(delivery_manifest(PEOPLE), sort_keys=False), encoding="utf-8")
    portfolio = open_portfolio(manifest, settings=SETTINGS)
    return Loaded(portfolio, load_facts(portfolio, settings=SETTINGS))


@dataclass(frozen=True)
class Runs:
    """Runs of the module's portfolio into one test's folder and SQLite store, charts drawn in this process (no
    worker processes to start for a one-report run)."""

    loaded: Loaded
    store: SqliteStore
    folder: Path
    pool: RenderPool

    def __call__(self, *reports: str, mailer: Mailer | None, events: list[RunEvent] | None = None,
                 **options: Any) -> RunResult:  # fmt: skip
        """Run ``reports`` (the daily digest when none) through ``mailer`` (None: a dry run)."""
        request = RunRequest(list(reports or ("daily",)), out_dir=self.folder / "out", **options)
        seen = events if events is not None else []
        return run_reports(self.loaded.portfolio, self.loaded.result, request, settings=SETTINGS, mailer=mailer,
                           store=self.store, events=seen.append, pool=self.pool)  # fmt: skip


@pytest.fixture
def runs(loaded: Loaded, tmp_path: Path) -> Iterator[Runs]:
    with SqliteStore(tmp_path / "audit.db") as store, RenderPool(pdf=False, workers=1) as pool:
        yield Runs(loaded, store, tmp_path, pool)


def _sent(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.eml"))


def test_a_run_delivers_each_planned_message_once_and_reports_each_step_in_order(runs: Runs) -> None:
    events: list[RunEvent] = []
    outbox = OutboxMailer(runs.folder / "outbox")
    result = runs(mailer=outbox, events=events)
    assert result.status == "ok" and [d.report for d in result.documents] == ["daily"]
    assert len(_sent(runs.folder / "outbox")) == PEOPLE
    assert result.delivery is not None and sorted(o.recipient for o in result.delivery.of("sent")) == [
        f"p{i}@example.com" for i in range(PEOPLE)]  # fmt: skip
    # planning comes first: it decides which reports need building (none, when everything already went out)
    assert [e.kind for e in events] == [
        "sources.loaded", "delivery.planned", "report.building", "report.built", "rendering", "rendered",
        "delivery.started", *["delivery.outcome"] * PEOPLE, "run.finished",
    ]  # fmt: skip
    assert events[1].data == {"period": "2026-11-15", "schedule_id": None, "planned": PEOPLE, "todo": PEOPLE}
    assert {e.data["state"] for e in events if e.kind == "delivery.outcome"} == {"sent"}
    assert events[-1].data == {"run_id": result.run_id, "status": "ok", "error": None, "recorded": True}
    rendered = events[5].data
    assert rendered["folder"] == str(result.folder) and "daily.html" in rendered["reports"][0]["files"]
    [run] = runs.store.list_runs()
    assert (run.run_id, run.status, run.dry_run) == (result.run_id, "ok", False)
    assert {d.state for d in runs.store.deliveries(run_id=result.run_id)} == {"sent"}


def test_a_second_run_sends_nothing_and_always_build_still_writes_and_records_the_report(runs: Runs) -> None:
    outbox = OutboxMailer(runs.folder / "outbox")
    first = runs(mailer=outbox)
    assert first.status == "ok"
    events: list[RunEvent] = []
    again = runs(mailer=outbox, events=events)
    assert (again.status, again.documents, again.folder, again.delivery) == ("nothing-to-do", [], None, None)
    assert not any(e.kind.startswith("report.") for e in events)  # nothing built
    fresh = runs(always_build=True, mailer=outbox)
    assert fresh.status == "nothing-to-do" and fresh.folder is not None
    assert (fresh.folder / "daily.html").is_file()
    assert [r.report for r in runs.store.reports(fresh.run_id)] == ["daily"]
    assert len(_sent(runs.folder / "outbox")) == PEOPLE  # each message went out once, in the first run
    assert [r.status for r in runs.store.list_runs()] == ["ok", "ok", "ok"]


def test_the_run_id_given_is_the_one_recorded_and_one_that_could_leave_the_folder_is_refused(runs: Runs) -> None:
    outbox = OutboxMailer(runs.folder / "outbox")
    run_id = new_run_id()
    result = runs(run_id=run_id, mailer=outbox)
    assert result.run_id == run_id and result.folder == runs.folder / "out" / run_id
    assert [r.run_id for r in runs.store.list_runs()] == [run_id]
    assert {d.run_id for d in runs.store.deliveries()} == {run_id}
    for bad in ("../escape", "..", "a/b", "", "-x", ".hidden"):
        with pytest.raises(ConfigError, match="run_id"):
            runs("ceo", mailer=outbox, run_id=bad)
    assert not (runs.folder / "escape").exists() and len(runs.store.list_runs()) == 1


def test_a_dry_run_is_recorded_as_one_and_delivers_nothing(runs: Runs) -> None:
    events: list[RunEvent] = []
    result = runs(mailer=None, events=events)
    assert (result.status, result.delivery) == ("ok", None)
    assert result.folder is not None and (result.folder / "daily.txt").is_file()
    [run] = runs.store.list_runs()
    assert (run.run_id, run.dry_run, run.status) == (result.run_id, True, "ok")
    assert [r.report for r in runs.store.reports(result.run_id)] == ["daily"]
    assert runs.store.deliveries() == [] and not (runs.folder / "outbox").exists()
    assert not any(e.kind.startswith("delivery.") for e in events)


# The web app's job, in a process of its own: the worker thread's run makes its own render pool, whose workers
# (spawned, as other threads are running) and their resource tracker end with that process.
WORKER_THREAD_JOB = """
import json, sys, threading
from pathlib import Path
from execintel.config import Settings
from execintel.delivery.mailers import OutboxMailer
from execintel.pipeline import load_facts, open_portfolio
from execintel.service import RunRequest, run_reports
from execintel.store import SqliteStore

manifest, folder = Path(sys.argv[1]), Path(sys.argv[2])
settings = Settings(mailer="outbox:outbox")
portfolio = open_portfolio(manifest, settings=settings)
loaded = load_facts(portfolio, settings=settings)
said, done = [], []

def job():
    def seen(event):
        said.append((threading.current_thread().name, event.kind))
    with SqliteStore(folder / "audit.db") as store:
        result = run_reports(portfolio, loaded, RunRequest(["daily"], out_dir=folder / "out"), settings=settings,
                             mailer=OutboxMailer(folder / "outbox"), store=store, events=seen)
    done.append(result.status)

worker = threading.Thread(target=job, name="run-worker")
worker.start()
worker.join()
print(json.dumps({"status": done, "threads": sorted({name for name, _ in said}), "last": said[-1][1]}))
"""


def test_a_run_started_in_a_worker_thread_delivers(tmp_path: Path) -> None:
    """As the web app runs it: in another thread (no signal handlers there), with the service's own render pool."""
    manifest = tmp_path / "portfolio.yaml"
    manifest.write_text(yaml.safe_dump(delivery_manifest(PEOPLE), sort_keys=False), encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", WORKER_THREAD_JOB, str(manifest), str(tmp_path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=180, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"status": ["ok"], "threads": ["run-worker"], "last": "run.finished"}
    assert len(_sent(tmp_path / "outbox")) == PEOPLE
    with SqliteStore(tmp_path / "audit.db") as store:
        assert [run.status for run in store.list_runs()] == ["ok"]


@pytest.mark.parametrize("kind", ["outbox", "smtp"])
def test_one_mailer_object_serves_two_runs(kind: str, runs: Runs, smtp_server: SmtpTestServer) -> None:
    """The web app keeps one mailer: after a run closed it, the next run sends through it again."""
    mailer: Mailer = OutboxMailer(runs.folder / "outbox") if kind == "outbox" else \
        SmtpMailer.from_url(smtp_server.url(), SETTINGS)  # fmt: skip
    first = runs("daily", mailer=mailer)
    second = runs("ceo", mailer=mailer)
    assert (first.status, second.status) == ("ok", "ok")
    assert second.delivery is not None and len(second.delivery.of("sent")) == PEOPLE
    if kind == "outbox":
        assert len(_sent(runs.folder / "outbox")) == 2 * PEOPLE
    else:
        assert len(smtp_server.messages) == 2 * PEOPLE
        assert isinstance(mailer, SmtpMailer) and mailer.connections == 2  # one per run, each closed at its end


def test_a_kept_mailer_still_sends_after_a_run_whose_delivery_deadline_has_passed(
    runs: Runs, smtp_server: SmtpTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's deadline belongs to that run: the web app's next message (a sign-in link) is not cut short by it."""
    monkeypatch.setenv("EXECINTEL_DELIVERY_DEADLINE", "1")
    mailer = SmtpMailer.from_url(smtp_server.url(), SETTINGS)
    runs(mailer=mailer)  # its outcome does not matter here (on a slow machine, the deadline may cut it short)
    time.sleep(1.1)  # past that run's deadline
    link = OutgoingMessage(key="sign-in/1", sender="reports@example.com", to=("p0@example.com",), bcc=(),
                           data=b"Subject: Sign in\r\n\r\nYour link.\r\n")  # fmt: skip
    with mailer:
        mailer.send(link, commit=lambda: None)
    assert smtp_server.messages[-1].recipients == ("p0@example.com",)


@pytest.mark.parametrize("bad", ["cfoo", "../cfo", "cfo,cto", " cfo"])
def test_a_bad_report_id_is_a_config_error_naming_it(bad: str, runs: Runs) -> None:
    outbox = OutboxMailer(runs.folder / "outbox")
    with pytest.raises(ConfigError) as raised:
        runs(bad, mailer=outbox)
    assert f"unknown report {bad!r}" in str(raised.value) and str(raised.value).startswith("report_ids:")
    assert runs.store.list_runs() == [] and not (runs.folder / "out").exists()


def test_report_ids_lists_every_report_with_its_builders_title() -> None:
    assert {report: importlib.import_module(module).TITLE for report, module in REPORTS.items()} == TITLES
    assert list(TITLES) == list(REPORTS)


def test_importing_the_service_pulls_in_no_analysis_stack() -> None:
    """The web app (and the AWS API function) import these at start-up; the analysis stack loads only in a run."""
    heavy = ["numpy", "pyarrow", "duckdb", "matplotlib", "beancount", "pandas", "execintel.analysis",
             "execintel.reports", "execintel.sources", "rich", "typer"]  # fmt: skip
    code = f"import sys, execintel.report_ids, execintel.service; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]"
