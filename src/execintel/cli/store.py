"""``execintel store``, ``audit`` and ``suppression``: set up the audit store, read and verify its log, and keep
the suppression list. Registered on the main app at the end of :mod:`execintel.cli`."""

from __future__ import annotations

import getpass
import json
import socket
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from execintel.cli.common import _settings
from execintel.cli.console import err, escape, line, out, plural
from execintel.errors import ConfigError, Problem, StoreError

if TYPE_CHECKING:
    from execintel.store import Delivery, Entry, Mode, RunRecord, Store

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        show_default=False,
        help="Store URL: sqlite:///PATH.db (four slashes for an absolute path) or dynamodb://TABLE; "
        "default: EXECINTEL_STORE, else execintel.db in the data dir (EXECINTEL_DATA_DIR, else "
        "~/.local/share/execintel).",
    ),
]
NewStoreOpt = Annotated[
    bool,
    typer.Option("--new-store", help="Accept a store that has lost its history (deleted, emptied, replaced or "
                 "restored from an older copy).", show_default=False),
]  # fmt: skip

store_app = typer.Typer(help="Set up the audit store (runs, deliveries, the audit log).", no_args_is_help=True)
audit_app = typer.Typer(help="Read and verify the audit log: runs, reports, deliveries.", no_args_is_help=True)
suppression_app = typer.Typer(help="The suppression list: addresses nothing is ever sent to.", no_args_is_help=True)

STATUS_STYLE = {"ok": "green", "sent": "green", "failed": "red", "held": "yellow", "suppressed": "yellow",
                "interrupted": "yellow", "unknown": "red"}  # fmt: skip


def _open(ctx: typer.Context, url: str | None, mode: Mode = "write", *, new_store: bool = False) -> Store:
    """The store ``--store`` names (None: EXECINTEL_STORE, else the default); "read" never creates one."""
    from execintel.store import open_store  # noqa: PLC0415 - the store's modules only when a command needs them

    return open_store(url, _settings(ctx), mode=mode, new_store=new_store)


def _open_existing(ctx: typer.Context, url: str | None) -> Store | None:
    """The store, opened to read; None (after saying so) when it is the default one and nothing has run yet."""
    from execintel.store import StoreMissing  # noqa: PLC0415

    try:
        return _open(ctx, url, "read")
    except StoreMissing:
        if _missing_default(ctx, url):
            return None
        raise


def _missing_default(ctx: typer.Context, url: str | None) -> bool:
    """True (after saying so) when the store that is missing is the default one: nothing has run here yet."""
    from execintel.store import default_url  # noqa: PLC0415

    settings = _settings(ctx)
    if url or settings.store:
        return False
    out.print(f"No store yet: {escape(default_url(settings).removeprefix('sqlite:///'))} does not exist (nothing has "
              "been run with it).", soft_wrap=True)  # fmt: skip
    return True


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _styled(text: str | None, fallback: str = "-") -> str:
    if text is None:
        return fallback
    style = STATUS_STYLE.get(text)
    return f"[{style}]{escape(text)}[/{style}]" if style else escape(text)


def _run_status(run: RunRecord) -> str:
    flags = "".join(f" ({flag})" for flag, on in (("dry run", run.dry_run), ("forced", run.forced)) if on)
    return _styled(run.status, "[yellow]unfinished[/yellow]") + flags


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"


@store_app.command("init")
def store_init(ctx: typer.Context, store: StoreOpt = None, new_store: NewStoreOpt = False) -> None:
    """Create the store (SQLite file or DynamoDB table) when missing; safe to run again."""
    with _open(ctx, store, "init", new_store=new_store) as opened:
        out.print(f"[green]✓[/green] the store is ready: {escape(opened.url)}", soft_wrap=True)


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs to show.")] = 20,
    store: StoreOpt = None,
) -> None:
    """List the newest runs: when, who started them, for which period, how they ended."""
    opened = _open_existing(ctx, store)
    if opened is None:
        return
    with opened:
        runs = opened.list_runs(limit)
        url = opened.url
    if not runs:
        out.print(f"No runs yet in {escape(url)}.", soft_wrap=True)
        return
    table = _table(f"Runs in {escape(url)}, newest first", "run", "started", "trigger", "portfolio", "period", "status")
    for run in runs:
        table.add_row(escape(run.run_id), _when(run.started), escape(run.trigger), escape(run.portfolio),
                      escape(run.period), _run_status(run))  # fmt: skip
    out.print(table)


def _change(entry: Entry) -> str:
    if entry.data.get("from") is None:  # a new delivery: its first state is the whole story
        return ""
    names = ("attempts", "provider_id", "reason", "permanent", "mailer")
    return escape(", ".join(f"{name} {entry.data[name]}" for name in names if entry.data.get(name) is not None))


@audit_app.command("show")
def audit_show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="A run id, as `execintel audit list` shows it.")],
    store: StoreOpt = None,
) -> None:
    """Show a run: its reports, its deliveries and every state change they went through."""
    with _open(ctx, store, "read") as opened:
        run = opened.get_run(run_id)
        if run is None:
            raise StoreError(f"There is no run {run_id!r} in {opened.url}; list the runs with: execintel audit list")
        reports = opened.reports(run_id)
        entries = opened.entries(run_id=run_id)
        deliveries: dict[str, Delivery] = {d.key: d for d in opened.deliveries(run_id=run_id)}
        for entry in entries:  # deliveries this run changed that a later run changed again
            key = str(entry.data.get("key", ""))
            if entry.kind.startswith("delivery.") and key not in deliveries:
                found = opened.get_delivery(key)
                if found is not None:
                    deliveries[key] = found
    facts: list[tuple[str, Any]] = [
        ("portfolio", escape(run.portfolio)), ("trigger", escape(run.trigger)),
        ("schedule", escape(run.schedule_id) if run.schedule_id else "ad hoc"), ("period", escape(run.period)),
        ("started", _when(run.started)), ("finished", _when(run.finished)), ("status", _run_status(run)),
        ("mailer", escape(run.mailer) or "-"),
        ("summary", escape(json.dumps(dict(run.summary), ensure_ascii=False, sort_keys=True))),
    ]  # fmt: skip
    grid = Table.grid(padding=(0, 2))
    for name, value in facts:
        grid.add_row(f"[bold]{name}[/bold]", value)
    out.print(f"[bold]Run {escape(run.run_id)}[/bold]", soft_wrap=True)
    out.print(grid)
    table = _table("Reports", "report", "period", "content hash", "figures", "generated")
    for report in reports:
        table.add_row(escape(report.report), escape(report.period), report.content_hash[:12],
                      f"{len(report.figures):,}", _when(report.generated))  # fmt: skip
    out.print(table if reports else "No reports recorded.")
    table = _table("Deliveries", "report", "recipient", "state", "attempts", "provider id", "reason")
    for d in sorted(deliveries.values(), key=lambda d: (d.report, d.recipient, d.key)):
        table.add_row(escape(d.report), escape(d.recipient), _styled(d.state), str(d.attempts),
                      escape(d.provider_id or "-"), escape(d.reason or "-"))  # fmt: skip
    out.print(table if deliveries else "No deliveries.")
    changes = [e for e in entries if e.kind.startswith("delivery.")]
    table = _table("State changes", "seq", "time", "report", "recipient", "from", "to", "details")
    for entry in changes:
        found = deliveries.get(str(entry.data.get("key")))
        table.add_row(str(entry.seq), _when(entry.ts), escape(found.report if found else "?"),
                      escape(found.recipient if found else str(entry.data.get("key"))),
                      _styled(entry.data.get("from"), "(new)"), _styled(str(entry.data.get("to"))),
                      _change(entry))  # fmt: skip
    if changes:
        out.print(table)


@audit_app.command("verify")
def audit_verify(ctx: typer.Context, store: StoreOpt = None) -> None:
    """Recompute the audit log's hash chain and check every delivery against it; exit 1 on any problem."""
    opened = _open_existing(ctx, store)
    if opened is None:
        return
    with opened:
        result = opened.verify()
        url = opened.url
    if result.ok:
        entries = f"{result.entries:,} {'entry' if result.entries == 1 else 'entries'}"
        out.print(f"[green]✓[/green] {entries} verified; the chain is intact ({escape(url)})", soft_wrap=True)
        return
    for problem in result.problems:
        out.print(f"[red]✗[/red] {escape(problem)}", soft_wrap=True)
    count = len(result.problems)
    err.print(f"{plural(count, 'problem')} in {line(url)} ({plural(result.entries, 'entry', 'entries')}): the audit "
              "log or the deliveries were changed outside execintel.", style="bold red", markup=False)  # fmt: skip
    raise typer.Exit(1)


@suppression_app.command("list")
def suppression_list(ctx: typer.Context, store: StoreOpt = None) -> None:
    """List every suppressed address, why, and who added it."""
    opened = _open_existing(ctx, store)
    if opened is None:
        return
    with opened:
        entries = opened.suppressions()
        url = opened.url
    if not entries:
        out.print(f"The suppression list of {escape(url)} is empty.", soft_wrap=True)
        return
    table = _table(f"Suppressed addresses in {escape(url)}", "address", "reason", "source", "added")
    for entry in entries:
        table.add_row(escape(entry.address), escape(entry.reason), escape(entry.source), _when(entry.added))
    out.print(table)


@suppression_app.command("add")
def suppression_add(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(help="The email address to stop sending to.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")] = "added by hand",
    store: StoreOpt = None,
) -> None:
    """Stop sending anything to ADDRESS (or update its reason)."""
    from execintel.config.models import is_valid_email  # noqa: PLC0415

    if not is_valid_email(address.strip()):
        raise ConfigError(Problem("ADDRESS", f"{address!r} is not an email address like name@example.com"))
    with _open(ctx, store) as opened:
        opened.suppress(address.strip(), reason, source=_who())
    out.print(f"[green]✓[/green] {escape(address.strip().lower())} is suppressed: nothing will be sent to it.",
              soft_wrap=True)  # fmt: skip


@suppression_app.command("remove")
def suppression_remove(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(help="The email address to send to again.")],
    store: StoreOpt = None,
) -> None:
    """Send to ADDRESS again; exit 1 when it was not on the list."""
    with _open(ctx, store) as opened:
        removed = opened.unsuppress(address, source=_who())
    if not removed:
        err.print(f"{line(address.strip().lower())} was not on the suppression list; nothing changed.",
                  markup=False)  # fmt: skip
        raise typer.Exit(1)
    out.print(f"[green]✓[/green] {escape(address.strip().lower())} is no longer suppressed.", soft_wrap=True)
