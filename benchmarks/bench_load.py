"""Benchmark of loading: a synthetic portfolio validated by a cold ``execintel validate`` process.

Each repetition starts a fresh interpreter (``python -m execintel validate
PATH``, exactly what a user runs), measures its wall time and its peak
resident memory (``wait4`` rusage of that child alone), and checks that it
exited 0 having loaded every row. The portfolio is made by ``synth.py`` under
``benchmarks/.data/`` (git-ignored) and reused when present.

Usage::

    .venv/bin/python benchmarks/bench_load.py --ledger-rows 1000000 --events 200000 --contacts 100000
    .venv/bin/python benchmarks/bench_load.py ... --breakdown   # also time each source in-process
    .venv/bin/python benchmarks/bench_load.py ... --record      # append the figures to docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import Layout, Portfolio, cached_portfolio

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data"
DOCS = ROOT / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Run:
    """One cold validation: wall seconds, peak RSS in MiB, exit status."""

    seconds: float
    peak_mib: float
    status: int
    output: str


def run_validate(manifest: Path | None, args: list[str] | None = None) -> Run:
    """Validate ``manifest`` (or run ``execintel ARGS``) in a fresh interpreter; measure that process alone."""
    command = [sys.executable, "-m", "execintel", *(args if args is not None else ["validate", str(manifest)])]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    with tempfile.TemporaryFile() as output:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
        _, wait_status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(wait_status)
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    divisor = 1024 * 1024 if sys.platform == "darwin" else 1024
    return Run(seconds, usage.ru_maxrss / divisor, child.returncode, text)


def breakdown(manifest: Path) -> dict[str, float]:
    """Seconds spent per source kind (and on imports and the manifest), in a fresh interpreter."""
    code = f"""
import json, time
start = time.perf_counter()
from execintel.config import load_portfolio
from execintel.sources import load_sources
times = {{"imports": time.perf_counter() - start}}
mark = time.perf_counter()
portfolio = load_portfolio({str(manifest)!r})
times["manifest"] = time.perf_counter() - mark
current = [None, time.perf_counter()]
def progress(spec):
    now = time.perf_counter()
    if current[0]:
        times[current[0]] = times.get(current[0], 0.0) + now - current[1]
    current[:] = [spec.kind, now]
result = load_sources(portfolio, progress=progress)
times[current[0]] = times.get(current[0], 0.0) + time.perf_counter() - current[1]
print(json.dumps(times))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {k: float(v) for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def _revision() -> str:
    try:
        sha = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        )
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "src"], capture_output=True, text=True, check=False
        )
    except OSError:
        return "unknown"
    return sha.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")


def record(portfolio: Portfolio, runs: list[Run], command: str) -> None:
    """Append one results row to ``docs/benchmarks.md``."""
    best = min(r.seconds for r in runs)
    peak = max(r.peak_mib for r in runs)
    row = (
        f"| {dt.date.today().isoformat()} | {_revision()} | {portfolio.ledger_rows:,} / {portfolio.events:,} / "
        f"{portfolio.contacts:,} ({portfolio.entities} entities, {portfolio.layout} ledger) | {best:.2f} s | "
        f"{peak:.0f} MiB | {', '.join(f'{r.seconds:.2f}' for r in runs)} | {_machine()} | `{command}` |\n"
    )
    with DOCS.open("a", encoding="utf-8") as handle:
        handle.write(row)
    print(f"recorded in {DOCS.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    """Make (or reuse) the portfolio, validate it ``--repeat`` times, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entities", type=int, default=10)
    parser.add_argument("--ledger-rows", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--layout", choices=("portfolio", "entity"), default="portfolio")
    parser.add_argument("--repeat", type=int, default=3, help="cold runs; the best wall time is reported")
    parser.add_argument("--max-seconds", type=float, default=10.0, help="budget for the best wall time")
    parser.add_argument("--max-mib", type=float, default=1536.0, help="budget for the peak RSS")
    parser.add_argument("--breakdown", action="store_true", help="also time each source kind in-process")
    parser.add_argument("--record", action="store_true", help=f"append the figures to {DOCS.relative_to(ROOT)}")
    args = parser.parse_args(argv)

    layout: Layout = args.layout
    name = f"{layout}-e{args.entities}-l{args.ledger_rows}-v{args.events}-c{args.contacts}-s{args.seed}"
    start = time.perf_counter()
    portfolio, reused = cached_portfolio(
        DATA / name,
        entities=args.entities,
        ledger_rows=args.ledger_rows,
        events=args.events,
        contacts=args.contacts,
        seed=args.seed,
        layout=layout,
    )
    made = "reused" if reused else f"made in {time.perf_counter() - start:.1f} s"
    print(f"portfolio: {portfolio.manifest.relative_to(ROOT)} ({portfolio.rows:,} rows, {made})")
    print(f"machine:   {_machine()}")

    runs: list[Run] = []
    print(f"\n{'run':>4} {'wall s':>8} {'peak RSS MiB':>13}  result")
    for i in range(1, args.repeat + 1):
        run = run_validate(portfolio.manifest)
        loaded = re.search(r"([\d,]+) rows?\.", run.output)
        rows = int(loaded.group(1).replace(",", "")) if loaded else None
        ok = run.status == 0 and rows == portfolio.rows
        verdict = "ok" if ok else f"FAILED (exit {run.status}, rows {rows}, expected {portfolio.rows})"
        print(f"{i:>4} {run.seconds:>8.2f} {run.peak_mib:>13.0f}  {verdict}")
        if not ok:
            print(run.output[-4000:], file=sys.stderr)
            return 1
        runs.append(run)
    best = min(r.seconds for r in runs)
    peak = max(r.peak_mib for r in runs)
    within = best < args.max_seconds and peak < args.max_mib
    print(
        f"\nbest wall time {best:.2f} s (budget {args.max_seconds:g} s), "
        f"peak RSS {peak:.0f} MiB (budget {args.max_mib:g} MiB): {'within budget' if within else 'OVER BUDGET'}"
    )
    if args.breakdown:
        times = breakdown(portfolio.manifest)
        print("\nin-process seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in times.items()))
    if args.record:
        shown = [Path(sys.executable).relative_to(ROOT) if Path(sys.executable).is_relative_to(ROOT) else "python"]
        command = shlex.join([str(shown[0]), "benchmarks/bench_load.py", *(argv if argv is not None else sys.argv[1:])])
        record(portfolio, runs, command.replace(" --record", ""))
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
