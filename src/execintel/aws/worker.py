"""The worker Lambda: one on-demand job (invoked by the api) or one schedule's tick (EventBridge Scheduler).

Both run through :func:`execintel.service.run_reports`, as ``execintel run`` does, then upload the run's files to
``runs/<run id>/`` of ``EXECINTEL_REPORTS_BUCKET``. Answers (JSON-able dicts, all with a ``status``):

- ``ignored`` (with ``reason``): a malformed event, an unknown schedule, a job whose run already ran (Lambda's
  retry of an invocation that had done its work). Retrying could not help, so nothing is raised.
- ``failed`` (with ``reason``): the portfolio, its data or the settings are wrong (a ConfigError, logged at
  ERROR): fixing them, not a retry, helps. A job's run is recorded as failed, so the dashboard says why.
- otherwise the run's status (``ok``, ``nothing-to-do``, ``held``, ``failed``) with its counts.

Anything else (the store, SES or S3 unreachable, a throttle) raises, so Lambda retries the invocation. A retry,
or a second delivery of the same schedule event, sends nothing twice: a schedule's deliveries have keys of
(portfolio, schedule, period of the event's ``time``, report, recipient), and what the store records as sent is
not sent again; a job's retry finds its run id used and sends nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from execintel.aws.config import client, describe, load, log_event, setup_logging
from execintel.aws.events import BadEvent, JobEvent, ScheduleEvent, parse_event
from execintel.aws.reports import upload_run
from execintel.errors import ConfigError

if TYPE_CHECKING:
    from execintel.config import Portfolio
    from execintel.config.settings import Settings
    from execintel.delivery.mailers.base import Mailer
    from execintel.service import RunResult
    from execintel.store import Store

__all__ = ["handler", "reset"]

OUT = Path("/tmp/out")  # noqa: S108 - Lambda's only writable folder; EXECINTEL_OUT overrides it
WAIT = 120.0  # seconds to wait for another run of the portfolio to finish delivering, then raise (and retry)
STOPPED = "the worker stopped before the run ended (a Lambda timeout or crash); what it sent is recorded"
LONGEST = 900.0  # Lambda's longest invocation: a run unfinished for longer was stopped (a timeout, a crash)


@dataclass
class State:
    """What one Lambda instance keeps between invocations."""

    settings: Settings
    store: Store
    mailer: Mailer
    portfolio: Portfolio
    s3: Any
    out: Path


@functools.cache
def _state() -> State:
    """Built on the first invocation (an exception is not cached: the next invocation tries again)."""
    from execintel.pipeline import open_portfolio  # noqa: PLC0415
    from execintel.service import open_endpoints  # noqa: PLC0415

    setup_logging()
    settings = load()
    portfolio = open_portfolio(settings.portfolio, settings=settings)
    # A fresh instance has an empty /tmp: no marker, which the store's history guard accepts (see docs).
    mailer, store = open_endpoints(settings, None, None)
    s3 = client("s3", settings) if settings.reports_bucket else None
    return State(settings, store, mailer, portfolio, s3, settings.out or OUT)


def reset() -> None:
    """Forget the instance's state (tests: a new Lambda instance); closes the store."""
    if _state.cache_info().currsize:
        with contextlib.suppress(Exception):
            _state().store.close()
    _state.cache_clear()


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """Run the job or schedule of ``event``; see the module docstring for the answers."""
    try:
        what = parse_event(event)
    except BadEvent as exc:
        log_event("worker.ignored", reason=str(exc), level=logging.WARNING)
        return {"status": "ignored", "reason": str(exc)}
    try:
        state = _state()
    except ConfigError as exc:
        log_event("worker.config_error", error=describe(exc), level=logging.ERROR)
        return {"status": "failed", "reason": describe(exc)}
    if isinstance(what, JobEvent):
        return _job(state, what)
    return _schedule(state, what)


def _schedule(state: State, event: ScheduleEvent) -> dict[str, Any]:
    from execintel.delivery.runs import find_schedule  # noqa: PLC0415
    from execintel.scheduler import schedule_key  # noqa: PLC0415

    manifest = state.portfolio.manifest
    try:
        schedule = find_schedule(manifest, event.schedule)
    except ConfigError as exc:
        reason = f"no schedule {event.schedule!r} in the manifest ({describe(exc).split('(', 1)[-1]}"
        log_event("worker.ignored", reason=reason, level=logging.WARNING)
        return {"status": "ignored", "reason": reason}
    log_event("worker.schedule", schedule=schedule.id, time=event.time.isoformat(), source=event.source)
    try:
        result = _run(state, report_ids=[], builds=list(schedule.reports), schedule_id=schedule.id,
                      trigger=f"aws:scheduler:{schedule.id}", scheduled=event.time)  # fmt: skip
    except ConfigError as exc:
        log_event("worker.failed", schedule=schedule.id, error=describe(exc), level=logging.ERROR)
        return {"status": "failed", "reason": describe(exc), "schedule": schedule.id}
    state.store.set_fired(schedule_key(manifest, schedule), event.time.astimezone(dt.UTC), result.run_id)
    return {**_answer(state, result), "schedule": schedule.id}


def _job(state: State, job: JobEvent) -> dict[str, Any]:
    record = state.store.get_run(job.run_id)
    if record is not None:  # a retried invocation: the run id is used; its deliveries are recorded
        age = (dt.datetime.now(dt.UTC) - record.started).total_seconds()
        if record.finished is None and age > LONGEST:
            # the attempt that started it was stopped mid-run: say so, or the dashboard shows it running forever
            with contextlib.suppress(Exception):  # a copy of this event may have just done the same
                state.store.finish_run(job.run_id, "interrupted", {"error": STOPPED})
            record = state.store.get_run(job.run_id) or record
        folder = state.out / job.run_id
        uploaded = _upload(state, folder) if record.finished is not None and folder.is_dir() else []
        reason = f"run {job.run_id} already started ({record.status or 'unfinished'}); nothing is sent again"
        log_event("worker.ignored", run_id=job.run_id, reason=reason, uploaded=len(uploaded))
        return {"status": "ignored", "reason": reason, "run_id": job.run_id, "uploaded": len(uploaded)}
    log_event("worker.job", run_id=job.run_id, report=job.report)
    try:
        result = _run(state, report_ids=[job.report], builds=[job.report], run_id=job.run_id,
                      trigger=f"web:{job.subject}", always_build=True)  # fmt: skip
    except ConfigError as exc:
        _record_failure(state, job, describe(exc))
        log_event("worker.failed", run_id=job.run_id, error=describe(exc), level=logging.ERROR)
        return {"status": "failed", "reason": describe(exc), "run_id": job.run_id}
    return _answer(state, result)


def _record_failure(state: State, job: JobEvent, why: str) -> None:
    """A job that stopped before its run was recorded is recorded as a failed run (the dashboard asks the store)."""
    from execintel.store import RunRecord  # noqa: PLC0415

    if state.store.get_run(job.run_id) is not None:
        return  # the run recorded its own end
    now = dt.datetime.now(dt.UTC)
    state.store.start_run(RunRecord(run_id=job.run_id, portfolio=state.portfolio.manifest.portfolio.name,
                                    trigger=f"web:{job.subject}", schedule_id=None, period="", started=now,
                                    mailer=state.mailer.url))  # fmt: skip
    state.store.finish_run(job.run_id, "failed", {"error": why[:500]})


def _previous(state: State, reports: list[str]) -> None:
    """Bring the earlier JSON of ``reports`` from the bucket (best effort: a run without it only compares less)."""
    from execintel.aws.reports import fetch_previous  # noqa: PLC0415

    bucket = state.settings.reports_bucket
    if state.s3 is None or bucket is None:
        return
    try:
        history = state.store.report_history(state.portfolio.manifest.portfolio.name)
        fetched = fetch_previous(state.s3, bucket, history, reports, state.out)
    except Exception as exc:
        log_event("worker.previous_failed", error=describe(exc), level=logging.WARNING)
        return
    if fetched:
        log_event("worker.previous_fetched", files=len(fetched))


def _run(state: State, report_ids: list[str], builds: list[str], **fields: Any) -> RunResult:
    from execintel.pipeline import load_facts  # noqa: PLC0415
    from execintel.render.pdf import available  # noqa: PLC0415
    from execintel.render.pool import RenderPool  # noqa: PLC0415
    from execintel.service import RunRequest, run_reports  # noqa: PLC0415

    loaded = load_facts(state.portfolio, settings=state.settings)
    _previous(state, builds)
    pdf = available() if state.settings.pdf is None else state.settings.pdf
    request = RunRequest(report_ids, out_dir=state.out, pdf=pdf, wait=WAIT, **fields)
    # One process: Lambda has no /dev/shm, so multiprocessing's queues (a process pool) cannot work there.
    with RenderPool(pdf=pdf, workers=1) as pool:
        return run_reports(state.portfolio, loaded, request, settings=state.settings, mailer=state.mailer,
                           store=state.store, pool=pool)  # fmt: skip


def _upload(state: State, folder: Path) -> list[str]:
    """Upload the run's files, then keep only its JSON locally (the next run's "what changed" reads it).

    A failure is logged at ERROR, not raised: the run's mail went out and is recorded, and a retry of the event
    would send nothing and build nothing, so it could not upload either; the dashboard shows the previous report.
    """
    bucket = state.settings.reports_bucket
    if state.s3 is None or bucket is None:
        return []
    try:
        keys = upload_run(state.s3, bucket, folder)
    except Exception as exc:
        log_event("worker.upload_failed", run_id=folder.name, bucket=bucket, error=describe(exc), level=logging.ERROR)
        return []
    for path in folder.iterdir():
        if path.suffix != ".json":
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    return keys


def _answer(state: State, result: RunResult) -> dict[str, Any]:
    """The run's answer: status, run id, counts of deliveries by outcome, files uploaded."""
    uploaded = _upload(state, result.folder) if result.folder is not None and result.folder.is_dir() else []
    counts: dict[str, int] = {}
    if result.delivery is not None:
        for outcome in result.delivery.outcomes:
            counts[outcome.state] = counts.get(outcome.state, 0) + 1
    log_event("worker.done", run_id=result.run_id, status=result.status, deliveries=counts, uploaded=len(uploaded))
    return {"status": result.status, "run_id": result.run_id, "deliveries": counts, "uploaded": len(uploaded)}
