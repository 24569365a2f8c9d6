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

Workers never outlive the run. Each asks Linux to kill it when its parent
dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``, so even ``kill -9`` of the run
takes them along), and a watchdog thread in each exits it when its parent
process changes (for other systems, or a parent that died before the prctl).
They ignore SIGINT (Ctrl-C reaches the whole process group: the run, not each
worker, decides what to do) and the pool terminates them when it is left
because of an exception, such as :class:`~execintel.delivery.interrupts.Interrupted`
for SIGTERM, instead of waiting for the document at hand.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from execintel.errors import RenderError

MAX_WORKERS = 4
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
WATCH_INTERVAL = 0.5  # seconds between the watchdog's looks at the parent


def _die_with_parent(parent: int) -> None:
    """Make this worker process exit when ``parent`` (the run) does, however it ends; ignore Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker inherits the run's handler: not wanted here
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no libc to call: the watchdog alone
            pass
    if os.getppid() != parent:  # the run died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_INTERVAL)
        os._exit(1)

    threading.Thread(target=watch, name="execintel-parent-watch", daemon=True).start()


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

    def __init__(self, *, pdf: bool, workers: int | None = None, documents: int | None = None) -> None:
        self.pdf = pdf
        cores = workers if workers is not None else min(len(os.sched_getaffinity(0)), MAX_WORKERS)
        self._pool: ProcessPoolExecutor | None = None
        if cores > 1:  # a pool only when a core is left besides this process's (one core: rendered in-process)
            # No more workers than documents (when the run knows how many): a worker with nothing to render would
            # only warm its libraries on a core the loading and the analysis need (--reports cfo: one worker).
            count = cores if documents is None else max(1, min(cores, documents))
            method = (
                "fork"
                if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()
                else "spawn"
            )
            self._pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context(method),
                                             initializer=_die_with_parent, initargs=(os.getpid(),))  # fmt: skip
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

    def close(self, *, terminate: bool = False) -> None:
        """Stop the workers (pending work is cancelled); ``terminate`` stops them at once, mid-document."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if terminate:
            # The queue's feeder thread may be blocked writing a large document into the pipe of workers about to
            # die; the executor's shutdown joins that thread and would wait for ever (a run stopped by SIGTERM
            # hung in about 1 of 10 tries). What is still queued is dropped instead.
            call_queue = getattr(pool, "_call_queue", None)
            if call_queue is not None:
                call_queue.cancel_join_thread()
            processes = list(pool._processes.values())  # the executor has no public way to stop its workers
            for process in processes:
                process.terminate()
            for process in processes:
                process.join(5)
                if process.is_alive():
                    process.kill()
                    process.join()
        pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(terminate=exc is not None)
