"""Settings from ``EXECINTEL_*`` variables and an optional dotenv file.

Precedence: command-line flag > process environment > dotenv file > default.
Secrets are :class:`pydantic.SecretStr`: their repr is masked and they are
never logged. The dotenv file may also carry the plain ``AWS_*`` variables of
a ``repos.env``; they configure the AWS clients.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from execintel.errors import ConfigError, Problem


def _aws(name: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(f"EXECINTEL_{name}", name))


class Settings(BaseSettings):
    """Runtime settings; none of them belongs in the manifest."""

    model_config = SettingsConfigDict(env_prefix="EXECINTEL_", extra="ignore", frozen=True, populate_by_name=True)

    portfolio: Path | None = None
    mailer: str = "outbox:outbox"
    store: str | None = None
    data_dir: Path | None = None
    smtp_password: SecretStr | None = None
    jwt_secret: SecretStr | None = None
    # The web app (execintel serve; see docs/web.md). EXECINTEL_JWT_SECRET signs sessions; the previous secrets
    # (comma-separated) still verify them after a rotation. Lists are comma-separated.
    jwt_previous_secrets: SecretStr | None = None
    base_url: str | None = None  # how stakeholders reach the app, for the sign-in link (default: the served address)
    cors_origins: str = ""
    out: Path | None = None  # where runs started from the web write their files (default: ./out)
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    sns_topic_arns: str = ""
    sns_max_age: float = Field(default=3600.0, ge=0)
    sns_cert_dir: Path | None = None
    trigger: str | None = None  # who started a run, when not a person at this machine (the scheduler sets it)
    # AWS (docs/aws-runtime.md): the api function reads the JWT secret from Secrets Manager (kept for secret_ttl
    # seconds per instance), starts on-demand runs by invoking the worker function asynchronously, and reads the
    # reports the worker wrote under runs/<run id>/ of reports_bucket.
    jwt_secret_arn: str | None = None
    secret_ttl: float = Field(default=300.0, ge=0, le=86400)
    worker_function: str | None = None
    reports_bucket: str | None = None
    pdf: bool | None = None  # the AWS worker: attach PDFs (default: when WeasyPrint and its libraries import)
    debug: bool = False
    aws_region: str | None = _aws("AWS_REGION")
    aws_endpoint_url: str | None = _aws("AWS_ENDPOINT_URL")
    aws_access_key_id: SecretStr | None = _aws("AWS_ACCESS_KEY_ID")
    aws_secret_access_key: SecretStr | None = _aws("AWS_SECRET_ACCESS_KEY")

    def aws_client_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``boto3.client`` built from these settings."""
        kwargs: dict[str, str] = {}
        if self.aws_region:
            kwargs["region_name"] = self.aws_region
        if self.aws_endpoint_url:
            kwargs["endpoint_url"] = self.aws_endpoint_url
        if self.aws_access_key_id and self.aws_secret_access_key:
            kwargs["aws_access_key_id"] = self.aws_access_key_id.get_secret_value()
            kwargs["aws_secret_access_key"] = self.aws_secret_access_key.get_secret_value()
        return kwargs


MAX_ENV_FILE = 1 << 20  # a dotenv file holds a few settings; a bigger one is a mistake (or /dev/zero)
SECRETS = frozenset(
    {"smtp_password", "jwt_secret", "jwt_previous_secrets", "aws_access_key_id", "aws_secret_access_key"}
)


def read_env_file(path: Path, option: str = "--env-file") -> str:
    """The text of a dotenv file, or a :class:`ConfigError` naming ``option`` and saying what is wrong with it.

    Only a regular file is opened (a FIFO would block, a device never end), at most :data:`MAX_ENV_FILE` bytes,
    and it must be UTF-8 (a byte-order mark is allowed).
    """
    shown = repr(str(path))
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(Problem(option, f"{shown} does not exist")) from None
    except OSError as exc:
        raise ConfigError(Problem(option, f"{shown} cannot be read: {exc.strerror}")) from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(Problem(option, f"{shown} is a folder, not a dotenv file"))
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(Problem(option, f"{shown} is not a regular file (a FIFO, socket or device); "
                                          "give a dotenv file"))  # fmt: skip
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_ENV_FILE + 1)
    except OSError as exc:
        raise ConfigError(Problem(option, f"{shown} cannot be read: {exc.strerror}")) from None
    if len(data) > MAX_ENV_FILE:
        raise ConfigError(Problem(option, f"{shown} is larger than {MAX_ENV_FILE // 1024} KiB; a dotenv file "
                                          "holds a few NAME=value lines"))  # fmt: skip
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(Problem(option, f"{shown} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line "
                                          f"{line}); save it as UTF-8")) from None  # fmt: skip


def load_settings(env_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from the environment, ``env_file`` and explicit overrides (flags)."""
    # every problem with the file itself first, before pydantic opens it
    text = read_env_file(env_file) if env_file is not None else ""
    flags = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(_env_file=env_file, _env_file_encoding="utf-8-sig", **flags)
    except ValidationError as exc:
        raise ConfigError([_problem(err, env_file, text) for err in exc.errors()]) from None


def _problem(err: Any, env_file: Path | None, text: str) -> Problem:
    """A settings error naming where the bad value came from (the process environment wins over the file)."""
    field = str(err["loc"][0]) if err["loc"] else ""
    name = field.upper() if field.upper().startswith(("EXECINTEL_", "AWS_")) else f"EXECINTEL_{field.upper()}"
    value = "" if field.lower() in SECRETS or "input" not in err else f"{str(err['input'])!r} is not valid: "
    message = f"{value}{err['msg']}"
    if env_file is None or name in {key.upper() for key in os.environ}:
        return Problem("environment", message, key=name)
    pattern = re.compile(rf"^\s*(export\s+)?{re.escape(name)}\s*=", re.IGNORECASE)
    line = next((n for n, row in enumerate(text.splitlines(), 1) if pattern.match(row)), None)
    return Problem(str(env_file), message, line=line, key=name)
