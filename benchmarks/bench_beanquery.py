"""Benchmark: income statement by month of a 100,000-transaction bean-example ledger, execintel against beanquery.

Both sides start from the ledger's text in a fresh process and end with the monthly Income and Expenses totals:

- beanquery: ``bean-query -f csv LEDGER QUERY`` with :data:`QUERY` (beancount's loader: parse, booking, the
  pad/balance plugins and validation, then the query), with beancount's pickle cache off
  (``BEANCOUNT_DISABLE_LOAD_CACHE=1``) so that every run reads the ledger, as execintel's does;
- execintel: ``execintel run --dry-run PORTFOLIO --reports cfo --no-pdf`` on a one-entity portfolio whose only
  source is that ledger (the same beancount steps, then the rows, the CFO figures and the CFO report's JSON,
  HTML, text and charts).

Pairs of cold runs alternate (beanquery, execintel, beanquery, ...) in one run of this script, so both see the
same machine. Before timing, both answers are compared month by month (USD income and expenses of the 12 months
of the CFO report's P&L): a ratio of wrong numbers would be worthless. Figures: ``beanquery.seconds``,
``execintel.cfo_seconds`` and ``beanquery.ratio`` (execintel / beanquery, one sample per pair, target <= 1), then
for information the same comparison against beanquery with its pickle cache (what a second ``bean-query`` run of
an unchanged ledger does by default) and, on a ledger the size of fava's huge example (3,000 transactions), a
full dry run (every report, PDF included) against the beanquery income statement.

The ledger: ``bean-example`` (beancount's own generator of a realistic personal ledger) over 2016-2025 for a few
seeds; those ledgers are merged as many households as it takes to pass 100,000 transactions, each household's
accounts renamed under its own sub-account (``Expenses:Food`` -> ``Expenses:H07:Food``), commodities, options and
prices kept once. Everything is cached under ``benchmarks/.data/beanquery/`` (git-ignored).

    .venv/bin/python benchmarks/bench_beanquery.py                  # 5 pairs on 100,000+ transactions, --cached, --fava
    .venv/bin/python benchmarks/bench_beanquery.py --pairs 3 --no-cached --no-fava --transactions 20000
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

DATA = harness.ROOT / "benchmarks" / ".data" / "beanquery"
BEGIN, END = "2016-01-01", "2026-01-01"  # bean-example's --date-end is exclusive in effect: ten whole years
AS_OF = "2025-12-31"  # the CFO report's P&L: the 12 months of 2025
SEEDS = (1, 2, 3, 4)
QUERY = (
    "SELECT year, month, root(account, 1) AS type, sum(position) AS total "
    "WHERE account ~ '^(Income|Expenses):' "
    "GROUP BY year, month, type ORDER BY year, month, type"
)
"""The income statement by month a beanquery user writes: Income and Expenses summed per calendar month."""
ROOTS = ("Assets", "Liabilities", "Equity", "Income", "Expenses")
_ACCOUNT = re.compile(r"(?<![\w:])(" + "|".join(ROOTS) + r"):")
_TRANSACTION = re.compile(rb"^\d{4}-\d\d-\d\d [*!] ", re.MULTILINE)
_USD = re.compile(r"(-?[\d,]+(?:\.\d+)?) USD\b")
SHARED_SECTIONS = ("* Commodities", "* Prices")
"""Sections of a bean-example file kept from the first household only (they would be duplicate directives)."""


def bean_example(seed: int, begin: str = BEGIN, end: str = END, *, folder: Path = DATA) -> Path:
    """``bean-example`` for ``seed`` over [begin, end), written once and reused."""
    target = folder / f"bean-example-s{seed}-{begin}-{end}.beancount"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    code = "import sys; from beancount.scripts.example import main; main(sys.argv[1:])"
    args = ["--date-begin", begin, "--date-end", end, "--date-birth", "1980-01-01", "-s", str(seed), "-o", str(partial)]
    subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True)
    partial.replace(target)  # a complete file or none: an interrupted run is started again
    return target


def count_transactions(text: bytes) -> int:
    """Transactions (``*`` or ``!`` entries) of a beancount text."""
    return len(_TRANSACTION.findall(text))


def household(text: str, number: int, *, first: bool) -> str:
    """A bean-example ledger's text as household ``number``: every account moved under ``Root:H<number>``.

    Only the first household keeps the preamble (options), the commodities and the prices: repeated, they would be
    duplicate directives (beancount reports a commodity declared twice).
    """
    kept: list[str] = []
    section: str | None = None  # None: the preamble before the first "* " heading
    for line in text.splitlines(keepends=True):
        if line.startswith("* "):
            section = line.strip()
        if first or (section is not None and section not in SHARED_SECTIONS):
            kept.append(line)
    return _ACCOUNT.sub(lambda match: f"{match.group(1)}:H{number:02d}:", "".join(kept))


def merged_ledger(transactions: int, *, seeds: tuple[int, ...] = SEEDS, folder: Path = DATA,
                  begin: str = BEGIN, end: str = END) -> tuple[Path, int, int]:  # fmt: skip
    """A ledger of at least ``transactions`` transactions: (path, transactions, households), made once and reused."""
    target = folder / f"merged-{transactions}-{begin}-{end}-s{'-'.join(map(str, seeds))}.beancount"
    info = target.with_suffix(".json")
    if target.exists() and info.exists():
        known = json.loads(info.read_text(encoding="utf-8"))
        return target, int(known["transactions"]), int(known["households"])
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(len(seeds), os.cpu_count() or 1))) as pool:
        files = list(pool.map(lambda seed: bean_example(seed, begin, end, folder=folder), seeds))
    texts = [file.read_text(encoding="utf-8") for file in files]
    sizes = [count_transactions(text.encode("utf-8")) for text in texts]
    parts: list[str] = []
    total = 0
    while total < transactions:
        index = len(parts) % len(texts)
        parts.append(household(texts[index], len(parts) + 1, first=not parts))
        total += sizes[index]
    partial = target.with_suffix(".partial")
    partial.write_text("".join(parts), encoding="utf-8")
    partial.replace(target)
    info.write_text(json.dumps({"transactions": total, "households": len(parts)}), encoding="utf-8")
    return target, total, len(parts)


def write_portfolio(ledger: Path, *, as_of: str = AS_OF) -> Path:
    """A one-entity portfolio beside ``ledger`` whose only source is that ledger, with a CFO stakeholder."""
    manifest = ledger.with_name(f"portfolio-{ledger.stem}.yaml")
    manifest.write_text(
        "version: 1\n"
        "portfolio:\n  name: Bean Example\n  currency: USD\n"
        f"  as_of: {as_of}\n"
        "sender: reports@example.com\n"
        "stakeholders:\n"
        "  - id: cfo\n    name: Casey Rivera\n    email: cfo@example.com\n    roles: [cfo]\n"
        "entities:\n"
        f"  - id: example\n    name: Bean example households\n    ledger: {ledger.name}\n",
        encoding="utf-8",
    )
    return manifest


def beanquery_command(ledger: Path) -> list[str]:
    """``bean-query -f csv LEDGER QUERY``: the installed script, exactly what a user types."""
    script = Path(sys.executable).with_name("bean-query")
    return [str(script), "-f", "csv", str(ledger), QUERY]


def execintel_args(manifest: Path, out: Path, *, cfo_only: bool = True) -> list[str]:
    """``execintel run --dry-run`` of ``manifest``: the CFO report alone without PDF, or every report."""
    args = ["run", "--dry-run", str(manifest), "--out", str(out)]
    return [*args, "--reports", "cfo", "--no-pdf"] if cfo_only else args


def state_env(folder: Path) -> dict[str, str]:
    """Keep execintel's audit store in the benchmark's folder, and beancount's pickle cache off."""
    return {"EXECINTEL_DATA_DIR": str(folder / "state"), "BEANCOUNT_DISABLE_LOAD_CACHE": "1"}


@dataclass(frozen=True)
class Month:
    """One month of an income statement in USD: income as a positive number, expenses as a positive number."""

    income: Decimal
    expenses: Decimal


def beanquery_totals(rows: Iterable[Sequence[object]]) -> dict[str, Month]:
    """``YYYY-MM`` -> USD income and expenses, from the rows of :data:`QUERY` (year, month, type, inventory).

    The inventory is read from its text (``-9279.40 USD, -10 VACHR``): only its USD amount counts, as execintel
    keeps only postings in the portfolio currency (or with a cost or price in it: bean-example has none on
    Income and Expenses postings, which :func:`compare` would show as a difference).
    """
    months: dict[str, dict[str, Decimal]] = {}
    for row in rows:
        if len(row) != 4 or not str(row[0]).strip().isdigit():
            continue  # the CSV header, and beancount's error lines (on stderr, merged into the output)
        year, month, kind, total = (str(cell).strip() for cell in row)
        amounts = [Decimal(value.replace(",", "")) for value in _USD.findall(total)]
        month_totals = months.setdefault(f"{int(year):04d}-{int(month):02d}", {})
        month_totals[kind] = month_totals.get(kind, Decimal(0)) + sum(amounts, Decimal(0))
    return {key: Month(-v.get("Income", Decimal(0)), v.get("Expenses", Decimal(0))) for key, v in months.items()}


def csv_rows(output: str) -> list[list[str]]:
    """The rows of ``bean-query -f csv`` output."""
    return list(csv.reader(io.StringIO(output)))


def execintel_totals(values: Mapping[str, object]) -> dict[str, Month]:
    """``YYYY-MM`` -> USD income and expenses, from the CFO figures ``pnl.portfolio.<month>.revenue|cogs|opex``."""
    pattern = re.compile(r"^pnl\.portfolio\.(\d{4}-\d\d)\.(revenue|cogs|opex)$")
    months: dict[str, dict[str, Decimal]] = {}
    for key, value in values.items():
        match = pattern.match(key)
        if match:
            months.setdefault(match.group(1), {})[match.group(2)] = Decimal(str(value))
    return {
        key: Month(v.get("revenue", Decimal(0)), v.get("cogs", Decimal(0)) + v.get("opex", Decimal(0)))
        for key, v in months.items()
    }


def report_values(report: Path) -> dict[str, object]:
    """Figure id -> value of a report document (``cfo.json``)."""
    figures = json.loads(report.read_text(encoding="utf-8"))["figures"]
    return {key: figure["value"] for key, figure in figures.items()}


def compare(beanquery: dict[str, Month], execintel: dict[str, Month]) -> list[str]:
    """Both sides' income and expenses for each month execintel reports; raise when one differs by a cent or more."""
    if not execintel:
        raise ValueError("execintel's CFO report has no monthly P&L figure")
    lines, wrong = [], []
    for month in sorted(execintel):
        ours, theirs = execintel[month], beanquery.get(month, Month(Decimal(0), Decimal(0)))
        agree = abs(ours.income - theirs.income) < Decimal("0.01") and abs(ours.expenses - theirs.expenses) < Decimal(
            "0.01"
        )
        lines.append(
            f"{month}: income {theirs.income:,.2f} / {ours.income:,.2f}, "
            f"expenses {theirs.expenses:,.2f} / {ours.expenses:,.2f} (beanquery / execintel) "
            + ("agree" if agree else "DIFFER")
        )
        if not agree:
            wrong.append(month)
    if wrong:
        raise ValueError("beanquery and execintel disagree on " + ", ".join(wrong) + ":\n" + "\n".join(lines))
    return lines


def checked_pair(ledger: Path, manifest: Path, work: Path) -> tuple[harness.Run, harness.Run, list[str]]:
    """One beanquery run and one execintel run, their answers compared: (beanquery, execintel, comparison lines)."""
    env = state_env(work)
    query = harness.run_process(beanquery_command(ledger), env=env)
    if query.status != 0:
        raise RuntimeError(f"bean-query exited {query.status}:\n{query.output[-4000:]}")
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    run = harness.execintel(*execintel_args(manifest, out), env=env)
    if run.status != 0:
        raise RuntimeError(f"execintel exited {run.status}:\n{run.output[-4000:]}")
    reports = sorted(out.glob("*/cfo.json"))
    if not reports:
        raise RuntimeError(f"execintel wrote no cfo.json under {out}:\n{run.output[-4000:]}")
    lines = compare(beanquery_totals(csv_rows(query.output)), execintel_totals(report_values(reports[-1])))
    shutil.rmtree(out, ignore_errors=True)
    return query, run, lines


def problems(output: str) -> int:
    """Lines of beancount errors in bean-query's output (``file:line: message``): zero for a clean ledger."""
    return sum(1 for line in output.splitlines() if re.match(r"^\S+\.beancount:\d+: ", line))


def measure(args: argparse.Namespace) -> bool:
    """Make (or reuse) the ledgers, check both answers, time the pairs, report the figures; True when all pass."""
    ledger, transactions, households = merged_ledger(args.transactions)
    size = ledger.stat().st_size / 1e6
    print(f"ledger {ledger}: {transactions:,} transactions, {households} households, {size:.1f} MB")
    work = DATA / "work"
    manifest = write_portfolio(ledger)
    samples_bq: list[float] = []
    samples_ei: list[float] = []
    ratios: list[float] = []
    for index in range(args.pairs):
        query, run, lines = checked_pair(ledger, manifest, work)
        if index == 0:
            print(f"beancount errors reported by bean-query: {problems(query.output)}")
            print("\n".join(lines))
        samples_bq.append(query.seconds)
        samples_ei.append(run.seconds)
        ratios.append(run.seconds / query.seconds)
        print(f"pair {index + 1}: beanquery {query.seconds:.2f} s ({query.peak_mib:.0f} MiB), "
              f"execintel {run.seconds:.2f} s ({run.peak_mib:.0f} MiB)", flush=True)  # fmt: skip
    sizes = f"{transactions:,} transactions ({households} bean-example households, {size:.0f} MB)"
    here = "benchmarks/bench_beanquery.py"
    passed = harness.report(harness.Figure(
        "beanquery.seconds", f"bean-query income statement by month, {sizes}", "s", samples_bq, None,
        here, "bean-query -f csv LEDGER \"" + QUERY + "\" (pickle cache off)"))  # fmt: skip
    passed &= harness.report(harness.Figure(
        "execintel.cfo_seconds", f"execintel CFO report alone (no PDF), {sizes}", "s", samples_ei, None,
        here, "execintel run --dry-run PORTFOLIO --reports cfo --no-pdf"))  # fmt: skip
    passed &= harness.report(harness.Figure(
        "beanquery.ratio", "execintel CFO figures / beanquery income statement, same ledger, one run", "x", ratios,
        1.0, here, f"per pair of cold runs; medians {statistics.median(samples_ei):.2f} s / "
        f"{statistics.median(samples_bq):.2f} s"))  # fmt: skip
    if args.cached:
        passed &= cached(ledger, work, samples_ei, sizes)
    if args.fava:
        passed &= fava_sized(args)
    return passed


def cached(ledger: Path, work: Path, execintel_samples: list[float], sizes: str) -> bool:
    """For information: bean-query with beancount's pickle cache (its default) against execintel's runs."""
    env = {**state_env(work), "BEANCOUNT_LOAD_CACHE_FILENAME": str(work / "{filename}.picklecache")}
    del env["BEANCOUNT_DISABLE_LOAD_CACHE"]
    harness.run_process(beanquery_command(ledger), env=env)  # writes the cache
    samples = [harness.run_process(beanquery_command(ledger), env=env).seconds for _ in range(3)]
    ratio = statistics.median(execintel_samples) / statistics.median(samples)
    return harness.report(harness.Figure(
        "beanquery.cached_seconds", f"bean-query income statement with its pickle cache warm, {sizes}", "s",
        samples, None, "benchmarks/bench_beanquery.py --cached",
        f"execintel (no cache) / cached beanquery: {ratio:.1f}x"))  # fmt: skip


def fava_sized(args: argparse.Namespace) -> bool:
    """For information: a full dry run (every report, PDF when installed) of a fava-huge-example-sized ledger."""
    folder = DATA / "fava"
    ledger = bean_example(1, "2018-01-01", END, folder=DATA)
    transactions = count_transactions(ledger.read_bytes())
    manifest = write_portfolio(ledger)
    env = state_env(folder)
    samples_bq, samples_full = [], []
    for _ in range(args.fava_runs):
        query = harness.run_process(beanquery_command(ledger), env=env)
        out = folder / "out"
        shutil.rmtree(out, ignore_errors=True)
        run = harness.execintel(*execintel_args(manifest, out, cfo_only=False), env=env)
        shutil.rmtree(out, ignore_errors=True)
        if query.status or run.status:
            raise RuntimeError(f"fava-sized run failed:\n{query.output[-2000:]}\n{run.output[-2000:]}")
        samples_bq.append(query.seconds)
        samples_full.append(run.seconds / query.seconds)
    median_bq = statistics.median(samples_bq)
    print(
        f"fava-sized ledger ({transactions:,} transactions): bean-query median {median_bq:.2f} s, full dry run "
        f"median {statistics.median(r * q for r, q in zip(samples_full, samples_bq, strict=True)):.2f} s"
    )
    return harness.report(harness.Figure(
        "beanquery.fava_full_ratio", f"full dry run (every report) / bean-query, {transactions:,} transactions",
        "x", samples_full, None, "benchmarks/bench_beanquery.py --fava",
        f"bean-query median {median_bq:.2f} s"))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Measure; exit 1 when the ratio misses its target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--transactions", type=int, default=100_000, help="at least this many (default 100,000)")
    parser.add_argument("--pairs", type=int, default=5, help="alternating cold runs of each side (default 5)")
    parser.add_argument("--cached", action=argparse.BooleanOptionalAction, default=True,
                        help="also time bean-query with its pickle cache (default: on)")  # fmt: skip
    parser.add_argument("--fava", action=argparse.BooleanOptionalAction, default=True,
                        help="also a full dry run of a 3,000-transaction ledger (default: on)")  # fmt: skip
    parser.add_argument("--fava-runs", type=int, default=3)
    args = parser.parse_args(argv)
    return 0 if measure(args) else 1


if __name__ == "__main__":
    raise SystemExit(main())
