"""Sign-in: single-use magic-link tokens (stored only as hashes), JWT sessions, and rate limits.

A link token is 32 random bytes from :mod:`secrets`; the store keeps its SHA-256, so a copy of the store cannot
sign anyone in. A session is an HS256 JWT with a pinned algorithm, ``kid`` (key rotation), ``iss``, ``aud``,
``exp``, ``iat``, ``sub`` (the stakeholder id), ``jti`` (revocation) and ``csrf`` (the token the dashboard sends
back in ``X-CSRF-Token``). Roles are never in the token: they are read from the manifest at every request, so
changing someone's roles takes effect at once and a forged role claim means nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from execintel.web.config import AUDIENCE, ISSUER, WebConfig

ALGORITHM = "HS256"
COOKIE = "execintel_session"
TOKEN_BYTES = 32


def new_link_token() -> str:
    """A fresh magic-link token: 256 bits, URL-safe."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What the store keeps of a link token."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True, slots=True)
class Claims:
    """A verified session."""

    subject: str
    jti: str
    csrf: str
    expires: float


class Sessions:
    """Issue and verify session JWTs with the configured keys."""

    def __init__(self, config: WebConfig, clock: Callable[[], float] = time.time) -> None:
        self.config, self.clock = config, clock

    def issue(self, subject: str) -> tuple[str, Claims]:
        """A signed token for ``subject`` and its claims."""
        now = int(self.clock())
        claims = Claims(subject, secrets.token_urlsafe(16), secrets.token_urlsafe(24),
                        now + self.config.session_seconds)  # fmt: skip
        payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": now, "nbf": now,
                   "exp": int(claims.expires), "jti": claims.jti, "csrf": claims.csrf}  # fmt: skip
        kid = self.config.signing_kid
        return jwt.encode(payload, self.config.keys[kid], algorithm=ALGORITHM, headers={"kid": kid}), claims

    def verify(self, token: str) -> Claims | None:
        """The claims of a valid token; None for anything else (bad signature, alg, kid, audience, expiry...)."""
        if not token or len(token) > 4096:
            return None
        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid")
            if header.get("alg") != ALGORITHM or not isinstance(kid, str) or kid not in self.config.keys:
                return None
            payload: dict[str, Any] = jwt.decode(
                token, self.config.keys[kid], algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "jti", "iss", "aud"]}, leeway=0,
            )  # fmt: skip
        except jwt.PyJWTError:
            return None
        subject, jti, csrf = payload.get("sub"), payload.get("jti"), payload.get("csrf")
        if not all(isinstance(v, str) and v for v in (subject, jti, csrf)):
            return None
        return Claims(str(subject), str(jti), str(csrf), float(payload["exp"]))


def same_token(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a CSRF token."""
    return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


class RateLimiter:
    """At most ``limit`` hits per key in a sliding ``window`` of seconds; memory bounded by ``max_keys``."""

    def __init__(self, limit: int, window: float, *, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.limit, self.window, self.max_keys, self.clock = limit, window, max_keys, clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """Count one hit; 0 when allowed, else the seconds until the oldest hit leaves the window."""
        now = self.clock()
        with self._lock:
            hits = self._hits.pop(key, None) or deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            self._hits[key] = hits  # most recently used last
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
            if len(hits) >= self.limit:
                return max(1.0, hits[0] + self.window - now)
            hits.append(now)
            return 0.0
