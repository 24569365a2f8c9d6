"""Benchmark: every report document, from a cold process, for the demo and for a large synthetic portfolio.

Requirements (issue 16): every report of the demo portfolio in every format (JSON, HTML, text, charts and PDF)
in under 5 s wall from a cold process, and without PDF in under 2.5 s; for a synthetic portfolio of 50 entities
with 1 million ledger rows (plus 200,000 events and 100,000 contacts), every report (without PDF) in under 20 s
with under 2 GB (2,048 MiB) peak memory.

Each run is ``python -m execintel run --dry-run [PATH] --out TMP`` in a fresh interpreter (exactly what a user
runs: imports, manifest, loading every source, every analysis, every report written in every format). Figures
(``harness.report``, one sample per run, ``--repeat`` runs, the verdict on the median): ``reports.demo_pdf_*``,
``reports.demo_*`` and ``reports.synth_*``, each ``_seconds`` and ``_peak_mib``. PDFs and charts are laid out in
worker processes: their memory is not in the peak (the main process's own).

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

import harness
from synth import cached_portfolio

DATA = harness.ROOT / "benchmarks" / ".data"
# (which, pdf) -> (figure id prefix, seconds target, MiB target or None: the memory target is the large portfolio's)
TARGETS: dict[tuple[str, bool], tuple[str, float, float | None]] = {
    ("demo", True): ("reports.demo_pdf", 5.0, None),
    ("demo", False): ("reports.demo", 2.5, None),
    ("synth", False): ("reports.synth", 20.0, 2048.0),
}


def run_reports(manifest: Path | None, *, pdf: bool) -> harness.Run:
    """Build every report of ``manifest`` (the demo when None) in a fresh interpreter."""
    with tempfile.TemporaryDirectory() as out:
        args = ["run", "--dry-run", "--out", out, "--pdf" if pdf else "--no-pdf"]
        args += [str(manifest)] if manifest else []
        # A new audit store each run: every run is the portfolio's first (a dry run is recorded, and the next run
        # would read it for the findings lifecycle: the runs would not be alike).
        return harness.execintel(*args, env={"EXECINTEL_DATA_DIR": str(Path(out) / "data")})


def main(argv: list[str] | None = None) -> int:
    """Measure, report the figures; exit 1 over a target, 2 when a run fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("which", choices=("demo", "synth"))
    parser.add_argument("--entities", type=int, default=50)
    parser.add_argument("--ledger-rows", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-pdf", dest="pdf", action="store_false", help="HTML, text and charts only")
    args = parser.parse_args(argv)
    if args.which == "synth":
        args.pdf = False  # thousands of table rows per report: PDF is for the demo-sized reports people read
    manifest: Path | None = None
    if args.which == "demo":
        # Generate the demo cache first: first use is not what is measured.
        warm = "from execintel.demo import demo_portfolio; demo_portfolio()"
        subprocess.run([sys.executable, "-c", warm], check=True)
        what = f"every report of the demo, {'every format with PDF' if args.pdf else 'no PDF'}, cold process"
    else:
        target = DATA / f"reports-{args.entities}e-{args.ledger_rows}"
        portfolio, reused = cached_portfolio(
            target, entities=args.entities, ledger_rows=args.ledger_rows, events=args.events, contacts=args.contacts,
            layout="portfolio",
        )  # fmt: skip
        manifest = portfolio.manifest
        print(f"{'reused' if reused else 'wrote'} {manifest}")
        what = (f"every report (no PDF) of {args.entities} entities, {args.ledger_rows:,} ledger rows + "
                f"{args.events:,} events + {args.contacts:,} contacts, cold process")  # fmt: skip
    runs = []
    for i in range(args.repeat):
        run = run_reports(manifest, pdf=args.pdf)
        if run.status != 0:
            print(run.output)
            print(f"run {i + 1} exited {run.status}")
            return 2
        print(f"run {i + 1}: {run.seconds:.2f} s, peak {run.peak_mib:.0f} MiB", flush=True)
        runs.append(run)
    prefix, seconds, mib = TARGETS[args.which, args.pdf]
    command = shlex.join([".venv/bin/python", "benchmarks/bench_reports.py", *(argv or sys.argv[1:])])
    wall = harness.Figure(f"{prefix}_seconds", f"Reports: {what}", "s", [r.seconds for r in runs], seconds, command)
    memory = harness.Figure(f"{prefix}_peak_mib", f"Reports, peak RSS of the main process: {what}", "MiB",
                            [r.peak_mib for r in runs], mib, command)  # fmt: skip
    ok = harness.report(wall) & harness.report(memory)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
