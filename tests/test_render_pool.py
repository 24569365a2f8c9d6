"""Render workers never outlive their run: killed with ``kill -9``, stopped with SIGTERM or interrupted with SIGINT
while it renders, a run leaves no process behind, and a stopped run exits cleanly and is recorded as interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from execintel.render.pool import RenderPool
from execintel.store import SqliteStore


def _group(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it exited meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (command)": state, ppid, pgrp, ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _survivors(pgid: int, grace: float = 5.0) -> list[int]:
    """The group's processes still alive after ``grace`` seconds (polling: usually it is empty at once)."""
    deadline = time.monotonic() + grace
    while (alive := _group(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


@pytest.fixture(scope="module")
def starter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The starter portfolio of ``execintel init``: nine reports, charts and PDFs to render, quick to load."""
    folder = tmp_path_factory.mktemp("starter") / "portfolio"
    subprocess.run([sys.executable, "-m", "execintel", "init", str(folder)], check=True, capture_output=True)
    return folder


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core: the run renders without worker processes")
@pytest.mark.parametrize(
    ("how", "delivering"),
    [
        (signal.SIGKILL, False),
        (signal.SIGTERM, False),
        pytest.param(signal.SIGINT, False, marks=pytest.mark.long),  # the same unwinding as SIGTERM: make test-all
        (signal.SIGTERM, True),
    ],
    ids=["kill-9", "sigterm", "sigint", "sigterm-delivering"],
)
def test_a_run_stopped_while_it_renders_leaves_no_process_behind(
    tmp_path: Path, starter: Path, how: signal.Signals, delivering: bool
) -> None:
    command = [sys.executable, "-m", "execintel", "run", str(starter), "--out", str(tmp_path / "out")]
    command += ["--mailer", f"outbox:{tmp_path / 'outbox'}", "--store", f"sqlite:///{tmp_path / 'audit.db'}"] \
        if delivering else ["--dry-run"]  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NO_COLOR": "1", "EXECINTEL_DATA_DIR": str(tmp_path)}
    run = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           start_new_session=True, text=True)  # fmt: skip
    try:
        # the demo's reports are being written: the workers are drawing charts and laying out PDFs
        while run.poll() is None and not any((tmp_path / "out").glob("*/*")):
            time.sleep(0.02)
        assert run.poll() is None, "the run ended before it could be stopped"
        workers = [pid for pid in _group(run.pid) if pid != run.pid]
        assert workers, "the run has no render workers to leave behind"
        run.send_signal(how)
        _, stderr = run.communicate(timeout=60)
        assert _survivors(run.pid) == []  # no worker of the run, however it ended
    finally:
        if run.poll() is None:  # the test failed: do not leave the run behind either
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        for pid in _group(run.pid):
            os.kill(pid, signal.SIGKILL)
    if how == signal.SIGKILL:
        return
    assert run.returncode == 128 + how  # a clean exit: the conventional status for the signal
    assert "Traceback" not in stderr and "Internal error" not in stderr
    if delivering:
        with SqliteStore(tmp_path / "audit.db") as store:
            [record] = store.list_runs()
        assert record.status == "interrupted" and record.summary == {"error": "interrupted by SIGTERM"}
        assert "was interrupted by SIGTERM" in " ".join(stderr.split())


def test_a_run_of_one_report_starts_one_render_worker() -> None:
    # Four cores, one document (--reports cfo): a second worker would only import matplotlib on a core that the
    # loading and the analysis need.
    for documents, expected in ((1, 1), (9, 4), (None, 4)):
        pool = RenderPool(pdf=False, workers=4, documents=documents)
        try:
            assert pool._pool is not None and pool._pool._max_workers == expected
        finally:
            pool.close(terminate=True)  # not waiting for the workers to finish warming up
    assert RenderPool(pdf=False, workers=1, documents=1)._pool is None  # one core: rendered in-process, as before
