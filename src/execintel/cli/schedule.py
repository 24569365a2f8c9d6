"""``execintel schedule``: the local scheduler, a loop that runs each schedule of the manifest on time."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from execintel.cli.common import (
    AllowOutside,
    AllowPlugins,
    PathArg,
    PortfolioOpt,
    _open,
    _plural,
    _settings,
    check_output_folder,
    may_send,
)
from execintel.cli.console import SafeRichHandler, err, out
from execintel.cli.run import NewStoreOpt, StoreOpt, not_empty
from execintel.delivery.interrupts import Interrupted, stop_on_signals
from execintel.errors import DeliveryError

if TYPE_CHECKING:
    from execintel.config.models import Schedule


def schedule(
    ctx: typer.Context,
    path: PathArg = None,
    portfolio: PortfolioOpt = None,
    allow_outside: AllowOutside = False,
    allow_plugins: AllowPlugins = False,
    once: Annotated[bool, typer.Option("--once", help="Run what is due now, then exit (for cron or systemd).")] = False,
    catch_up: Annotated[
        bool,
        typer.Option(
            "--catch-up/--no-catch-up",
            help="At start, run each schedule whose latest tick has not run yet (once, however many "
            "ticks were missed).",
            show_default=True,
        ),
    ] = True,
    store: StoreOpt = None,
    mailer: Annotated[
        str | None,
        typer.Option(
            "--mailer", help="Mailer URL for the runs (EXECINTEL_MAILER).", show_default=False, callback=not_empty
        ),
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the runs' files.")] = Path("out"),
    new_store: NewStoreOpt = False,
) -> None:
    """Run each schedule of the manifest on time (cron in the portfolio's time zone), one run at a time."""
    from execintel.delivery.mailers import open_mailer  # noqa: PLC0415
    from execintel.scheduler import Scheduler, manifest_loader  # noqa: PLC0415
    from execintel.store import open_store  # noqa: PLC0415

    may_send.set(True)
    settings = _settings(ctx)
    found = _open(ctx, path, portfolio, allow_outside=allow_outside, allow_plugins=allow_plugins)
    check_output_folder(out_dir, "--out")
    # The runs would each fail on a bad mailer or store: check both once, now, naming the option used.
    open_mailer(mailer or settings.mailer, settings, source="--mailer" if mailer else "EXECINTEL_MAILER").check()
    audit = open_store(store, settings, new_store=new_store)
    logger = logging.getLogger("execintel.scheduler")
    if not logger.handlers:
        logger.addHandler(SafeRichHandler(console=err, show_path=False))
        logger.setLevel(logging.INFO)

    def launch(item: Schedule, period: str) -> int:
        command = [sys.executable, "-m", "execintel"]
        if settings.debug:
            command.append("--debug")
        command += ["run", str(found.path), "--schedule", item.id, "--store", audit.url, "--out", str(out_dir)]
        command += ["--allow-outside"] if allow_outside else []
        command += ["--allow-plugins"] if allow_plugins else []  # each run loads the ledgers
        command += ["--mailer", mailer] if mailer else []
        env = {**os.environ, "EXECINTEL_TRIGGER": f"schedule:{item.id}"}
        return _wait(subprocess.Popen(command, env=env))  # noqa: S603 - our own command

    scheduler = Scheduler(audit, manifest_loader(found.path, allow_outside=allow_outside), launch, catch_up=catch_up)
    if scheduler.start() is None:
        holder = audit.holder(f"scheduler:{found.manifest.portfolio.name}")
        raise DeliveryError(f"Another scheduler ({holder.owner if holder else 'unknown'}) is already running for "
                            f"this portfolio; this one exits.")  # fmt: skip
    names = ", ".join(s.id for s in found.manifest.schedules) or "none"
    out.print(f"Scheduling {found.manifest.portfolio.name!r} ({names}) in {found.manifest.portfolio.timezone}; "
              f"store {audit.url}.", markup=False, soft_wrap=True)  # fmt: skip
    try:
        with stop_on_signals():
            if once:
                fired = scheduler.fire_due()
                out.print(f"{_plural(len(fired), 'schedule')} ran." if fired else "Nothing was due.", markup=False)
                if any(f.status != 0 for f in fired):
                    raise typer.Exit(1)
            else:
                scheduler.run_forever()
    except (Interrupted, KeyboardInterrupt) as exc:
        out.print(f"Stopped ({exc.name})." if isinstance(exc, Interrupted) else "Stopped.", markup=False)
    finally:
        scheduler.stop()
        audit.close()


def _wait(run: subprocess.Popen[bytes]) -> int:
    """The run's exit status; when the scheduler is stopped meanwhile, the run is stopped too and waited for.

    SIGTERM is passed on (the run finishes the delivery at hand, records itself as interrupted and exits); a
    Ctrl-C has reached the run already, through the process group. A second signal kills the run.
    """
    try:
        return run.wait()
    except Interrupted as exc:
        if exc.signum != signal.SIGINT:
            run.send_signal(exc.signum)
        try:
            run.wait()
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
        raise
