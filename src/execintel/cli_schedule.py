"""``execintel schedule``: the local scheduler, a loop that runs each schedule of the manifest on time."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from execintel.cli import (
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
from execintel.cli_console import SafeRichHandler, err, out
from execintel.cli_run import StoreOpt, not_empty
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
) -> None:
    """Run each schedule of the manifest on time (cron in the portfolio's time zone), one run at a time."""
    from execintel.scheduler import Scheduler, manifest_loader  # noqa: PLC0415
    from execintel.store import open_store  # noqa: PLC0415

    may_send.set(True)
    settings = _settings(ctx)
    found = _open(ctx, path, portfolio, allow_outside=allow_outside, allow_plugins=allow_plugins)
    check_output_folder(out_dir, "--out")
    audit = open_store(store, settings)
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
        return subprocess.run(command, env=env, check=False).returncode  # noqa: S603 - our own command

    scheduler = Scheduler(audit, manifest_loader(found.path, allow_outside=allow_outside), launch, catch_up=catch_up)
    if scheduler.start() is None:
        holder = audit.holder(f"scheduler:{found.manifest.portfolio.name}")
        raise DeliveryError(f"Another scheduler ({holder.owner if holder else 'unknown'}) is already running for "
                            f"this portfolio; this one exits.")  # fmt: skip
    names = ", ".join(s.id for s in found.manifest.schedules) or "none"
    out.print(f"Scheduling {found.manifest.portfolio.name!r} ({names}) in {found.manifest.portfolio.timezone}; "
              f"store {audit.url}.", markup=False, soft_wrap=True)  # fmt: skip
    try:
        if once:
            fired = scheduler.fire_due()
            out.print(f"{_plural(len(fired), 'schedule')} ran." if fired else "Nothing was due.", markup=False)
            if any(f.status != 0 for f in fired):
                raise typer.Exit(1)
        else:
            scheduler.run_forever()
    except KeyboardInterrupt:
        out.print("Stopped.", markup=False)
    finally:
        scheduler.stop()
        audit.close()
