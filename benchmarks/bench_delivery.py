"""Benchmark: 1,000 deliveries (one report, 1,000 recipients) through the SMTP mailer to a local aiosmtpd.

Requirement: under 20 s (the figure ``delivery.seconds``, one sample per run, 5 runs by default; the verdict on
the median). The run is ``python -m execintel run PATH --reports daily --mailer smtp://... --store
sqlite:///...`` in a fresh interpreter, exactly what a user runs, on a copy of the demo portfolio whose
stakeholders are 1,000 people with the ``daily`` role (and a daily send limit that lets 2,000 envelope
recipients through: each message also goes to the audit mailbox). Reported: the whole run's wall time, the
delivery phase (first message received to exit) and messages per second; every message must arrive once.

    .venv/bin/python benchmarks/bench_delivery.py
    .venv/bin/python benchmarks/bench_delivery.py --recipients 5000 --pdf --repeat 3
"""

from __future__ import annotations

import argparse
import email
import email.policy
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from execintel.demo import generate_demo
from smtp_server import SmtpTestServer  # the aiosmtpd server of the tests

BUDGET_SECONDS = 20.0


def portfolio(folder: Path, recipients: int) -> Path:
    """The demo portfolio with ``recipients`` stakeholders who get the daily digest."""
    generate_demo(folder)
    path = folder / "portfolio.yaml"
    manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    manifest["stakeholders"] = [
        {"id": f"p{i}", "name": f"Reader {i}", "email": f"reader{i}@example.com", "roles": ["daily"]}
        for i in range(recipients)
    ]
    manifest["schedules"] = [s for s in manifest.get("schedules", []) if "daily" in s["reports"] and not s.get("to")]
    manifest.setdefault("policies", {})["daily_send_limit"] = 2 * recipients + 10
    path.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    return path


def deliver(recipients: int, *, pdf: bool) -> tuple[float, float, float] | None:
    """One cold run delivering to ``recipients``: (whole run s, delivery phase s, KiB per message); None when a
    message is missing or doubled, or the run failed (what went wrong is printed)."""
    with tempfile.TemporaryDirectory() as tmp, SmtpTestServer() as server:
        folder = Path(tmp)
        manifest = portfolio(folder / "portfolio", recipients)
        command = [sys.executable, "-m", "execintel", "run", str(manifest), "--reports", "daily",
                   "--pdf" if pdf else "--no-pdf", "--mailer", server.url(),
                   "--store", f"sqlite:///{folder / 'audit.db'}", "--out", str(folder / "out")]  # fmt: skip
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=folder)
        first = None
        while child.poll() is None:
            if first is None and server.messages:
                first = time.perf_counter() - start
            time.sleep(0.01)
        total = time.perf_counter() - start
        errors = child.stderr.read().decode() if child.stderr else ""
        messages = server.messages
    keys = {email.message_from_bytes(m.data, policy=email.policy.default)["X-Execintel-Delivery"] for m in messages}
    if child.returncode != 0 or len(messages) != recipients or len(keys) != recipients:
        print(errors)
        print(f"exit {child.returncode}, {len(messages)} messages, {len(keys)} distinct: FAILED")
        return None
    size = sum(len(m.data) for m in messages) / len(messages) / 1024
    return total, total - (first or 0.0), size


def main(argv: list[str] | None = None) -> int:
    """Measure, report; exit 1 over the target, 2 when a message is missing or doubled."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--pdf", action="store_true", help="attach the PDF to every message")
    parser.add_argument("--repeat", type=int, default=5, help="cold runs; the median is reported")
    args = parser.parse_args(argv)
    totals, phases = [], []
    for i in range(1, args.repeat + 1):
        done = deliver(args.recipients, pdf=args.pdf)
        if done is None:
            return 2
        total, phase, size = done
        totals.append(total)
        phases.append(phase)
        print(f"run {i}: whole run {total:.2f} s, delivery phase {phase:.2f} s, {args.recipients / phase:.0f} "
              f"messages/s, {size:.0f} KiB each", flush=True)  # fmt: skip
    rate = args.recipients / statistics.median(phases)
    figure = harness.Figure(
        "delivery.seconds",
        f"Delivery: {args.recipients:,} messages{' with the PDF' if args.pdf else ''} over SMTP (aiosmtpd on "
        "loopback, SQLite store), whole cold run",
        "s", totals, BUDGET_SECONDS,
        shlex.join([".venv/bin/python", "benchmarks/bench_delivery.py", *(argv or sys.argv[1:])]),
        detail=f"delivery phase median {statistics.median(phases):.2f} s, {rate:.0f} messages/s",
    )  # fmt: skip
    return 0 if harness.report(figure) else 1


if __name__ == "__main__":
    raise SystemExit(main())
