"""The worker's events, parsed and checked: an on-demand job from the api, or a schedule's tick.

- ``{"job": {"run_id": ..., "report": ..., "subject": ...}}``: the api's asynchronous invocation;
- EventBridge Scheduler: ``{"detail-type": "Scheduled Event", "source": "execintel.scheduler", "time":
  "<aws.scheduler.scheduled-time>", "detail": {"schedule": "<id>"}}``, ``detail`` an object or JSON text;
- a classic scheduled rule: ``source`` ``aws.events``, the schedule id is the rule name after ``rule/`` in
  ``resources[0]`` (an ``execintel-`` prefix removed), ``time`` when it fired.

Anything else is a :class:`BadEvent` (the worker answers "ignored": retrying it could not help).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from execintel.report_ids import TITLES
from execintel.web.files import RUN_ID

__all__ = ["BadEvent", "JobEvent", "ScheduleEvent", "parse_event"]

RULE_PREFIX = "execintel-"
SCHEDULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class BadEvent(ValueError):
    """The event is not one the worker runs; the sentence says why."""


@dataclass(frozen=True, slots=True)
class JobEvent:
    """Run ``report`` as ``run_id``, asked for by ``subject`` (the stakeholder's address)."""

    run_id: str
    report: str
    subject: str


@dataclass(frozen=True, slots=True)
class ScheduleEvent:
    """Run ``schedule`` for the period of its tick at ``time`` (aware)."""

    schedule: str
    time: dt.datetime
    source: str


def _text(value: object, what: str, limit: int = 320) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise BadEvent(f"the event's {what} is not a text of 1 to {limit} characters: {str(value)[:80]!r}")
    return value.strip()


def _time(value: object) -> dt.datetime:
    text = _text(value, "time", 64)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadEvent(f"the event's time {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise BadEvent(f"the event's time {text!r} has no time zone (EventBridge sends UTC with a Z)")
    return moment


def _schedule_id(value: object) -> str:
    text = _text(value, "schedule id", 64)
    if not SCHEDULE_ID.fullmatch(text):
        raise BadEvent(f"the event's schedule id {text!r} is not a schedule id")
    return text


def _job(job: object) -> JobEvent:
    if not isinstance(job, Mapping):
        raise BadEvent("the event's job is not an object")
    run_id, report = _text(job.get("run_id"), "job.run_id", 40), _text(job.get("report"), "job.report", 40)
    if not RUN_ID.fullmatch(run_id):
        raise BadEvent(f"the job's run id {run_id!r} is not one the api makes")
    if report not in TITLES:
        raise BadEvent(f"the job's report {report!r} is not a report id")
    return JobEvent(run_id, report, _text(job.get("subject"), "job.subject"))


def parse_event(event: object) -> JobEvent | ScheduleEvent:
    """The job or the schedule tick of ``event``; :class:`BadEvent` for anything else."""
    if not isinstance(event, Mapping):
        raise BadEvent(f"the event is a {type(event).__name__}, not a JSON object")
    if "job" in event:
        return _job(event["job"])
    source = event.get("source")
    if event.get("detail-type") != "Scheduled Event":
        raise BadEvent(f"the event is neither a job nor a Scheduled Event (detail-type "
                       f"{str(event.get('detail-type'))[:80]!r}, source {str(source)[:80]!r})")  # fmt: skip
    if source == "aws.events":
        resources = event.get("resources")
        first = resources[0] if isinstance(resources, list) and resources else None
        arn = _text(first, "resources[0]", 2048)
        if ":rule/" not in arn:
            raise BadEvent(f"the scheduled rule's resource {arn[:200]!r} is not a rule ARN")
        name = arn.rsplit(":rule/", 1)[1].rsplit("/", 1)[-1]
        return ScheduleEvent(_schedule_id(name.removeprefix(RULE_PREFIX)), _time(event.get("time")), "aws.events")
    detail: Any = event.get("detail")
    if isinstance(detail, str):
        try:
            detail = json.loads(detail)
        except ValueError:
            raise BadEvent("the event's detail is text but not JSON") from None
    if not isinstance(detail, Mapping):
        raise BadEvent("the event's detail is not an object")
    return ScheduleEvent(_schedule_id(detail.get("schedule")), _time(event.get("time")), str(source)[:100])
