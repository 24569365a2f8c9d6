"""The ``execintel`` command line (Typer + Rich): a thin shell over the pipeline; the commands of this module,
then those of :mod:`execintel.cli.run`, :mod:`execintel.cli.schedule` and :mod:`execintel.cli.store`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from execintel import __version__
from execintel.cli.common import (
    AllowOutside,
    AllowPlugins,
    AsOf,
    KeepGoing,
    PathArg,
    PortfolioOpt,
    _as_of,
    _debug_requested,
    _fail,
    _load,
    _print_problems,
    _settings,
    _sources_table,
    app,
    debug_logging,
    may_send,
)  # fmt: skip
from execintel.cli.console import err, escape, line, out, plural
from execintel.cli.deploy import deploy
from execintel.cli.package import package
from execintel.cli.run import run
from execintel.cli.schedule import schedule
from execintel.cli.serve import serve
from execintel.cli.store import audit_app, store_app, suppression_app
from execintel.errors import ConfigError, ExecintelError, Problem


def _version(value: bool) -> None:
    if value:
        out.print(f"execintel {__version__}")
        raise typer.Exit


@app.callback()
def _main(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks and details.", envvar="EXECINTEL_DEBUG")
    ] = False,
    env_file: Annotated[
        Path | None,
        typer.Option("--env-file", help="A dotenv file (like repos.env) with EXECINTEL_* and AWS_* settings."),
    ] = None,
) -> None:
    """Executive briefings from the data a small portfolio of businesses already has."""
    ctx.meta["env_file"] = env_file
    ctx.meta["debug"] = debug or None
    if debug:
        debug_logging(ctx)
    # The settings (pydantic-settings, the manifest models) are read when a command first needs them
    # (common._settings), so a command's --help, and the commands that need none, start without them. A dotenv
    # file given is read now: a problem with it is reported whatever the command.
    if env_file is not None:
        _settings(ctx)


@app.command()
def validate(
    ctx: typer.Context,
    path: PathArg = None,
    portfolio: PortfolioOpt = None,
    allow_outside: AllowOutside = False,
    allow_plugins: AllowPlugins = False,
) -> None:
    """Check a manifest and every one of its sources; exit 2 on any error."""
    result = _load(ctx, path, portfolio, allow_outside=allow_outside, keep_going=True, allow_plugins=allow_plugins)
    _print_problems(result.warnings, style="yellow")
    if result.errors:
        raise ConfigError(result.errors)
    rows = sum(r.rows_loaded for r in result.reports)
    out.print(
        f"[green]✓[/green] {escape(result.portfolio.display(result.portfolio.path))} is valid: "
        f"{plural(len(result.portfolio.manifest.entities), 'entity', 'entities')}, "
        f"{plural(len(result.reports), 'source')}, {plural(rows, 'row')}."
    )


@app.command()
def sources(
    ctx: typer.Context,
    path: PathArg = None,
    portfolio: PortfolioOpt = None,
    allow_outside: AllowOutside = False,
    allow_plugins: AllowPlugins = False,
    keep_going: KeepGoing = False,
) -> None:
    """List every source: kind, path, rows loaded and rejected, date range."""
    result = _load(ctx, path, portfolio, allow_outside=allow_outside, keep_going=True, allow_plugins=allow_plugins)
    out.print(_sources_table(result))
    _print_problems(result.warnings, style="yellow")
    if result.errors and not keep_going:
        raise ConfigError(result.errors)
    _print_problems(result.errors, style="yellow")


@app.command()
def preview(
    report: Annotated[str, typer.Argument(help="A report id, e.g. cfo.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder of the runs.")] = Path("out"),
) -> None:
    """Open the newest run's HTML of REPORT in the browser (or print its path when there is none)."""
    from execintel.report_ids import parse_report_id  # noqa: PLC0415 - not execintel.reports: the analysis stack

    report_id = parse_report_id(report, "REPORT")
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(Problem("--out", f"{str(out_dir)!r} is a file, not the folder of the runs"))
    runs = sorted(p for p in out_dir.glob(f"*/{report_id}.html") if p.is_file()) if out_dir.is_dir() else []
    if not runs:
        raise ConfigError(Problem("--out", f"{str(out_dir)!r} holds no {report_id}.html yet; run: "
                                           f"execintel run --dry-run --out {out_dir}"))  # fmt: skip
    page = runs[-1].resolve()
    opened = False
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("darwin", "win32"):
        import webbrowser  # noqa: PLC0415 - only with a display: about 40 ms of imports otherwise spent for nothing

        opened = webbrowser.open(page.as_uri())
    out.print(f"{'Opened' if opened else 'No browser here; the report is at'} {line(page)}", soft_wrap=True,
              markup=False)  # fmt: skip


@app.command()
def explain(
    ctx: typer.Context,
    figure_id: Annotated[str, typer.Argument(help="A figure id, e.g. runway.days.portfolio or cash.qosd.")],
    path: PathArg = None,
    portfolio: PortfolioOpt = None,
    allow_outside: AllowOutside = False,
    allow_plugins: AllowPlugins = False,
    as_of: AsOf = None,
    max_rows: Annotated[
        int, typer.Option("--rows", min=0, help="Source rows to print per source (0: only where they are).")
    ] = 20,
) -> None:
    """Print a figure's value, formula and the source rows it was computed from."""
    from execintel.explain import explain_lines  # noqa: PLC0415
    from execintel.pipeline import make_context  # noqa: PLC0415

    if not figure_id.strip():
        raise ConfigError(Problem("FIGURE_ID", "is empty; give a figure id such as runway.days.portfolio"))
    date = _as_of(as_of)
    result = _load(ctx, path, portfolio, allow_outside=allow_outside, keep_going=True, allow_plugins=allow_plugins)
    _print_problems(result.errors, style="yellow")  # data left out changes figures, or leaves one undefined
    context = make_context(result, as_of=date)
    with err.status(f"Computing {escape(figure_id)}..."):
        lines = explain_lines(context, figure_id, max_rows=max_rows)
    for text in lines:
        out.print(line(text), markup=False, highlight=False, soft_wrap=True)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the starter portfolio in.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing portfolio.yaml.")] = False,
) -> None:
    """Write a small, commented starter portfolio that validates."""
    from execintel.starter import write_starter  # noqa: PLC0415

    try:
        written = write_starter(directory, force=force)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(directory) else ""
        problem = f"{str(directory)!r} cannot be written: {exc.strerror}{where}"
        raise ConfigError(Problem("DIRECTORY", problem)) from None
    for file in written:
        out.print(f"  wrote {line(file)}", markup=False)
    shown = escape(directory)
    out.print(
        f"[green]✓[/green] starter portfolio in {shown}; check it with: execintel validate {shown}", soft_wrap=True
    )


def main() -> None:
    """Run the CLI; user errors print as one line per problem, never as a traceback."""
    may_send.set(False)  # until a command that can send says otherwise
    try:
        app(prog_name="execintel")  # standalone: usage errors exit 2; "execintel" also under python -m
    except ExecintelError as exc:
        if _debug_requested():
            err.print_exception()
        if isinstance(exc, ConfigError):
            _print_problems(exc.problems)
            tail = "; nothing was sent." if may_send.get() else "."
            err.print(f"{plural(len(exc.problems), 'problem')} found{tail}", style="bold red", markup=False)
            sys.exit(2)
        _fail(f"Error: {exc}", 1)
    except OSError as exc:
        # the file system refused (permissions, disk full, a vanished folder): a sentence, not a traceback
        if _debug_requested():
            raise
        what = f"{exc.strerror or exc}" + (f": {str(exc.filename)!r}" if exc.filename else "")
        _fail(f"Error: {what}. Run again with --debug to see where.", 1)
    except Exception as exc:
        if _debug_requested():
            raise
        _fail(f"Internal error: {type(exc).__name__}: {exc}. Run again with --debug for the traceback "
              "and please report it.", 1)  # fmt: skip


app.command()(run)
app.command()(schedule)
app.command()(serve)
app.command()(package)
app.command()(deploy)

app.add_typer(store_app, name="store")
app.add_typer(audit_app, name="audit")
app.add_typer(suppression_app, name="suppression")
