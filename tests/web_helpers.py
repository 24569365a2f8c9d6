"""Shared pieces of the web tests: a small portfolio with one stakeholder per role, the app over a real SQLite
store and outbox mailer, and reading the sign-in link from the outbox as a mail client would."""

from __future__ import annotations

import email
import email.policy
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx2
import yaml
from fastapi.testclient import TestClient

from conftest import base_manifest
from execintel.config.settings import Settings
from execintel.delivery.mailers import open_mailer
from execintel.store import Store, open_store
from execintel.store.base import Clock
from execintel.web import create_app
from execintel.web.app import Runner
from execintel.web.config import Limits, WebConfig, web_config
from execintel.web.jobs import Jobs

SECRET = "test-secret-made-for-these-tests-only-0123456789-abcdefghijklmnopqrstuvwxyz"  # a well-known fake value
PEOPLE = [
    {"id": "casey", "name": "Casey CFO", "email": "cfo@example.com", "roles": ["cfo"]},
    {"id": "tara", "name": "Tara CTO", "email": "cto@example.com", "roles": ["cto"]},
    {"id": "ada", "name": "Ada Admin", "email": "admin@example.org", "roles": ["admin"]},
]
LINK = re.compile(r"https?://[^\s\"<>]+/auth/verify\?token=[A-Za-z0-9_-]+")


def web_manifest(**overrides: Any) -> dict[str, Any]:
    """A manifest with a CFO, a CTO and an admin, and no data sources (reports build in a moment)."""
    return base_manifest(stakeholders=PEOPLE, **overrides)


def write_web_portfolio(root: Path, manifest: dict[str, Any] | None = None) -> Path:
    """Write the portfolio folder; returns the manifest path."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "portfolio.yaml"
    path.write_text(yaml.safe_dump(manifest or web_manifest(), sort_keys=False), encoding="utf-8")
    return path


@dataclass
class Web:
    """The app under test and what it writes."""

    client: Any  # the ASGI TestClient, or an httpx2 client of a served app: the same API
    store: Store
    outbox: Path
    out: Path
    config: WebConfig
    portfolio: Path


def settings(tmp: Path, **extra: Any) -> Settings:
    """Settings of a test app: the secret, the out folder, plus ``extra``."""
    return Settings(jwt_secret=SECRET, out=tmp / "out", **extra)


@contextmanager
def web_app(
    tmp: Path, *, manifest: dict[str, Any] | None = None, clock: Clock | None = None, runner: Runner | None = None,
    limits: Limits | None = None, sns_fetch: Callable[[str], bytes] | None = None, jobs: Jobs | None = None,
    **extra: Any,
) -> Iterator[Web]:  # fmt: skip
    """The app over a fresh SQLite store and outbox, with a TestClient (its lifespan runs)."""
    portfolio = write_web_portfolio(tmp / "portfolio", manifest)
    chosen = settings(tmp, **extra)
    config = web_config(chosen, portfolio)
    if limits is not None:
        config = replace(config, limits=limits)
    store = open_store(f"sqlite:///{tmp / 'audit.sqlite'}", chosen, clock=clock)
    mailer = open_mailer(f"outbox:{tmp / 'outbox'}", chosen)
    app = create_app(config, store=store, mailer=mailer, settings=chosen, runner=runner, sns_fetch=sns_fetch, jobs=jobs)
    try:
        with TestClient(app, base_url="http://127.0.0.1:8000") as client:
            yield Web(client, store, tmp / "outbox", tmp / "out", config, portfolio)
    finally:
        store.close()


def read_link(outbox: Path, address: str, *, after: float = 0.0, timeout: float = 20.0) -> str:
    """The sign-in link in the newest message to ``address`` written after ``after`` (epoch seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(outbox.glob("signin-*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
            if path.stat().st_mtime < after:
                continue
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if address.lower() in str(message["To"]).lower():
                body = message.get_body(("plain",))
                assert body is not None
                found = LINK.search(body.get_content())
                assert found, "the sign-in message holds no link"
                return found.group(0)
        time.sleep(0.05)
    raise AssertionError(f"no sign-in message to {address} in {outbox}")


def sign_in(web: Web, address: str) -> str:
    """Ask for a link, read it from the outbox, open it and press the button; returns the CSRF token."""
    before = time.time() - 1
    answer = web.client.post("/api/auth/magic-link", json={"email": address})
    assert answer.status_code == 202
    link = read_link(web.outbox, address, after=before)
    token = link.split("token=", 1)[1]
    page = web.client.get(f"/auth/verify?token={token}")
    assert page.status_code == 200 and 'action="/auth/verify"' in page.text
    done = web.client.post("/auth/verify", data={"token": token}, follow_redirects=False)
    assert done.status_code == 303, done.text
    me = web.client.get("/api/me")
    assert me.status_code == 200, me.text
    csrf: str = me.json()["csrf_token"]
    return csrf


def wait_for_run(web: Web, run_id: str, timeout: float = 120.0) -> dict[str, Any]:
    """Poll the run as the dashboard does until its status is final."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = web.client.get(f"/api/runs/{run_id}")
        assert answer.status_code == 200, answer.text
        run: dict[str, Any] = answer.json()
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s")


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def served(tmp: Path, *, manifest: dict[str, Any] | None = None) -> Iterator[Web]:
    """``execintel serve`` in a child process on loopback, as a user runs it (real uvicorn, real runs), with a
    client of it; the server is always stopped."""
    portfolio = write_web_portfolio(tmp / "portfolio", manifest)
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "EXECINTEL_JWT_SECRET": SECRET,
           "EXECINTEL_MAILER": f"outbox:{tmp / 'outbox'}", "EXECINTEL_STORE": f"sqlite:///{tmp / 'audit.sqlite'}",
           "EXECINTEL_OUT": str(tmp / "out"), "EXECINTEL_DATA_DIR": str(tmp / "data"), "NO_COLOR": "1"}  # fmt: skip
    log = (tmp / "serve.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "execintel", "serve", str(portfolio), "--host", "127.0.0.1",
                               "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx2.Client(base_url=base, timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx2.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"execintel serve did not start: {(tmp / 'serve.log').read_text()}")
                time.sleep(0.1)
            chosen = settings(tmp)
            store = open_store(f"sqlite:///{tmp / 'audit.sqlite'}", chosen)
            try:
                yield Web(client, store, tmp / "outbox", tmp / "out", web_config(chosen, portfolio), portfolio)
            finally:
                store.close()
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        log.close()
