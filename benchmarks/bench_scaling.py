"""Benchmark of growth: run time and peak memory of a full dry run at 1x, 10x, 100x data and 1, 10, 100 entities.

A full run is ``python -m execintel run --dry-run PATH --out TMP --no-pdf`` in a fresh interpreter (exactly what
a user runs: imports, manifest, every source, every analysis, every report written as JSON, HTML, text and
charts), with a new empty audit store each time (a dry run records itself, and the findings lifecycle of a run
reads every earlier run of its portfolio: with a shared store each repetition would be slower than the last).

Two series on synthetic portfolios (``synth.py``, kept in ``benchmarks/.data/``, git-ignored):

- **rows**: 10 entities; 1x = 10,000 ledger rows + 2,000 events + 1,000 contacts, then 10x and 100x of each
  (100x is the load benchmark's 1M / 200k / 100k portfolio, the same folder);
- **entities**: 1, 10 and 100 entities of 1,000 ledger rows + 200 events + 100 contacts each (a portfolio that
  grows by adding businesses; the 10-entity point is the rows series' 1x portfolio).

Each point is run 5 times when a run takes under 3 s, else 3 times (once when a run takes over ``--slow``
seconds: the budget of ``make bench``). Each series is fitted with ``y = y0 + c * n ** b`` (y0: the fixed cost
of a run, which does not grow with data: interpreter, imports, manifest, empty reports), and ``b`` is the
growth exponent: 1 is linear, above 1 is worse. See docs/scaling-curves.md.

Usage::

    .venv/bin/python benchmarks/bench_scaling.py                  # both series, plots into docs/
    .venv/bin/python benchmarks/bench_scaling.py --series rows --scales 1,10 --no-plot
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from synth import Portfolio, cached_portfolio

ROOT = harness.ROOT
DATA = ROOT / "benchmarks" / ".data"
DOCS = ROOT / "docs"
BASE = (10_000, 2_000, 1_000)  # 1x: ledger rows, events, contacts (10 entities)
PER_ENTITY = (1_000, 200, 100)  # the entities series: each entity's ledger rows, events, contacts
TARGET_EXPONENT = 1.15  # near-linear: a 100x portfolio may cost at most 100 ** 1.15 = 200x the excess of 1x
QUICK_SECONDS = 3.0  # a point whose first run is under this is run 5 times, else 3


@dataclass(frozen=True)
class Point:
    """One measured size: the portfolio, its size on the series' axis, and each run's seconds and peak MiB."""

    label: str  # "1x", "100 entities"
    size: int  # the x of the series: data rows, or entities
    portfolio: Portfolio
    seconds: list[float]
    peak_mib: list[float]


@dataclass(frozen=True)
class Growth:
    """A fit of ``y = y0 + c * n ** b``: ``b`` is the growth exponent of what varies with ``n``."""

    exponent: float
    fixed: float  # y0: the part of every run that does not grow with n
    scale: float  # c

    def __call__(self, n: np.ndarray | float) -> np.ndarray | float:
        """The fitted value at ``n``."""
        return self.fixed + self.scale * np.power(n, self.exponent)


def fit_growth(sizes: Sequence[float], values: Sequence[float]) -> Growth:
    """Least-squares fit of ``log(y - y0) = log(c) + b log(n)`` with the fixed cost ``y0`` in ``[0, min(y))``.

    ``y0`` is searched (a fine grid, then refined around the best); for each ``y0`` the line through the log-log
    points is an ordinary least-squares fit, and the ``y0`` with the smallest residual wins. In log space every
    size weighs the same (a 10 % error at 1x counts as much as 10 % at 100x). With three sizes ten times apart and
    increasing increments the fit is exact: ``b = log10((y3 - y2) / (y2 - y1))``, the growth of the excess.
    """
    n = np.asarray(sizes, dtype=float)
    y = np.asarray(values, dtype=float)
    if n.size < 2 or n.size != y.size or np.any(n <= 0) or np.any(y <= 0):
        raise ValueError("a growth fit needs at least two sizes and positive values")
    logn = np.log(n)
    centred = logn - logn.mean()

    def fits(fixed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Residual, slope and intercept of the log-log line for each candidate fixed cost (one row each)."""
        logy = np.log(y[None, :] - fixed[:, None])
        slope = (logy - logy.mean(axis=1, keepdims=True)) @ centred / (centred @ centred)
        intercept = logy.mean(axis=1) - slope * logn.mean()
        residual = np.sum((logy - intercept[:, None] - slope[:, None] * logn[None, :]) ** 2, axis=1)
        return residual, slope, intercept

    top = float(y.min()) * (1 - 1e-9)
    grid = np.linspace(0.0, top, 4001)
    best = float(grid[np.argmin(fits(grid)[0])])
    step = top / 4000
    fine = np.linspace(max(0.0, best - step), min(top, best + step), 4001)
    residual, slopes, intercepts = fits(fine)
    i = int(np.argmin(residual))
    fixed, slope, intercept = float(fine[i]), float(slopes[i]), float(intercepts[i])
    return Growth(slope, fixed, math.exp(intercept))


def run_point(portfolio: Portfolio, *, slow: float, runs: int | None = None) -> tuple[list[float], list[float]]:
    """Run ``portfolio`` cold: 5 times when a run is quick, 3 when not, once when slower than ``slow`` seconds."""
    seconds: list[float] = []
    peaks: list[float] = []
    wanted = runs
    while wanted is None or len(seconds) < wanted:
        with tempfile.TemporaryDirectory(prefix="execintel-scaling-") as tmp:
            store = f"sqlite:///{Path(tmp) / 'store' / 'execintel.db'}"
            run = harness.execintel("run", "--dry-run", str(portfolio.manifest), "--out", str(Path(tmp) / "out"),
                                    "--no-pdf", "--store", store, env={"EXECINTEL_DATA_DIR": str(Path(tmp) / "data")},
                                    cwd=ROOT)  # fmt: skip
        if run.status != 0:
            raise SystemExit(f"{portfolio.manifest}: execintel run exited {run.status}\n{run.output[-3000:]}")
        seconds.append(run.seconds)
        peaks.append(run.peak_mib)
        if wanted is None:
            wanted = 5 if run.seconds < QUICK_SECONDS else 3 if run.seconds < slow else 1
    return seconds, peaks


def make(entities: int, rows: tuple[int, int, int]) -> Portfolio:
    """The portfolio of this shape, made once (named as the load benchmark names its folders: 100x is shared)."""
    ledger, events, contacts = rows
    name = f"portfolio-e{entities}-l{ledger}-v{events}-c{contacts}-s2026"
    start = time.perf_counter()
    portfolio, reused = cached_portfolio(DATA / name, entities=entities, ledger_rows=ledger, events=events,
                                         contacts=contacts, layout="portfolio")  # fmt: skip
    if not reused:
        print(f"made {name} in {time.perf_counter() - start:.1f} s", flush=True)
    return portfolio


def measure(series: str, sizes: Sequence[int], *, slow: float, runs: int | None,
            cache: dict[Path, tuple[list[float], list[float]]]) -> list[Point]:  # fmt: skip
    """Measure each size of ``series`` ("rows": scales of 1x; "entities": entity counts); reuse shared points."""
    points: list[Point] = []
    for size in sizes:
        if series == "rows":
            portfolio = make(10, (BASE[0] * size, BASE[1] * size, BASE[2] * size))
            label, x = f"{size}x", portfolio.rows
        else:
            portfolio = make(size, (PER_ENTITY[0] * size, PER_ENTITY[1] * size, PER_ENTITY[2] * size))
            label, x = f"{size} entit{'y' if size == 1 else 'ies'}", size
        if portfolio.manifest not in cache:
            cache[portfolio.manifest] = run_point(portfolio, slow=slow, runs=runs)
        seconds, peaks = cache[portfolio.manifest]
        points.append(Point(label, x, portfolio, seconds, peaks))
        print(f"  {series} {label}: {portfolio.rows:,} rows, {portfolio.entities} entities: "
              f"{', '.join(f'{s:.2f}' for s in seconds)} s; peak {max(peaks):.0f} MiB", flush=True)  # fmt: skip
    return points


def _short(value: float) -> str:
    """1,300,000 -> 1.3M, 13,000 -> 13k, 192 -> 192, 9.4 -> 9.4: axis ticks and labels a reader takes in."""
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


def _median(values: Sequence[float]) -> float:
    return float(np.median(values))


def report(series: str, points: list[Point], command: str) -> tuple[tuple[Growth, Growth], bool]:
    """Report each point's figures (no target) and the series' growth exponents; and whether both are in target."""
    key = "rows" if series == "rows" else "entities"
    for point in points:
        name = point.label.split()[0]
        what = f"{point.portfolio.rows:,} rows, {point.portfolio.entities} entities"
        harness.report(harness.Figure(f"scaling.{key}_{name}.seconds", f"Full dry run, {what}", "s",
                                      point.seconds, None, command))  # fmt: skip
        harness.report(harness.Figure(f"scaling.{key}_{name}.peak_mib", f"Peak memory of a full dry run, {what}",
                                      "MiB", point.peak_mib, None, command))  # fmt: skip
    sizes = [p.size for p in points]
    fits: list[Growth] = []
    passed = True
    for measure_name, unit, values in (("seconds", "s", [p.seconds for p in points]),
                                       ("peak_mib", "MiB", [p.peak_mib for p in points])):  # fmt: skip
        growth = fit_growth(sizes, [_median(v) for v in values])
        fits.append(growth)
        # One sample per repetition: the fit of the k-th run of every point (the spread shows the noise).
        samples = [fit_growth(sizes, [v[k] for v in values]).exponent for k in range(min(len(v) for v in values))]
        axis = "data rows" if series == "rows" else "entities"
        passed &= harness.report(harness.Figure(
            f"scaling.{key}_{'exponent' if measure_name == 'seconds' else 'memory_exponent'}",
            f"Growth exponent b of {'run time' if unit == 's' else 'peak memory'} against {axis} "
            f"({', '.join(p.label for p in points)})", "b", samples, TARGET_EXPONENT, command,
            f"fit of the medians: {unit} = {growth.fixed:.3g} + {growth.scale:.3g} * n^{growth.exponent:.2f}",
            {"fixed": growth.fixed, "scale": growth.scale, "exponent_of_medians": growth.exponent},
        ))  # fmt: skip
    return (fits[0], fits[1]), passed


def plot(series: str, points: list[Point], fits: tuple[Growth, Growth], path: Path) -> Path:
    """Two log-log panels (time, peak memory): the measured points, the fitted curve, a linear reference."""
    import matplotlib as mpl  # noqa: PLC0415 - only when plotting

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.ticker import FuncFormatter  # noqa: PLC0415

    sizes = np.array([p.size for p in points], dtype=float)
    xs = np.geomspace(sizes.min(), sizes.max(), 100)
    axis = (
        "data rows (ledger + events + contacts; 10 entities)"
        if series == "rows"
        else (f"entities ({PER_ENTITY[0]:,} ledger rows + {PER_ENTITY[1]} events + {PER_ENTITY[2]} contacts each)")
    )
    fig, panels = plt.subplots(1, 2, figsize=(10, 4.4), dpi=80, layout="constrained")
    for ax, (title, unit, values), growth in zip(
        panels, (("Run time", "s", [p.seconds for p in points]), ("Peak memory", "MiB", [p.peak_mib for p in points])),
        fits, strict=True,
    ):  # fmt: skip
        medians = np.array([_median(v) for v in values])
        low = medians - np.array([min(v) for v in values])
        high = np.array([max(v) for v in values]) - medians
        ax.errorbar(sizes, medians, yerr=[low, high], fmt="o", color="#1f4e79", capsize=4, markersize=7,
                    label="measured (median, min-max)", zorder=3)  # fmt: skip
        ax.plot(xs, growth(xs), color="#c0504d", linewidth=2,
                label=f"fit: {_short(growth.fixed)} {unit} + c·n^{growth.exponent:.2f}")  # fmt: skip
        # Linear growth of the excess over the fixed cost, from the smallest point.
        linear = growth.fixed + (medians[0] - growth.fixed) * xs / sizes[0]
        ax.plot(xs, linear, color="#7f7f7f", linestyle="--", linewidth=1.5, label="linear (b = 1) from the first point")
        for i, (x, y) in enumerate(zip(sizes, medians, strict=True)):
            last = i == len(sizes) - 1
            ax.annotate(f"{_short(y)} {unit}", (x, y), textcoords="offset points", xytext=(-8 if last else 8, -4),
                        ha="right" if last else "left", va="top", fontsize=10)  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        shown = np.concatenate([medians - low, medians + high, growth(xs), linear])
        ax.set_ylim(shown.min() / 1.25, shown.max() * 1.25)  # room for the end points and their labels
        ax.set_xlim(sizes.min() / 1.6, sizes.max() * 1.6)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _short(v)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _short(v)))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: _short(v) if str(int(v))[0] in "25" else ""))
        ax.set_title(f"{title} of a full dry run", fontsize=13)
        ax.set_xlabel(axis, fontsize=10)
        ax.set_ylabel(f"{title.lower()} ({unit})", fontsize=11)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=9, loc="upper left")
        ax.tick_params(which="both", labelsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    """Make (or reuse) the portfolios, measure both series, report figures and exponents, draw the plots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--series", default="rows,entities", help="rows, entities, or both (comma-separated)")
    parser.add_argument("--scales", default="1,10,100", help="the rows series' multiples of 1x")
    parser.add_argument("--entities", default="1,10,100", help="the entities series' entity counts")
    parser.add_argument("--runs", type=int, default=None, help="runs per point (default: 5, 3, or 1 when slow)")
    parser.add_argument("--slow", type=float, default=30.0, help="a point slower than this (s) is run once")
    parser.add_argument("--plot", action=argparse.BooleanOptionalAction, default=True,
                        help="write docs/scaling-rows.png and docs/scaling-entities.png")  # fmt: skip
    parser.add_argument("--plot-dir", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    command = shlex.join(["benchmarks/bench_scaling.py", *(argv if argv is not None else sys.argv[1:])])
    print(f"machine: {harness.machine()}; commit {harness.revision()}", flush=True)
    cache: dict[Path, tuple[list[float], list[float]]] = {}
    ok = True
    for series in args.series.split(","):
        if series not in ("rows", "entities"):
            parser.error(f"--series: {series!r} is not rows or entities")
        sizes = [int(s) for s in (args.scales if series == "rows" else args.entities).split(",")]
        points = measure(series, sizes, slow=args.slow, runs=args.runs, cache=cache)
        fits, passed = report(series, points, command)
        ok = ok and passed
        if args.plot:
            written = plot(series, points, fits, args.plot_dir / f"scaling-{series}.png")
            print(f"  wrote {written.relative_to(ROOT) if written.is_relative_to(ROOT) else written}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
