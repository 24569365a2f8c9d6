"""What every benchmark shares: one measured figure, its target, its verdict, and where ``make bench`` collects it.

A benchmark script measures a figure several times (at least 5 runs for ``make bench``), then calls
:func:`report` with a :class:`Figure`. That prints one line a reader can scan::

    load.seconds     median 7.41 s (min 7.12, max 7.80; 5 runs)    target <= 10 s    PASS

and, when ``benchmarks/run.py`` (``make bench``) started the script, appends the figure as one JSON line to the
file named by ``EXECINTEL_BENCH_RESULTS``; ``run.py`` writes them all into ``docs/benchmarks.md``. The verdict
is taken on the median: the machine is shared, and one disturbed run should neither pass nor fail a target.
Every target is an upper bound (seconds, MiB, ms, MB, a ratio): lower is better.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_ENV = "EXECINTEL_BENCH_RESULTS"
"""The JSON-lines file a benchmark appends its figures to (set by ``run.py``; unset: print only)."""


@dataclass
class Figure:
    """One measured quantity: its samples (one per run), unit and target (an upper bound)."""

    id: str  # stable, dotted: "load.seconds", "api.history_p99_ms"
    title: str  # what was measured, for a reader: "Load 1M ledger rows + 200k events + 100k contacts"
    unit: str  # "s", "ms", "MiB", "MB", "x" (a ratio)
    samples: list[float]
    target: float | None  # None: measured for information, no target
    command: str = ""  # how to measure it alone, from the repository root
    detail: str = ""  # one line more (e.g. messages per second, the sizes compared)
    extra: dict[str, float | str] = field(default_factory=dict)

    @property
    def median(self) -> float:
        """The median of the samples: the figure the verdict is taken on."""
        return statistics.median(self.samples)

    @property
    def passed(self) -> bool | None:
        """True when the median is within the target; None when there is no target."""
        return None if self.target is None else self.median <= self.target

    def line(self) -> str:
        """The one-line summary printed for this figure."""
        runs = len(self.samples)
        spread = f"min {fmt(min(self.samples))}, max {fmt(max(self.samples))}; {runs} run{'s' * (runs != 1)}"
        measured = f"median {fmt(self.median)} {self.unit} ({spread})"
        if self.target is None:
            return f"{self.id:<28} {measured:<52} (no target)"
        verdict = "PASS" if self.passed else "FAIL"
        return f"{self.id:<28} {measured:<52} target <= {fmt(self.target)} {self.unit:<4} {verdict}"


def fmt(value: float) -> str:
    """A figure with the digits that matter: 1,234 / 12.3 / 1.23 / 0.123."""
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def report(figure: Figure) -> bool:
    """Print ``figure``'s line and hand it to ``run.py`` when it collects; True unless it misses its target."""
    if not figure.samples:
        raise ValueError(f"{figure.id}: no samples")
    print(figure.line(), flush=True)
    target = os.environ.get(RESULTS_ENV)
    if target:
        record = {**asdict(figure), "median": figure.median, "passed": figure.passed}
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
    return figure.passed is not False


@dataclass(frozen=True)
class Run:
    """One child process: wall seconds, its own peak RSS in MiB, exit status and output."""

    seconds: float
    peak_mib: float
    status: int
    output: str


def run_process(command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> Run:
    """Run ``command`` to its end; measure its wall time and the peak resident memory of that process alone."""
    environment = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    with tempfile.TemporaryFile() as output:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=environment, cwd=cwd)
        _, wait_status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    # ru_maxrss is in KiB on Linux (bytes on macOS); wait4's usage is that child's own (and its waited-for children).
    divisor = 1024 * 1024 if sys.platform == "darwin" else 1024
    return Run(seconds, usage.ru_maxrss / divisor, os.waitstatus_to_exitcode(wait_status), text)


def execintel(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Run:
    """``python -m execintel ARGS`` in a fresh interpreter, exactly what a user runs."""
    return run_process([sys.executable, "-m", "execintel", *args], cwd=cwd, env=env)


def machine() -> str:
    """CPU model, cores, memory, operating system and Python: what a figure was measured on."""
    cpu = platform.processor() or platform.machine()
    memory = ""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.0f} GiB"
                break
    except OSError:
        pass
    system = platform.freedesktop_os_release().get("PRETTY_NAME", "") if sys.platform == "linux" else ""
    system = system or f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} cores ({cpu}){memory}, {system}, Python {platform.python_version()}"


def revision() -> str:
    """The commit measured, and whether the sources had uncommitted changes."""
    try:
        sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=False)  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "src"],
                               capture_output=True, text=True, check=False)  # fmt: skip
    except OSError:
        return "unknown"
    return (sha.stdout.strip() or "unknown") + (" + uncommitted changes" if dirty.stdout.strip() else "")
