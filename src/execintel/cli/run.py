"""``execintel run``: build and render every report, then (unless ``--dry-run``) deliver each exactly once."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
from execintel.delivery.interrupts import Interrupted, stop_on_signals
from execintel.errors import ConfigError, ExecintelError, Problem

if TYPE_CHECKING:
    from execintel.config import Portfolio
    from execintel.config.models import Manifest, Schedule
    from execintel.delivery.engine import DeliveryResult
    from execintel.delivery.mailers.base import Mailer
    from execintel.delivery.plan import Planned
    from execintel.reports.document import Document
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
    from execintel.pipeline import make_context, new_run_id, previous_documents  # noqa: PLC0415
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
    endpoints = None if dry_run else _endpoints(settings, mailer, store, new_store)
    with contextlib.ExitStack() as stack:
        stack.enter_context(stop_on_signals())  # SIGTERM/SIGINT unwind this block: workers stop, the run is recorded
        # Chart and PDF workers start now and import their libraries while the data loads and reports are built.
        pool = stack.enter_context(RenderPool(pdf=pdf))
        audit = endpoints[1] if endpoints is not None else _dry_run_store(settings, store, new_store)
        if audit is not None:
            stack.callback(audit.close)
        opened = _open(ctx, path, portfolio, allow_outside=allow_outside, allow_plugins=allow_plugins)
        manifest = opened.manifest
        chosen = _schedule(manifest, schedule)
        if chosen is not None:
            report_ids = parse_report_ids(list(chosen.reports), f"schedules.{chosen.id}.reports")
        result = _load_sources(ctx, opened, keep_going=keep_going)
        out.print(_sources_table(result))
        _print_problems(result.warnings, style="yellow")
        _print_problems(result.errors, style="yellow")
        rows = sum(r.rows_loaded for r in result.reports)
        out.print(f"[green]✓[/green] validated {_plural(len(result.reports), 'source')}, {_plural(rows, 'row')}.")
        run_id = new_run_id()
        started = dt.datetime.now(dt.UTC)
        previous = previous_documents(audit, manifest.portfolio.name, out_dir, exclude=run_id, before=started)
        context = make_context(result, as_of=date, previous=previous)
        if endpoints is None:
            _dry_run(context, opened, chosen, report_ids, run_id, started, out_dir, pdf, pool, audit,
                     trigger=settings.trigger)  # fmt: skip
            return
        delivering = Delivering(manifest, chosen, endpoints[0], endpoints[1], run_id, force=force, wait=wait,
                                resend_unknown=resend_unknown, trigger=settings.trigger)  # fmt: skip
        todo = delivering.plan(report_ids, context.as_of)
        if not todo:
            return
        try:
            documents, folder = _build(context, sorted({p.report for p in todo}, key=report_ids.index),
                                       out_dir / run_id, pdf, pool)  # fmt: skip
            outcome = delivering.deliver(todo, documents, folder)
        except BaseException as exc:
            delivering.finish_failed(exc)
            raise
    if not outcome.ok:
        raise typer.Exit(1)


def _dry_run_store(settings: Any, url: str | None, new_store: bool) -> Store | None:
    """The audit store a dry run is recorded in; None (after saying so) when it cannot be opened or is damaged."""
    from execintel.store import StoreDamaged, StoreLost, open_store  # noqa: PLC0415

    try:
        return open_store(url, settings, new_store=new_store)
    except (StoreLost, StoreDamaged) as exc:  # a dry run sends nothing: say so, and go on unrecorded
        err.print(f"{line(exc)}\nThis dry run is not recorded and its CEO report does not say what changed.",
                  style="yellow", markup=False, soft_wrap=True)  # fmt: skip
        return None
    except ConfigError:
        raise  # a malformed --store or EXECINTEL_STORE: the user asked for that store
    except (ExecintelError, OSError) as exc:
        err.print(f"The audit store cannot be opened ({line(exc)}); this dry run is not recorded and its CEO report "
                  "does not say what changed.", style="yellow", markup=False, soft_wrap=True)  # fmt: skip
        return None


def _dry_run(
    context: Any, portfolio: Portfolio, schedule: Schedule | None, report_ids: list[str], run_id: str,
    started: dt.datetime, out_dir: Path, pdf: bool, pool: Any, store: Store | None, *, trigger: str | None,
) -> None:  # fmt: skip
    """Build and render the reports, recorded in the store as a dry run (so the next run can say what changed)."""
    from execintel.delivery.runs import run_period  # noqa: PLC0415
    from execintel.delivery.runs import trigger as default_trigger  # noqa: PLC0415
    from execintel.pipeline import record_documents, start_dry_run  # noqa: PLC0415

    period = run_period(portfolio.manifest, schedule, context.as_of, started)
    if store is None:
        _build(context, report_ids, out_dir / run_id, pdf, pool)
        return
    start_dry_run(store, portfolio.manifest, run_id, period=period, trigger=trigger or default_trigger(),
                  schedule_id=schedule.id if schedule is not None else None, started=started)  # fmt: skip
    try:
        documents, folder = _build(context, report_ids, out_dir / run_id, pdf, pool)
        record_documents(store, run_id, period, documents, folder)
    except BaseException as exc:
        if isinstance(exc, Exception):
            with contextlib.suppress(Exception):  # the store itself may be what failed
                store.finish_run(run_id, "failed", {"error": str(exc)[:500]})
        raise
    store.finish_run(run_id, "ok", {"reports": len(documents)})


def _endpoints(settings: Any, mailer: str | None, store: str | None, new_store: bool = False) -> tuple[Mailer, Store]:
    """The mailer and the store of a delivering run, checked before any work: a bad URL, an outbox folder that
    cannot be written, a store that lost its history exit 2 with nothing done. Errors name the option used."""
    from execintel.delivery.mailers import open_mailer  # noqa: PLC0415
    from execintel.delivery.runs import delivery_deadline  # noqa: PLC0415
    from execintel.store import open_store  # noqa: PLC0415

    delivery_deadline()  # a bad EXECINTEL_DELIVERY_DEADLINE is refused now, not after the reports are built
    chosen = open_mailer(mailer or settings.mailer, settings, source="--mailer" if mailer else "EXECINTEL_MAILER")
    opened = open_store(store, settings, new_store=new_store)
    try:
        chosen.check()  # may create the outbox folder: only once the store is known to be usable
    except BaseException:
        opened.close()
        raise
    return chosen, opened


def _schedule(manifest: Manifest, schedule_id: str | None) -> Schedule | None:
    from execintel.delivery.runs import find_schedule  # noqa: PLC0415

    return None if schedule_id is None else find_schedule(manifest, schedule_id)


def _build(context: Any, report_ids: list[str], folder: Path, pdf: bool, pool: Any) -> tuple[list[Document], Path]:
    """Build and render the reports into ``folder`` with a progress bar, then list them."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

    from execintel.pipeline import write_documents  # noqa: PLC0415
    from execintel.reports import build_report  # noqa: PLC0415

    documents = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("Building reports", total=len(report_ids))
        for report in report_ids:
            progress.update(task, description=f"Building {report}")
            documents.append(build_report(context, report))
            progress.advance(task)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(Problem("--out", f"{str(folder.parent)!r}: the run's folder cannot be created: "
                                           f"{exc.strerror}")) from None  # fmt: skip
    with err.status("Rendering..."):
        written = write_documents(documents, folder, pdf=pdf, pool=pool)
    table = Table(title=f"Reports of {escape(context.manifest.portfolio.name)} as of {context.as_of}",
                  title_justify="left")  # fmt: skip
    for name, justify in (("report", "left"), ("figures", "right"), ("findings", "right"), ("files", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for document in documents:
        paths = written[document.report]
        charts = sum(1 for p in paths if p.suffix == ".png")
        files = ", ".join(p.name for p in paths if p.suffix != ".png")
        files += f", {_plural(charts, 'chart')}" if charts else ""
        table.add_row(document.report, f"{len(document.figures):,}", f"{len(document.findings):,}", escape(files))
    out.print(table)
    out.print(f"[green]✓[/green] wrote {_plural(len(documents), 'report')} to {escape(folder)}", soft_wrap=True)
    return documents, folder


OUTCOMES = ("sent", "already-sent", "suppressed", "held", "failed", "unknown")


class Delivering:
    """The delivery half of a run: plan, audit records, lock, engine, summary."""

    def __init__(
        self, manifest: Manifest, schedule: Schedule | None, mailer: Mailer, store: Store, run_id: str, *,
        force: bool, wait: float, resend_unknown: bool, trigger: str | None = None,
    ) -> None:  # fmt: skip
        self.manifest, self.schedule, self.mailer, self.store, self.run_id = manifest, schedule, mailer, store, run_id
        self.force, self.wait, self.resend_unknown, self.trigger = force, wait, resend_unknown, trigger
        self.period = ""
        self.started = False

    def plan(self, report_ids: list[str], as_of: dt.date) -> list[Planned]:
        """What this run is to deliver; empty (after saying so) when everything already went out."""
        from execintel.delivery.plan import plan, roles_help  # noqa: PLC0415
        from execintel.delivery.runs import pending, run_period, trigger  # noqa: PLC0415
        from execintel.store import RunRecord  # noqa: PLC0415

        now = dt.datetime.now(dt.UTC)
        self.period = run_period(self.manifest, self.schedule, as_of, now)
        planned, unreceived = plan(self.manifest, report_ids, schedule=self.schedule, period=self.period,
                                   salt=self.run_id if self.force else "")  # fmt: skip
        for report in unreceived:
            err.print(f"No stakeholder receives the {report} report (roles: {roles_help()}); it is not sent.",
                      style="yellow", markup=False)  # fmt: skip
        if not planned:
            raise ConfigError(Problem("stakeholders", f"nobody receives {', '.join(report_ids)}: give stakeholders "
                                      f"roles ({roles_help()}) or a schedule a `to:` list"))  # fmt: skip
        todo = pending(self.store, planned)
        schedule_id = self.schedule.id if self.schedule is not None else None
        record = RunRecord(run_id=self.run_id, portfolio=self.manifest.portfolio.name,
                           trigger=self.trigger or trigger(), schedule_id=schedule_id, period=self.period,
                           started=now, forced=self.force, mailer=self.mailer.url)  # fmt: skip
        self.store.start_run(record)
        self.started = True
        what = f"schedule {schedule_id}" if schedule_id else "this ad-hoc run"
        if not todo:
            self.store.finish_run(self.run_id, "ok", {"already_sent": len(planned)})
            every = "The only delivery" if len(planned) == 1 else f"All {len(planned)} deliveries"
            out.print(f"[green]✓[/green] {every} of {escape(what)} for {self.period} already went out; nothing "
                      "was sent again (--force sends again).", soft_wrap=True)  # fmt: skip
            return []
        if len(todo) < len(planned):
            out.print(f"{len(planned) - len(todo)} of {_plural(len(planned), 'delivery', 'deliveries')} of "
                      f"{escape(what)} for {self.period} already went out; sending the other {len(todo)}.",
                      soft_wrap=True)  # fmt: skip
        return todo

    def deliver(self, todo: list[Planned], documents: list[Document], folder: Path) -> DeliveryResult:
        """Record the reports, compose every message, take the lock and deliver; print what happened."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn  # noqa: PLC0415

        from execintel.config.models import DAILY_RETRY  # noqa: PLC0415
        from execintel.delivery.compose import HeaderError  # noqa: PLC0415
        from execintel.delivery.engine import LOCK_TTL, Engine  # noqa: PLC0415
        from execintel.delivery.messages import compose_all  # noqa: PLC0415
        from execintel.delivery.runs import delivery_deadline, lock_name, report_record, wait_for_lock  # noqa: PLC0415

        now = dt.datetime.now(dt.UTC)
        docs = {d.report: d.to_json() for d in documents}
        for document in documents:
            text = (folder / f"{document.report}.json").read_text(encoding="utf-8")
            self.store.record_report(report_record(self.run_id, self.period, docs[document.report], text, now))
        try:
            messages = compose_all(self.manifest, todo, docs, folder)
        except HeaderError as exc:
            # the CLI's last line says that nothing was sent (this is a delivering run): not twice
            raise ConfigError(Problem("portfolio.yaml", str(exc))) from exc
        self.mailer.check_sender(self.manifest.sender)

        def waiting(holder: Any) -> None:
            err.print(f"Waiting for another run ({holder.owner}) to finish delivering...", markup=False)

        lock = wait_for_lock(self.store, lock_name(self.manifest), wait=self.wait, ttl=LOCK_TTL, on_wait=waiting)
        retry = self.schedule.retry_policy if self.schedule is not None else DAILY_RETRY
        engine = Engine(store=self.store, mailer=self.mailer, manifest=self.manifest, run_id=self.run_id,
                        retry=retry, resend_unknown=self.resend_unknown, lock=lock,
                        deadline=time.monotonic() + delivery_deadline())  # fmt: skip
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        try:
            # the mailer connects on its first message: a server that cannot be reached fails (and retries) each
            # delivery, which is recorded, instead of stopping the run with nothing recorded
            with contextlib.closing(self.mailer), Progress(*columns, console=err, transient=True) as progress:
                task = progress.add_task(f"Delivering via {self.mailer.url}", total=len(todo))
                engine.progress = lambda _outcome: progress.advance(task)
                result = engine.deliver(todo, messages)
        finally:
            self.store.release(engine.lock or lock)
        status = "ok" if result.ok else ("held" if result.of("held") and not result.of("failed", "unknown")
                                         else "failed")  # fmt: skip
        # One spelling for every key: snake_case, as in the summary of a run that found everything sent.
        summary: dict[str, Any] = {state.replace("-", "_"): len(result.of(state)) for state in OUTCOMES}
        summary["notice"] = result.notice
        self.store.finish_run(self.run_id, status, summary)
        _print_delivery(result, self.mailer.url)
        return result

    def finish_failed(self, exc: BaseException) -> None:
        """Record that the run stopped on an error or a signal (a killed run stays unfinished: that is how it shows)."""
        if not self.started:
            return
        interrupted = isinstance(exc, Interrupted | KeyboardInterrupt)
        if not interrupted and not isinstance(exc, Exception):
            return
        why = str(exc) if isinstance(exc, Interrupted) else ("interrupted by SIGINT" if interrupted else str(exc))
        with contextlib.suppress(Exception):  # the store itself may be what failed
            self.store.finish_run(self.run_id, "interrupted" if interrupted else "failed", {"error": why[:500]})
        if interrupted:
            err.print(f"Run {self.run_id} was {why}; what went out is recorded, and running the same command again "
                      "sends the rest.", markup=False, soft_wrap=True)  # fmt: skip


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
