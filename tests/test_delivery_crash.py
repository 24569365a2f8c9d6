"""``kill -9`` of a delivering run at random moments, then the same command again: every delivery arrives exactly
once, for the outbox and for SMTP, and the store verifies.

Each trial has its own store, outbox or SMTP server. The kill lands at a random moment between two messages (the
j-th message has arrived, then a random part of the interval to the next), or before the first one; and for SMTP
also exactly when the server has received a message's final dot, before it answers (the server kills the run
there). ``EXECINTEL_CRASH_TRIALS`` trials of each (4 by default, 50 for ``make test-all``).

The runs are ``execintel run`` as the command line runs it (``execintel.cli.main``), each forked from a process
that imported execintel once: a run then takes a fraction of a second instead of the seconds its imports take, so
fifty trials fit in a test run. The kill and everything after it are the same as for ``python -m execintel``.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from conftest import WritePortfolio, delivery_manifest
from execintel.store import SqliteStore
from smtp_server import Received, SmtpTestServer

TRIALS = int(os.environ.get("EXECINTEL_CRASH_TRIALS", "4"))
PEOPLE = 8  # 8 recipients of the daily digest, paced at 25 a second: a message every 40 ms
GAP = 1 / 25

ZYGOTE = textwrap.dedent(
    """
    import importlib, json, os, pkgutil, sys, threading
    import duckdb, matplotlib.pyplot  # imported once, here, for every run forked below
    import execintel, execintel.cli
    for module in pkgutil.walk_packages(execintel.__path__, "execintel."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    execintel.render.html._environment().get_template("report.html.j2")  # compiled once too
    execintel.render.charts.warm()  # and the fonts loaded
    assert threading.active_count() == 1  # fork only from a single thread
    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                os.chdir(request["cwd"])
                os.environ.clear()
                os.environ.update(request["env"])
                log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
                os.dup2(log, 1)
                os.dup2(log, 2)
                sys.argv = ["execintel", *request["argv"]]
                execintel.cli.main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        print(json.dumps({"pid": pid}), flush=True)
        sys.stdin.readline()  # reaped only when asked: until then the pid cannot be reused, so killing it is safe
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"status": os.waitstatus_to_exitcode(status)}), flush=True)
    """
)


class Zygote:
    """A process that imported execintel once and forks each ``execintel run`` asked of it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", ZYGOTE], env=env, text=True, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE)  # fmt: skip
        assert "ready" in self._read()

    def _read(self) -> dict[str, Any]:
        stdout: IO[str] | None = self.process.stdout
        assert stdout is not None
        answer: dict[str, Any] = json.loads(stdout.readline())
        return answer

    def start(self, argv: list[str], folder: Path, env: dict[str, str]) -> int:
        """Fork a run; its pid (its output goes to folder/run.log)."""
        stdin: IO[str] | None = self.process.stdin
        assert stdin is not None
        request = {"argv": argv, "cwd": str(folder), "env": env, "log": str(folder / "run.log")}
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        pid: int = self._read()["pid"]
        return pid

    def wait(self) -> int:
        """The exit status of the run started last (negative: killed by that signal)."""
        stdin: IO[str] | None = self.process.stdin
        assert stdin is not None
        stdin.write("wait\n")
        stdin.flush()
        status: int = self._read()["status"]
        return status

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(30)
        self.process.stdout.close()


def _env(folder: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(folder), "NO_COLOR": "1", "EXECINTEL_DATA_DIR": str(folder),
            "COLUMNS": "200"}  # fmt: skip


@pytest.fixture(scope="module")
def zygote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zygote]:
    started = Zygote(_env(tmp_path_factory.mktemp("zygote")))
    yield started
    started.close()


def _argv(manifest: Path, folder: Path, mailer: str) -> list[str]:
    return ["run", str(manifest), "--no-pdf", "--reports", "daily", "--mailer", mailer, "--store",
            f"sqlite:///{folder / 'audit.db'}", "--out", str(folder / "out")]  # fmt: skip


def _keys(raw: list[bytes]) -> Counter[str]:
    return Counter(email.message_from_bytes(r, policy=email.policy.default)["X-Execintel-Delivery"] for r in raw)


class Trial:
    """One trial's folder and mailbox: an outbox folder, or an SMTP server of its own."""

    def __init__(self, kind: str, folder: Path, factory: Callable[..., SmtpTestServer], **server: Any) -> None:
        self.kind, self.folder = kind, folder
        folder.mkdir()
        if kind == "outbox":
            self.url = f"outbox:{folder / 'outbox'}"
            self.server = None
        else:
            self.server = factory(**server)
            self.url = self.server.url()

    def received(self) -> list[bytes]:
        """Every message the mailbox holds so far."""
        if self.server is not None:
            return [m.data for m in self.server.messages]
        return [p.read_bytes() for p in (self.folder / "outbox").glob("*.eml")]

    def count(self) -> int:
        """How many messages arrived (cheaper than reading them)."""
        if self.server is not None:
            return len(self.server.messages)
        outbox = self.folder / "outbox"
        return sum(1 for _ in outbox.glob("*.eml")) if outbox.is_dir() else 0

    def check_rerun(self, zygote: Zygote, manifest: Path, what: str) -> SqliteStore:
        """Run the same command again: it exits 0, every message arrived once, the store verifies."""
        zygote.start(_argv(manifest, self.folder, self.url), self.folder, _env(self.folder))
        status = zygote.wait()
        log = (self.folder / "run.log").read_text(encoding="utf-8", errors="replace")
        assert status == 0, f"{what}: the rerun exited {status}: {log[-2000:]}"
        keys = _keys(self.received())
        assert len(keys) == PEOPLE, f"{what}: {len(keys)} of {PEOPLE} arrived (lost)"
        assert max(keys.values()) == 1, f"{what}: sent twice: {keys}"
        store = SqliteStore(self.folder / "audit.db")
        assert [d.state for d in store.deliveries()] == ["sent"] * PEOPLE, what
        assert store.verify().ok, what
        return store


def _first_message_delay(zygote: Zygote, manifest: Path, folder: Path, factory: Callable[..., SmtpTestServer]) -> float:
    """An undisturbed run: how long until its first message arrives (the kills before it are drawn from that)."""
    trial = Trial("smtp", folder, factory)
    start = time.monotonic()
    zygote.start(_argv(manifest, folder, trial.url), folder, _env(folder))
    first = None
    while first is None:
        if trial.count():
            first = time.monotonic() - start
        time.sleep(0.002)
    assert zygote.wait() == 0 and trial.count() == PEOPLE
    return first


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["outbox", "smtp"])
def test_kill_9_at_random_moments_then_a_rerun_delivers_each_message_exactly_once(
    kind: str, zygote: Zygote, write_portfolio: WritePortfolio, tmp_path: Path,
    smtp_server_factory: Callable[..., SmtpTestServer],
) -> None:  # fmt: skip
    manifest = write_portfolio(delivery_manifest(PEOPLE, policies={"send_rate_per_second": 25}))
    first = _first_message_delay(zygote, manifest, tmp_path / "calibrate", smtp_server_factory)
    rng = random.Random(f"crash-{kind}")  # noqa: S311 - kill times, not secrets
    left: Counter[str] = Counter()
    for trial_number in range(TRIALS):
        trial = Trial(kind, tmp_path / f"trial-{trial_number}", smtp_server_factory)
        after = trial_number % PEOPLE  # kill after this many messages arrived (0: before the first)
        start = time.monotonic()
        pid = zygote.start(_argv(manifest, trial.folder, trial.url), trial.folder, _env(trial.folder))
        if after == 0:
            time.sleep(rng.uniform(0, first))
        else:
            while trial.count() < after and time.monotonic() - start < 60:
                time.sleep(0.001)
            time.sleep(rng.uniform(0, GAP))  # anywhere up to the next message: mid-commit, mid-hand-off, ...
        os.kill(pid, signal.SIGKILL)  # a run that already finished is a zombie until waited: its pid is still its own
        status = zygote.wait()
        what = f"{kind} trial {trial_number} (killed after message {after} + a random part of {GAP * 1000:.0f} ms)"
        with SqliteStore(trial.folder / "audit.db") as killed:
            left.update(d.state for d in killed.deliveries())
        assert status in (-signal.SIGKILL, 0), f"{what}: exited {status}"
        trial.check_rerun(zygote, manifest, what).close()
    # the kills did land mid-delivery: runs left deliveries sent and deliveries not sent yet
    assert left["sent"] and (left["rendered"] or left["sending"]), left


@pytest.mark.slow
def test_kill_9_when_the_server_has_the_message_but_has_not_answered_then_a_rerun_sends_it_once(
    zygote: Zygote, write_portfolio: WritePortfolio, tmp_path: Path, smtp_server_factory: Callable[..., SmtpTestServer]
) -> None:
    manifest = write_portfolio(delivery_manifest(PEOPLE, policies={"send_rate_per_second": 25}))
    for trial_number in range(TRIALS):
        target = trial_number % PEOPLE + 1  # the message at whose final dot the run dies
        running: dict[str, int] = {}

        def kill_at_the_dot(received: Received, target: int = target, running: dict[str, int] = running) -> None:
            running["count"] = running.get("count", 0) + 1
            if running["count"] == target and "pid" in running:
                os.kill(running["pid"], signal.SIGKILL)  # queued, not yet answered: the worst moment to die

        trial = Trial("smtp", tmp_path / f"trial-{trial_number}", smtp_server_factory, on_message=kill_at_the_dot)
        running["pid"] = zygote.start(_argv(manifest, trial.folder, trial.url), trial.folder, _env(trial.folder))
        what = f"trial {trial_number} (killed at the final dot of message {target})"
        assert zygote.wait() == -signal.SIGKILL, what
        assert trial.count() == target, what
        store = trial.check_rerun(zygote, manifest, what)
        # the audit says which delivery the server was not asked about: sent, inferred from the commit point
        inferred = [e for e in store.entries() if e.data.get("from") == "sending" and e.data.get("to") == "sent"
                    and str(e.data.get("reason", "")).startswith("not confirmed by the SMTP server")]  # fmt: skip
        assert len(inferred) == 1, what
        store.close()
