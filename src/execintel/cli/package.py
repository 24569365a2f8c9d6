"""``execintel package``: the Lambda packages (``api.zip``, the worker's image context ``worker-image/``, and
``worker.zip`` on request) and, with ``--check``, their targets."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from execintel.cli.common import PathArg, PortfolioOpt, _portfolio
from execintel.cli.console import err, escape, line, out
from execintel.errors import ConfigError, ExecintelError, Problem

if TYPE_CHECKING:
    from execintel.packaging import Artefact, ImageContext

VERSION_RE = re.compile(r"3\.\d{1,2}")


def _mb(size: float) -> str:
    return f"{size / 2**20:,.1f} MB"


def package(
    ctx: typer.Context,
    path: PathArg = None,
    portfolio: PortfolioOpt = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder to write api.zip and the worker's image context (worker-image/) to.")
    ] = Path("build"),
    check: Annotated[bool, typer.Option("--check", help="Then measure them; exit 1 over a target.")] = False,
    python_version: Annotated[
        str, typer.Option("--python-version", help="The Lambda runtime's Python (its wheels, and the import check).")
    ] = "3.12",
    api_only: Annotated[bool, typer.Option("--api-only", help="Build api.zip only, no worker image context.")] = False,
    worker_zip: Annotated[
        bool, typer.Option("--worker-zip", help="Also build worker.zip, to measure it (over Lambda's 250 MB zip "
                           "limit: the worker is deployed as the container image).")
    ] = False,
    bytecode: Annotated[
        bool, typer.Option("--bytecode/--no-bytecode", help="Ship api.zip's modules compiled by the target Python "
                           "(Lambda cannot cache bytecode in its read-only code folder: without it every cold start "
                           "compiles them); needs that interpreter here. The dependencies ship bytecode instead of "
                           "source, execintel both.")
    ] = True,
) -> None:  # fmt: skip
    """Build the AWS Lambda packages: api.zip (web app) and the worker's container-image context; see
    docs/packaging.md."""
    from execintel.packaging import check_out, resolve_portfolio  # noqa: PLC0415
    from execintel.packaging.check import CheckError, find_python  # noqa: PLC0415
    from execintel.packaging.pip import PipError  # noqa: PLC0415

    if not VERSION_RE.fullmatch(python_version):
        raise ConfigError(Problem("--python-version", f"{python_version!r} is not a Python version like 3.12"))
    if api_only and worker_zip:
        raise ConfigError(Problem("--worker-zip", "builds the worker's zip, which --api-only leaves out; give one"))
    given, option = _portfolio(ctx, path, portfolio)
    folder = resolve_portfolio(given, option or "--portfolio")
    check_out(out_dir)
    try:
        # the interpreter is looked for before minutes of building, not after
        python = find_python(python_version) if check or bytecode else None
        if not api_only:
            from execintel.packaging.image import source_root  # noqa: PLC0415

            source_root()  # a wheel install cannot make the image context: said before building api.zip
        built, context = _build(out_dir, folder, python_version, api_only=api_only, worker_zip=worker_zip,
                                bytecode=python if bytecode else None)  # fmt: skip
        for artefact in built:
            heaviest = sorted(artefact.parts.items(), key=lambda item: -item[1])[:4]
            shown = ", ".join(f"{escape(name)} {_mb(size)}" for name, size in heaviest)
            out.print(f"[green]✓[/green] {escape(artefact.path)}: {_mb(artefact.zipped)} zipped, "
                      f"{_mb(artefact.unzipped)} unzipped (largest: {shown})", soft_wrap=True)  # fmt: skip
        if context is not None:
            out.print(f"[green]✓[/green] {escape(context.path)}/: the worker's image context, {_mb(context.size)} "
                      f"(portfolio/ {_mb(context.portfolio)}); sam build builds it, or: docker build --platform "
                      f"linux/amd64 -t execintel-worker {escape(context.path)}", soft_wrap=True)  # fmt: skip
        if check and python is not None:
            _check(out_dir, python, python_version, worker_zip=worker_zip)
    except (PipError, CheckError) as exc:
        if exc.detail:  # pip's output, or the failed import's traceback: as it is, then the error's sentence
            err.print(exc.detail, markup=False, highlight=False, style="dim")
        raise ExecintelError(str(exc)) from None


def _build(
    out_dir: Path, folder: Path, python_version: str, *, api_only: bool, worker_zip: bool, bytecode: str | None
) -> tuple[list[Artefact], ImageContext | None]:
    from execintel.packaging import build_api, build_image_context, build_worker  # noqa: PLC0415

    built = []
    context = None
    with err.status("Building api.zip...") as status:

        def progress(text: str) -> None:
            status.update(f"{escape(text[:100])}", spinner="dots")

        built.append(build_api(out_dir, folder, python_version, progress, bytecode=bytecode))
        if not api_only:
            status.update("Writing the worker's image context...")
            context = build_image_context(out_dir, folder)
        if worker_zip:
            status.update("Building worker.zip...")
            built.append(build_worker(out_dir, folder, python_version, progress))
    return built, context


def _check(out_dir: Path, python: str, python_version: str, *, worker_zip: bool) -> None:
    from execintel.packaging.check import check_api, check_worker  # noqa: PLC0415

    with err.status("Timing the api handler's cold import..."):
        rows, heavy = check_api(out_dir / "api.zip", python, python_version)
    if worker_zip:  # measured when built, never a target: the worker is deployed as the container image
        rows.append(check_worker(out_dir / "worker.zip"))
    table = Table(title=f"Lambda package targets ({line(python)})")
    for column in ("Check", "Value", "Target", ""):
        table.add_column(column, justify="right" if column in ("Value", "Target") else "left")
    for row in rows:
        if row.informational:
            verdict = f"[yellow]info[/yellow] ({escape(row.informational.removeprefix('informational: '))})"
        else:
            verdict = "[green]ok[/green]" if row.ok else "[red]over[/red]"
        table.add_row(row.what, f"{row.value:,.1f} {row.unit}", f"< {row.limit:,.0f} {row.unit}", verdict)
    out.print(table)
    failed = [row for row in rows if row.failed]
    if heavy:
        err.print(f"The api handler imported the analysis stack: {', '.join(heavy)}", style="red", markup=False)
    if failed or heavy:
        if failed:
            err.print(f"Over the target: {', '.join(row.what for row in failed)}", style="red", markup=False)
        if any(row.unit == "ms" for row in failed):
            err.print("The import time depends on this machine's speed and load (docs/packaging.md, \"Cold start\").",
                      markup=False)  # fmt: skip
        sys.exit(1)
