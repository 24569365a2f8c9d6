"""Benchmark: what one portfolio costs on AWS a month, from the worker's measured runs and AWS list prices.

The worker Lambda's handler (``execintel.aws.worker.handler``) runs each of the demo portfolio's schedules, one
cold process per run (a fresh Lambda instance: imports, settings, the portfolio, the run, the uploads), against
moto's server on loopback standing in for DynamoDB, SES and S3. Every AWS call the real boto3 clients make is
counted (service, operation, DynamoDB items and request sizes, SES message bytes, S3 object bytes), and each run's
wall time and peak memory measured. From those and the schedules' ticks in a 30-day month, the cost of one
portfolio a month and of 1,000 portfolios, with AWS's us-east-1 list prices (``PRICES``; docs/scaling.md says
which date they are from and what is left out).

    .venv/bin/python benchmarks/bench_aws_cost.py
    .venv/bin/python benchmarks/bench_aws_cost.py --runs 5 --memory-mb 2048

Lambda's billed duration here is this machine's wall time of a cold run: a Lambda of 2,048 MB gets about 1.2
vCPU, this machine's two cores are its own: the figure is an estimate, to be replaced by the ``Billed Duration``
of the function's REPORT log lines once deployed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import RESULTS_ENV, ROOT, Figure, execintel, machine, report, revision, run_process

REGION = "us-east-1"
TABLE = "execintel-cost-bench"
BUCKET = "execintel-cost-bench-reports"
# Fake credentials and no shared configuration: nothing here can reach the real AWS.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}  # fmt: skip

PRICES = {  # AWS list prices, us-east-1, USD (see docs/scaling.md for the date and the pages)
    "lambda_gb_second": 0.0000166667,  # x86_64
    "lambda_request": 0.20 / 1e6,
    "dynamodb_write_unit": 0.625 / 1e6,  # on-demand write request unit
    "dynamodb_read_unit": 0.125 / 1e6,  # on-demand read request unit
    "ses_message": 0.10 / 1000,
    "ses_gb": 0.12,  # outgoing data
    "s3_put": 0.005 / 1000,  # PUT, COPY, POST, LIST
    "s3_get": 0.0004 / 1000,
    "s3_gb_month": 0.023,
    "scheduler_invocation": 1.00 / 1e6,  # EventBridge Scheduler, after 14 million free a month
    "logs_gb": 0.50,  # CloudWatch Logs ingestion
}


def child(event_file: str) -> int:
    """One cold worker invocation (run as a child process): count the AWS calls, print them as JSON."""
    import botocore.client  # noqa: PLC0415 - only the child counts calls

    calls: Counter[str] = Counter()
    units = {"write": 0.0, "read": 0.0, "scans": 0, "ses_bytes": 0, "s3_put_bytes": 0}
    original = botocore.client.BaseClient._make_api_call

    def counted(self: Any, operation: str, params: dict[str, Any]) -> Any:
        service = self.meta.service_model.service_name
        calls[f"{service}:{operation}"] += 1
        answer = original(self, operation, params)
        if service == "dynamodb":
            _dynamodb_units(operation, params, answer, units)
        elif service == "sesv2" and operation == "SendEmail":
            units["ses_bytes"] += len(params.get("Content", {}).get("Raw", {}).get("Data", b""))
        elif service == "s3" and operation == "PutObject":
            body = params.get("Body", b"")
            units["s3_put_bytes"] += len(body) if isinstance(body, bytes | str) else 0
        return answer

    botocore.client.BaseClient._make_api_call = counted  # type: ignore[method-assign]
    start = time.perf_counter()
    from execintel.aws import worker  # noqa: PLC0415 - the import is part of a cold start

    imported = time.perf_counter() - start
    answer = worker.handler(json.loads(Path(event_file).read_text(encoding="utf-8")), None)
    print(json.dumps({"answer": answer, "calls": calls, "units": units, "import_seconds": imported,
                      "seconds": time.perf_counter() - start}, default=str))  # fmt: skip
    return 0 if answer.get("status") == "ok" else 1


def _dynamodb_units(operation: str, params: dict[str, Any], answer: dict[str, Any], units: dict[str, Any]) -> None:
    """Request units of one DynamoDB call, from the sizes of what was sent and read (1 KB writes, 4 KB reads)."""

    def kb(value: Any, block: int) -> int:
        return max(1, -(-len(json.dumps(value, default=str)) // block))

    if operation == "TransactWriteItems":  # a transactional write costs two units per KB of each item
        units["write"] += sum(2 * kb(item, 1024) for item in params["TransactItems"])
    elif operation in {"PutItem", "UpdateItem", "DeleteItem"}:
        units["write"] += kb(params.get("Item") or params.get("Key"), 1024)
    elif operation == "BatchWriteItem":
        units["write"] += sum(kb(r, 1024) for rs in params["RequestItems"].values() for r in rs)
    elif operation == "GetItem":
        units["read"] += kb(answer.get("Item", {}), 4096) * (1 if params.get("ConsistentRead") else 0.5)
    elif operation == "TransactGetItems":
        units["read"] += sum(2 * kb(r.get("Item", {}), 4096) for r in answer.get("Responses", []))
    elif operation == "Query":
        units["read"] += kb(answer.get("Items", []), 4096) * (1 if params.get("ConsistentRead") else 0.5)
    elif operation == "Scan":  # billed on every item read, not on what the filter kept: priced in the parent
        units["scans"] += 1


def ticks_per_month(cron: str, timezone: str) -> int:
    """How often ``cron`` fires in a 30-day month (November 2026, in the portfolio's time zone)."""
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    from croniter import croniter  # noqa: PLC0415

    zone = ZoneInfo(timezone)
    start, end = dt.datetime(2026, 11, 1, tzinfo=zone), dt.datetime(2026, 12, 1, tzinfo=zone)
    fires = croniter(cron, start - dt.timedelta(seconds=1))
    count = 0
    while fires.get_next(dt.datetime) < end:
        count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    """Run every demo schedule ``--runs`` times on the emulator, print the figures and the monthly cost."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="cold runs of each schedule (distinct ticks)")
    parser.add_argument("--memory-mb", type=int, default=2048, help="the worker's memory size (the template's)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child)

    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    from execintel.config import load_portfolio  # noqa: PLC0415
    from execintel.demo import demo_portfolio  # noqa: PLC0415

    manifest_path = demo_portfolio()  # made (and cached) on first use: not what is measured
    manifest = load_portfolio(manifest_path).manifest
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = {**FAKE_AWS, "AWS_ENDPOINT_URL": endpoint, "EXECINTEL_STORE": f"dynamodb://{TABLE}",
                   "EXECINTEL_MAILER": f"ses://{REGION}", "EXECINTEL_PORTFOLIO": str(manifest_path.parent),
                   "EXECINTEL_REPORTS_BUCKET": BUCKET, "EXECINTEL_DATA_DIR": f"{tmp}/data",
                   "EXECINTEL_OUT": f"{tmp}/out"}  # fmt: skip
            _set_up(endpoint, env)
            per_schedule = _measure(manifest, env, Path(tmp), args.runs)
            table_bytes, items = _table_size(endpoint)
    finally:
        server.stop()
    print(f"\nthe table after {args.runs} runs of each schedule: {items:,} items, {table_bytes / 1024:,.0f} KiB")
    return _cost(manifest, per_schedule, args.memory_mb, table_bytes)


def _table_size(endpoint: str) -> tuple[int, int]:
    """The store table's size in bytes (its items as JSON: close to DynamoDB's item size rules) and item count."""

    client = _session().client("dynamodb", endpoint_url=endpoint)
    size = count = 0
    for page in client.get_paginator("scan").paginate(TableName=TABLE):
        size += sum(len(json.dumps(item)) for item in page["Items"])
        count += page["Count"]
    return size, count


def _session() -> Any:
    """A boto3 session with the fake credentials (only ever pointed at the emulator)."""
    import boto3  # noqa: PLC0415

    return boto3.Session(region_name=REGION, aws_access_key_id=FAKE_AWS["AWS_ACCESS_KEY_ID"],
                         aws_secret_access_key=FAKE_AWS["AWS_SECRET_ACCESS_KEY"])  # fmt: skip


def _set_up(endpoint: str, env: dict[str, str]) -> None:
    """The stack's resources on the emulator: the store's table, a verified sender domain, the reports bucket."""

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        done = execintel("store", "init", "--store", env["EXECINTEL_STORE"], env=env)
        if done.status != 0:
            raise SystemExit(f"execintel store init failed:\n{done.output}")
        session = _session()
        session.client("sesv2", endpoint_url=endpoint).create_email_identity(EmailIdentity="example.com")
        session.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _measure(manifest: Any, env: dict[str, str], tmp: Path, runs: int) -> dict[str, list[dict[str, Any]]]:
    """Each schedule's cold runs: a tick a week (or day, or month) apart, so every run is due and delivers."""
    results: dict[str, list[dict[str, Any]]] = {}
    for schedule in manifest.schedules:
        results[schedule.id] = []
        for i in range(runs):
            when = dt.datetime(2026, 11, 16, 15, tzinfo=dt.UTC) - dt.timedelta(days=35 * i)
            event = {"detail-type": "Scheduled Event", "source": "execintel.scheduler",
                     "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "detail": {"schedule": schedule.id}}  # fmt: skip
            event_file = tmp / f"event-{schedule.id}-{i}.json"
            event_file.write_text(json.dumps(event), encoding="utf-8")
            run = run_process([sys.executable, __file__, "--child", str(event_file)], env=env)
            if run.status != 0:
                print(run.output[-3000:])
                raise SystemExit(f"the worker's run of {schedule.id} failed (exit {run.status})")
            measured = json.loads(run.output.strip().splitlines()[-1])
            measured["wall"], measured["peak_mib"] = run.seconds, run.peak_mib
            results[schedule.id].append(measured)
            print(f"{schedule.id} run {i + 1}: {run.seconds:.2f} s, peak {run.peak_mib:.0f} MiB, "
                  f"{measured['answer'].get('deliveries')}, {sum(measured['calls'].values())} AWS calls")  # fmt: skip
    return results


def _cost(manifest: Any, per_schedule: dict[str, list[dict[str, Any]]], memory_mb: int, table_bytes: int) -> int:
    """Print each schedule's resources, the month's cost of one portfolio and of 1,000; report the figures.

    A Scan is billed on every item it reads (strongly consistent: a unit per 4 KB), whatever its filter keeps:
    each is priced as a read of the whole table as it stands after the runs (an upper bound for this history).
    """
    by_service = Counter[str]()
    rows = []
    for schedule in manifest.schedules:
        runs = per_schedule[schedule.id]
        ticks = ticks_per_month(schedule.cron, manifest.portfolio.timezone)
        wall = statistics.median(r["wall"] for r in runs)
        peak = max(r["peak_mib"] for r in runs)
        calls, units = Counter(runs[-1]["calls"]), dict(runs[-1]["units"])
        units["read"] += units["scans"] * -(-table_bytes // 4096)
        by_service.update({
            "Lambda": ticks * (wall * memory_mb / 1024 * PRICES["lambda_gb_second"] + PRICES["lambda_request"]),
            "DynamoDB": ticks * (units["write"] * PRICES["dynamodb_write_unit"]
                                 + units["read"] * PRICES["dynamodb_read_unit"]),
            "SES": ticks * (calls["sesv2:SendEmail"] * PRICES["ses_message"]
                            + units["ses_bytes"] / 1e9 * PRICES["ses_gb"]),
            "S3": ticks * (calls["s3:PutObject"] * PRICES["s3_put"] + calls["s3:GetObject"] * PRICES["s3_get"]),
            "Scheduler": ticks * PRICES["scheduler_invocation"],
        })  # fmt: skip
        rows.append((schedule, ticks, wall, peak, calls, units))
        report(Figure(f"aws.worker.{schedule.id}", f"Worker cold run of the demo's {schedule.id} schedule "
                      "(moto on loopback)", "s", [r["wall"] for r in runs], None,
                      "benchmarks/bench_aws_cost.py", f"peak {peak:.0f} MiB"))  # fmt: skip
    total = sum(by_service.values())
    table = ["| schedule | runs a month | wall time (cold, median) | peak memory | messages | DynamoDB write / read "
             "units | S3 PUTs |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for schedule, ticks, wall, peak, calls, units in rows:
        table.append(f"| {schedule.id} ({', '.join(schedule.reports)}) | {ticks} | {wall:.2f} s | {peak:.0f} MiB | "
                     f"{calls['sesv2:SendEmail']} | {units['write']:,.0f} / {units['read']:,.0f} | "
                     f"{calls['s3:PutObject']} |")  # fmt: skip
    shares = ", ".join(f"{name} {cost / total:.0%}" for name, cost in by_service.most_common())
    summary = (f"Run costs of one demo-sized portfolio: **${total:.3f} a month**; of 1,000 portfolios: "
               f"**${total * 1000:,.0f} a month** ({shares}).")  # fmt: skip
    print("\n" + "\n".join(table) + "\n\n" + summary)
    report(Figure("aws.cost_per_1000_portfolios", "Run costs of 1,000 demo-sized portfolios a month (USD, list "
                  "prices)", "USD", [total * 1000], None, "benchmarks/bench_aws_cost.py"))  # fmt: skip
    if os.environ.get(RESULTS_ENV):  # under make bench: the measured block of docs/scaling.md
        _write_docs(table, summary, memory_mb, len(per_schedule[manifest.schedules[0].id]), table_bytes)
    return 0


def _write_docs(table: list[str], summary: str, memory_mb: int, runs: int, table_bytes: int) -> None:
    """Rewrite the block between the cost:results markers of docs/scaling.md."""
    docs = ROOT / "docs" / "scaling.md"
    text = docs.read_text(encoding="utf-8")
    begin, end = "<!-- cost:results:begin -->", "<!-- cost:results:end -->"
    block = "\n".join([
        begin,
        f"Measured {dt.date.today().isoformat()} at {revision()} on {machine()}; worker at {memory_mb:,} MB, "
        f"{runs} cold runs of each schedule (`make bench`). The table then held {table_bytes / 1024:,.0f} KiB.",
        "", *table, "", summary, end,
    ])  # fmt: skip
    head, rest = text.split(begin, 1)
    docs.write_text(head + block + rest.split(end, 1)[1], encoding="utf-8")
    print(f"wrote the results into {docs.relative_to(ROOT)}")


if __name__ == "__main__":
    raise SystemExit(main())
