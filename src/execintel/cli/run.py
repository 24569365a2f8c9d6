"""``execintel run``: build and render every report, then (unless ``--dry-run``) deliver each exactly once."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.table import Table

from execintel.cli.common import (
    AllowOutside,
    AllowPlugins,
    AsOf,
    KeepGoing,
    PathArg,
    PortfolioOpt,
    _as_of,
    _load_sources,
    _open,
    _plural,
    _print_problems,
    _settings,
    _sources_table,
    check_output_folder,
    may_send,
)  # fmt: skip
from execintel.cli.console import err, escape, line, out
from execintel.delivery.interrupts import stop_on_signals
from execintel.errors import ConfigError, Problem
from execintel.service import (
    OUTCOMES,
    RunEvent,
    RunRequest,
    open_dry_run_store,
    open_endpoints,
    resolve_reports,
    run_reports,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.progress import Progress, ProgressColumn, TaskID
    from rich.status import Status

    from execintel.delivery.engine import DeliveryResult
    from execintel.store import Store


def not_empty(value: str | None) -> str | None:
    """A string option must not be given empty (``--mailer ''`` would silently mean the default)."""
    if value is not None and not value.strip():
        raise typer.BadParameter("is empty; leave the option out for the default")
    return value


def finite_seconds(value: float) -> float:
    """A number of seconds: 0 or more, and finite (``nan`` would never time out)."""
    if not value >= 0 or value == float("inf"):
        raise typer.BadParameter(f"{value} is not a number of seconds (0 or more)")
    return value


StoreOpt = Annotated[
    str | None,
    typer.Option("--store", help="Audit store URL: sqlite:///PATH or dynamodb://TABLE (default: a SQLite file in "
                 "the data folder; EXECINTEL_STORE). Dry runs are recorded there too.", show_default=False,
                 callback=not_empty),
]  # fmt: skip
NewStoreOpt = Annotated[
    bool,
    typer.Option("--new-store", help="Accept a store that has lost its history (deleted, emptied, replaced or "
                 "restored from an older copy): deliveries it does not know are sent again.", show_default=False),
]  # fmt: skip


def run(
    ctx: typer.Context,
    path: PathArg = None,
    portfolio: PortfolioOpt = None,
    allow_outside: AllowOutside = False,
    allow_plugins: AllowPlugins = False,
    keep_going: KeepGoing = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Render everything, deliver nothing.")] = False,
    reports: Annotated[
        list[str] | None,
        typer.Option("--reports", help="Report ids, comma-separated or repeated; default: all.", show_default=False),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(
            "--schedule",
            help="Run this schedule of the manifest for its current period.",
            show_default=False,
            callback=not_empty,
        ),
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the run's files.")] = Path("out"),
    as_of: AsOf = None,
    pdf: Annotated[
        bool | None,
        typer.Option(
            "--pdf/--no-pdf",
            help="Write PDFs (default: when the pdf extra, WeasyPrint, is installed).",
            show_default=False,
        ),
    ] = None,
    mailer: Annotated[
        str | None,
        typer.Option(
            "--mailer",
            help="outbox:DIR (default outbox:outbox), smtp://[user@]host[:port], "
            "smtps://..., ses://REGION (EXECINTEL_MAILER).",
            show_default=False,
            callback=not_empty,
        ),
    ] = None,
    store: StoreOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Send again what already went out for this period (recorded).")
    ] = False,
    resend_unknown: Annotated[
        bool, typer.Option("--resend-unknown", help="Send again deliveries whose outcome a crash left unknown.")
    ] = False,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            help="Seconds to wait for another run of this portfolio to finish delivering.",
            callback=finite_seconds,
        ),
    ] = 600.0,
    new_store: NewStoreOpt = False,
) -> None:
    """Build every report (or those of --reports, or of --schedule) into OUT/<run-id>/ and deliver each once."""
    from execintel.render.pdf import available  # noqa: PLC0415
    from execintel.render.pool import RenderPool  # noqa: PLC0415
    from execintel.reports import parse_report_ids  # noqa: PLC0415

    may_send.set(not dry_run)
    # Everything the command line alone can get wrong is checked before any data is read.
    if schedule is not None and reports:
        raise ConfigError(Problem("--reports", "give --reports or --schedule, not both (a schedule names its reports)"))
    report_ids = parse_report_ids(reports) if schedule is None else []
    date = _as_of(as_of)
    check_output_folder(out_dir, "--out")
    if pdf and not available():
        raise ConfigError(Problem("--pdf", "PDF support is not installed: pip install 'execintel[pdf]'"))
    pdf = available() if pdf is None else pdf
    settings = _settings(ctx)
    endpoints = None if dry_run else open_endpoints(settings, mailer, store, new_store)
    request = RunRequest(report_ids, schedule_id=schedule, out_dir=out_dir, as_of=date, pdf=pdf, dry_run=dry_run,
                         force=force, resend_unknown=resend_unknown, wait=wait)  # fmt: skip
    with contextlib.ExitStack() as stack:
        stack.enter_context(stop_on_signals())  # SIGTERM/SIGINT unwind this block: workers stop, the run is recorded
        # Chart and PDF workers start now and import their libraries while the data loads and reports are built.
        pool = stack.enter_context(RenderPool(pdf=pdf, documents=len(report_ids) or None))
        audit = endpoints[1] if endpoints is not None else _dry_run_store(settings, store, new_store)
        if audit is not None:
            stack.callback(audit.close)
        opened = _open(ctx, path, portfolio, allow_outside=allow_outside, allow_plugins=allow_plugins)
        with _options():
            resolve_reports(opened.manifest, request)  # an unknown schedule is named before any data is read
        result = _load_sources(ctx, opened, keep_going=keep_going)
        out.print(_sources_table(result))
        _print_problems(result.warnings, style="yellow")
        _print_problems(result.errors, style="yellow")
        rows = sum(r.rows_loaded for r in result.reports)
        out.print(f"[green]✓[/green] validated {_plural(len(result.reports), 'source')}, {_plural(rows, 'row')}.")
        presenter = stack.enter_context(contextlib.closing(Presenter()))
        with _options():
            done = run_reports(opened, result, request, settings=settings, mailer=endpoints[0] if endpoints else None,
                               store=audit, events=presenter, pool=pool)  # fmt: skip
    if done.delivery is not None:
        _print_delivery(done.delivery, endpoints[0].url if endpoints else "")
        if not done.delivery.ok:
            raise typer.Exit(1)


# The service names the fields of its request; the command line names the options they came from.
OPTIONS = {"report_ids": "--reports", "schedule_id": "--schedule", "out_dir": "--out", "as_of": "--as-of",
           "pdf": "--pdf"}  # fmt: skip


@contextlib.contextmanager
def _options() -> Iterator[None]:
    """Problems of the service's request, renamed after the options they came from."""
    try:
        yield
    except ConfigError as exc:
        raise ConfigError([dataclasses.replace(p, file=OPTIONS.get(p.file, p.file)) for p in exc.problems]) from exc


def _dry_run_store(settings: Any, url: str | None, new_store: bool) -> Store | None:
    """The audit store a dry run is recorded in; None (after saying so) when it cannot be opened or is damaged."""
    from execintel.store import StoreDamaged, StoreLost  # noqa: PLC0415

    opened, why = open_dry_run_store(settings, url, new_store)
    if isinstance(why, StoreLost | StoreDamaged):
        err.print(f"{line(why)}\nThis dry run is not recorded and its CEO report does not say what changed.",
                  style="yellow", markup=False, soft_wrap=True)  # fmt: skip
    elif why is not None:
        err.print(f"The audit store cannot be opened ({line(why)}); this dry run is not recorded and its CEO report "
                  "does not say what changed.", style="yellow", markup=False, soft_wrap=True)  # fmt: skip
    return opened


class Presenter:
    """Shows a run's events as the command line always has: progress bars, the reports table, what was sent."""

    def __init__(self) -> None:
        self.live: Progress | Status | None = None
        self.task: TaskID | None = None

    def __call__(self, event: RunEvent) -> None:
        """Show one event."""
        data = event.data
        if event.kind == "report.unreceived":
            err.print(f"No stakeholder receives the {data['report']} report (roles: {data['roles']}); it is not sent.",
                      style="yellow", markup=False)  # fmt: skip
        elif event.kind == "delivery.planned":
            self._planned(data)
        elif event.kind == "report.building":
            if data["index"] == 0:
                self._progress(description="Building reports", total=data["total"], elapsed=True)
            self._update(description=f"Building {data['report']}")
        elif event.kind in ("report.built", "delivery.outcome"):
            self._update(advance=1)
        elif event.kind == "rendering":
            self.close()
            self.live = err.status("Rendering...")
            self.live.start()
        elif event.kind == "rendered":
            self.close()
            _print_reports(data)
        elif event.kind == "delivery.waiting":
            err.print(f"Waiting for another run ({data['holder']}) to finish delivering...", markup=False)
        elif event.kind == "delivery.started":
            self._progress(description=f"Delivering via {data['mailer']}", total=data["deliveries"])
        elif event.kind == "run.finished":
            self.close()
            if data["status"] == "interrupted" and data["recorded"]:
                err.print(f"Run {data['run_id']} was {data['error']}; what went out is recorded, and running the same "
                          "command again sends the rest.", markup=False, soft_wrap=True)  # fmt: skip

    def _planned(self, data: Mapping[str, Any]) -> None:
        planned, todo = data["planned"], data["todo"]
        what = f"schedule {data['schedule_id']}" if data["schedule_id"] else "this ad-hoc run"
        if not todo:
            every = "The only delivery" if planned == 1 else f"All {planned} deliveries"
            out.print(f"[green]✓[/green] {every} of {escape(what)} for {data['period']} already went out; nothing "
                      "was sent again (--force sends again).", soft_wrap=True)  # fmt: skip
        elif todo < planned:
            out.print(f"{planned - todo} of {_plural(planned, 'delivery', 'deliveries')} of {escape(what)} for "
                      f"{data['period']} already went out; sending the other {todo}.", soft_wrap=True)  # fmt: skip

    def _progress(self, *, description: str, total: int, elapsed: bool = False) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

        self.close()
        columns: list[ProgressColumn] = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
        columns += [TimeElapsedColumn()] if elapsed else []
        progress = Progress(*columns, console=err, transient=True)
        self.task = progress.add_task(description, total=total)
        self.live = progress
        progress.start()

    def _update(self, **changes: Any) -> None:
        if self.task is not None:
            cast("Progress", self.live).update(self.task, **changes)

    def close(self) -> None:
        """Stop the progress bar or spinner on screen, if any."""
        live, self.live, self.task = self.live, None, None
        if live is not None:
            live.stop()


def _print_reports(data: Mapping[str, Any]) -> None:
    """The table of the reports a run wrote, and where."""
    table = Table(title=f"Reports of {escape(data['portfolio'])} as of {data['as_of']}", title_justify="left")
    for name, justify in (("report", "left"), ("figures", "right"), ("findings", "right"), ("files", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for report in data["reports"]:
        names = report["files"]
        charts = sum(1 for n in names if n.endswith(".png"))
        files = ", ".join(n for n in names if not n.endswith(".png"))
        files += f", {_plural(charts, 'chart')}" if charts else ""
        table.add_row(report["report"], f"{report['figures']:,}", f"{report['findings']:,}", escape(files))
    out.print(table)
    out.print(f"[green]✓[/green] wrote {_plural(len(data['reports']), 'report')} to {escape(data['folder'])}",
              soft_wrap=True)  # fmt: skip


def _print_delivery(result: DeliveryResult, mailer: str) -> None:
    table = Table(title=f"Deliveries via {escape(mailer)}", title_justify="left")
    for name, justify in (("report", "left"), ("recipient", "left"), ("state", "left"), ("attempts", "right"),
                          ("provider id / reason", "left")):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    styles = {"sent": "green", "already-sent": "dim", "suppressed": "yellow", "held": "yellow", "failed": "red",
              "unknown": "red"}  # fmt: skip
    for o in result.outcomes:
        detail = o.reason if o.state in ("failed", "held", "unknown", "suppressed") else (o.provider_id or "")
        if o.state == "failed":
            detail = f"{'permanent' if o.permanent else 'transient'}: {detail}"
        table.add_row(o.report, escape(o.recipient), f"[{styles[o.state]}]{o.state}[/]", str(o.attempts),
                      escape(detail or ""))  # fmt: skip
    out.print(table)
    counts = ", ".join(f"{len(result.of(s))} {s}" for s in OUTCOMES if result.of(s))
    if result.ok:
        out.print(f"[green]✓[/green] {counts}.", soft_wrap=True)
    else:
        retry = " What failed or was held is tried again by running the same command again." \
            if result.of("failed", "held") else ""  # fmt: skip
        unknown = len(result.of("unknown"))
        if unknown:
            retry += (f" {_plural(unknown, 'delivery', 'deliveries')} may or may not have gone out (unknown): "
                      "check the audit mailbox or the provider, then leave it, or send again with --resend-unknown "
                      "(same Message-ID).")  # fmt: skip
        err.print(f"✗ {counts}.{retry}", style="red", markup=False, soft_wrap=True)
    if result.notice:
        (out if result.ok else err).print(result.notice, markup=False, soft_wrap=True)
