"""What the AWS handlers share: settings from the environment, boto3 clients, and one JSON log line per event.

Imports only the standard library and the settings (boto3 when a client is first made): the api and sns
functions ship this module without the analysis stack.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from execintel.config.settings import Settings

log = logging.getLogger("execintel.aws")


def setup_logging() -> None:
    """INFO lines from execintel in CloudWatch (the Lambda runtime's root handler is at WARNING by default)."""
    logging.getLogger("execintel").setLevel(os.environ.get("EXECINTEL_LOG_LEVEL", "INFO").upper())
    if not logging.getLogger().handlers:  # outside Lambda (tests, sam local): lines still go somewhere
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")


def log_event(event: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """One structured (JSON) line; callers pass no secret, token or message body."""
    log.log(level, json.dumps({"event": event, **fields}, default=str, sort_keys=True))


DATA_DIR = "/tmp/execintel"  # noqa: S108 - Lambda's only writable folder


def load() -> Settings:
    """The function's settings from its environment; the data dir (the store's marker) defaults to /tmp/execintel,
    since a function's home folder may not exist or be writable (and a missing one would stop the store opening)."""
    from pathlib import Path  # noqa: PLC0415

    from execintel.config.settings import load_settings  # noqa: PLC0415

    settings = load_settings()
    if settings.data_dir is None:
        settings = settings.model_copy(update={"data_dir": Path(DATA_DIR)})
    return settings


def describe(exc: BaseException) -> str:
    """One sentence for a log line or an answer: the message of an execintel error, else the exception's type and
    its first line (never a traceback, which the log shows only with EXECINTEL_DEBUG)."""
    from execintel.errors import ExecintelError  # noqa: PLC0415

    text = str(exc).strip()
    if isinstance(exc, ExecintelError) and text:
        return text[:2000]
    first = text.splitlines()[0][:500] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def client(service: str, settings: Settings) -> Any:
    """A boto3 client for ``service`` with the settings' region, endpoint and credentials (the runtime's role when
    none are set)."""
    import boto3  # noqa: PLC0415 - from the Lambda runtime, imported when first needed

    return boto3.client(service, **settings.aws_client_kwargs())  # type: ignore[call-overload]


class LazyClient:
    """A boto3 client made on first use: an instance answering requests that need no S3 or Lambda call (most do
    not) never pays for importing boto3 and loading those services' models at its cold start."""

    def __init__(self, service: str, settings: Settings) -> None:
        self._service, self._settings = service, settings
        self._client: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = client(self._service, self._settings)
        return getattr(self._client, name)


def required(value: str | None, name: str, why: str) -> str:
    """``value``, or a :class:`ConfigError` naming the unset variable ``name`` and what it is for."""
    from execintel.errors import ConfigError, Problem  # noqa: PLC0415

    if value is None or not value.strip():
        raise ConfigError(Problem("environment", f"is not set: {why}", key=name))
    return value.strip()
