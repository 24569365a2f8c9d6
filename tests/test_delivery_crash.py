"""``kill -9`` at random points of a delivering run, then the same command again: every delivery arrives exactly
once, for the outbox and for SMTP. Twenty trials per mailer, each with its own store and mailbox."""

from __future__ import annotations

import email
import email.policy
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import WritePortfolio, delivery_manifest
from execintel.store import SqliteStore
from smtp_server import SmtpTestServer

TRIALS = 20
PEOPLE = 8  # 8 recipients of the daily digest, paced at 25 a second: sending takes about a third of a second


def _command(manifest: Path, folder: Path, mailer: str) -> list[str]:
    return [sys.executable, "-m", "execintel", "run", str(manifest), "--no-pdf", "--reports", "daily",
            "--mailer", mailer, "--store", f"sqlite:///{folder / 'audit.db'}", "--out", str(folder / "out")]  # fmt: skip


def _env(folder: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(folder), "NO_COLOR": "1", "EXECINTEL_DATA_DIR": str(folder)}


def _keys(raw: list[bytes]) -> Counter[str]:
    return Counter(email.message_from_bytes(r, policy=email.policy.default)["X-Execintel-Delivery"] for r in raw)


@pytest.mark.parametrize("kind", ["outbox", "smtp"])
def test_a_killed_run_then_rerun_delivers_each_message_exactly_once(
    kind: str, write_portfolio: WritePortfolio, tmp_path: Path, smtp_server_factory: Callable[..., SmtpTestServer]
) -> None:
    manifest = write_portfolio(delivery_manifest(PEOPLE, policies={"send_rate_per_second": 25}))
    rng = random.Random(f"crash-{kind}")  # noqa: S311 - kill times, not secrets
    seen_states: Counter[str] = Counter()

    def mailbox(folder: Path) -> tuple[str, Callable[[], list[bytes]]]:
        if kind == "outbox":
            return f"outbox:{folder / 'outbox'}", lambda: [p.read_bytes() for p in (folder / "outbox").glob("*.eml")]
        server = smtp_server_factory()
        return server.url(), lambda: [m.data for m in server.messages]

    # one undisturbed run tells when sending starts and ends
    folder = tmp_path / "calibrate"
    folder.mkdir()
    url, received = mailbox(folder)
    start = time.monotonic()
    proc = subprocess.Popen(_command(manifest, folder, url), env=_env(folder), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    first = None
    while proc.poll() is None:
        if first is None and received():
            first = time.monotonic() - start
        time.sleep(0.005)
    total = time.monotonic() - start
    assert proc.returncode == 0 and len(received()) == PEOPLE and first is not None

    for trial in range(TRIALS):
        folder = tmp_path / f"trial-{trial}"
        folder.mkdir()
        url, received = mailbox(folder)
        # most kills land while messages are going out, some before the first and some near the end
        delay = rng.uniform(max(0.0, first - 0.15), total)
        proc = subprocess.Popen(_command(manifest, folder, url), env=_env(folder), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        store = SqliteStore(folder / "audit.db")
        seen_states.update(d.state for d in store.deliveries())
        store.close()
        rerun = subprocess.run(_command(manifest, folder, url), env=_env(folder), capture_output=True, text=True,
                               timeout=120, check=False)  # fmt: skip
        assert rerun.returncode == 0, f"trial {trial} (killed after {delay:.3f} s): {rerun.stderr}"
        keys = _keys(received())
        assert len(keys) == PEOPLE, f"trial {trial} (killed after {delay:.3f} s): {len(keys)} of {PEOPLE} arrived"
        assert max(keys.values()) == 1, f"trial {trial} (killed after {delay:.3f} s): duplicates {keys}"
        store = SqliteStore(folder / "audit.db")
        assert [d.state for d in store.deliveries()] == ["sent"] * PEOPLE
        assert store.verify().ok
        store.close()
    # the kills really did land mid-delivery: some runs left deliveries both sent and not yet sent
    assert seen_states["sent"] and (seen_states["rendered"] or seen_states["sending"])
