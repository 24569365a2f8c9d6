""":func:`run_reports`: build and render a loaded portfolio's reports, record them, and deliver each once.

It prints nothing, installs no signal handler and may run in any thread: the CLI presents its events with Rich
(and turns SIGTERM into :class:`~execintel.delivery.interrupts.Interrupted` around the call), the web app runs it
in a worker thread. The analysis stack is imported here, inside the functions, never when the module loads.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from execintel.errors import ConfigError, Problem
from execintel.service.delivering import Delivering, delivery_status
from execintel.service.model import Events, RunEvent, RunRequest, RunResult, ignore

if TYPE_CHECKING:
    from execintel.analysis.context import Context
    from execintel.config import Portfolio, Settings
    from execintel.config.models import Manifest, Schedule
    from execintel.delivery.mailers.base import Mailer
    from execintel.render.pool import RenderPool
    from execintel.reports.document import Document
    from execintel.sources import LoadResult
    from execintel.store import Store

__all__ = ["build", "resolve_reports", "run_reports"]

# A run id names the run's folder under out_dir: letters, digits and . _ - only, so it can never leave it.
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def resolve_reports(manifest: Manifest, request: RunRequest) -> tuple[Schedule | None, list[str]]:
    """The schedule and the report ids a request names; a :class:`ConfigError` names a bad id or schedule.

    Cheap and without data: a shell may call it before loading the sources, so a typo costs nothing.
    """
    from execintel.delivery.runs import find_schedule  # noqa: PLC0415
    from execintel.report_ids import REPORTS, parse_report_ids, unknown_report  # noqa: PLC0415

    if request.schedule_id is not None:
        if request.report_ids:
            raise ConfigError(Problem("report_ids", "give report ids or a schedule, not both (a schedule names its "
                                                    "reports)"))  # fmt: skip
        schedule = find_schedule(manifest, request.schedule_id)
        return schedule, parse_report_ids(list(schedule.reports), f"schedules.{schedule.id}.reports")
    # Each id exactly as given (no comma splitting, no trimming): an id from a URL is a report or an error.
    unknown = [unknown_report(i, "report_ids") for i in dict.fromkeys(request.report_ids) if i not in REPORTS]
    if unknown:
        raise ConfigError(unknown)
    return None, list(dict.fromkeys(request.report_ids)) or list(REPORTS)


def run_reports(
    portfolio: Portfolio, loaded: LoadResult, request: RunRequest, *, settings: Settings, mailer: Mailer | None,
    store: Store | None, events: Events = ignore, pool: RenderPool | None = None,
) -> RunResult:  # fmt: skip
    """Run ``request`` on a loaded portfolio: build, render and record its reports, then deliver each once.

    ``portfolio`` and ``loaded`` come from :func:`execintel.pipeline.open_portfolio` and ``load_facts``. ``mailer``
    None (or ``request.dry_run``) is a dry run: nothing is delivered, the run is recorded in ``store`` when there is
    one. A delivering run needs ``store``. The mailer is closed when the run has used it and may be used again.
    ``pool`` renders charts and PDFs (None: one made and closed here). Progress goes to ``events`` (see
    :mod:`execintel.service.model`). User errors are :class:`ConfigError`; any exception after the run was recorded
    is recorded as its end (``failed``, or ``interrupted`` for a signal) and raised again.
    """
    from execintel.pipeline import check_as_of, make_context, previous_documents  # noqa: PLC0415
    from execintel.render.pdf import available  # noqa: PLC0415
    from execintel.render.pool import RenderPool  # noqa: PLC0415
    from execintel.run_ids import new_run_id  # noqa: PLC0415

    manifest = portfolio.manifest
    schedule, report_ids = resolve_reports(manifest, request)
    run_id = new_run_id() if request.run_id is None else request.run_id
    if not RUN_ID.fullmatch(run_id):
        raise ConfigError(Problem("run_id", f"{run_id[:80]!r} is not a run id (letters, digits, '.', '_' and '-', "
                                            "at most 64, not starting with one of those signs)"))  # fmt: skip
    as_of = check_as_of(request.as_of, "as_of") if request.as_of is not None else None
    if request.pdf and not available():
        raise ConfigError(Problem("pdf", "PDF support is not installed: pip install 'execintel[pdf]'"))
    dry_run = request.dry_run or mailer is None
    if not dry_run and store is None:
        raise ConfigError(Problem("store", "a delivering run needs an audit store: it is what makes each delivery "
                                           "go out once"))  # fmt: skip
    rows = sum(r.rows_loaded for r in loaded.reports)
    events(RunEvent("sources.loaded", {"portfolio": manifest.portfolio.name, "sources": len(loaded.reports),
                                       "rows": rows, "rejected": sum(r.rows_rejected for r in loaded.reports),
                                       "warnings": len(loaded.warnings), "errors": len(loaded.errors)}))  # fmt: skip
    started = dt.datetime.now(dt.UTC)
    with contextlib.ExitStack() as stack:
        if pool is None:
            pool = stack.enter_context(RenderPool(pdf=request.pdf))
        previous = previous_documents(store, manifest.portfolio.name, request.out_dir, exclude=run_id, before=started)
        context = make_context(loaded, as_of=as_of, previous=previous)
        run = _Run(context, request, run_id, report_ids, pool=pool, events=events)
        if dry_run:
            return run.dry(store, schedule, started, trigger=_trigger(request, settings))
        assert mailer is not None and store is not None  # noqa: S101 - checked above
        delivering = Delivering(manifest, schedule, mailer, store, run_id, force=request.force, wait=request.wait,
                                resend_unknown=request.resend_unknown, trigger=_trigger(request, settings),
                                events=events, scheduled=request.scheduled)  # fmt: skip
        return run.deliver(delivering)
    raise AssertionError("unreachable")  # pragma: no cover - the with block returns or raises


def _trigger(request: RunRequest, settings: Settings) -> str:
    from execintel.delivery.runs import trigger  # noqa: PLC0415

    return request.trigger or settings.trigger or trigger()


class _Run:
    """The steps of one run, sharing what every step needs."""

    def __init__(
        self, context: Context, request: RunRequest, run_id: str, report_ids: list[str], *, pool: RenderPool,
        events: Events,
    ) -> None:  # fmt: skip
        self.context, self.request, self.run_id, self.report_ids = context, request, run_id, report_ids
        self.pool, self.events = pool, events
        self.folder = request.out_dir / run_id

    def finished(self, status: str, *, recorded: bool, error: str | None = None) -> None:
        """Say how the run ended (``run.finished``)."""
        self.events(RunEvent("run.finished", {"run_id": self.run_id, "status": status, "error": error,
                                              "recorded": recorded}))  # fmt: skip

    def failed(self, status: str, why: str, *, recorded: bool) -> None:
        """Say that the run stopped on an exception, which is raised next: a failing listener cannot hide it."""
        with contextlib.suppress(Exception):
            self.finished(status, recorded=recorded, error=why)

    def build(self, report_ids: list[str]) -> list[Document]:
        """Build and render ``report_ids`` into the run's folder."""
        return build(self.context, report_ids, self.folder, pdf=self.request.pdf, pool=self.pool, events=self.events)

    def dry(self, store: Store | None, schedule: Schedule | None, started: dt.datetime, *, trigger: str) -> RunResult:
        """Build and render every report, recorded in ``store`` (when given) as a dry run so the next run can say
        what changed."""
        from execintel.delivery.runs import run_period  # noqa: PLC0415
        from execintel.pipeline import record_documents, start_dry_run  # noqa: PLC0415

        if store is None:
            try:
                documents = self.build(self.report_ids)
            except Exception as exc:
                self.failed("failed", str(exc), recorded=False)
                raise
            self.finished("ok", recorded=False)
            return RunResult(self.run_id, "ok", documents, self.folder, None)
        manifest = self.context.manifest
        period = run_period(manifest, schedule, self.context.as_of, started)
        start_dry_run(store, manifest, self.run_id, period=period, trigger=trigger,
                      schedule_id=schedule.id if schedule is not None else None, started=started)  # fmt: skip
        try:
            documents = self.build(self.report_ids)
            record_documents(store, self.run_id, period, documents, self.folder)
        except Exception as exc:  # an interrupted dry run stays unfinished, as a killed one
            with contextlib.suppress(Exception):  # the store itself may be what failed
                store.finish_run(self.run_id, "failed", {"error": str(exc)[:500]})
            self.failed("failed", str(exc), recorded=True)
            raise
        store.finish_run(self.run_id, "ok", {"reports": len(documents)})
        self.finished("ok", recorded=True)
        return RunResult(self.run_id, "ok", documents, self.folder, None)

    def deliver(self, delivering: Delivering) -> RunResult:
        """Plan, then build only the reports still to be delivered (all of them with ``always_build``), deliver."""
        always = self.request.always_build
        try:
            planned, todo = delivering.plan(self.report_ids, self.context.as_of, allow_none=always)
            if not todo:
                summary: dict[str, Any] = {"already_sent": planned}
                documents: list[Document] = []
                if always:
                    documents = self.build(self.report_ids)
                    delivering.record(documents, self.folder)
                    summary["reports"] = len(documents)
                delivering.store.finish_run(self.run_id, "ok", summary)
                self.finished("nothing-to-do", recorded=True)
                return RunResult(self.run_id, "nothing-to-do", documents, self.folder if documents else None, None)
            wanted = {p.report for p in todo}
            documents = self.build(self.report_ids if always else [r for r in self.report_ids if r in wanted])
            docs = delivering.record(documents, self.folder)
            result = delivering.deliver(todo, docs, self.folder)
        except BaseException as exc:
            ending = delivering.finish_failed(exc)
            if ending is not None:
                self.failed(*ending, recorded=delivering.started)
            raise
        status = delivery_status(result)
        self.finished(status, recorded=True)
        return RunResult(self.run_id, status, documents, self.folder, result)


def build(
    context: Context, report_ids: list[str], folder: Path, *, pdf: bool, pool: RenderPool | None,
    events: Events = ignore,
) -> list[Document]:  # fmt: skip
    """Build the reports, then write each one's JSON and renderings (HTML, text, charts, PDF) into ``folder``."""
    from execintel.analysis.model import merge_sources  # noqa: PLC0415
    from execintel.pipeline import write_documents  # noqa: PLC0415
    from execintel.reports import build_report  # noqa: PLC0415

    documents = []
    try:
        for index, report in enumerate(report_ids):
            events(RunEvent("report.building", {"report": report, "index": index, "total": len(report_ids)}))
            document = build_report(context, report)
            documents.append(document)
            events(RunEvent("report.built", {"report": report, "figures": len(document.figures),
                                             "findings": len(document.findings)}))  # fmt: skip
    finally:
        # The merged references of this run's figures: a long-lived process (serve, a warm Lambda) keeps none.
        merge_sources.cache_clear()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(Problem("out_dir", f"{str(folder.parent)!r}: the run's folder cannot be created: "
                                             f"{exc.strerror}")) from None  # fmt: skip
    events(RunEvent("rendering", {"folder": str(folder), "reports": len(documents)}))
    written = write_documents(documents, folder, pdf=pdf, pool=pool)
    events(RunEvent("rendered", {
        "folder": str(folder), "portfolio": context.manifest.portfolio.name, "as_of": context.as_of.isoformat(),
        "reports": [{"report": d.report, "figures": len(d.figures), "findings": len(d.findings),
                     "files": [p.name for p in written[d.report]]} for d in documents],
    }))  # fmt: skip
    return documents
