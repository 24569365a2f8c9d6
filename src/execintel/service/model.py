"""What a run is asked to do (:class:`RunRequest`), what it reports while it works (:class:`RunEvent`) and what it
returns (:class:`RunResult`).

Events, in the order a run emits them (``data`` holds plain values: strings, numbers, lists and dicts of them):

``sources.loaded``
    first: ``portfolio`` (its name), ``sources``, ``rows``, ``rejected`` (rows), ``warnings``, ``errors`` (counts).
``report.unreceived``
    delivering runs: nobody receives ``report`` (``roles`` lists the roles that would), so it is not sent.
``delivery.planned``
    delivering runs: ``period``, ``schedule_id`` (None for an ad-hoc run), ``planned`` (deliveries of this run)
    and ``todo`` (those that have not gone out yet; 0: nothing is sent, and nothing is built unless the request
    says ``always_build``).
``report.building``
    ``report`` is being built: ``index`` (0-based) of ``total``.
``report.built``
    ``report`` is built: its number of ``figures`` and ``findings``.
``rendering``
    every report is built; their files are being written into ``folder``.
``rendered``
    written: ``folder``, ``portfolio``, ``as_of`` (ISO date), and ``reports``: one dict per report with ``report``,
    ``figures``, ``findings`` and ``files`` (the names of its files in ``folder``, charts included).
``delivery.waiting``
    another run of this portfolio (``holder``) is delivering; this one waits (up to ``RunRequest.wait``) for it.
``delivery.started``
    messages are being handed to ``mailer`` (its URL, never a secret): ``deliveries`` of them.
``delivery.outcome``
    one per delivery: ``key``, ``report``, ``recipient``, ``state`` (``sent``, ``already-sent``, ``suppressed``,
    ``held``, ``failed``, ``unknown``), ``attempts``, ``provider_id``, ``reason``, ``permanent``.
``run.finished``
    last: ``run_id``, ``status`` (as :attr:`RunResult.status`, or ``failed``/``interrupted`` when the run stopped
    on an exception, which :func:`~execintel.service.run_reports` then raises), ``error`` (None, or why it
    stopped) and ``recorded`` (whether the audit store says how the run ended; a killed run stays unfinished).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from execintel.delivery.engine import DeliveryResult
    from execintel.reports.document import Document

__all__ = ["Events", "RunEvent", "RunRequest", "RunResult", "ignore"]


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What to run: the reports (or a schedule's), where to write them, and how to deliver them."""

    report_ids: list[str]
    """The report ids, built in the order given; ``[]`` with ``schedule_id``: the schedule's reports; ``[]``
    without: every report (:data:`~execintel.report_ids.REPORTS`)."""
    schedule_id: str | None = None
    out_dir: Path = Path("out")
    """The run's files go into ``out_dir/<run_id>/``."""
    as_of: dt.date | None = None
    """The report date; None: the manifest's ``as_of``, else today in the portfolio's time zone."""
    pdf: bool = False
    dry_run: bool = False
    """Build, render and record, deliver nothing (also when no mailer is given)."""
    force: bool = False
    """Send again what already went out for this period (each delivery gets a new key, recorded as forced)."""
    resend_unknown: bool = False
    """Send again deliveries whose outcome a crash left unknown (same Message-ID)."""
    wait: float = 600.0
    """Seconds to wait for another run of the portfolio to finish delivering."""
    trigger: str | None = None
    """Who started the run (``web:cfo@example.com``); None: ``EXECINTEL_TRIGGER``, else ``cli:USER@HOST``."""
    run_id: str | None = None
    """The run's id, when the caller made it (:func:`execintel.run_ids.new_run_id`); None: a new one."""
    always_build: bool = False
    """Build, render and record the reports even when every delivery already went out for the period."""
    scheduled: dt.datetime | None = None
    """When the schedule fired (aware; a scheduler's scheduled time): the period is that tick's, not now's, so a
    late or repeated delivery of the same event delivers for the same period. None: now."""


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One step of a run, as it happens; see the module docstring for every ``kind`` and its ``data``."""

    kind: str
    data: Mapping[str, Any]


Events = Callable[[RunEvent], None]
"""Where a run reports its progress: called from the thread that runs it, in order."""


def ignore(event: RunEvent) -> None:
    """Events that nobody watches."""


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run did."""

    run_id: str
    status: str
    """``ok`` (everything delivered or already out, or a dry run written), ``failed`` (a delivery failed or its
    outcome is unknown), ``held`` (only held back by the daily send limit), or ``nothing-to-do`` (every delivery
    had already gone out for the period). A run stopped by an exception raises it (see ``run.finished``)."""
    documents: list[Document]
    """The reports built (empty when nothing was)."""
    folder: Path | None
    """``out_dir/run_id`` when reports were written."""
    delivery: DeliveryResult | None
    """Each delivery's outcome; None for a dry run or when nothing was delivered."""
