"""The web app: magic-link sign-in, the report API, the SES/SNS webhook and the dashboard.

``create_app`` builds it (no globals); ``execintel serve`` runs it with uvicorn; the AWS api handler wraps the
same app. Importing this package never imports the analysis stack: a run imports it inside the job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["create_app"]


def create_app(*args: Any, **kwargs: Any) -> FastAPI:
    """Build the app; see :func:`execintel.web.app.create_app`."""
    from execintel.web.app import create_app as create  # noqa: PLC0415

    return create(*args, **kwargs)
