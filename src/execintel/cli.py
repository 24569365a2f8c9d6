"""The ``execintel`` command line (Typer + Rich): a thin shell over the pipeline."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from execintel import __version__
from execintel.cli_console import SafeRichHandler, err, escape, line, out, plural
from execintel.config import Settings, load_settings
from execintel.errors import ConfigError, ExecintelError, Problem

if TYPE_CHECKING:
    from execintel.config import Portfolio
    from execintel.sources import LoadResult, SourceSpec

app = typer.Typer(
    name="execintel",
    help="Executive briefings from the data a small portfolio of businesses already has.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
# Whether the command could have sent mail: only then does a failure say that nothing was sent.
may_send: ContextVar[bool] = ContextVar("may_send", default=False)
_plural = plural  # the name the command modules import

PathArg = Annotated[
    Path | None,
    typer.Argument(help="portfolio.yaml or its folder; default: the bundled demo portfolio.", show_default=False),
]
PortfolioOpt = Annotated[
    Path | None,
    typer.Option("--portfolio", "-p", help="Same as PATH.", show_default=False, envvar="EXECINTEL_PORTFOLIO"),
]
AllowOutside = Annotated[
    bool, typer.Option("--allow-outside", help="Allow manifest paths outside the manifest's folder.")
]
AllowPlugins = Annotated[
    bool,
    typer.Option("--allow-plugins", help="Let beancount ledgers run plugins that are not part of beancount (Python "
                 "code from the data folder or elsewhere)."),
]  # fmt: skip
KeepGoing = Annotated[bool, typer.Option("--keep-going", help="Go on with the good rows when some rows are invalid.")]


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
    ctx.obj = load_settings(env_file, debug=debug or None)
    ctx.meta["env_file"] = env_file
    if ctx.obj.debug:
        logger = logging.getLogger("execintel")
        logger.setLevel(logging.DEBUG)
        logger.addHandler(SafeRichHandler(console=err, show_path=False))


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.find_root().obj
    return settings if isinstance(settings, Settings) else load_settings()


def given_by(ctx: typer.Context, name: str, flag: str, variable: str) -> str:
    """How the user gave the parameter ``name``: its ``flag``, or the environment ``variable`` it was read from."""
    source = ctx.get_parameter_source(name)
    return variable if source is not None and source.name == "ENVIRONMENT" else flag


def _portfolio(ctx: typer.Context, path: Path | None, portfolio: Path | None) -> tuple[Path | None, str]:
    """The portfolio path the user gave and how (PATH, --portfolio, EXECINTEL_PORTFOLIO); None for the demo."""
    if path is not None:
        return path, "PATH"
    if portfolio is not None:
        return portfolio, given_by(ctx, "portfolio", "--portfolio", "EXECINTEL_PORTFOLIO")
    settings = _settings(ctx)
    if settings.portfolio is not None:
        env_file = ctx.find_root().meta.get("env_file")
        return settings.portfolio, f"EXECINTEL_PORTFOLIO (in {env_file})" if env_file else "EXECINTEL_PORTFOLIO"
    return None, ""


def _open(
    ctx: typer.Context, path: Path | None, portfolio: Path | None, *, allow_outside: bool, allow_plugins: bool = False
) -> Portfolio:
    """Parse and check the manifest; a path that is missing or not a file or folder names the option it came from."""
    from execintel.pipeline import check_portfolio_path, open_portfolio  # noqa: PLC0415

    given, option = _portfolio(ctx, path, portfolio)
    if given is None:
        err.print("[dim]Using the bundled demo portfolio (pass a path to use your own).[/dim]")
    else:
        check_portfolio_path(given, option)
    return open_portfolio(given, settings=_settings(ctx), allow_outside=allow_outside, allow_plugins=allow_plugins)


def _load_sources(ctx: typer.Context, portfolio: Portfolio, *, keep_going: bool) -> LoadResult:
    """Load the sources of an opened portfolio, with a progress line per source."""
    from execintel.pipeline import load_facts  # noqa: PLC0415

    with err.status("Loading sources...") as status:

        def progress(spec: SourceSpec) -> None:
            # naming the spinner redraws the line at once (a text update alone waits for the next tick, and a
            # quick source would never be shown)
            status.update(f"Loading {escape(spec.kind)} {escape(spec.display)}...", spinner="dots")

        return load_facts(portfolio, settings=_settings(ctx), keep_going=keep_going, progress=progress)


def _load(
    ctx: typer.Context,
    path: Path | None,
    portfolio: Path | None,
    *,
    allow_outside: bool,
    keep_going: bool,
    allow_plugins: bool = False,
) -> LoadResult:
    """Open the portfolio and load its sources."""
    opened = _open(ctx, path, portfolio, allow_outside=allow_outside, allow_plugins=allow_plugins)
    return _load_sources(ctx, opened, keep_going=keep_going)


def _sources_table(result: LoadResult) -> Table:
    table = Table(title=f"Sources of {escape(result.portfolio.manifest.portfolio.name)}", title_justify="left")
    for name, justify in (("kind", "left"), ("path", "left"), ("entity", "left"), ("rows loaded", "right"),
                          ("rows rejected", "right"), ("date range", "left"), ("status", "left")):  # fmt: skip
        table.add_column(name, justify=justify, no_wrap=name != "path")  # type: ignore[arg-type]
    for report in result.reports:
        spec = report.spec
        errors, warnings = len(report.errors), len(report.problems) - len(report.errors)
        status = "[red]errors[/red]" if errors else ("[yellow]warnings[/yellow]" if warnings else "[green]ok[/green]")
        dates = f"{report.date_range[0]} → {report.date_range[1]}" if report.date_range else "-"
        table.add_row(escape(spec.kind), escape(spec.display), escape(spec.entity or "(portfolio)"),
                      f"{report.rows_loaded:,}", f"{report.rows_rejected:,}", escape(dates), status)  # fmt: skip
    return table


def _print_problems(problems: list[Problem], *, style: str = "red") -> None:
    for problem in problems:
        err.print(line(problem), style=style, markup=False, highlight=False, soft_wrap=True)


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


AsOf = Annotated[
    str | None,
    typer.Option("--as-of", help="Report date (YYYY-MM-DD); default: the manifest's as_of, else today.",
                 show_default=False),
]  # fmt: skip


def _as_of(text: str | None) -> dt.date | None:
    """The date of ``--as-of``: ISO, and within the dates execintel reports on (see ``check_as_of``)."""
    from execintel.pipeline import check_as_of  # noqa: PLC0415

    if text is None:
        return None
    try:
        date = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(Problem("--as-of", f"{text!r} is not a date like 2026-11-15")) from None
    return check_as_of(date, "--as-of")


def check_output_folder(folder: Path, option: str) -> None:
    """``folder`` (a run's ``--out``) is a folder, or can be made one, that this user can write in.

    Checked before any data is read, so a mistyped ``--out`` costs nothing; it does not create the folder.
    """
    shown = repr(str(folder))
    probe = folder.absolute()
    while True:
        try:
            is_dir = probe.is_dir()
            exists = is_dir or probe.exists()
        except OSError as exc:
            raise ConfigError(Problem(option, f"{shown} cannot be used: {exc.strerror}")) from None
        if exists and not is_dir:
            where = "is a file" if probe == folder.absolute() else f"is inside {str(probe)!r}, which is a file"
            raise ConfigError(Problem(option, f"{shown} {where}, not a folder; give a folder for the runs' files"))
        if is_dir:
            if not os.access(probe, os.W_OK | os.X_OK):
                raise ConfigError(Problem(option, f"{shown} cannot be written: {str(probe)!r} is not writable "
                                                  "by this user"))  # fmt: skip
            return
        if probe.parent == probe:
            return
        probe = probe.parent


@app.command()
def preview(
    report: Annotated[str, typer.Argument(help="A report id, e.g. cfo.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder of the runs.")] = Path("out"),
) -> None:
    """Open the newest run's HTML of REPORT in the browser (or print its path when there is none)."""
    import webbrowser  # noqa: PLC0415

    from execintel.reports import parse_report_id  # noqa: PLC0415

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


def _debug_requested() -> bool:
    return "--debug" in sys.argv or os.environ.get("EXECINTEL_DEBUG", "").lower() in ("1", "true", "yes")


def _fail(message: str, status: int) -> None:
    err.print(line(message), style="red", markup=False, soft_wrap=True)
    sys.exit(status)


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


from execintel.cli_run import run  # noqa: E402 - commands in their own modules
from execintel.cli_schedule import schedule  # noqa: E402
from execintel.cli_store import audit_app, store_app, suppression_app  # noqa: E402

app.command()(run)
app.command()(schedule)

app.add_typer(store_app, name="store")
app.add_typer(audit_app, name="audit")
app.add_typer(suppression_app, name="suppression")
