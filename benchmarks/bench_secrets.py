"""Benchmark: secret scanning, recall and precision on our generated leak corpus, and time on long lines.

``recall`` builds the corpus of ``tests/secret_corpus.py`` (fake secrets planted in realistic files, each once
still tracked and once in history only, plus clean look-alikes) for a few seeds and scores:

- **plain detect-secrets**: ``detect-secrets scan --all-files`` on a checkout of the first commit (every planted
  secret is in it) and of HEAD; a secret counts as found when detect-secrets reports its file and line. This is
  generous to detect-secrets, which has no history scan of its own;
- **execintel**: ``python -m execintel run --dry-run --no-pdf --reports cto`` on a portfolio auditing the
  repository, scored from the report's findings (``hardcoded-secret`` for tracked secrets,
  ``secret-in-history`` for the others, on the planted line);
- with ``--baseline-src DIR``, the same run of another execintel source tree (e.g. before a change).

It is our own corpus, written by the people who wrote the rules: read its figures as a regression check, not as
recall on other people's leaks (the gitleaks sample in ``tests/test_security.py`` is a second, independent check).

``lines`` times the scan of one file holding a single long line (minified JavaScript, a JSON list of URLs, a
quoted base64 blob) at several lengths, each in a fresh process, and reports CPU seconds and peak RSS.

Figures (``harness.report``, the verdict on the median): ``recall`` reports ``secrets.missed_pct`` (the planted
secrets execintel missed, one sample per seed: target 10 %, i.e. recall of at least 90 %) and
``secrets.clean_findings`` (secret findings on the clean look-alike files, per seed: target 0); ``lines`` reports,
per kind of line, ``secrets.growth_<kind>``, the exponent b of time ~ length^b between the shortest and the longest
line (one sample per ``--repeat``; 1 is linear, 2 quadratic: target 1.2), and the scan's peak RSS on the longest
line (no target). ``make bench`` runs ``recall --no-detect-secrets`` and ``lines`` with their defaults.

    .venv/bin/python benchmarks/bench_secrets.py recall --seeds 3
    .venv/bin/python benchmarks/bench_secrets.py lines --kinds minified-js,url-list,base64 \
        --sizes 100000,1000000,4000000 --repeat 1
    .venv/bin/python benchmarks/bench_secrets.py lines --baseline-src ../main/src --sizes 25000,50000,100000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import shlex
import statistics
import string
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

sys.path.insert(0, str(ROOT / "benchmarks"))

import harness  # noqa: E402
from helpers import extract_tar  # noqa: E402
from secret_corpus import Corpus, Place, Score, build_repository, make_corpus, score  # noqa: E402
from secret_corpus_files import CLEAN, LEAKS  # noqa: E402

REPO = "repos/corpus"
GROUPS = {t.label: t.group for t in LEAKS}


# --- recall ------------------------------------------------------------------------------------------------------


def _portfolio(root: Path, seed: str) -> tuple[Path, Corpus]:
    corpus = build_repository(root / REPO, make_corpus(seed))
    manifest = {
        "version": 1,
        "portfolio": {"name": "Corpus", "as_of": "2026-11-15"},
        "sender": "reports@example.com",
        "stakeholders": [{"id": "cto", "name": "CTO", "email": "cto@example.com", "roles": ["cto"]}],
        "entities": [{"id": "shop", "name": "Shop", "repos": [REPO]}],
    }
    (root / "portfolio.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    return root / "portfolio.yaml", corpus


def execintel_places(manifest: Path, src: Path | None) -> tuple[set[Place], float]:
    """(kind, file, line) of every finding of a CTO dry run, and the run's wall time."""
    env = {**os.environ, "NO_COLOR": "1"}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "execintel", "run", "--dry-run", "--no-pdf", "--reports", "cto",
                        "--out", out, str(manifest)], check=True, capture_output=True, env=env)  # fmt: skip
        seconds = time.perf_counter() - start
        [document] = Path(out).glob("*/cto.json")
        findings = json.loads(document.read_text())["findings"]
    return {(f["kind"], f.get("file", ""), f.get("line")) for f in findings if f.get("file")}, seconds


def detect_secrets_places(repo: Path, corpus: Corpus) -> set[Place]:
    """Plain detect-secrets on a checkout of the first commit (every secret) and of HEAD."""
    places: set[Place] = set()
    for sha in (corpus.added, corpus.removed):
        with tempfile.TemporaryDirectory() as tree:
            archive = subprocess.run(["git", "-C", str(repo), "archive", sha], check=True, capture_output=True)
            tar = Path(tree) / "tree.tar"
            tar.write_bytes(archive.stdout)
            with tarfile.open(tar) as files:
                extract_tar(files, Path(tree) / "t")
            done = subprocess.run([str(Path(sys.executable).parent / "detect-secrets"), "scan", "--all-files"],
                                  cwd=Path(tree) / "t", check=True, capture_output=True, text=True)  # fmt: skip
            for path, secrets in json.loads(done.stdout)["results"].items():
                for secret in secrets:
                    line = secret["line_number"]
                    live = path.startswith("live/") or sha == corpus.removed
                    kind = "hardcoded-secret" if live else "secret-in-history"
                    places.add((kind, path, line))
    return places


def _rate(found: int, total: int) -> str:
    return f"{found}/{total} ({100 * found / max(1, total):.0f} %)"


def recall(args: argparse.Namespace) -> bool:
    """Score plain detect-secrets, execintel and (optionally) a baseline on ``args.seeds`` corpora; report
    execintel's figures; False when one misses its target."""
    engines = [*(["plain detect-secrets"] if args.detect_secrets else []),
               *(["execintel (baseline)"] if args.baseline_src else []), "execintel"]  # fmt: skip
    totals: dict[str, Counter[str]] = {e: Counter() for e in engines}
    times: dict[str, float] = Counter()
    missed: list[float] = []
    clean: list[float] = []
    for n in range(args.seeds):
        with tempfile.TemporaryDirectory() as folder:
            manifest, corpus = _portfolio(Path(folder) / "portfolio", f"bench-{n}")
            repo = manifest.parent / REPO
            runs: dict[str, tuple[set[Place], str]] = {}
            if args.detect_secrets:
                runs["plain detect-secrets"] = (detect_secrets_places(repo, corpus), "")
            if args.baseline_src:
                places, seconds = execintel_places(manifest, args.baseline_src)
                runs["execintel (baseline)"], times["execintel (baseline)"] = (places, f"{REPO}/"), seconds
            places, seconds = execintel_places(manifest, None)
            runs["execintel"] = (places, f"{REPO}/")
            times["execintel"] += seconds
            for engine, (places, prefix) in runs.items():
                _count(totals[engine], score(corpus, places, prefix), places, prefix)
            seed = Counter[str]()
            _count(seed, score(corpus, runs["execintel"][0], f"{REPO}/"), runs["execintel"][0], f"{REPO}/")
            missed.append(100 * (1 - seed["all:found"] / max(1, seed["all:n"])))
            clean.append(seed["clean"])
            print(f"seed {n}: execintel found {seed['all:found']}/{seed['all:n']}, {seed['clean']} findings on "
                  f"clean files, in {seconds:.1f} s", flush=True)  # fmt: skip
    _print_recall(engines, totals, args.seeds)
    print(f"\nexecintel CTO dry run (no PDF): {times['execintel'] / args.seeds:.1f} s per corpus on average")
    command = shlex.join([".venv/bin/python", "benchmarks/bench_secrets.py", *sys.argv[1:]])
    planted = totals["execintel"]["all:n"] // max(1, args.seeds)
    ok = harness.report(harness.Figure(
        "secrets.missed_pct",
        f"Secrets: planted secrets the CTO scan missed, of {planted} per seed (our generated corpus: a "
        "regression check, not recall on unseen leaks)",
        "%", missed, 10.0, command, detail="target: recall of at least 90 %",
    ))  # fmt: skip
    ok &= harness.report(harness.Figure(
        "secrets.clean_findings", f"Secrets: findings on the {len(CLEAN)} clean look-alike files, per seed",
        "", clean, 0.0, command,
    ))  # fmt: skip
    return ok


def _count(total: Counter[str], result: Score, places: set[Place], prefix: str) -> None:
    for plant in result.found + result.missed:
        hit = plant in result.found
        where = "tracked" if plant.path.startswith("live/") else "history"
        for key in (f"kind:{where}", f"group:{GROUPS[plant.label]}", "all"):
            total[key + ":n"] += 1
            total[key + ":found"] += hit
    total["env:found"] += result.env_found
    total["env:n"] += result.env_expected
    total["extra"] += len(result.extra)
    clean = {(file, line) for kind, file, line in places if file.startswith(prefix + "clean/") and line}
    total["clean"] += len(clean)  # secret findings (with a line) in clean files, each file and line once
    total["clean files"] += len(CLEAN)


def _print_recall(engines: list[str], totals: dict[str, Counter[str]], seeds: int) -> None:
    rows = [
        ("`hardcoded-secret` (tracked files)", "kind:tracked"),
        ("`secret-in-history` (history only)", "kind:history"),
    ]
    rows += [(f"  {group}", f"group:{group}") for group in dict.fromkeys(GROUPS.values())]
    print(f"\nRecall on our generated corpus ({seeds} seed(s), {totals[engines[-1]]['all:n']} planted secrets)\n")
    print("| | " + " | ".join(engines) + " |")
    print("|---|" + "---|" * len(engines))
    for label, key in rows:
        print(f"| {label} | " + " | ".join(_rate(totals[e][f"{key}:found"], totals[e][f"{key}:n"]) for e in engines)
              + " |")  # fmt: skip
    print("| **all planted secrets** | " + " | ".join(f"**{_rate(totals[e]['all:found'], totals[e]['all:n'])}**"
          for e in engines) + " |")  # fmt: skip
    print("| `env-file-committed` | " + " | ".join(_rate(totals[e]["env:found"], totals[e]["env:n"])
          if e != "plain detect-secrets" else "n/a" for e in engines) + " |")  # fmt: skip
    print("| precision (planted / all secret findings) | " + " | ".join(
        f"{100 * totals[e]['all:found'] / max(1, totals[e]['all:found'] + totals[e]['extra']):.0f} %"
        for e in engines) + " |")  # fmt: skip
    print("| findings on clean files | " + " | ".join(str(totals[e]["clean"]) for e in engines) + " |")


# --- long lines --------------------------------------------------------------------------------------------------


def long_line(kind: str, size: int) -> str:
    """One line of ``size`` characters: minified JavaScript, a JSON list of URLs, or a quoted base64 blob."""
    rand = random.Random(kind)
    if kind == "minified-js":
        chunk = "function(e,t){var n=e.secret||t.key;return n?{id:n.id,url:'/api/v1/'+n.id}:null},"
        return (chunk * (size // len(chunk) + 1))[:size]
    if kind == "url-list":
        parts: list[str] = []
        total = 0
        while total < size:
            name = "".join(rand.choice(string.ascii_lowercase + string.digits) for _ in range(12))
            parts.append(f'"https://cdn.example.com/assets/{name}.js"')
            total += len(parts[-1]) + 1
        return "[" + ",".join(parts) + "]"
    return '"' + "".join(rand.choice(string.ascii_letters + string.digits + "+/") for _ in range(size)) + '"'


def _one(args: argparse.Namespace) -> None:
    """(Child process) scan one long line with one engine; print CPU seconds and peak RSS as JSON."""
    line = long_line(args.kind, args.size)
    if args.engine == "detect-secrets":
        from detect_secrets.core.scan import scan_file  # noqa: PLC0415 - only in this child
        from detect_secrets.settings import default_settings  # noqa: PLC0415

        with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as file:
            file.write(line + "\n")
        start = time.process_time()
        with default_settings():
            found = len(list(scan_file(file.name)))
        Path(file.name).unlink()
    else:
        module = "execintel.analysis.secrets" if args.engine == "execintel" else "execintel.analysis.security"
        scanner_class: Any = __import__(module, fromlist=["SecretScanner"]).SecretScanner
        start = time.process_time()
        with scanner_class() as scanner:
            found = len(list(scanner.scan("dist/app.js", [line])))
    seconds = time.process_time() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mib": peak, "found": found}))


def lines(args: argparse.Namespace) -> bool:
    """Time each engine on each kind of long line at each size, each measurement in a fresh process (``--repeat``
    times); report execintel's growth exponent per kind; False when one misses its target."""
    engines = {"execintel": None, **({"baseline": args.baseline_src} if args.baseline_src else {})}
    if args.detect_secrets:
        engines["detect-secrets"] = None
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"\nOne long line, CPU seconds (peak RSS MiB), each in a fresh process; over {args.timeout:.0f} s: stopped\n")
    print("| line | size | " + " | ".join(engines) + " |")
    print("|---|---|" + "---|" * len(engines))
    ok = True
    command = shlex.join([".venv/bin/python", "benchmarks/bench_secrets.py", *sys.argv[1:]])
    for kind in args.kinds.split(","):
        stopped: set[str] = set()
        ours: dict[int, list[dict[str, float]]] = {}
        for size in sizes:
            cells = []
            for engine, src in engines.items():
                results = (
                    []
                    if engine in stopped
                    else [
                        _run_one(engine, src, kind, size, args.timeout)
                        for _ in range(args.repeat if engine == "execintel" else 1)
                    ]
                )
                if engine == "execintel":
                    ours[size] = [r for r in results if r is not None]
                cells.append(_cell(results, args.timeout) if engine not in stopped else "-")
                if cells[-1].startswith(">"):
                    stopped.add(engine)  # longer lines would take longer still
            print(f"| {kind} | {size:,} | " + " | ".join(cells) + " |", flush=True)
        small, large = min(sizes), max(sizes)
        if small == large or len(ours.get(large, [])) != args.repeat or len(ours.get(small, [])) != args.repeat:
            continue
        growth = [math.log(max(b["seconds"], 1e-6) / max(a["seconds"], 1e-6)) / math.log(large / small)
                  for a, b in zip(ours[small], ours[large], strict=True)]  # fmt: skip
        ok &= harness.report(harness.Figure(
            f"secrets.growth_{kind.replace('-', '_')}",
            f"Secrets: scan time growth on one {kind} line, {small:,} to {large:,} characters (time ~ length^b; "
            "1 is linear)", "", growth, 1.2, command,
            detail=f"{statistics.median(r['seconds'] for r in ours[large]):.2f} s CPU at {large:,}",
        ))  # fmt: skip
        harness.report(harness.Figure(
            f"secrets.peak_mib_{kind.replace('-', '_')}", f"Secrets: peak RSS scanning one {kind} line of "
            f"{large:,} characters", "MiB", [r["peak_mib"] for r in ours[large]], None, command,
        ))  # fmt: skip
    return ok


def _run_one(engine: str, src: Path | None, kind: str, size: int, timeout: float) -> dict[str, float] | None:
    """One measurement in a fresh process: CPU seconds, peak RSS MiB, findings; None when it timed out."""
    env = {**os.environ, **({"PYTHONPATH": str(src)} if src else {})}
    command = [sys.executable, __file__, "_one", "--engine", "baseline" if src else engine, "--kind", kind,
               "--size", str(size)]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    result: dict[str, float] = json.loads(done.stdout)
    return result


def _cell(results: list[dict[str, float] | None], timeout: float) -> str:
    if any(r is None for r in results):
        return f"> {timeout:.0f} s"
    seconds = statistics.median(r["seconds"] for r in results if r)
    peak = max(r["peak_mib"] for r in results if r)
    return f"{seconds:.2f} s ({peak:.0f})"


def main(argv: list[str] | None = None) -> int:
    """Run the chosen measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    r = commands.add_parser("recall", help="recall and precision on the generated corpus")
    r.add_argument("--seeds", type=int, default=5, help="how many corpora (each with other fake secrets)")
    r.add_argument("--baseline-src", type=Path, default=None, help="another execintel src folder to compare")
    r.add_argument("--detect-secrets", action=argparse.BooleanOptionalAction, default=True,
                   help="also score plain detect-secrets on the corpus")  # fmt: skip
    r.set_defaults(run=recall)
    lg = commands.add_parser("lines", help="scan time on one long line")
    lg.add_argument("--sizes", default="100000,1000000", help="line lengths, comma-separated")
    lg.add_argument("--kinds", default="url-list", help="kinds of line, comma-separated: minified-js,url-list,base64")
    lg.add_argument("--repeat", type=int, default=5, help="measurements of execintel per kind and size")
    lg.add_argument("--baseline-src", type=Path, default=None, help="another execintel src folder to compare")
    lg.add_argument("--detect-secrets", action="store_true", help="also time plain detect-secrets on the file")
    lg.add_argument("--timeout", type=float, default=300, help="stop a measurement after this many seconds")
    lg.set_defaults(run=lines)
    one = commands.add_parser("_one")
    one.add_argument("--engine", required=True)
    one.add_argument("--kind", required=True)
    one.add_argument("--size", type=int, required=True)
    one.set_defaults(run=_one)
    args = parser.parse_args(argv)
    ok = args.run(args)
    return 1 if ok is False else 0


if __name__ == "__main__":
    sys.exit(main())
