"""Benchmark: the time of one delivery state change (``Store.transition``) in the audit store.

Requirement: a transition on SQLite, with the default ``synchronous=full``, takes under 2 ms on average: the
figure ``store.transition_ms``, whose samples are the mean of each of ``--repeat`` runs (a fresh store each) of
``--transitions`` transitions, the verdict on their median. Each
transition reads the delivery, then in one ``BEGIN IMMEDIATE`` transaction updates it, appends the hash-chained
audit entry and moves the head, and commits (WAL, fsync per commit with FULL).

The SQLite file goes to a fresh temporary folder (``--dir`` picks the file system, e.g. the one the data dir is
on). ``synchronous=normal`` and DynamoDB on an in-process moto server are timed too, for information only: moto
is not DynamoDB, and it deep-copies the whole table for every TransactWriteItems (to roll back), so its figure
grows with the table and says nothing about AWS, where a transaction is a few network round trips.

    .venv/bin/python benchmarks/bench_store.py
    .venv/bin/python benchmarks/bench_store.py --transitions 20000 --repeat 3 --dynamodb 0 --dir /var/lib/execintel
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from execintel.store import Delivery, DynamoStore, SqliteStore, Store

BUDGET_MS = 2.0
# Fake credentials and no shared config: nothing can reach the real AWS.
MOTO_ENV = {
    "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true",
}  # fmt: skip


def _delivery(i: int) -> Delivery:
    return Delivery(f"weekly-strategy/2026-W46/cfo/person-{i}@example.com", "Bench Holdings", "weekly-strategy",
                    "2026-W46", "cfo", f"person-{i}@example.com", 1, "rendered", "run-bench")  # fmt: skip


def measure(store: Store, count: int) -> list[float]:
    """Add ``count`` deliveries (not timed), then time one rendered -> sending transition of each, in ms."""
    for i in range(count):
        store.add_delivery(_delivery(i))
    timings = []
    for i in range(count):
        start = time.perf_counter()
        store.transition(_delivery(i).key, "sending", run_id="run-bench", expect={"rendered"}, attempts=1)
        timings.append((time.perf_counter() - start) * 1000)
    assert store.verify().ok, "the chain does not verify after the benchmark"
    return timings


def report(label: str, timings: list[float]) -> float:
    """Print mean, median and 99th percentile; return the mean (ms)."""
    mean = statistics.fmean(timings)
    p99 = statistics.quantiles(timings, n=100)[98] if len(timings) >= 100 else max(timings)
    print(f"{label:<34} {len(timings):>6,} transitions   mean {mean:7.3f} ms   median "
          f"{statistics.median(timings):7.3f} ms   p99 {p99:7.3f} ms")  # fmt: skip
    return mean


def with_moto(run: Callable[[Any], list[float]]) -> list[float] | None:
    """Run against DynamoDB on an in-process moto server on loopback; None when moto is not installed."""
    try:
        import boto3  # noqa: PLC0415 - optional: only for the information figure
        from moto.server import ThreadedMotoServer  # noqa: PLC0415
    except ImportError:
        print("DynamoDB (moto): skipped, moto[server] and boto3 are not installed")
        return None
    os.environ.update(MOTO_ENV)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        return run(boto3.client("dynamodb", endpoint_url=f"http://{host}:{port}", region_name="us-east-1"))
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    """Measure, report; exit 1 when the SQLite default is over its target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--transitions", type=int, default=2000, help="SQLite transitions to time per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs, each on a fresh store; one sample each")
    parser.add_argument("--dynamodb", type=int, default=100, help="DynamoDB (moto) transitions; 0 to skip")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the SQLite files")
    parser.add_argument("--max-ms", type=float, default=BUDGET_MS, help="target for the SQLite mean")
    args = parser.parse_args(argv)
    print(f"Audit store: one delivery state change, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python "
          f"{sys.version.split()[0]}, SQLite {__import__('sqlite3').sqlite_version}")  # fmt: skip
    means, normal = [], []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory(dir=args.dir) as folder:
            with SqliteStore(Path(folder) / "full.db") as store:
                means.append(report("SQLite, synchronous=full (default)", measure(store, args.transitions)))
            with SqliteStore(Path(folder) / "normal.db", synchronous="normal") as store:
                normal.append(report("SQLite, synchronous=normal", measure(store, args.transitions)))
            if i == 0:
                print(f"  (files in {folder})")
    if args.dynamodb:

        def dynamo(client: Any) -> list[float]:
            with DynamoStore(f"bench-{uuid.uuid4().hex[:8]}", client=client) as store:
                store.init()
                return measure(store, args.dynamodb)

        timings = with_moto(dynamo)
        if timings:
            report("DynamoDB on moto (information)", timings)
    command = shlex.join([".venv/bin/python", "benchmarks/bench_store.py", *(argv or sys.argv[1:])])
    ok = harness.report(harness.Figure(
        "store.transition_ms",
        f"Store: one delivery state change on SQLite, synchronous=full (the default); mean of {args.transitions:,} "
        "per run",
        "ms", means, args.max_ms, command,
        detail=f"synchronous=normal: {statistics.median(normal):.3f} ms",
    ))  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
