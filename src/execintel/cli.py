"""The ``execintel`` command line (Typer + Rich): a thin shell over the pipeline."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from execintel import __version__
from execintel.config import Settings, load_settings
from execintel.errors import ConfigError, ExecintelError, Problem
from execintel.sources import LoadResult, SourceSpec

app = typer.Typer(
    name="execintel",
    help="Executive briefings from the data a small portfolio of businesses already has.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
# When output is piped (CI logs, files) Rich would assume 80 columns and squeeze tables.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

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
    if ctx.obj.debug:
        from rich.logging import RichHandler  # noqa: PLC0415

        logger = logging.getLogger("execintel")
        logger.setLevel(logging.DEBUG)
        logger.addHandler(RichHandler(console=err, show_path=False))


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.find_root().obj
    return settings if isinstance(settings, Settings) else load_settings()


def _load(
    ctx: typer.Context, path: Path | None, *, allow_outside: bool, keep_going: bool, allow_plugins: bool = False
) -> LoadResult:
    """Open the portfolio and load its sources, with a progress line per source."""
    from execintel.pipeline import load_facts, open_portfolio  # noqa: PLC0415

    settings = _settings(ctx)
    if path is None and settings.portfolio is None:
        err.print("[dim]Using the bundled demo portfolio (pass a path to use your own).[/dim]")
    portfolio = open_portfolio(path, settings=settings, allow_outside=allow_outside, allow_plugins=allow_plugins)
    with err.status("Loading sources...") as status:

        def progress(spec: SourceSpec) -> None:
            status.update(f"Loading {spec.kind} {escape(spec.display)}...")

        return load_facts(portfolio, settings=settings, keep_going=keep_going, progress=progress)


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
        table.add_row(spec.kind, escape(spec.display), escape(spec.entity or "(portfolio)"), f"{report.rows_loaded:,}",
                      f"{report.rows_rejected:,}", dates, status)  # fmt: skip
    return table


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (plural or word + 's')}"


def _print_problems(problems: list[Problem], *, style: str = "red") -> None:
    for problem in problems:
        err.print(str(problem), style=style, markup=False, highlight=False, soft_wrap=True)


@app.command()
def validate(
    ctx: typer.Context,
    path: PathArg = None,
    portfolio: PortfolioOpt = None,
    allow_outside: AllowOutside = False,
    allow_plugins: AllowPlugins = False,
) -> None:
    """Check a manifest and every one of its sources; exit 2 on any error."""
    result = _load(ctx, path or portfolio, allow_outside=allow_outside, keep_going=True, allow_plugins=allow_plugins)
    _print_problems(result.warnings, style="yellow")
    if result.errors:
        raise ConfigError(result.errors)
    rows = sum(r.rows_loaded for r in result.reports)
    out.print(
        f"[green]✓[/green] {escape(result.portfolio.display(result.portfolio.path))} is valid: "
        f"{_plural(len(result.portfolio.manifest.entities), 'entity', 'entities')}, "
        f"{_plural(len(result.reports), 'source')}, {_plural(rows, 'row')}."
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
    result = _load(ctx, path or portfolio, allow_outside=allow_outside, keep_going=True, allow_plugins=allow_plugins)
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
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(Problem("--as-of", f"{text!r} is not a date like 2026-11-15")) from None


@app.command()
def preview(
    report: Annotated[str, typer.Argument(help="A report id, e.g. cfo.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder of the runs.")] = Path("out"),
) -> None:
    """Open the newest run's HTML of REPORT in the browser (or print its path when there is none)."""
    import webbrowser  # noqa: PLC0415

    from execintel.reports import parse_report_ids  # noqa: PLC0415

    [report_id] = parse_report_ids(report)
    runs = sorted(p for p in out_dir.glob(f"*/{report_id}.html")) if out_dir.is_dir() else []
    if not runs:
        raise ConfigError(
            Problem(str(out_dir), f"no {report_id}.html yet; run: execintel run --dry-run --out {out_dir}")
        )
    page = runs[-1].resolve()
    opened = False
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("darwin", "win32"):
        opened = webbrowser.open(page.as_uri())
    out.print(f"{'Opened' if opened else 'No browser here; the report is at'} {page}", soft_wrap=True, markup=False)


@app.command()
def explain(
    ctx: typer.Context,
    figure_id: Annotated[str, typer.Argument(help="A figure id, e.g. runway.days.portfolio or cash.qosd.")],
    path: PathArg = None,
    portfolio: PortfolioOpt = None,
    allow_outside: AllowOutside = False,
    allow_plugins: AllowPlugins = False,
    as_of: AsOf = None,
    max_rows: Annotated[int, typer.Option("--rows", help="Source rows to print per source.")] = 20,
) -> None:
    """Print a figure's value, formula and the source rows it was computed from."""
    from execintel.explain import explain_figure  # noqa: PLC0415
    from execintel.pipeline import make_context  # noqa: PLC0415

    date = _as_of(as_of)
    result = _load(ctx, path or portfolio, allow_outside=allow_outside, keep_going=True, allow_plugins=allow_plugins)
    context = make_context(result, as_of=date)
    with err.status(f"Computing {figure_id}..."):
        explanation = explain_figure(context, figure_id, max_rows=max_rows)
    out.print(explanation, markup=False, highlight=False, soft_wrap=True)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the starter portfolio in.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing portfolio.yaml.")] = False,
) -> None:
    """Write a small, commented starter portfolio that validates."""
    from execintel.starter import write_starter  # noqa: PLC0415

    written = write_starter(directory, force=force)
    for file in written:
        out.print(f"  wrote {file}", markup=False)
    out.print(
        f"[green]✓[/green] starter portfolio in {escape(str(directory))}; "
        f"check it with: execintel validate {escape(str(directory))}",
        soft_wrap=True,
    )


def _debug_requested() -> bool:
    return "--debug" in sys.argv or os.environ.get("EXECINTEL_DEBUG", "").lower() in ("1", "true", "yes")


def main() -> None:
    """Run the CLI; user errors print as one line per problem, never as a traceback."""
    try:
        app()  # standalone: usage errors exit 2 with click's message
    except ExecintelError as exc:
        if _debug_requested():
            err.print_exception()
        if isinstance(exc, ConfigError):
            _print_problems(exc.problems)
            count = len(exc.problems)
            err.print(f"{count} problem{'s' if count != 1 else ''} found; nothing was sent.", style="bold red")
            sys.exit(2)
        err.print(f"Error: {exc}", style="red", markup=False)
        sys.exit(1)
    except Exception as exc:
        if _debug_requested():
            raise
        err.print(
            f"Internal error: {type(exc).__name__}: {exc}. Run again with --debug for the traceback "
            "and please report it.",
            style="red", markup=False, soft_wrap=True,
        )  # fmt: skip
        sys.exit(1)


from execintel.cli_run import run  # noqa: E402 - commands in their own modules
from execintel.cli_schedule import schedule  # noqa: E402
from execintel.cli_store import audit_app, store_app, suppression_app  # noqa: E402

app.command()(run)
app.command()(schedule)

app.add_typer(store_app, name="store")
app.add_typer(audit_app, name="audit")
app.add_typer(suppression_app, name="suppression")
