"""Benchmark of reading git repositories: a long history with one huge blob, loaded by a cold ``execintel sources``.

The repository is made with ``git fast-import`` under ``benchmarks/.data/`` (git-ignored) and reused when
present: ``--commits`` commits, each rewriting one of 1,000 small files (five lines, so five added lines per
commit), and, when ``--blob-mb`` is not 0, one commit that adds a single-line file of that many megabytes.
Each repetition runs ``python -m execintel sources PORTFOLIO`` in a fresh interpreter and measures its wall
time and peak resident memory (the ``wait4`` rusage of that child, which on Linux includes the largest of the
git processes it started and waited for), and checks that it exited 0 having loaded the commits.

Figures (``harness.report``, one sample per run, the verdict on the median): ``git.peak_mib``, the peak RSS, with
a target of 512 MiB (``--max-mib``): the source's own limits (docs/security.md, "Reading a repository": 512 MB
of file content or of added lines per repository, files over 1 MB never loaded) bound its memory, not the blob
or the history; before that hardening a 200 MB blob took the peak to 1,623 MiB. And ``git.seconds``, the wall
time (no target). ``make bench`` runs the defaults (10,000 commits and a 100 MB blob, to keep its share near half
a minute); the 100,000-commit figure of docs/benchmarks.md is the first command below.

Usage::

    .venv/bin/python benchmarks/bench_git.py --commits 100000 --blob-mb 200 --repeat 3
    .venv/bin/python benchmarks/bench_git.py --commits 100000 --blob-mb 0     # the same history without the blob
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

ROOT = harness.ROOT
DATA = ROOT / "benchmarks" / ".data" / "git"
FILES = 1_000
GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


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


def main(argv: list[str] | None = None) -> int:
    """Make (or reuse) the repository, load it ``--repeat`` times, report the figures; 1 over the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--blob-mb", type=int, default=100, help="size of the one huge single-line blob; 0 for none")
    parser.add_argument("--repeat", type=int, default=5, help="cold runs; the median is reported")
    parser.add_argument("--max-mib", type=float, default=512.0, help="target for the median peak RSS")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    manifest, reused = make_portfolio(args.commits, args.blob_mb)
    made = "reused" if reused else f"made in {time.perf_counter() - start:.1f} s"
    print(f"portfolio: {manifest.relative_to(ROOT)} ({args.commits:,} commits, {args.blob_mb} MB blob, {made})")
    print(f"\n{'run':>4} {'wall s':>8} {'peak RSS MiB':>13}  result")
    runs: list[harness.Run] = []
    for i in range(1, args.repeat + 1):
        run = harness.execintel("sources", str(manifest))
        match = re.search(r"repos/history\W+app\W+([\d,]+)", run.output)
        commits = int(match.group(1).replace(",", "")) if match else None
        ok = run.status == 0 and commits is not None and commits > 0
        verdict = "ok" if ok else f"FAILED (exit {run.status}, commits {commits})"
        print(f"{i:>4} {run.seconds:>8.2f} {run.peak_mib:>13.0f}  {verdict} ({commits or 0:,} commits loaded)")
        if not ok:
            print(run.output[-4000:], file=sys.stderr)
            return 2
        runs.append(run)
    warnings = [line for line in runs[-1].output.splitlines() if "warning" in line.lower() or "history" in line]
    if warnings:
        print("\n" + "\n".join(warnings[:10]))
    command = shlex.join([".venv/bin/python", "benchmarks/bench_git.py", *(argv or sys.argv[1:])])
    what = f"a cold execintel sources of {args.commits:,} commits" + (
        f" with one {args.blob_mb} MB single-line blob" if args.blob_mb else ""
    )
    peak = harness.Figure("git.peak_mib", f"Git: peak RSS of {what} (git's children included)", "MiB",
                          [r.peak_mib for r in runs], args.max_mib, command,
                          detail="bounded by the source's limits, not by the blob or the history")  # fmt: skip
    wall = harness.Figure("git.seconds", f"Git: {what}", "s", [r.seconds for r in runs], None, command)
    ok = harness.report(peak) & harness.report(wall)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
