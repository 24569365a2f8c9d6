"""The web app's configuration, checked once at start-up: a missing or short JWT secret refuses to start."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from execintel.errors import ConfigError, Problem

if TYPE_CHECKING:
    from execintel.config.settings import Settings

MIN_SECRET_BYTES = 32
LINK_SECONDS = 15 * 60
ISSUER = "execintel"
AUDIENCE = "execintel-dashboard"


def key_id(secret: bytes) -> str:
    """The ``kid`` of a signing secret: a short hash, so rotating the secret rotates the id with it."""
    return hashlib.sha256(b"execintel-kid:" + secret).hexdigest()[:16]


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (where a cookie may go without ``Secure``)."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Limits:
    """Rate limits of the magic-link endpoint, and the size of the job queue."""

    links_per_address: int = 5
    links_per_client: int = 20
    window: float = 15 * 60.0
    queue: int = 8
    max_body: int = 64 * 1024


@dataclass(frozen=True)
class WebConfig:
    """Everything the app needs besides the store, the mailer and the portfolio."""

    keys: Mapping[str, bytes]
    """kid -> secret; the first signs, every one verifies (the previous ones after a rotation). The AWS api gives a
    mapping that re-reads its secret from Secrets Manager after a TTL."""
    base_url: str
    portfolio: Path
    out_dir: Path = Path("out")
    session_seconds: float = 12 * 3600.0
    cors_origins: tuple[str, ...] = ()
    secure_cookies: bool = True
    sns_topic_arns: frozenset[str] = frozenset()
    sns_max_age: float = 3600.0
    sns_cert_dir: Path | None = None
    limits: Limits = field(default_factory=Limits)
    allow_outside: bool = False

    @property
    def signing_kid(self) -> str:
        """The kid of the key that signs new sessions."""
        return next(iter(self.keys))


def _secret(value: str, name: str) -> bytes:
    data = value.encode("utf-8")
    if len(data) < MIN_SECRET_BYTES:
        raise ConfigError(Problem("environment", f"is {len(data)} bytes; it must be at least {MIN_SECRET_BYTES} "
                                  "random bytes (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)",
                                  key=name))  # fmt: skip
    return data


def _origins(text: str) -> tuple[str, ...]:
    origins = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        parts = urlsplit(item)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") or parts.query:
            raise ConfigError(Problem("environment", f"{item!r} is not an origin like https://app.example.com",
                                      key="EXECINTEL_CORS_ORIGINS"))  # fmt: skip
        origins.append(f"{parts.scheme}://{parts.netloc}".lower())
    return tuple(origins)


def web_config(
    settings: Settings, portfolio: Path, *, host: str = "127.0.0.1", port: int = 8000, allow_outside: bool = False
) -> WebConfig:
    """The app's configuration from settings; a :class:`ConfigError` naming the variable when one is wrong."""
    if settings.jwt_secret is None or not settings.jwt_secret.get_secret_value():
        raise ConfigError(Problem("environment", "is not set: the web app signs sessions with it; set it to at least "
                                  f"{MIN_SECRET_BYTES} random bytes (e.g. `python -c 'import secrets; "
                                  "print(secrets.token_urlsafe(48))'`)", key="EXECINTEL_JWT_SECRET"))  # fmt: skip
    secrets = [_secret(settings.jwt_secret.get_secret_value(), "EXECINTEL_JWT_SECRET")]
    if settings.jwt_previous_secrets is not None:
        for item in settings.jwt_previous_secrets.get_secret_value().split(","):
            if item.strip():
                secrets.append(_secret(item.strip(), "EXECINTEL_JWT_PREVIOUS_SECRETS"))
    keys = {key_id(secret): secret for secret in secrets}
    shown = f"[{host}]" if ":" in host else host
    base_url = (settings.base_url or f"http://{shown}:{port}").rstrip("/")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(Problem("environment", f"{base_url!r} is not an http(s) URL", key="EXECINTEL_BASE_URL"))
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(Problem("environment", f"{base_url!r} is plain http on a public name: sign-in links and "
                                  "session cookies would travel in clear; use https (behind a TLS proxy)",
                                  key="EXECINTEL_BASE_URL"))  # fmt: skip
    from execintel.web.sns import parse_topic_arns  # noqa: PLC0415

    try:
        arns = parse_topic_arns(settings.sns_topic_arns)
    except ValueError as exc:
        raise ConfigError(Problem("environment", str(exc).split(": ", 1)[-1], key="EXECINTEL_SNS_TOPIC_ARNS")) from None
    return WebConfig(
        keys=keys, base_url=base_url, portfolio=portfolio, out_dir=settings.out or Path("out"),
        session_seconds=settings.session_hours * 3600, cors_origins=_origins(settings.cors_origins),
        secure_cookies=parts.scheme == "https" or not is_loopback(parts.hostname), sns_topic_arns=arns,
        sns_max_age=settings.sns_max_age, sns_cert_dir=settings.sns_cert_dir, allow_outside=allow_outside,
    )  # fmt: skip
