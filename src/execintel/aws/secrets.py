"""The JWT signing secret from AWS Secrets Manager, kept per Lambda instance for ``EXECINTEL_SECRET_TTL`` seconds.

The secret's ``SecretString`` is either the secret itself (plain text, at least 32 bytes) or a JSON object
``{"current": "...", "previous": ["...", ...]}``: ``current`` signs new sessions, each ``previous`` one still
verifies sessions signed before a rotation. After the TTL the next request reads the secret again, so a rotated
secret is used within ``EXECINTEL_SECRET_TTL`` seconds by every instance. A read that fails (throttled, the
network) keeps the last good keys and logs why; a secret that is missing or too short is a :class:`ConfigError`
when nothing was read before, and is logged (the last good keys stay) when it replaces a good one.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from execintel.aws.config import describe, log_event
from execintel.errors import ConfigError, Problem
from execintel.web.config import MIN_SECRET_BYTES, key_id

__all__ = ["SecretKeys", "parse_secret"]

SOURCE = "EXECINTEL_JWT_SECRET_ARN"


def _bytes(value: object, where: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise ConfigError(Problem(SOURCE, f"the secret's {where} is not a non-empty string"))
    data = value.encode("utf-8")
    if len(data) < MIN_SECRET_BYTES:
        raise ConfigError(Problem(SOURCE, f"the secret's {where} is {len(data)} bytes; it must be at least "
                                          f"{MIN_SECRET_BYTES} random bytes"))  # fmt: skip
    return data


def parse_secret(text: str) -> dict[str, bytes]:
    """kid -> key of a ``SecretString``: plain text, or ``{"current": ..., "previous": [...]}`` (current first)."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            document = json.loads(stripped)
        except ValueError:
            raise ConfigError(Problem(SOURCE, "the secret starts with '{' but is not JSON; store the plain secret "
                                              'or {"current": "...", "previous": ["..."]}')) from None  # fmt: skip
        if not isinstance(document, dict) or "current" not in document:
            raise ConfigError(Problem(SOURCE, 'the secret is JSON without a "current" key; store '
                                              '{"current": "...", "previous": ["..."]}'))  # fmt: skip
        previous = document.get("previous") or []
        if not isinstance(previous, list):
            raise ConfigError(Problem(SOURCE, 'the secret\'s "previous" is not a list of strings'))
        secrets = [_bytes(document["current"], '"current"')]
        secrets += [_bytes(item, f'"previous"[{n}]') for n, item in enumerate(previous)]
    else:
        secrets = [_bytes(text, "value")]
    return {key_id(secret): secret for secret in secrets}


class SecretKeys(Mapping[str, bytes]):
    """The session keys (kid -> key; the first signs) read from Secrets Manager, read again after ``ttl`` seconds.

    A mapping, so :class:`~execintel.web.config.WebConfig` and the session code use it as they use fixed keys.
    Reading the keys (iterating, ``in``) refreshes them when they are older than the TTL; ``[kid]`` reads the keys
    as they are, so a token checked with ``in`` is then verified with the same keys.
    """

    def __init__(self, fetch: Callable[[], str], ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch, self._ttl, self._clock = fetch, ttl, clock
        self._lock = threading.Lock()
        self._keys: dict[str, bytes] = {}
        self._read_at = float("-inf")
        self.refresh(force=True)  # the first read raises: a cold start without a usable secret answers 503

    @classmethod
    def from_secrets_manager(
        cls, client: Any, arn: str, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> SecretKeys:
        """Keys of the secret ``arn`` (its ``AWSCURRENT`` version's ``SecretString``)."""

        def fetch() -> str:
            try:
                answer = client.get_secret_value(SecretId=arn)
            except Exception as exc:
                code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
                if code in ("ResourceNotFoundException", "AccessDeniedException", "DecryptionFailure"):
                    raise ConfigError(Problem(SOURCE, f"the secret {arn!r} cannot be read ({code}): check the ARN "
                                                      "and the function's secretsmanager:GetSecretValue "
                                                      "permission")) from None  # fmt: skip
                raise
            text = answer.get("SecretString")
            if not isinstance(text, str):
                raise ConfigError(Problem(SOURCE, f"the secret {arn!r} has no SecretString (a binary secret); "
                                                  "store the JWT secret as text"))  # fmt: skip
            return text

        return cls(fetch, ttl, clock)

    def refresh(self, *, force: bool = False) -> None:
        """Read the secret again when the keys are older than the TTL (or ``force``); see the module docstring."""
        now = self._clock()
        if not force and now - self._read_at < self._ttl:
            return
        with self._lock:
            if not force and now - self._read_at < self._ttl:
                return
            try:
                keys = parse_secret(self._fetch())
            except Exception as exc:
                if not self._keys:
                    raise
                # keep serving: the next request tries again after a short pause, not at every request
                self._read_at = now - self._ttl + min(self._ttl, 30.0)
                log_event("api.secret_refresh_failed", error=describe(exc), level=logging.ERROR)
                return
            if self._keys and next(iter(keys)) != next(iter(self._keys)):
                log_event("api.secret_rotated", kid=next(iter(keys)))
            self._keys, self._read_at = keys, now

    def __getitem__(self, kid: str) -> bytes:
        return self._keys[kid]

    def __contains__(self, kid: object) -> bool:
        self.refresh()
        return kid in self._keys

    def __iter__(self) -> Iterator[str]:
        self.refresh()
        return iter(list(self._keys))

    def __len__(self) -> int:
        return len(self._keys)
