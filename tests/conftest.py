"""Shared fixtures: portfolios written to temporary folders, real git repositories, a moto server."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

import leftovers

pytest_plugins = ["smtp_server"]  # the aiosmtpd fixtures: smtp_server, smtp_server_factory

DATA = Path(__file__).parent / "data"
SHARED = DATA / "shared"
# Screenshots and rendered pages the checks make, kept for people to look at (git-ignored).
ARTIFACTS = Path(os.environ.get("EXECINTEL_TEST_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts"))


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--update-goldens`` rewrites the golden files from the current output instead of comparing."""
    parser.addoption("--update-goldens", action="store_true", help="rewrite tests/data/golden from this run")


def pytest_configure(config: pytest.Config) -> None:
    """Make the test process the subreaper of everything the tests start, so no orphan can hide (see below)."""
    if not hasattr(config, "workerinput"):
        leftovers.become_subreaper()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session when a process the tests started (or its orphaned child) is still running at the end."""
    if hasattr(session.config, "workerinput"):
        return
    found = leftovers.wait_for_descendants(grace=10.0)
    if found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = [f"  pid {pid}: {command}" for pid, command in found]
        message = "\nprocesses left running after the tests (killed now):\n" + "\n".join(lines)
        if reporter is not None:
            reporter.write_line(message, red=True)
        else:  # pragma: no cover - the terminal reporter is always there in a normal run
            print(message, file=sys.stderr)
        leftovers.kill(pid for pid, _ in found)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m execintel ARGS`` as a user would, with a plain environment (no colours, wide lines)."""
    base = {"COLUMNS": "200", "NO_COLOR": "1", "PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"),
            # the audit store (dry runs are recorded too) of this working folder, never the user's own
            "EXECINTEL_DATA_DIR": str(Path(cwd, ".execintel-data").absolute())}  # fmt: skip
    if "EXECINTEL_CACHE_DIR" in os.environ:
        base["EXECINTEL_CACHE_DIR"] = os.environ["EXECINTEL_CACHE_DIR"]
    return subprocess.run([sys.executable, "-m", "execintel", *args], capture_output=True, text=True, cwd=cwd,
                          env={**base, **(env or {})}, check=False, timeout=timeout)  # fmt: skip


@dataclass(frozen=True)
class RunOutput:
    """One ``execintel run --dry-run``: the process, the report documents by id, and the folders."""

    done: subprocess.CompletedProcess[str]
    documents: dict[str, Any]
    folder: Path  # the working directory (its out/ holds the run)
    run_dir: Path  # out/<run-id>


def dry_run(folder: Path, *args: str) -> RunOutput:
    """``execintel run --dry-run --out out ARGS`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    done = cli("run", "--dry-run", "--out", "out", *args, cwd=folder)
    assert done.returncode == 0, done.stderr
    [run_dir] = (folder / "out").iterdir()
    documents = {p.stem: json.loads(p.read_text(), parse_float=Decimal) for p in run_dir.glob("*.json")}
    return RunOutput(done, documents, folder, run_dir)


def shared_run(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], RunOutput]) -> RunOutput:
    """``build(folder)`` once per test session, even across pytest-xdist workers: the first worker to ask builds it
    under a lock in the session's shared temporary folder, the others wait for it and read it back. The run is
    read-only for the tests that share it."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return build(tmp_path_factory.mktemp(name))
    shared = tmp_path_factory.getbasetemp().parent  # pytest-N/: this session's, common to its workers
    folder, record = shared / name, shared / f"{name}.json"
    with open(shared / f"{name}.lock", "w") as lock:  # noqa: PTH123 - held for the build
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.exists():
            run = build(folder)
            done = {"args": run.done.args, "returncode": run.done.returncode, "stdout": run.done.stdout,
                    "stderr": run.done.stderr}  # fmt: skip
            record.write_text(json.dumps(done), encoding="utf-8")
        done = json.loads(record.read_text(encoding="utf-8"))
    process = subprocess.CompletedProcess(done["args"], done["returncode"], done["stdout"], done["stderr"])
    [run_dir] = (folder / "out").iterdir()
    documents = {p.stem: json.loads(p.read_text(), parse_float=Decimal) for p in run_dir.glob("*.json")}
    return RunOutput(process, documents, folder, run_dir)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> RunOutput:
    """Every report of the bundled demo portfolio in every format, built once per test session."""
    return shared_run(tmp_path_factory, "demo-run", dry_run)


@pytest.fixture(scope="session")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> RunOutput:
    """Every report of the demo with hostile text in every free-text field (see ``tests/hostile.py``)."""
    from hostile import hostile_portfolio

    def build(folder: Path) -> RunOutput:
        return dry_run(folder, str(hostile_portfolio(folder / "portfolio")))

    return shared_run(tmp_path_factory, "hostile-run", build)


GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
}

# Fake credentials for moto; no shared config, no instance metadata: nothing reaches the real AWS.
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """The URL of a moto server (all services) on 127.0.0.1 and a free port, for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def base_manifest(**overrides: Any) -> dict[str, Any]:
    """The smallest valid manifest, with top-level keys replaced by ``overrides``."""
    manifest: dict[str, Any] = {
        "version": 1,
        "portfolio": {"name": "Test Holdings", "as_of": "2026-11-15"},
        "sender": "reports@example.com",
        "stakeholders": [{"id": "casey", "name": "CEO", "email": "ceo@example.com", "roles": ["ceo"]}],
        "entities": [{"id": "qosd", "name": "Queen of San Diego"}],
    }
    manifest.update(overrides)
    return manifest


WritePortfolio = Callable[..., Path]


@pytest.fixture
def write_portfolio(tmp_path: Path) -> WritePortfolio:
    """Write a manifest (dict) and data files (name -> text or bytes) into a fresh folder."""

    def write(manifest: dict[str, Any] | None = None, files: dict[str, str | bytes] | None = None) -> Path:
        root = tmp_path / "portfolio"
        root.mkdir(exist_ok=True)
        for name, content in (files or {}).items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        path = root / "portfolio.yaml"
        path.write_text(yaml.safe_dump(manifest or base_manifest(), sort_keys=False), encoding="utf-8")
        return path

    return write


class GitRepo:
    """A real git repository in a temporary folder, driven through the git CLI."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self._tick = 0

    def git(self, *args: str) -> str:
        env = {**os.environ, **GIT_ENV}
        return subprocess.run(
            ["git", "-C", str(self.path), *args], check=True, capture_output=True, text=True, env=env
        ).stdout

    def commit(self, message: str, files: dict[str, str | None]) -> str:
        """Write (or delete, for None) files and commit them; return the new commit's sha."""
        for name, content in files.items():
            target = self.path / name
            if content is None:
                self.git("rm", "-q", name)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content, encoding="utf-8")
                self.git("add", name)
        self._tick += 1
        stamp = f"2026-01-{self._tick:02d}T12:00:00+00:00"
        subprocess.run(
            ["git", "-c", "commit.gpgsign=false", "-C", str(self.path), "commit", "-q", "-m", message],
            check=True,
            capture_output=True,
            env={**os.environ, **GIT_ENV, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp},
        )
        return self.git("rev-parse", "HEAD").strip()


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[str], GitRepo]:
    """Create git repositories under the test's portfolio folder."""

    def make(name: str) -> GitRepo:
        return GitRepo(tmp_path / "portfolio" / name)

    return make


def delivery_manifest(people: int = 3, **overrides: Any) -> dict[str, Any]:
    """A manifest with ``people`` stakeholders who each get the CEO and daily reports, and an audit mailbox."""
    stakeholders = [
        {"id": f"p{i}", "name": f"Person {i}", "email": f"p{i}@example.com", "roles": ["ceo", "daily"]}
        for i in range(people)
    ]
    return base_manifest(**{"stakeholders": stakeholders, "audit_mailbox": "audit@example.org", **overrides})
