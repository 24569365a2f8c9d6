"""Benchmark: every report document, from a cold process, for the demo and for a large synthetic portfolio.

Requirements: every report of the demo portfolio in every format (JSON, HTML,
text, charts and PDF) in under 5 s wall from a cold process, and without PDF in
under 2.5 s; for a synthetic portfolio of 50 entities with 1 million ledger
rows, every report (without PDF) in under 15 s with under 2 GB peak memory.

Each run is ``python -m execintel run --dry-run [PATH] --out TMP`` in a fresh
interpreter (exactly what a user runs: imports, manifest, loading every source,
every analysis, every report written in every format); the best wall time of
``--repeat`` runs and the highest peak RSS are reported. PDFs are laid out in
worker processes: their memory is not in the peak.

    .venv/bin/python benchmarks/bench_reports.py demo
    .venv/bin/python benchmarks/bench_reports.py demo --no-pdf
    .venv/bin/python benchmarks/bench_reports.py synth --entities 50 --ledger-rows 1000000
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_load import DATA, Run, run_validate
from synth import cached_portfolio

BUDGETS = {("demo", True): (5.0, 2048.0), ("demo", False): (2.5, 2048.0), ("synth", False): (15.0, 2048.0)}


def run_reports(manifest: Path | None, *, pdf: bool) -> Run:
    """Build every report of ``manifest`` (the demo when None) in a fresh interpreter."""
    with tempfile.TemporaryDirectory() as out:
        args = ["run", "--dry-run", "--out", out, "--pdf" if pdf else "--no-pdf"]
        args += [str(manifest)] if manifest else []
        return run_validate(manifest, args=args)


def main(argv: list[str] | None = None) -> int:
    """Measure, print, and exit 1 when over budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("which", choices=("demo", "synth"))
    parser.add_argument("--entities", type=int, default=50)
    parser.add_argument("--ledger-rows", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-pdf", dest="pdf", action="store_false", help="HTML, text and charts only")
    args = parser.parse_args(argv)
    if args.which == "synth":
        args.pdf = False  # thousands of table rows per report: PDF is for the demo-sized reports people read
    manifest: Path | None = None
    if args.which == "demo":
        # Generate the demo cache first: first use is not what is measured.
        warm = "from execintel.demo import demo_portfolio; demo_portfolio()"
        subprocess.run([sys.executable, "-c", warm], check=True)
    else:
        target = DATA / f"reports-{args.entities}e-{args.ledger_rows}"
        portfolio, reused = cached_portfolio(
            target, entities=args.entities, ledger_rows=args.ledger_rows, events=args.events, contacts=args.contacts,
            layout="portfolio",
        )  # fmt: skip
        manifest = portfolio.manifest
        print(f"{'reused' if reused else 'wrote'} {manifest}")
    runs = []
    for i in range(args.repeat):
        run = run_reports(manifest, pdf=args.pdf)
        if run.status != 0:
            print(run.output)
            print(f"run {i + 1} exited {run.status}")
            return 1
        print(f"run {i + 1}: {run.seconds:.2f} s, peak {run.peak_mib:.0f} MiB")
        runs.append(run)
    best, peak = min(r.seconds for r in runs), max(r.peak_mib for r in runs)
    seconds, mib = BUDGETS[args.which, args.pdf]
    command = "benchmarks/bench_reports.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    verdict = "within" if best <= seconds and peak <= mib else "OVER"
    print(f"{command}: best {best:.2f} s (budget {seconds} s), peak {peak:.0f} MiB (budget {mib:.0f}): {verdict}")
    return 0 if verdict == "within" else 1


if __name__ == "__main__":
    raise SystemExit(main())
