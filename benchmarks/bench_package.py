"""Benchmark: the Lambda api package, ``api.zip``: its unzipped size and its handler's cold import.

Requirement (issue 16): ``api.zip`` under 15 MB unzipped (a megabyte is 2^20 bytes here, as AWS counts Lambda's
limits and as docs/packaging.md does) and its handler's cold import under 400 ms. This is what
``execintel package --api-only --check`` measures, with the same functions (``execintel.packaging``): the package
is built for the Lambda Python (3.12: pyenv's or ``python3.12`` on PATH; else this interpreter's version, said in
the figure) with its bytecode, unpacked into a fresh folder, and ``import execintel.aws.api`` is timed in fresh
isolated interpreters with only the package and the runtime's boto3 on ``sys.path`` (docs/packaging.md, "Cold
start"). Figures (``harness.report``): ``package.api_zip_mb`` (one build: the zip is deterministic, so one sample
is the figure), ``package.import_ms`` (one sample per cold import, ``--repeat`` of them, the verdict on the
median), ``package.build_seconds`` (no target). The build takes 30-60 s and needs pip's wheels (the local index
here; no network needed once they are cached).

    .venv/bin/python benchmarks/bench_package.py
    .venv/bin/python benchmarks/bench_package.py --python-version 3.11 --repeat 7
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from execintel.packaging import build_api, check_out, resolve_portfolio
from execintel.packaging.check import (
    API_LIMIT,
    HEAVY_MODULES,
    IMPORT_LIMIT_MS,
    CheckError,
    find_python,
    harmless_env,
    lambda_runtime,
    time_import,
    unpack,
)
from execintel.packaging.tree import unzipped_size


def main(argv: list[str] | None = None) -> int:
    """Build api.zip, time its handler's import, report; exit 1 over a target, 2 when the build or import fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--python-version", default="3.12", help="the Lambda runtime's Python")
    parser.add_argument("--repeat", type=int, default=5, help="cold imports timed")
    args = parser.parse_args(argv)
    version = args.python_version
    try:
        python = find_python(version)
    except CheckError as exc:
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        python = sys.executable
        print(f"{exc}: measuring a package for this interpreter's Python {version} instead")
    folder = resolve_portfolio(None)  # the bundled demo, as `execintel package` without PATH
    command = shlex.join([".venv/bin/python", "benchmarks/bench_package.py", *(argv or sys.argv[1:])])
    with tempfile.TemporaryDirectory(prefix="execintel-bench-package-") as tmp:
        scratch = Path(tmp)
        start = time.perf_counter()
        check_out(scratch / "build")
        try:
            artefact = build_api(scratch / "build", folder, version, bytecode=python)
        except Exception as exc:
            print(f"building api.zip failed: {exc}\n{getattr(exc, 'detail', '')}")
            return 2
        built = time.perf_counter() - start
        size = unzipped_size(artefact.path) / 2**20
        print(f"api.zip for Python {version} built in {built:.1f} s: {size:.1f} MB unzipped, "
              f"{artefact.zipped / 2**20:.1f} MB zipped", flush=True)  # fmt: skip
        task = unpack(artefact.path, scratch / "task")
        runtime = lambda_runtime(scratch / "runtime", version)
        env = harmless_env(scratch, task / "portfolio")
        times: list[float] = []
        heavy: set[str] = set()
        for i in range(args.repeat):
            try:
                ms, modules = time_import(python, task, env, runs=1, runtime=runtime)
            except CheckError as exc:
                print(f"{exc}\n{exc.detail}")
                return 2
            heavy |= modules.intersection(HEAVY_MODULES)
            times.append(ms)
            print(f"import {i + 1}: {ms:.0f} ms", flush=True)
    if heavy:
        print(f"FAILED: the api handler imported the analysis stack: {', '.join(sorted(heavy))}")
        return 2
    # which interpreter, without this machine's paths (the line goes into docs/benchmarks.md)
    shown = f"pyenv's {Path(python).name}" if ".pyenv" in python else Path(python).name
    on = f"Python {version} ({shown})"
    ok = harness.report(harness.Figure(
        "package.api_zip_mb", f"Package: api.zip unzipped (MB = 2^20 bytes), with bytecode for {on}", "MB", [size],
        API_LIMIT / 2**20, command, detail=f"{artefact.zipped / 2**20:.1f} MB zipped; one build (deterministic)",
    ))  # fmt: skip
    ok &= harness.report(harness.Figure(
        "package.import_ms", f"Package: the api handler's cold import from the unpacked api.zip, {on}, isolated",
        "ms", times, IMPORT_LIMIT_MS, command,
    ))  # fmt: skip
    harness.report(harness.Figure("package.build_seconds", f"Package: building api.zip for {on}", "s", [built], None,
                                  command))  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
