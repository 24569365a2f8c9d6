"""What every command of the ``execintel`` command line shares: the Typer app, the common options, opening a
portfolio and loading its sources, and how errors are printed. The command modules import this one, and
:mod:`execintel.cli.app` imports them to register their commands: no import cycle."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from execintel.cli.console import SafeRichHandler, err, escape, line, plural
from execintel.errors import ConfigError, Problem

if TYPE_CHECKING:
    from rich.table import Table

    from execintel.config import Portfolio, Settings
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


def _settings(ctx: typer.Context) -> Settings:
    """The settings (environment, ``--env-file``, ``--debug``), read on first use and kept on the root context."""
    from execintel.config import Settings, load_settings  # noqa: PLC0415 - pydantic only when a command needs it

    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = load_settings(root.meta.get("env_file"), debug=root.meta.get("debug"))
        if root.obj.debug:  # EXECINTEL_DEBUG in the dotenv file
            debug_logging(ctx)
    return root.obj


def debug_logging(ctx: typer.Context) -> None:
    """Log execintel's debug messages to stderr (``--debug``), once per invocation."""
    root = ctx.find_root()
    if root.meta.get("debug_logging"):
        return
    root.meta["debug_logging"] = True
    logger = logging.getLogger("execintel")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(SafeRichHandler(console=err, show_path=False))


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
    from rich.table import Table  # noqa: PLC0415

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


def _debug_requested() -> bool:
    return "--debug" in sys.argv or os.environ.get("EXECINTEL_DEBUG", "").lower() in ("1", "true", "yes")


def _fail(message: str, status: int) -> None:
    err.print(line(message), style="red", markup=False, soft_wrap=True)
    sys.exit(status)
