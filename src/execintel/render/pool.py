"""Worker processes that draw a run's charts and lay out its PDFs while the main process goes on.

matplotlib and WeasyPrint are the slow parts of rendering (a second of imports
and font loading, then pure-Python layout, one core per document), and neither
needs anything but the report document. A pool is started before the data is
loaded: its workers import and warm both libraries while the main process
loads sources and builds reports, then each takes whole documents (charts,
then the PDF that shows them) while the main process writes JSON, HTML and
text. Workers are forked when the process has no other thread yet (the CLI
starts the pool before DuckDB opens), which costs almost nothing; otherwise
they are spawned.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from execintel.errors import RenderError

MAX_WORKERS = 4


def _warm(pdf: bool) -> None:
    """Import matplotlib (and WeasyPrint) and load fonts once, so the first real document does not pay for it."""
    from execintel.render.charts import warm  # noqa: PLC0415

    warm()
    if pdf:
        from weasyprint import HTML  # noqa: PLC0415

        HTML(string="<p>warm</p>").render()


def render_offline(doc: dict[str, Any], folder: Path, pdf: bool) -> list[Path]:
    """A document's chart PNGs, then (when ``pdf``) its PDF, which embeds them."""
    from execintel.render import print_html, render_charts  # noqa: PLC0415

    written = render_charts(doc, folder)
    if pdf:
        from execintel.render.pdf import write_pdf  # noqa: PLC0415

        written.append(write_pdf(print_html(doc), folder, folder / f"{doc['report']}.pdf"))
    return written


def _cost(doc: dict[str, Any]) -> int:
    """A rough measure of a document's rendering work, to hand out the longest first."""
    sections = doc.get("sections", [])
    rows = sum(len(s.get("rows", ())) for s in sections)
    return 20 * sum(1 for s in sections if s["kind"] == "chart") + rows + len(doc.get("findings", ())) + len(sections)


class RenderPool:
    """Draws charts and writes PDFs in worker processes; ``finish()`` waits and returns each report's files."""

    def __init__(self, *, pdf: bool, workers: int | None = None) -> None:
        self.pdf = pdf
        count = workers if workers is not None else min(len(os.sched_getaffinity(0)), MAX_WORKERS)
        self._pool: ProcessPoolExecutor | None = None
        if count > 1:
            method = (
                "fork"
                if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()
                else "spawn"
            )
            self._pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context(method))
            for _ in range(count):  # start the workers now, while the reports are still being built
                self._pool.submit(_warm, pdf)
        self._jobs: list[tuple[str, Future[list[Path]] | list[Path]]] = []

    def submit_all(self, docs: list[dict[str, Any]], folder: Path) -> None:
        """Queue every document, the most work first so the workers finish together."""
        for doc in sorted(docs, key=_cost, reverse=True):
            self.submit(doc, folder)

    def submit(self, doc: dict[str, Any], folder: Path) -> None:
        """Queue one document (rendered at once when there is a single core)."""
        if self._pool is None:
            self._jobs.append((doc["report"], render_offline(doc, folder, self.pdf)))
        else:
            self._jobs.append((doc["report"], self._pool.submit(render_offline, doc, folder, self.pdf)))

    def finish(self) -> dict[str, list[Path]]:
        """Wait for every queued document; a failure names the report."""
        written: dict[str, list[Path]] = {}
        for report, job in self._jobs:
            try:
                written[report] = job if isinstance(job, list) else job.result()
            except Exception as exc:
                raise RenderError(f"{report}: rendering its charts or PDF failed: {exc}") from exc
        self._jobs.clear()
        return written

    def close(self) -> None:
        """Stop the workers (pending work is cancelled)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
