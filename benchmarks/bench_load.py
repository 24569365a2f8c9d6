"""Benchmark of loading: a synthetic portfolio validated by a cold ``execintel validate`` process.

Each repetition starts a fresh interpreter (``python -m execintel validate
PATH``, exactly what a user runs), measures its wall time and its peak
resident memory (``wait4`` rusage of that child alone), and checks that it
exited 0 having loaded every row. The portfolio is made by ``synth.py`` under
``benchmarks/.data/`` (git-ignored) and reused when present. Two figures
(``harness.report``): ``load.seconds`` (target 10 s) and ``load.peak_mib``
(target 1,536 MiB), one sample per run, the verdict on the median.

Usage::

    .venv/bin/python benchmarks/bench_load.py                   # 1M ledger rows + 200k events + 100k contacts
    .venv/bin/python benchmarks/bench_load.py ... --breakdown   # also time each source in-process
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from synth import Layout, cached_portfolio

ROOT = harness.ROOT
DATA = ROOT / "benchmarks" / ".data"


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


def main(argv: list[str] | None = None) -> int:
    """Make (or reuse) the portfolio, validate it ``--repeat`` times, report the figures; 1 over a target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entities", type=int, default=10)
    parser.add_argument("--ledger-rows", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--layout", choices=("portfolio", "entity"), default="portfolio")
    parser.add_argument("--repeat", type=int, default=5, help="cold runs; the median is reported")
    parser.add_argument("--max-seconds", type=float, default=10.0, help="target for the median wall time")
    parser.add_argument("--max-mib", type=float, default=1536.0, help="target for the median peak RSS")
    parser.add_argument("--breakdown", action="store_true", help="also time each source kind in-process")
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

    runs: list[harness.Run] = []
    print(f"\n{'run':>4} {'wall s':>8} {'peak RSS MiB':>13}  result")
    for i in range(1, args.repeat + 1):
        run = harness.execintel("validate", str(portfolio.manifest))
        loaded = re.search(r"([\d,]+) rows?\.", run.output)
        rows = int(loaded.group(1).replace(",", "")) if loaded else None
        ok = run.status == 0 and rows == portfolio.rows
        verdict = "ok" if ok else f"FAILED (exit {run.status}, rows {rows}, expected {portfolio.rows})"
        print(f"{i:>4} {run.seconds:>8.2f} {run.peak_mib:>13.0f}  {verdict}")
        if not ok:
            print(run.output[-4000:], file=sys.stderr)
            return 2
        runs.append(run)
    command = shlex.join(
        [".venv/bin/python", "benchmarks/bench_load.py", *(argv if argv is not None else sys.argv[1:])]
    )
    what = (f"validate {portfolio.ledger_rows:,} ledger rows + {portfolio.events:,} events + {portfolio.contacts:,} "
            f"contacts ({portfolio.entities} entities, {layout} ledger), cold process")  # fmt: skip
    seconds = harness.Figure("load.seconds", f"Load: {what}", "s", [r.seconds for r in runs], args.max_seconds,
                             command)  # fmt: skip
    memory = harness.Figure("load.peak_mib", f"Load, peak RSS: {what}", "MiB", [r.peak_mib for r in runs],
                            args.max_mib, command)  # fmt: skip
    within = harness.report(seconds) & harness.report(memory)
    if args.breakdown:
        times = breakdown(portfolio.manifest)
        print("\nin-process seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in times.items()))
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
