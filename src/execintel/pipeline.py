"""The pipeline's entry points shared by every shell (CLI, web, AWS handlers)."""

from __future__ import annotations

import datetime as dt
import hashlib
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from execintel.config import Portfolio, Settings, load_portfolio
from execintel.errors import ConfigError, Problem
from execintel.sources import LoadResult, SourceSpec, load_sources

if TYPE_CHECKING:
    from execintel.analysis.context import Context
    from execintel.analysis.lifecycle import History
    from execintel.config.models import Manifest
    from execintel.render.pool import RenderPool
    from execintel.reports.document import Document
    from execintel.store import Store


# The report dates execintel accepts: every window (12 months back, a quarter ahead) stays inside the calendar
# Python knows, and a date outside is a typo, not a report (year 9999 used to make analyses loop forever).
AS_OF_FIRST = dt.date(1900, 1, 1)
AS_OF_LAST = dt.date(2999, 12, 31)


def check_as_of(date: dt.date, source: str, *, key: str | None = None) -> dt.date:
    """``date`` when it is a report date execintel accepts; else a :class:`ConfigError` naming ``source``."""
    if not AS_OF_FIRST <= date <= AS_OF_LAST:
        raise ConfigError(Problem(source, f"{date.isoformat()!r} is not a report date execintel accepts (from "
                                          f"{AS_OF_FIRST} to {AS_OF_LAST})", key=key))  # fmt: skip
    return date


def check_portfolio_path(path: Path, option: str) -> None:
    """``path`` (given by ``option``) exists and is a file or a folder, not a FIFO or device that would block."""
    shown = repr(str(path))
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(Problem(option, f"{shown} does not exist; give a portfolio.yaml or its folder")) from None
    except OSError as exc:
        raise ConfigError(Problem(option, f"{shown} cannot be read: {exc.strerror}")) from None
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        raise ConfigError(Problem(option, f"{shown} is not a file or a folder (a FIFO, socket or device); give a "
                                          "portfolio.yaml or its folder"))  # fmt: skip


def resolve_portfolio_path(path: Path | None, settings: Settings | None = None) -> Path:
    """The manifest to use: the given path, ``EXECINTEL_PORTFOLIO``, or the bundled demo."""
    if path is None and settings is not None and settings.portfolio is not None:
        path = settings.portfolio
    if path is None:
        from execintel.demo import demo_portfolio  # noqa: PLC0415 - only when no portfolio is given

        return demo_portfolio()
    return path


def open_portfolio(
    path: Path | None, *, settings: Settings | None = None, allow_outside: bool = False, allow_plugins: bool = False
) -> Portfolio:
    """Parse and check the manifest at ``path`` (the demo when None)."""
    return load_portfolio(
        resolve_portfolio_path(path, settings), allow_outside=allow_outside, allow_plugins=allow_plugins
    )


def load_facts(
    portfolio: Portfolio,
    *,
    settings: Settings | None = None,
    keep_going: bool = False,
    clients: dict[str, Any] | None = None,
    progress: Callable[[SourceSpec], None] | None = None,
) -> LoadResult:
    """Load every source; raise :class:`ConfigError` on bad rows unless ``keep_going``."""
    result = load_sources(portfolio, settings=settings, clients=clients, progress=progress)
    if result.errors and not keep_going:
        raise ConfigError(result.errors)
    result.facts.fit_threads()
    return result


MAX_REPORT_JSON = 64 << 20  # an earlier report's JSON is read whole to be hashed: refuse anything absurd


def _recorded_json(path: Path, content_hash: str) -> dict[str, Any] | None:
    """The report JSON at ``path`` when it is a regular file whose sha256 is ``content_hash``, else None."""
    from execintel.reports.document import loads  # noqa: PLC0415

    try:
        if not stat.S_ISREG(path.stat().st_mode) or path.stat().st_size > MAX_REPORT_JSON:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != content_hash:
        return None  # changed since it was recorded (or another run's file): not what that run reported
    try:
        document = loads(data.decode("utf-8"))
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def load_history(store: Store, portfolio: str, *, exclude: str, before: dt.datetime | None = None) -> History:
    """The earlier runs of ``portfolio`` the store recorded, for the findings lifecycle (CONTRACT section 8).

    Earlier: a run of the same portfolio (by name) other than ``exclude`` (this run) that started no later than
    ``before`` (this run's start), dry runs included. A run counts with the reports it recorded with their
    ``as_of`` and findings; reports recorded before the store kept them (schema version 3) are left out, and a run
    with none of them is not an earlier run. Nothing is read from ``out/``: the lifecycle holds when it is gone.
    """
    from execintel.analysis.lifecycle import History, PastRun, past_finding  # noqa: PLC0415

    runs: list[PastRun] = []
    for run, records in store.report_history(portfolio):
        if run.run_id == exclude or (before is not None and run.started > before):
            continue
        known = [r for r in records if r.findings is not None and r.as_of]
        if not known:
            continue
        reports = {r.report: {fid: past_finding(fid, item) for fid, item in (r.findings or {}).items()} for r in known}
        runs.append(PastRun(run.run_id, run.started, dt.date.fromisoformat(str(known[0].as_of)), reports))

    def figures(run_id: str, report: str) -> dict[str, Any]:
        record = next((r for r in store.reports(run_id) if r.report == report), None)
        return dict(record.figures) if record is not None else {}

    return History(runs, figures)


class EarlierRuns:
    """What a run knows of the earlier runs of its portfolio: each report's previous JSON (call it with a report
    id) and the :class:`~execintel.analysis.lifecycle.History` the findings lifecycle reads (``history``)."""

    def __init__(
        self, store: Store | None, portfolio: str, out_dir: Path, *, exclude: str, before: dt.datetime | None = None
    ) -> None:
        self.store, self.portfolio, self.out_dir, self.exclude, self.before = store, portfolio, out_dir, exclude, before
        self._found: dict[str, dict[str, Any] | None] = {}
        self._history: History | None = None

    @property
    def history(self) -> History:
        """The earlier runs of the portfolio (empty without a store), read from the store once."""
        if self._history is None:
            from execintel.analysis.lifecycle import History  # noqa: PLC0415

            self._history = History() if self.store is None else load_history(
                self.store, self.portfolio, exclude=self.exclude, before=self.before
            )  # fmt: skip
        return self._history

    def __call__(self, report: str) -> dict[str, Any] | None:
        """The previous JSON of ``report`` (see :func:`previous_documents`), or None."""
        if self.store is None:
            return None
        if report not in self._found:
            self._found[report] = None
            for run in self.store.list_runs(sys.maxsize):  # newest first
                if (
                    run.portfolio != self.portfolio
                    or run.run_id == self.exclude
                    or (self.before and run.started > self.before)
                ):
                    continue
                path = self.out_dir / run.run_id / f"{report}.json"
                if not path.is_file():  # checked first: asking the store about every run is slower (DynamoDB)
                    continue
                record = next((r for r in self.store.reports(run.run_id) if r.report == report), None)
                if record is None:
                    continue
                document = _recorded_json(path, record.content_hash)
                if document is not None and document.get("report") == report:
                    self._found[report] = document
                    break
        return self._found[report]


def previous_documents(
    store: Store | None, portfolio: str, out_dir: Path, *, exclude: str, before: dt.datetime | None = None
) -> EarlierRuns:
    """The earlier runs of ``portfolio``: a lookup of each report's previous JSON, and their findings history.

    Called with a report id it takes the runs of ``portfolio`` the store recorded (delivering and dry runs), newest
    first, other than ``exclude`` (this run) and none started after ``before``; the first that recorded that report
    and whose ``<out_dir>/<run-id>/<report>.json`` still has the recorded sha256 is the previous report. Another
    portfolio's runs in the same ``out/`` are never used; without a store there is no previous report. Its
    ``history`` (:func:`load_history`) is what :func:`make_context` gives the findings lifecycle.
    """
    return EarlierRuns(store, portfolio, out_dir, exclude=exclude, before=before)


def start_dry_run(store: Store, manifest: Manifest, run_id: str, *, period: str, schedule_id: str | None,
                  trigger: str, started: dt.datetime) -> None:  # fmt: skip
    """Record a dry run in the audit store (flagged ``dry_run``), so that the next run can compare with it."""
    from execintel.store import RunRecord  # noqa: PLC0415

    store.start_run(RunRecord(run_id=run_id, portfolio=manifest.portfolio.name, trigger=trigger,
                              schedule_id=schedule_id, period=period, started=started, dry_run=True))  # fmt: skip


def record_documents(store: Store, run_id: str, period: str, documents: list[Document], folder: Path) -> None:
    """Record each written report of a run with the sha256 of its JSON file and a snapshot of its figures."""
    from execintel.delivery.runs import report_record  # noqa: PLC0415

    now = dt.datetime.now(dt.UTC)
    for document in documents:
        text = (folder / f"{document.report}.json").read_text(encoding="utf-8")
        store.record_report(report_record(run_id, period, document.finished_json(), text, now))


def _shown(path: Path) -> str:
    """A file as the user sees it from here: relative to the working folder when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def make_context(
    result: LoadResult,
    *,
    as_of: dt.date | None = None,
    previous: Callable[[str], dict[str, Any] | None] | None = None,
) -> Context:
    """The analysis context of a loaded portfolio; a manifest ``as_of`` out of range is a :class:`ConfigError`."""
    from execintel.analysis.context import Context, resolve_as_of  # noqa: PLC0415

    portfolio = result.portfolio
    if as_of is None and portfolio.manifest.portfolio.as_of is not None:
        check_as_of(portfolio.manifest.portfolio.as_of, _shown(portfolio.path), key="portfolio.as_of")
    ctx = Context(portfolio, result.facts, resolve_as_of(portfolio.manifest, as_of))
    if previous is not None:
        ctx.previous = previous
        if isinstance(previous, EarlierRuns):
            ctx.history = previous.history
    return ctx


def write_documents(
    documents: list[Document], folder: Path, *, pdf: bool | None = None, pool: RenderPool | None = None
) -> dict[str, list[Path]]:
    """Write each document's ``.json``, then its renderings (``.html``, ``.txt``, charts, ``.pdf``) into ``folder``.

    Charts and PDFs go through ``pool`` when given (workers started early, while reports were being built).
    """
    from execintel.render import render_documents  # noqa: PLC0415

    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for document in documents:
        path = folder / f"{document.report}.json"
        tmp = path.with_suffix(".json.tmp")
        try:
            tmp.write_text(document.dumps() + "\n", encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:  # a full disk says only "No space left": say which file could not be written
            raise OSError(exc.errno, exc.strerror, str(exc.filename or path)) from exc
        paths[document.report] = path
    rendered = render_documents([d.finished_json() for d in documents], folder, pdf=pdf, pool=pool)
    return {report: [path, *rendered[report]] for report, path in paths.items()}
