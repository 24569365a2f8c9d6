"""PDF through WeasyPrint (the optional ``pdf`` extra), in worker processes.

WeasyPrint lays pages out in pure Python, one core per document, so a run's
PDFs are written by a small pool of processes while the main process goes on
rendering HTML, text and charts. Workers are forked when the process has no
other thread yet (the CLI starts them before DuckDB opens), which costs
almost nothing; otherwise they are spawned.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from types import TracebackType

from execintel.errors import RenderError

MAX_WORKERS = 4


def available() -> bool:
    """True when WeasyPrint can be imported."""
    try:
        import weasyprint  # noqa: F401, PLC0415
    except (ImportError, OSError):
        return False
    return True


def write_pdf(html: str, base: Path, target: Path) -> Path:
    """Lay out ``html`` (images resolved against ``base``) and write ``target`` atomically."""
    from weasyprint import HTML  # noqa: PLC0415 - optional extra

    tmp = target.with_name(target.name + ".tmp")
    HTML(string=html, base_url=str(base)).write_pdf(str(tmp))
    tmp.replace(target)
    return target


def _warm() -> None:
    """Import WeasyPrint and load fonts once, so the first real document does not pay for it."""
    from weasyprint import HTML  # noqa: PLC0415

    HTML(string="<p>warm</p>").render()


class PdfWriter:
    """Writes PDFs in parallel worker processes; ``finish()`` waits and returns the paths written."""

    def __init__(self, workers: int | None = None) -> None:
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
                self._pool.submit(_warm)
        self._jobs: list[tuple[Path, Future[Path] | None]] = []

    def submit(self, html: str, base: Path, target: Path) -> None:
        """Queue one PDF (written at once when there is a single core)."""
        if self._pool is None:
            write_pdf(html, base, target)
            self._jobs.append((target, None))
        else:
            self._jobs.append((target, self._pool.submit(write_pdf, html, base, target)))

    def finish(self) -> list[Path]:
        """Wait for every queued PDF; a failure names the file."""
        written = []
        for target, job in self._jobs:
            if job is not None:
                try:
                    job.result()
                except Exception as exc:
                    raise RenderError(f"{target.name}: PDF rendering failed: {exc}") from exc
            written.append(target)
        self._jobs.clear()
        return written

    def close(self) -> None:
        """Stop the workers (pending work is cancelled)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> PdfWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
