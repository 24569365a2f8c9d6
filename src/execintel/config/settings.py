"""Settings from ``EXECINTEL_*`` variables and an optional dotenv file.

Precedence: command-line flag > process environment > dotenv file > default.
Secrets are :class:`pydantic.SecretStr`: their repr is masked and they are
never logged. The dotenv file may also carry the plain ``AWS_*`` variables of
a ``repos.env``; they configure the AWS clients.
"""

from __future__ import annotations

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
    trigger: str | None = None  # who started a run, when not a person at this machine (the scheduler sets it)
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


def load_settings(env_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from the environment, ``env_file`` and explicit overrides (flags)."""
    if env_file is not None and not env_file.is_file():
        raise ConfigError(Problem(str(env_file), "env file not found"))
    flags = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(_env_file=env_file, **flags)
    except ValidationError as exc:
        problems = [
            Problem(str(env_file or "<environment>"), err["msg"], key="EXECINTEL_" + str(err["loc"][0]).upper())
            for err in exc.errors()
        ]
        raise ConfigError(problems) from None
