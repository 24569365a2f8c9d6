"""Benchmark: the web API under load, served by ``execintel serve`` (one uvicorn worker) on loopback.

Requirements (issue 14, issue 16): ``GET /api/history`` at 200 requests/s with a p99 latency under 50 ms;
``POST /api/reports/cfo`` answers (202) in under 100 ms, the run itself happening in the job queue. Figures
(``harness.report``): ``api.history_p99_ms``, one sample per load window (``--windows`` consecutive windows of
``--seconds`` against the same server; the first after ``--warmup`` seconds of warm-up, the others after one
second), and ``api.post_ms``, one sample per POST; the verdict on the median.

The server is started as a user starts it, ``python -m execintel serve PORTFOLIO --host 127.0.0.1 --port N``, over
a SQLite store and an outbox mailer in a temporary folder. Before it starts, the store is seeded with a realistic
history (``--runs`` finished runs, each with the reports of its schedule, their findings and deliveries), so
``/api/history`` reads a store of realistic size. The benchmark signs in as a CFO as a person would (asks for a
link, reads it from the outbox, posts the token), then:

- **history**: an open-loop load generator (this script is the load tool: asyncio and httpx2's AsyncClient, HTTP/1.1
  keep-alive over a pool of ``--connections``). Request ``i`` is due at ``t0 + i / rate`` and is sent then,
  whatever happened to the earlier ones; its latency is measured from that due time to the end of the answer. A
  slow server therefore cannot slow the generator down and hide its queueing (no coordinated omission): time spent
  waiting for a free connection or behind a slow answer counts. The first ``--warmup`` seconds are not counted.
  One answer is checked in full first (the runs the CFO may read, newest first); nothing writes to the store during
  the load, so every answer must then be 200 and byte for byte the same.
- **start a run**: ``--posts`` runs of the CFO report one after the other; each POST is timed to its 202, then
  ``/api/runs/<id>`` is polled until the run is over, then ``/api/reports`` until the report is no longer shown
  running (a POST while it runs is a 409 by design); every run must end ``ok``, and the median time of a run is
  printed for context.

Prints p50, p90, p99 and max latency, the achieved rate and the errors, and PASS or FAIL per target; exits 1 when
a target is missed or an answer is wrong. The server is always stopped (terminated, then killed).

    .venv/bin/python benchmarks/bench_api.py                                # 5 windows of 8 s, 5 POSTs
    .venv/bin/python benchmarks/bench_api.py --windows 1 --seconds 30 --posts 20   # one 30 s window, as issue 14
    .venv/bin/python benchmarks/bench_api.py --rate 400 --seconds 60 --runs 5000 --posts 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import math
import os
import re
import secrets
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from execintel.config.settings import Settings
from execintel.store import Delivery, ReportRecord, RunRecord, open_store

HISTORY_P99_MS = 50.0
POST_MS = 100.0
PORTFOLIO = "Bench Holdings"
PEOPLE: list[dict[str, Any]] = [
    {"id": "casey", "name": "Casey CFO", "email": "cfo@example.com", "roles": ["cfo"]},
    {"id": "tara", "name": "Tara CTO", "email": "cto@example.com", "roles": ["cto"]},
    {"id": "ada", "name": "Ada Admin", "email": "admin@example.org", "roles": ["admin"]},
]
# What a portfolio's store fills with: six daily digests, two weekly strategy runs, a month-end close and a CFO
# report started from the web in every ten runs. The CFO may read four runs in ten.
SCHEDULES: list[tuple[str | None, tuple[str, ...]]] = [
    *[("daily-digest", ("daily",))] * 6,
    *[("weekly-strategy", ("ceo", "cto", "cfo", "cmo"))] * 2,
    ("month-end", ("accounting", "billing-audit", "cfo", "delivery-ops", "property")),
    (None, ("cfo",)),
]
LINK = re.compile(r"https?://[^\s\"<>]+/auth/verify\?token=[A-Za-z0-9_-]+")
COOKIE = "execintel_session"
FINAL = ("ok", "failed", "held", "interrupted")


def manifest() -> dict[str, Any]:
    """A small portfolio with a CFO, a CTO and an admin, and no data sources (a report builds in a moment)."""
    return {
        "version": 1,
        "portfolio": {"name": PORTFOLIO, "as_of": "2026-11-15"},
        "sender": "reports@example.com",
        "stakeholders": PEOPLE,
        "entities": [{"id": "qosd", "name": "Queen of San Diego"}],
    }


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def readers(report: str) -> list[str]:
    """The addresses a report goes to: the stakeholders with its role, and the admin."""
    return [p["email"] for p in PEOPLE if report in p["roles"] or "admin" in p["roles"]]


def seed(url: str, settings: Settings, runs: int) -> list[str]:
    """Record ``runs`` finished runs (oldest first, every 8 hours up to now) with their reports, findings and
    deliveries; returns the run ids the CFO may read, newest first."""
    now = {"t": datetime.now(UTC) - timedelta(hours=8 * runs)}
    store = open_store(url, settings, clock=lambda: now["t"])
    visible = []
    try:
        for i in range(runs):
            started = now["t"] = datetime.now(UTC) - timedelta(hours=8 * (runs - i))
            schedule, reports = SCHEDULES[i % len(SCHEDULES)]
            run_id = f"{started:%Y%m%dT%H%M%SZ}-{i:04x}"
            period = f"{started:%G-W%V}" if schedule != "daily-digest" else f"{started:%Y-%m-%d}"
            trigger = f"schedule:{schedule}" if schedule else "web:cfo@example.com"
            store.start_run(RunRecord(run_id, PORTFOLIO, trigger, schedule, period, started, mailer="outbox"))
            now["t"] = started + timedelta(seconds=4)
            sent = 0
            for report in reports:
                figures = {f"figure_{k}": f"{(i * 37 + k * 101) % 100000}.{k:02d}" for k in range(30)}
                findings = {f"{report}-finding-{k}": {"severity": ("high", "medium", "low")[k % 3],
                            "amount": f"{k * 1234}.50", "entity": "qosd",
                            "title": f"Finding {k} of the {report} report, with a realistic length of title"}
                            for k in range(12)}  # fmt: skip
                store.record_report(ReportRecord(run_id, report, period, secrets.token_hex(32), figures, now["t"],
                                                 f"{started:%Y-%m-%d}", findings))  # fmt: skip
                for address in readers(report):
                    store.add_delivery(Delivery(f"{schedule or 'web'}/{period}/{report}/{address}/{run_id}",
                                                PORTFOLIO, schedule, period, report, address, 1, "sent", run_id,
                                                attempts=1, provider_id=f"outbox-{run_id}-{sent}"))  # fmt: skip
                    sent += 1
            store.finish_run(run_id, "ok", {"reports": len(reports), "sent": sent})
            if "cfo" in reports:
                visible.append(run_id)
    finally:
        store.close()
    return visible[::-1]


def store_size(url: str, settings: Settings) -> str:
    """What the store holds, in words."""
    store = open_store(url, settings, mode="read")
    try:
        runs = store.report_history(PORTFOLIO)
        reports = sum(len(r) for _, r in runs)
        deliveries = len(store.deliveries(portfolio=PORTFOLIO))
        entries = store.identity()[1]
    finally:
        store.close()
    size = Path(url.removeprefix("sqlite:///")).stat().st_size / (1 << 20)
    return (f"{len(runs):,} runs, {reports:,} reports, {deliveries:,} deliveries, {entries:,} audit entries, "
            f"SQLite file {size:.1f} MiB")  # fmt: skip


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def server(folder: Path, env: dict[str, str], profile: Path | None = None) -> Iterator[tuple[str, int]]:
    """``execintel serve`` in a subprocess, up and answering /healthz; yields its base URL and process id; always
    stopped.

    ``profile``: run it under ``py-spy record`` (which must be installed), writing the samples there."""
    port = free_port()
    log_path = folder / "server.log"
    spy = [] if profile is None else ["py-spy", "record", "--format", "raw", "--gil", "-o", str(profile), "--"]
    command = [*spy, sys.executable, "-m", "execintel", "serve", str(folder / "portfolio"), "--host", "127.0.0.1",
               "--port", str(port)]  # fmt: skip
    with log_path.open("wb") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=folder, env=env,
                                 start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        with httpx2.Client(base_url=base, trust_env=False, timeout=2) as client:
            while True:
                if child.poll() is not None:
                    raise RuntimeError(f"the server exited ({child.returncode}):\n{log_path.read_text()[-3000:]}")
                with contextlib.suppress(httpx2.TransportError):
                    if client.get("/healthz").json() == {"status": "ok"}:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not answer /healthz in 60 s:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.1)
        yield base, child.pid
    finally:
        if profile is not None:
            child.send_signal(signal.SIGINT)  # py-spy writes its samples and stops the server
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(30)
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(10)
        # the server's own children (PDF and chart workers of a run), if any outlived it
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)


def read_link(outbox: Path, address: str, after: float, timeout: float = 30.0) -> str:
    """The sign-in link of the newest message to ``address`` in the outbox, as a mail client reads it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(outbox.glob("signin-*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
            if path.stat().st_mtime < after:
                continue
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            body = message.get_body(("plain",))
            if address in str(message["To"]).lower() and body is not None:
                found = LINK.search(body.get_content())
                if found:
                    return found.group(0)
        time.sleep(0.05)
    raise RuntimeError(f"no sign-in message to {address} in {outbox}")


def sign_in(base: str, outbox: Path, address: str) -> tuple[str, str]:
    """Sign in through the emailed link; returns the session cookie and the CSRF token."""
    with httpx2.Client(base_url=base, trust_env=False, timeout=10) as client:
        before = time.time() - 1
        asked = client.post("/api/auth/magic-link", json={"email": address})
        if asked.status_code != 202:
            raise RuntimeError(f"asking for a sign-in link: {asked.status_code} {asked.text}")
        token = read_link(outbox, address, before).split("token=", 1)[1]
        done = client.post("/auth/verify", data={"token": token}, follow_redirects=False)
        session = done.cookies.get(COOKIE)
        if done.status_code != 303 or not session:
            raise RuntimeError(f"signing in: {done.status_code} {done.text[:300]}")
        me = client.get("/api/me", headers={"Cookie": f"{COOKIE}={session}"})
        csrf: str = me.json()["csrf_token"]
        return session, csrf


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile of ``values``."""
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


@dataclass
class Load:
    """What the history load measured (latencies in ms, from each request's due time)."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    lag: list[float] = field(default_factory=list)  # how late each request was sent after its due time (ms)
    span: float = 0.0  # seconds from the first counted due time to the last counted answer
    answered: int = 0  # answers received, warm-up included, whatever their status


def reference(base: str, session: str, path: str, expected: list[str]) -> bytes:
    """The answer every request of the load must get, checked in full: the CFO's runs, newest first, ok."""
    with httpx2.Client(base_url=base, headers={"Cookie": f"{COOKIE}={session}"}, trust_env=False) as client:
        answer = client.get(path)
    runs = answer.json()["runs"] if answer.status_code == 200 else None
    if runs is None or [(r["run_id"], r["reports"], r["status"]) for r in runs] != [
        (i, ["cfo"], "ok") for i in expected
    ]:
        raise RuntimeError(f"GET {path} answered {answer.status_code}, not the expected runs: {answer.text[:500]}")
    return answer.content


async def load(base: str, session: str, expected: list[str], args: argparse.Namespace) -> Load:
    """Send GET /api/history at ``args.rate`` per second, open loop; see the module docstring."""
    result = Load()
    warm, total = int(args.rate * args.warmup), int(args.rate * (args.warmup + args.seconds))
    limits = httpx2.Limits(max_connections=args.connections, max_keepalive_connections=args.connections,
                           keepalive_expiry=60)  # fmt: skip
    path = f"/api/history?limit={args.limit}"
    # nothing writes to the store during the load: every answer must be byte for byte the one checked in full
    want = reference(base, session, path, expected[: args.limit])
    loop = asyncio.get_running_loop()
    ends: list[float] = []

    async def one(client: httpx2.AsyncClient, i: int, due: float) -> None:
        try:
            answer = await client.get(path)
            end = loop.time()
        except httpx2.HTTPError as exc:
            result.errors[type(exc).__name__] += 1
            return
        result.answered += 1
        if answer.status_code != 200:
            result.errors[f"HTTP {answer.status_code}"] += 1
        elif answer.content != want:
            result.errors["an answer other than the expected runs"] += 1
        elif i >= warm:
            result.latencies.append((end - due) * 1000)
            ends.append(end)

    async with httpx2.AsyncClient(base_url=base, headers={"Cookie": f"{COOKIE}={session}"}, limits=limits,
                                  timeout=args.timeout, trust_env=False) as client:  # fmt: skip
        t0 = loop.time() + 0.05
        tasks = []
        for i in range(total):
            due = t0 + i / args.rate
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            result.lag.append((loop.time() - due) * 1000)
            tasks.append(asyncio.create_task(one(client, i, due)))
        await asyncio.gather(*tasks)
    result.span = (max(ends) - (t0 + warm / args.rate)) if ends else 0.0
    return result


@dataclass
class Posts:
    """What the POST benchmark measured."""

    answers: list[float] = field(default_factory=list)  # ms to the 202
    runs: list[float] = field(default_factory=list)  # s from the POST to a final status
    gaps: list[float] = field(default_factory=list)  # s from a final status to the report no longer "running"
    statuses: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def posts(base: str, session: str, csrf: str, count: int) -> Posts:
    """Start ``count`` runs of the CFO report one after the other, each after the previous one is over."""
    result = Posts()
    headers = {"Cookie": f"{COOKIE}={session}", "X-CSRF-Token": csrf, "Origin": base}
    with httpx2.Client(base_url=base, headers=headers, trust_env=False, timeout=10) as client:
        client.get("/api/me")  # the connection is open, as a dashboard's would be
        for _ in range(count):
            start = time.perf_counter()
            answer = client.post("/api/reports/cfo")
            result.answers.append((time.perf_counter() - start) * 1000)
            body = answer.json()
            if answer.status_code != 202 or body.get("status") != "queued":
                result.errors.append(f"POST answered {answer.status_code} {answer.text[:200]}")
                continue
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                run = client.get(body["url"]).json()
                if run.get("status") in FINAL:
                    result.runs.append(time.perf_counter() - start)
                    result.statuses[run["status"]] += 1
                    if run["status"] != "ok" and run.get("error"):
                        result.errors.append(f"run {run['run_id']} {run['status']}: {run['error'][:300]}")
                    break
                time.sleep(0.05)
            else:
                result.errors.append(f"run {body['run_id']} did not finish in 300 s")
            # start the next one as the dashboard does: once the report list no longer shows the report running
            final = time.perf_counter()
            while time.monotonic() < deadline:
                listed = {r["id"]: r["running"] for r in client.get("/api/reports").json()["reports"]}
                if listed.get("cfo") is None:
                    result.gaps.append(time.perf_counter() - final)
                    break
                time.sleep(0.02)
    return result


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def show_load(result: Load, cpu: tuple[float | None, float], args: argparse.Namespace) -> bool:
    """Print one load window's figures; True when its target is met and every answer was right."""
    counted, errors = len(result.latencies), sum(result.errors.values())
    ok = bool(counted) and not errors
    if counted:
        p99 = percentile(result.latencies, 99)
        ok &= p99 < args.max_p99_ms
        print(f"GET /api/history?limit={args.limit} as the CFO, open loop at {args.rate:g}/s for {args.seconds:g} s "
              f"(after {args.warmup:g} s of warm-up), {args.connections} connections: {counted:,} answers at "
              f"{counted / result.span:.1f}/s; latency p50 {percentile(result.latencies, 50):.1f} ms, p90 "
              f"{percentile(result.latencies, 90):.1f} ms, p99 {p99:.1f} ms, max {max(result.latencies):.1f} ms "
              f"(target p99 < {args.max_p99_ms:g} ms); errors {errors}; sender lag p99 "
              f"{percentile(result.lag, 99):.1f} ms: {verdict(ok)}")  # fmt: skip
    else:
        print("GET /api/history: no answer counted: FAIL")
    if cpu[0] is not None and result.answered:
        print(f"  CPU per answered request: server {cpu[0] / result.answered * 1000:.2f} ms, load generator "
              f"{cpu[1] / result.answered * 1000:.2f} ms")  # fmt: skip
    for what, n in result.errors.most_common():
        print(f"  error: {what} x{n}")
    return ok


def show_posts(done: Posts, args: argparse.Namespace) -> bool:
    """Print the POST benchmark's figures; True when its target is met and every run ended ok."""
    worst = max(done.answers)
    ok = worst < args.max_post_ms and not any(e.startswith("POST") for e in done.errors)
    runs = "no run ended"
    if done.runs:
        runs = (f"the runs took {statistics.median(done.runs):.2f} s (median), "
                f"{', '.join(f'{n} {s}' for s, n in done.statuses.items())}")  # fmt: skip
    print(f"POST /api/reports/cfo, {args.posts} runs one after the other: 202 in p50 "
          f"{statistics.median(done.answers):.1f} ms, max {worst:.1f} ms (target < {args.max_post_ms:g} ms); "
          f"{runs}: {verdict(ok)}")  # fmt: skip
    if done.gaps:
        print(
            f"  the report list stopped showing the report running {statistics.median(done.gaps) * 1000:.0f} ms "
            f"(median; max {max(done.gaps) * 1000:.0f} ms) after its run showed a final status"
        )
    for line in dict.fromkeys(done.errors):
        print(f"  {line}")
    if done.statuses["ok"] != args.posts:
        print(f"FAIL: {args.posts - done.statuses['ok']} of {args.posts} runs did not end ok")
        return False
    return ok


def main(argv: list[str] | None = None) -> int:
    """Seed, serve, measure, report; exit 1 when a target is missed, 2 when an answer or a run is wrong."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=200.0, help="GET /api/history requests per second")
    parser.add_argument("--seconds", type=float, default=8.0, help="how long each counted load window lasts")
    parser.add_argument("--windows", type=int, default=5, help="consecutive load windows (one p99 sample each)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load before the first window counts")
    parser.add_argument("--connections", type=int, default=64, help="the load generator's connection pool")
    parser.add_argument("--timeout", type=float, default=10.0, help="a request's timeout, seconds (an error)")
    parser.add_argument("--limit", type=int, default=50, help="the history page size asked for")
    parser.add_argument("--runs", type=int, default=500, help="finished runs seeded in the store")
    parser.add_argument("--posts", type=int, default=5, help="runs started with POST /api/reports/cfo; 0 skips")
    parser.add_argument("--max-p99-ms", type=float, default=HISTORY_P99_MS)
    parser.add_argument("--max-post-ms", type=float, default=POST_MS)
    parser.add_argument(
        "--server-src",
        type=Path,
        default=None,
        help="run the server from this source tree (e.g. an export of main before a change)",
    )
    parser.add_argument("--py-spy", type=Path, default=None, help="profile the server with py-spy into this file")
    args = parser.parse_args(argv)
    print(f"Web API: execintel serve (one uvicorn worker) on loopback, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    p99s: list[float] = []
    right = True  # every answer right, every run ok
    done: Posts | None = None
    with tempfile.TemporaryDirectory(prefix="execintel-bench-api-") as tmp:
        folder = Path(tmp)
        (folder / "portfolio").mkdir()
        (folder / "portfolio" / "portfolio.yaml").write_text(yaml.safe_dump(manifest(), sort_keys=False), "utf-8")
        store_url = f"sqlite:///{folder / 'audit.sqlite'}"
        env = {**os.environ, "EXECINTEL_JWT_SECRET": secrets.token_urlsafe(48), "EXECINTEL_STORE": store_url,
               "EXECINTEL_MAILER": f"outbox:{folder / 'outbox'}", "EXECINTEL_OUT": str(folder / "out"),
               "EXECINTEL_DATA_DIR": str(folder / "data")}  # fmt: skip
        if args.server_src is not None:
            env["PYTHONPATH"] = str(args.server_src.resolve())
        settings = Settings(data_dir=folder / "data")
        started = time.perf_counter()
        expected = seed(store_url, settings, args.runs)
        print(f"Store: {store_size(store_url, settings)} (seeded in {time.perf_counter() - started:.1f} s); "
              f"the CFO may read {len(expected):,} runs")  # fmt: skip
        with server(folder, env, args.py_spy) as (base, pid):
            session, csrf = sign_in(base, folder / "outbox", "cfo@example.com")
            for window in range(args.windows):
                # the first window warms the server up; the others follow it on the warm server
                this = argparse.Namespace(**{**vars(args), "warmup": args.warmup if window == 0 else 1.0})
                before = cpu_seconds(pid), time.process_time()
                result = asyncio.run(load(base, session, expected, this))
                after = cpu_seconds(pid), time.process_time()
                server_cpu = None if before[0] is None or after[0] is None or args.py_spy else after[0] - before[0]
                print(f"window {window + 1} of {args.windows}: ", end="")
                show_load(result, (server_cpu, after[1] - before[1]), this)
                right &= bool(result.latencies) and not result.errors
                if result.latencies:
                    p99s.append(percentile(result.latencies, 99))
            if args.posts:
                done = posts(base, session, csrf, args.posts)
                right &= show_posts(done, args) or (done.statuses["ok"] == args.posts and not done.errors)
    print(
        f"Load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())} (other work on the machine "
        "competes with the server and the load generator)"
    )
    command = shlex.join([".venv/bin/python", "benchmarks/bench_api.py", *(argv or sys.argv[1:])])
    ok = True
    if p99s:
        ok &= harness.report(harness.Figure(
            "api.history_p99_ms",
            f"API: GET /api/history p99 latency at {args.rate:g} requests/s (open loop, one uvicorn worker, "
            f"{args.runs} runs in the store), per {args.seconds:g} s window",
            "ms", p99s, args.max_p99_ms, command,
        ))  # fmt: skip
    if done is not None and done.answers:
        ok &= harness.report(harness.Figure(
            "api.post_ms", "API: POST /api/reports/cfo answered 202 (the run queued)", "ms", done.answers,
            args.max_post_ms, command, detail=f"max {max(done.answers):.1f} ms; each run then ended "
            f"{', '.join(f'{n} {s}' for s, n in done.statuses.items())}",
        ))  # fmt: skip
    if not right:
        print("FAILED: an answer was wrong or a run did not end ok (see above)")
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
