"""Benchmark of reading git repositories: a long history with one huge blob, loaded by a cold ``execintel sources``.

The repository is made with ``git fast-import`` under ``benchmarks/.data/`` (git-ignored) and reused when
present: ``--commits`` commits, each rewriting one of 1,000 small files (five lines, so five added lines per
commit), and, when ``--blob-mb`` is not 0, one commit that adds a single-line file of that many megabytes.
Each repetition runs ``python -m execintel sources PORTFOLIO`` in a fresh interpreter and measures its wall
time and peak resident memory (the ``wait4`` rusage of that child, which on Linux includes the largest of the
git processes it started and waited for), and checks that it exited 0 having loaded the commits.

Usage::

    .venv/bin/python benchmarks/bench_git.py --commits 100000 --blob-mb 200
    .venv/bin/python benchmarks/bench_git.py --commits 100000 --blob-mb 0     # the same history without the blob
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data" / "git"
FILES = 1_000
GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


@dataclass(frozen=True)
class Run:
    """One cold ``execintel sources``: wall seconds, peak RSS in MiB, exit status, output."""

    seconds: float
    peak_mib: float
    status: int
    output: str


def _fast_import_stream(commits: int, blob_bytes: int, handle: object) -> None:
    write = handle.write  # type: ignore[attr-defined]
    big_at = commits // 2 if blob_bytes else -1
    for i in range(commits):
        stamp = 1_700_000_000 + i * 60
        message = f"change {i}\n".encode()
        write(b"commit refs/heads/main\n")
        write(f"committer Bench <bench@example.com> {stamp} +0000\n".encode())
        write(b"data %d\n%s" % (len(message), message))
        body = "".join(f"line {line} of version {i}: value_{i * 7 + line}\n" for line in range(5)).encode()
        write(b"M 100644 inline src/module_%d.txt\ndata %d\n%s\n" % (i % FILES, len(body), body))
        if i == big_at:
            write(b"M 100644 inline assets/bundle.min.js\ndata %d\n" % blob_bytes)
            chunk = b"x" * (1 << 20)
            left = blob_bytes
            while left:
                write(chunk[: min(left, len(chunk))])
                left -= min(left, len(chunk))
            write(b"\n")
    write(b"done\n")


def make_portfolio(commits: int, blob_mb: int) -> tuple[Path, bool]:
    """The portfolio folder holding one repository with this history (made once, then reused)."""
    folder = DATA / f"history-c{commits}-b{blob_mb}"
    manifest = folder / "portfolio.yaml"
    if manifest.exists():
        return manifest, True
    repo = folder / "repos" / "history"
    repo.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=env)
    with subprocess.Popen(
        ["git", "-C", str(repo), "fast-import", "--quiet", "--done"], stdin=subprocess.PIPE, env=env
    ) as git:
        assert git.stdin is not None
        _fast_import_stream(commits, blob_mb << 20, git.stdin)
        git.stdin.close()
    if git.returncode != 0:
        raise SystemExit(f"git fast-import failed with exit {git.returncode}")
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "main", "--", "."], check=True, env=env)
    manifest.write_text(
        "version: 1\nportfolio: {name: Bench, currency: USD, timezone: UTC, as_of: 2026-01-31}\n"
        "sender: reports@example.com\n"
        "stakeholders: [{id: cto, name: CTO, email: cto@example.com, roles: [cto]}]\n"
        "entities: [{id: app, name: App, repos: [repos/history]}]\n",
        encoding="utf-8",
    )
    return manifest, False


def run_sources(manifest: Path) -> Run:
    """``execintel sources MANIFEST`` in a fresh interpreter; wall time and peak RSS of that child and its git."""
    command = [sys.executable, "-m", "execintel", "sources", str(manifest)]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    with tempfile.TemporaryFile() as output:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
        _, wait_status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(wait_status)
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    divisor = 1024 * 1024 if sys.platform == "darwin" else 1024  # ru_maxrss: KiB on Linux, bytes on macOS
    return Run(seconds, usage.ru_maxrss / divisor, child.returncode, text)


def main(argv: list[str] | None = None) -> int:
    """Make (or reuse) the repository, load it ``--repeat`` times, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--blob-mb", type=int, default=200, help="size of the one huge single-line blob; 0 for none")
    parser.add_argument("--repeat", type=int, default=3, help="cold runs; the best wall time is reported")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    manifest, reused = make_portfolio(args.commits, args.blob_mb)
    made = "reused" if reused else f"made in {time.perf_counter() - start:.1f} s"
    print(f"portfolio: {manifest.relative_to(ROOT)} ({args.commits:,} commits, {args.blob_mb} MB blob, {made})")
    print(f"\n{'run':>4} {'wall s':>8} {'peak RSS MiB':>13}  result")
    runs: list[Run] = []
    for i in range(1, args.repeat + 1):
        run = run_sources(manifest)
        match = re.search(r"repos/history\W+app\W+([\d,]+)", run.output)
        commits = int(match.group(1).replace(",", "")) if match else None
        ok = run.status == 0 and commits is not None and commits > 0
        verdict = "ok" if ok else f"FAILED (exit {run.status}, commits {commits})"
        print(f"{i:>4} {run.seconds:>8.2f} {run.peak_mib:>13.0f}  {verdict} ({commits or 0:,} commits loaded)")
        if not ok:
            print(run.output[-4000:], file=sys.stderr)
            return 1
        runs.append(run)
    print(f"\nbest wall time {min(r.seconds for r in runs):.2f} s, peak RSS {max(r.peak_mib for r in runs):.0f} MiB")
    warnings = [line for line in runs[-1].output.splitlines() if "warning" in line.lower() or "history" in line]
    if warnings:
        print("\n" + "\n".join(warnings[:10]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
