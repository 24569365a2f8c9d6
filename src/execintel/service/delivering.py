"""The delivering half of a run: the plan, the audit records, the lock, the engine and the run's summary."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from execintel.delivery.interrupts import Interrupted
from execintel.errors import ConfigError, Problem
from execintel.service.model import Events, RunEvent

if TYPE_CHECKING:
    from execintel.config.models import Manifest, Schedule
    from execintel.delivery.engine import DeliveryResult
    from execintel.delivery.mailers.base import Mailer
    from execintel.delivery.plan import Planned
    from execintel.reports.document import Document
    from execintel.store import Store

__all__ = ["OUTCOMES", "Delivering", "delivery_status"]

OUTCOMES = ("sent", "already-sent", "suppressed", "held", "failed", "unknown")


def delivery_status(result: DeliveryResult) -> str:
    """``ok``, ``held`` (only held back by the daily limit) or ``failed``: how the run is recorded."""
    if result.ok:
        return "ok"
    return "held" if result.of("held") and not result.of("failed", "unknown") else "failed"


class Delivering:
    """One delivering run's records and deliveries; every step it takes is reported through ``events``."""

    def __init__(
        self, manifest: Manifest, schedule: Schedule | None, mailer: Mailer, store: Store, run_id: str, *,
        force: bool, wait: float, resend_unknown: bool, trigger: str, events: Events,
        scheduled: dt.datetime | None = None,
    ) -> None:  # fmt: skip
        self.manifest, self.schedule, self.mailer, self.store, self.run_id = manifest, schedule, mailer, store, run_id
        self.force, self.wait, self.resend_unknown, self.trigger = force, wait, resend_unknown, trigger
        self.events, self.scheduled = events, scheduled
        self.period = ""
        self.started = False
        """True once the run is recorded in the store (from then on, how it ends is recorded too)."""

    def plan(self, report_ids: list[str], as_of: dt.date, *, allow_none: bool = False) -> tuple[int, list[Planned]]:
        """Record the run; return how many deliveries it has and those still to go out (recorded as done when none).

        A report nobody receives is reported (``report.unreceived``); when nobody receives any of them the run is
        a :class:`ConfigError`, unless ``allow_none`` (the run is then built and recorded with nothing to send).
        """
        from execintel.delivery.plan import plan, roles_help  # noqa: PLC0415
        from execintel.delivery.runs import pending, run_period  # noqa: PLC0415
        from execintel.store import RunRecord  # noqa: PLC0415

        now = dt.datetime.now(dt.UTC)
        self.period = run_period(self.manifest, self.schedule, as_of, self.scheduled or now)
        planned, unreceived = plan(self.manifest, report_ids, schedule=self.schedule, period=self.period,
                                   salt=self.run_id if self.force else "")  # fmt: skip
        for report in unreceived:
            self.events(RunEvent("report.unreceived", {"report": report, "roles": roles_help()}))
        if not planned and not allow_none:
            raise ConfigError(Problem("stakeholders", f"nobody receives {', '.join(report_ids)}: give stakeholders "
                                      f"roles ({roles_help()}) or a schedule a `to:` list"))  # fmt: skip
        todo = pending(self.store, planned)
        schedule_id = self.schedule.id if self.schedule is not None else None
        self.store.start_run(RunRecord(run_id=self.run_id, portfolio=self.manifest.portfolio.name,
                                       trigger=self.trigger, schedule_id=schedule_id, period=self.period,
                                       started=now, forced=self.force, mailer=self.mailer.url))  # fmt: skip
        self.started = True
        self.events(RunEvent("delivery.planned", {"period": self.period, "schedule_id": schedule_id,
                                                  "planned": len(planned), "todo": len(todo)}))  # fmt: skip
        return len(planned), todo

    def record(self, documents: list[Document], folder: Path) -> dict[str, dict[str, Any]]:
        """Record each written report (the sha256 of its JSON file, its figures); return the documents as JSON."""
        from execintel.delivery.runs import report_record  # noqa: PLC0415

        now = dt.datetime.now(dt.UTC)
        docs = {d.report: d.finished_json() for d in documents}
        for document in documents:
            text = (folder / f"{document.report}.json").read_text(encoding="utf-8")
            self.store.record_report(report_record(self.run_id, self.period, docs[document.report], text, now))
        return docs

    def deliver(self, todo: list[Planned], docs: dict[str, dict[str, Any]], folder: Path) -> DeliveryResult:
        """Compose every message, take the portfolio's lock, deliver, and record how the run ended."""
        from execintel.config.models import DAILY_RETRY  # noqa: PLC0415
        from execintel.delivery.compose import HeaderError  # noqa: PLC0415
        from execintel.delivery.engine import LOCK_TTL, Engine  # noqa: PLC0415
        from execintel.delivery.messages import compose_all  # noqa: PLC0415
        from execintel.delivery.runs import delivery_deadline, lock_name, wait_for_lock  # noqa: PLC0415

        try:
            messages = compose_all(self.manifest, todo, docs, folder)
        except HeaderError as exc:
            raise ConfigError(Problem("portfolio.yaml", str(exc))) from exc
        self.mailer.check_sender(self.manifest.sender)

        def waiting(holder: Any) -> None:
            self.events(RunEvent("delivery.waiting", {"holder": holder.owner}))

        lock = wait_for_lock(self.store, lock_name(self.manifest), wait=self.wait, ttl=LOCK_TTL, on_wait=waiting)
        retry = self.schedule.retry_policy if self.schedule is not None else DAILY_RETRY
        engine = Engine(store=self.store, mailer=self.mailer, manifest=self.manifest, run_id=self.run_id,
                        retry=retry, resend_unknown=self.resend_unknown, lock=lock,
                        deadline=time.monotonic() + delivery_deadline(),
                        progress=lambda done: self.events(RunEvent("delivery.outcome", asdict(done))))  # fmt: skip
        try:
            # the mailer connects on its first message: a server that cannot be reached fails (and retries) each
            # delivery, which is recorded, instead of stopping the run with nothing recorded. Closing it ends this
            # run's use of it; a shell that keeps the mailer (the web app) sends through it again later.
            with contextlib.closing(self.mailer):
                self.events(RunEvent("delivery.started", {"mailer": self.mailer.url, "deliveries": len(todo)}))
                result = engine.deliver(todo, messages)
        finally:
            self.store.release(engine.lock or lock)
        # One spelling for every key: snake_case, as in the summary of a run that found everything sent.
        summary: dict[str, Any] = {state.replace("-", "_"): len(result.of(state)) for state in OUTCOMES}
        summary["notice"] = result.notice
        self.store.finish_run(self.run_id, delivery_status(result), summary)
        return result

    def finish_failed(self, exc: BaseException) -> tuple[str, str] | None:
        """Record that the run stopped on an error or a signal; return its status and why (None: not an ending
        to record, such as a plain ``SystemExit``). A killed run stays unfinished: that is how it shows."""
        interrupted = isinstance(exc, Interrupted | KeyboardInterrupt)
        if not interrupted and not isinstance(exc, Exception):
            return None
        why = str(exc) if isinstance(exc, Interrupted) else ("interrupted by SIGINT" if interrupted else str(exc))
        status = "interrupted" if interrupted else "failed"
        if self.started:
            with contextlib.suppress(Exception):  # the store itself may be what failed
                self.store.finish_run(self.run_id, status, {"error": why[:500]})
        return status, why
