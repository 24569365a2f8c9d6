"""On-demand runs on AWS: the api invokes the worker function asynchronously, and asks the store what runs.

Lambda instances share nothing, so the queue is the store. Starting a run of a report takes the store lock
``web-job:<report>`` for :data:`JOB_TTL` seconds, with the run id as its token (one run of a report at a time,
across every instance: a second start answers 409 with the first run's id), then invokes the worker with
``{"job": {"run_id", "report", "subject"}}`` (``InvocationType="Event"``). The lock names the report's latest job
until it expires: the app treats it as over once the store records its run as finished, and a new start takes it
over then. ``running(report)`` and ``get(run_id)`` read the lock and the run record; nothing is kept in memory.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from execintel.aws.config import describe, log_event
from execintel.report_ids import TITLES
from execintel.web.jobs import AlreadyRunning, Job, QueueFull

if TYPE_CHECKING:
    from execintel.store import Lock, Store

__all__ = ["JOB_TTL", "LambdaJobs", "job_lock", "lock_run_id"]

JOB_TTL = 960.0  # the worker's longest run (Lambda's 15 minutes) and a margin: a dead worker frees the report


def job_lock(report: str) -> str:
    """The store lock of a report's on-demand run."""
    return f"web-job:{report}"


def lock_run_id(lock: Lock) -> str:
    """The run id a job lock names (its owner's last part)."""
    return lock.owner.rsplit(":", 1)[-1]


def _noop(job: Job) -> None:  # a Job needs its work; the worker function does it
    raise RuntimeError("on AWS a job runs in the worker function")


class LambdaJobs:
    """:class:`~execintel.web.jobs.JobQueue` that hands each job to the worker function (see the module docstring)."""

    def __init__(self, store: Store, lambda_client: Any, function: str) -> None:
        self.store, self.client, self.function = store, lambda_client, function

    def start(self) -> None:
        """Nothing to start: the worker function runs the jobs."""

    def stop(self, timeout: float = 5.0) -> None:
        """Nothing to stop."""

    def _job(self, lock: Lock, report: str) -> Job:
        run_id = lock_run_id(lock)
        record = self.store.get_run(run_id)
        status = "queued" if record is None else "running" if record.finished is None else "done"
        return Job(run_id, report, record.trigger.removeprefix("web:") if record else "", _noop, status=status)

    def running(self, report: str) -> Job | None:
        """The report's latest on-demand job while its lock lives (the app asks the store whether it finished)."""
        lock = self.store.holder(job_lock(report))
        return None if lock is None else self._job(lock, report)

    def get(self, run_id: str) -> Job | None:
        """The job of ``run_id`` while its report's lock names it."""
        for report in TITLES:
            lock = self.store.holder(job_lock(report))
            if lock is not None and lock_run_id(lock) == run_id:
                return self._job(lock, report)
        return None

    def submit(self, job: Job, *, ended: Callable[[str], bool] | None = None) -> Job:
        """Take the report's lock and invoke the worker; AlreadyRunning (409) or QueueFull (503) when it cannot."""
        name = job_lock(job.report)
        lock = self.store.acquire(name, ttl=JOB_TTL, token=job.run_id)
        if lock is None:
            current = self.store.holder(name)
            if current is not None and not (ended is not None and ended(lock_run_id(current))):
                raise AlreadyRunning(lock_run_id(current))
            if current is not None:
                self.store.release(current)  # its run is recorded as finished: the report is free again
            lock = self.store.acquire(name, ttl=JOB_TTL, token=job.run_id)
            if lock is None:  # another instance took it in between
                holder = self.store.holder(name)
                raise AlreadyRunning(lock_run_id(holder) if holder is not None else "")
        payload = {"job": {"run_id": job.run_id, "report": job.report, "subject": job.subject}}
        try:
            answer = self.client.invoke(FunctionName=self.function, InvocationType="Event",
                                        Payload=json.dumps(payload).encode())  # fmt: skip
            if int(answer.get("StatusCode", 0)) != 202:
                raise RuntimeError(f"the worker invocation answered {answer.get('StatusCode')}")
        except Exception as exc:
            self.store.release(lock)
            log_event("run.invoke_failed", run_id=job.run_id, report=job.report, error=describe(exc),
                      level=logging.ERROR)  # fmt: skip
            raise QueueFull from exc
        log_event("run.invoked", run_id=job.run_id, report=job.report, function=self.function)
        job.status = "queued"
        return job
