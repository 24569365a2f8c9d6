"""The in-process job queue of the web app: report runs wait in a bounded queue and run one at a time.

The HTTP request that starts a run only enqueues it and answers 202 with the run id; a worker thread does the
work. A full queue refuses new jobs (the app answers 503) instead of growing without bound; one report never runs
twice at once (409). What a job did is recorded in the audit store by the run itself; the queue keeps only the
states the store cannot know yet (queued, running, or an error before the run was recorded).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

log = logging.getLogger("execintel.web.jobs")

FINISHED_KEPT = 200  # finished jobs remembered (their runs are in the store too)


class QueueFull(Exception):
    """No room for another job."""


class AlreadyRunning(Exception):
    """The same report is queued or running; ``run_id`` is that job's run."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(run_id)


@dataclass
class Job:
    """One queued run."""

    run_id: str
    report: str
    subject: str
    work: Callable[[Job], None]
    status: str = "queued"  # queued -> running -> done | error
    error: str | None = None
    queued: datetime = field(default_factory=lambda: datetime.now(UTC))


class JobQueue(Protocol):
    """What the app needs of a job runner: :class:`Jobs` in one process, ``execintel.aws.jobs`` on Lambda."""

    def start(self) -> None:
        """Get ready to run jobs (the app's start-up)."""

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking jobs (the app's shutdown)."""

    def submit(self, job: Job, *, ended: Callable[[str], bool] | None = None) -> Job:
        """Start ``job``; AlreadyRunning or QueueFull when it cannot be."""

    def get(self, run_id: str) -> Job | None:
        """The job of this run id, if known."""

    def running(self, report: str) -> Job | None:
        """The queued or running job of ``report``, if any."""


class Jobs:
    """A bounded queue and ``workers`` threads (daemons: a stopping server does not wait for a run)."""

    def __init__(self, size: int = 8, workers: int = 1) -> None:
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=size)
        self._active: dict[str, Job] = {}  # report -> queued or running job
        self._jobs: OrderedDict[str, Job] = OrderedDict()  # run id -> job, bounded
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._work, name=f"execintel-job-{n}", daemon=True)
                         for n in range(workers)]  # fmt: skip
        self._started = False

    def start(self) -> None:
        """Start the worker threads (once)."""
        with self._lock:
            if not self._started:
                self._started = True
                for thread in self._threads:
                    thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the workers to stop after their current job."""
        for _ in self._threads:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)

    def submit(self, job: Job, *, ended: Callable[[str], bool] | None = None) -> Job:
        """Queue a job; AlreadyRunning when its report is queued or running, QueueFull when there is no room.

        ``ended(run_id)`` tells whether a running job's run is already recorded as over (its worker is only tidying
        up, e.g. closing its render pool): then the new job is queued behind it at once instead of refused.
        """
        self.start()
        current = self.running(job.report)
        # asked outside the lock: ``ended`` reads the store
        over = current is not None and current.status == "running" and ended is not None and ended(current.run_id)
        with self._lock:
            active = self._active.get(job.report)
            if active is not None and not (over and active is current):
                raise AlreadyRunning(active.run_id)
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                raise QueueFull from None
            self._active[job.report] = job
            self._jobs[job.run_id] = job
            while len(self._jobs) > FINISHED_KEPT + self._queue.maxsize:
                oldest = next(iter(self._jobs))
                if self._jobs[oldest].status in ("queued", "running"):
                    break
                self._jobs.popitem(last=False)
        log.info("job queued", extra={"run_id": job.run_id, "report": job.report})
        return job

    def get(self, run_id: str) -> Job | None:
        """The job of this run id, if this process queued it (and still remembers it)."""
        with self._lock:
            return self._jobs.get(run_id)

    def running(self, report: str) -> Job | None:
        """The queued or running job of ``report``, if any."""
        with self._lock:
            return self._active.get(report)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            job.status = "running"
            try:
                job.work(job)
                job.status = "done"
            except Exception as exc:  # a failed run is recorded by the run itself; keep the sentence for the API
                job.status, job.error = "error", str(exc)[:500] or type(exc).__name__
                log.warning("job failed", extra={"run_id": job.run_id, "report": job.report, "error": job.error})
            finally:
                with self._lock:
                    if self._active.get(job.report) is job:
                        del self._active[job.report]
