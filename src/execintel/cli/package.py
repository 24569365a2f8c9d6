"""``execintel package``: the Lambda packages (``api.zip``, ``worker.zip``) and, with ``--check``, their targets."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from execintel.cli.console import err, escape, line, out
from execintel.errors import ConfigError, ExecintelError, Problem

if TYPE_CHECKING:
    from execintel.packaging import Artefact

VERSION_RE = re.compile(r"3\.\d{1,2}")


def _mb(size: float) -> str:
    return f"{size / 2**20:,.1f} MB"


def package(
    portfolio: Annotated[
        Path | None,
        typer.Option("--portfolio", "-p", help="The portfolio folder (or its portfolio.yaml) to package; default: "
                     "the bundled demo.", show_default=False),
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write api.zip and worker.zip to.")] = Path("build"),
    check: Annotated[bool, typer.Option("--check", help="Then measure them; exit 1 over a target.")] = False,
    python_version: Annotated[
        str, typer.Option("--python-version", help="The Lambda runtime's Python (its wheels, and the import check).")
    ] = "3.12",
    api_only: Annotated[bool, typer.Option("--api-only", help="Build api.zip only (the worker is big).")] = False,
    bytecode: Annotated[
        bool, typer.Option("--bytecode", help="Ship api.zip with .pyc compiled by the target Python (a faster cold "
                           "start; needs that interpreter here).")
    ] = False,
) -> None:  # fmt: skip
    """Build the AWS Lambda packages: api.zip (web app) and worker.zip (reports); see docs/packaging.md."""
    from execintel.packaging import check_out, resolve_portfolio  # noqa: PLC0415
    from execintel.packaging.check import CheckError, find_python  # noqa: PLC0415
    from execintel.packaging.pip import PipError  # noqa: PLC0415

    if not VERSION_RE.fullmatch(python_version):
        raise ConfigError(Problem("--python-version", f"{python_version!r} is not a Python version like 3.12"))
    folder = resolve_portfolio(portfolio)
    check_out(out_dir)
    try:
        # the interpreter is looked for before minutes of building, not after
        python = find_python(python_version) if check or bytecode else None
        built = _build(out_dir, folder, python_version, api_only=api_only, bytecode=python if bytecode else None)
        for artefact in built:
            heaviest = sorted(artefact.parts.items(), key=lambda item: -item[1])[:4]
            shown = ", ".join(f"{escape(name)} {_mb(size)}" for name, size in heaviest)
            out.print(f"[green]✓[/green] {escape(artefact.path)}: {_mb(artefact.zipped)} zipped, "
                      f"{_mb(artefact.unzipped)} unzipped (largest: {shown})", soft_wrap=True)  # fmt: skip
        if check and python is not None:
            _check(out_dir, python, python_version, worker=not api_only)
    except (PipError, CheckError) as exc:
        if exc.detail:  # pip's output, or the failed import's traceback: as it is, then the error's sentence
            err.print(exc.detail, markup=False, highlight=False, style="dim")
        raise ExecintelError(str(exc)) from None


def _build(out_dir: Path, folder: Path, python_version: str, *, api_only: bool, bytecode: str | None) -> list[Artefact]:
    from execintel.packaging import build_api, build_worker  # noqa: PLC0415

    built = []
    with err.status("Building api.zip...") as status:

        def progress(text: str) -> None:
            status.update(f"{escape(text[:100])}", spinner="dots")

        built.append(build_api(out_dir, folder, python_version, progress, bytecode=bytecode))
        if not api_only:
            status.update("Building worker.zip...")
            built.append(build_worker(out_dir, folder, python_version, progress))
    return built


def _check(out_dir: Path, python: str, python_version: str, *, worker: bool) -> None:
    from execintel.packaging.check import check_api, check_worker  # noqa: PLC0415

    with err.status("Timing the api handler's cold import..."):
        rows, heavy = check_api(out_dir / "api.zip", python, python_version)
    if worker:
        rows.append(check_worker(out_dir / "worker.zip"))
    table = Table(title=f"Lambda package targets ({line(python)})")
    for column in ("Check", "Value", "Target", ""):
        table.add_column(column, justify="right" if column in ("Value", "Target") else "left")
    for row in rows:
        verdict = "[green]ok[/green]" if row.ok else "[red]over[/red]"
        table.add_row(row.what, f"{row.value:,.1f} {row.unit}", f"< {row.limit:,.0f} {row.unit}", verdict)
    out.print(table)
    failed = [row for row in rows if not row.ok]
    if heavy:
        err.print(f"The api handler imported the analysis stack: {', '.join(heavy)}", style="red", markup=False)
    if failed or heavy:
        if failed:
            err.print(f"Over the target: {', '.join(row.what for row in failed)}", style="red", markup=False)
        if any(row.what.startswith("worker.zip") for row in failed):
            err.print("worker.zip does not fit a Lambda zip package: deploy the worker as a container image "
                      "(deploy/Dockerfile; docs/packaging.md).", markup=False)  # fmt: skip
        if any(row.unit == "ms" for row in failed):
            err.print("The import time depends on this machine's speed and load; --bytecode ships compiled modules "
                      "(docs/packaging.md, \"Cold start\").", markup=False)  # fmt: skip
        sys.exit(1)
