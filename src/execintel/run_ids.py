"""Run ids: ``20261115T070000Z-3f9a``, sortable by start time. Standard library only: the web app and the AWS
api handler make run ids without importing the pipeline's analysis stack."""

from __future__ import annotations

import datetime as dt
import secrets


def new_run_id(now: dt.datetime | None = None) -> str:
    """A sortable run id: ``20261115T070000Z-3f9a`` (the UTC start second and 16 random bits)."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"
