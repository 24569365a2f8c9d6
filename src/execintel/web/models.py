"""The request and response bodies of the web API (they make /openapi.json)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Conflict", "DeliveryOut", "Error", "Health", "History", "Latest", "LinkRequest", "LinkSent", "Me", "Query",
    "ReportInfo", "Reports", "Run", "RunSummary", "Started", "WebhookResult",
]  # fmt: skip

RunStatus = Literal["queued", "running", "ok", "failed", "held", "interrupted"]


class LinkRequest(BaseModel):
    """Ask for a sign-in link."""

    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@]+@[^@]+$")


class LinkSent(BaseModel):
    """The same answer for every address."""

    status: Literal["sent"] = "sent"
    message: str = ("If that address belongs to a stakeholder, a sign-in link is on its way. It works once, for "
                    "15 minutes.")  # fmt: skip


class Error(BaseModel):
    """An error: one sentence."""

    detail: str


class Conflict(Error):
    """The report is already running: its run."""

    run_id: str


class Me(BaseModel):
    """The signed-in stakeholder."""

    id: str
    name: str
    email: str
    roles: list[str]
    portfolio: str
    csrf_token: str


class Latest(BaseModel):
    """The newest rendered HTML of a report."""

    run_id: str
    generated: datetime
    url: str


class ReportInfo(BaseModel):
    """A report the user may run and read."""

    id: str
    title: str
    can_run: bool
    running: str | None
    latest: Latest | None


class Reports(BaseModel):
    """The user's reports."""

    reports: list[ReportInfo]


class Started(BaseModel):
    """A run was queued."""

    run_id: str
    status: Literal["queued"]
    url: str


class RunSummary(BaseModel):
    """A run, as the history lists it."""

    run_id: str
    reports: list[str]
    status: RunStatus
    trigger: str | None
    started: datetime | None
    finished: datetime | None
    error: str | None


class DeliveryOut(BaseModel):
    """One delivery of a run."""

    report: str
    recipient: str
    state: str
    attempts: int
    reason: str | None


class Run(RunSummary):
    """A run and its deliveries."""

    deliveries: list[DeliveryOut]


class History(BaseModel):
    """The runs the user may see, newest first."""

    runs: list[RunSummary]


class WebhookResult(BaseModel):
    """What a webhook call changed."""

    status: Literal["ok", "confirmed", "ignored"]
    counts: dict[str, int] = Field(default_factory=dict)


class Health(BaseModel):
    """The app answers."""

    status: Literal["ok"]
