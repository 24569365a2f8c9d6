"""The API Lambda: the web app behind API Gateway (HTTP API payload 2.0 and REST payload 1.0), through Mangum.

State is built once per instance, at import: settings from ``EXECINTEL_*`` variables, the JWT secret from Secrets
Manager (``EXECINTEL_JWT_SECRET_ARN``, re-read after ``EXECINTEL_SECRET_TTL`` seconds; see
:mod:`execintel.aws.secrets`), the store, the SES mailer, on-demand runs handed to the worker function
(:mod:`execintel.aws.jobs`) and reports read from the reports bucket (:mod:`execintel.aws.reports`).

A configuration that cannot work (no secret or a short one, a missing variable, an invalid manifest) does not crash
the import, which Lambda would retry in a loop with a bare traceback: it is logged as one clear line
(``api.config_error``) and every request is answered 503 with that reason kept out of the body; the state is
built again at most every :data:`RETRY` seconds, so fixing the secret needs no redeploy. Imports no analysis or
rendering stack (``tests/test_layers.py`` checks it in a fresh interpreter).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from execintel.aws.config import LazyClient, client, describe, load, log_event, required, setup_logging

__all__ = ["RETRY", "build", "handler"]

RETRY = 10.0  # seconds between two attempts to build a broken instance's state
LINK_FLOOR = 1.0  # seconds a sign-in link request takes at least, known address or not (see handler)
LINK_PATH = "/api/auth/magic-link"
PORTFOLIO = Path("/var/task/portfolio")


class _Instance:
    """The instance's app (or why there is none)."""

    def __init__(self) -> None:
        self.app: Any = None
        self.links: Any = None
        self.error: str | None = None
        self.tried = float("-inf")
        self.lock = threading.Lock()

    def ensure(self) -> None:
        """Build the app when there is none and the last attempt is older than :data:`RETRY` seconds."""
        with self.lock:
            if self.app is not None or time.monotonic() - self.tried < RETRY:
                return
            self.tried = time.monotonic()
            try:
                self.app, self.links = build()
                self.error = None
            except Exception as exc:
                self.error = describe(exc)
                log_event("api.config_error", error=self.error, level=logging.ERROR)


def build() -> tuple[Any, Any]:
    """The Mangum handler of the app from the environment, and the app's sign-in link sender."""
    from mangum import Mangum  # noqa: PLC0415
    from pydantic import SecretStr  # noqa: PLC0415

    from execintel.aws.jobs import LambdaJobs  # noqa: PLC0415
    from execintel.aws.reports import S3Files  # noqa: PLC0415
    from execintel.aws.secrets import SecretKeys  # noqa: PLC0415
    from execintel.delivery.mailers import open_mailer  # noqa: PLC0415
    from execintel.store import open_store  # noqa: PLC0415
    from execintel.web import create_app  # noqa: PLC0415
    from execintel.web.config import web_config  # noqa: PLC0415

    settings = load()
    function = required(settings.worker_function, "EXECINTEL_WORKER_FUNCTION",
                        "the api starts on-demand runs by invoking the worker function")  # fmt: skip
    bucket = required(settings.reports_bucket, "EXECINTEL_REPORTS_BUCKET",
                      "the api reads the reports the worker wrote to that bucket")  # fmt: skip
    required(settings.base_url, "EXECINTEL_BASE_URL", "sign-in links point there (https://<the CloudFront "
             "domain>); without it they would point at this function's own address")  # fmt: skip
    keys = None
    if settings.jwt_secret_arn:
        keys = SecretKeys.from_secrets_manager(client("secretsmanager", settings), settings.jwt_secret_arn,
                                               settings.secret_ttl)  # fmt: skip
        # web_config checks the rest of the settings with the current key; the rotating keys replace its keys
        current = keys[next(iter(keys))].decode("utf-8")
        settings_checked = settings.model_copy(update={"jwt_secret": SecretStr(current), "jwt_previous_secrets": None})
    else:  # EXECINTEL_JWT_SECRET (sam local, tests): web_config says what is wrong when it is not set either
        settings_checked = settings
    config = web_config(settings_checked, settings.portfolio or PORTFOLIO)
    if keys is not None:
        config = dataclasses.replace(config, keys=keys)
    store = open_store(settings.store, settings)
    mailer = open_mailer(settings.mailer, settings)
    jobs = LambdaJobs(store, LazyClient("lambda", settings), function)
    files = S3Files(LazyClient("s3", settings), bucket)
    app = create_app(config, store=store, mailer=mailer, settings=settings, jobs=jobs, files=files)
    return Mangum(app, lifespan="off"), app.state.links


def _unavailable(event: Any) -> dict[str, Any]:
    """A 503 answer both payload versions accept; the reason is in the log, not the body."""
    body = json.dumps({"detail": "The service is not configured correctly; the operator has been told in its log."})
    answer: dict[str, Any] = {"statusCode": 503, "headers": {"content-type": "application/json", "retry-after": "60",
                              "cache-control": "no-store"}, "body": body, "isBase64Encoded": False}  # fmt: skip
    if isinstance(event, dict) and event.get("version") != "2.0":
        answer["multiValueHeaders"] = {}
    return answer


_instance = _Instance()
setup_logging()
_instance.ensure()


def handler(event: Any, context: Any) -> dict[str, Any]:
    """The Lambda entry point: the app's answer, or 503 while the instance's configuration is broken."""
    _instance.ensure()
    if _instance.app is None:
        log_event("api.unavailable", error=_instance.error, level=logging.ERROR)
        return _unavailable(event)
    started = time.monotonic()
    answer: dict[str, Any] = _instance.app(event, context)
    if _path(event) == LINK_PATH:
        # The app sends a sign-in link from its one background thread after the 202; Lambda freezes the instance
        # when the handler returns, so wait here for what it queued (FIFO, one thread: a no-op's end means theirs).
        try:
            _instance.links.submit(lambda: None).result(timeout=30)
        except Exception as exc:  # the link's own error is logged by the app
            log_event("api.link_wait_failed", error=describe(exc), level=logging.WARNING)
        # The answer leaves only when the handler returns: without a floor, its time would tell a known address
        # (an SES call) from an unknown one (nothing to send).
        time.sleep(max(0.0, started + LINK_FLOOR - time.monotonic()))
    return answer


def _path(event: Any) -> str:
    """The request path of an API Gateway event of either payload version."""
    if not isinstance(event, dict):
        return ""
    return str(event.get("rawPath") or event.get("path") or "")
