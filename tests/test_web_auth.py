"""Sign-in and sessions of the web app, and the attacks on them that must fail.

The app runs over a real SQLite store and the outbox mailer; the sign-in link is read from the outbox file as
a user would read it from their mail.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from conftest import cli
from execintel.config.settings import Settings
from execintel.errors import ConfigError
from execintel.web.auth import COOKIE, Sessions
from execintel.web.config import Limits, key_id, web_config
from web_helpers import SECRET, Web, read_link, sign_in, web_app, write_web_portfolio


class Clock:
    """The store's clock, moved by the test (links expire after 15 minutes)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def forged(claims: dict[str, object], *, key: str = SECRET, alg: str = "HS256", kid: str | None = None) -> str:
    """A JWT made outside the app."""
    now = int(time.time())
    payload = {"iss": "execintel", "aud": "execintel-dashboard", "iat": now, "exp": now + 600, "jti": "x" * 22,
               "csrf": "c" * 32, **claims}  # fmt: skip
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid or key_id(SECRET.encode())})


def use_cookie(web: Web, value: str) -> None:
    """Send ``value`` as the session cookie (instead of the one the app set)."""
    web.client.cookies.clear()
    web.client.cookies.set(COOKIE, value)


def test_a_stakeholder_signs_in_with_the_emailed_link_and_sees_only_their_reports(tmp_path: Path) -> None:
    with web_app(tmp_path) as web:
        assert web.client.get("/api/me").status_code == 401
        sign_in(web, "CFO@example.com")  # any case
        me = web.client.get("/api/me").json()
        assert (me["id"], me["email"], me["roles"]) == ("casey", "cfo@example.com", ["cfo"])
        assert [r["id"] for r in web.client.get("/api/reports").json()["reports"]] == ["cfo"]
        cookie = web.client.cookies.get(COOKIE)
        assert cookie and cookie.count(".") == 2
        entries = [(e.kind, e.data.get("subject")) for e in web.store.entries()]
        assert entries == [("auth.link_requested", "casey"), ("auth.link_consumed", "casey"),
                           ("auth.session_started", "casey")]  # fmt: skip
    with web_app(tmp_path / "admin") as web:
        sign_in(web, "admin@example.org")
        assert len(web.client.get("/api/reports").json()["reports"]) == 9  # admin: every report


def test_the_session_cookie_is_httponly_strict_and_secure_off_localhost(tmp_path: Path) -> None:
    with web_app(tmp_path) as web:
        web.client.post("/api/auth/magic-link", json={"email": "cfo@example.com"})
        token = read_link(web.outbox, "cfo@example.com").split("token=")[1]
        answer = web.client.post("/auth/verify", data={"token": token}, follow_redirects=False)
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        assert "secure" not in cookie  # http://127.0.0.1: a browser would drop a Secure cookie there
    config = web_config(Settings(jwt_secret=SECRET, base_url="https://reports.example.com"), Path("x"))
    assert config.secure_cookies


def test_an_unknown_address_gets_the_same_answer_and_no_mail(tmp_path: Path) -> None:
    with web_app(tmp_path) as web:
        known = web.client.post("/api/auth/magic-link", json={"email": "cfo@example.com"})
        unknown = web.client.post("/api/auth/magic-link", json={"email": "stranger@example.com"})
        assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (202, known.json())
        read_link(web.outbox, "cfo@example.com")
        time.sleep(0.3)
        assert len(list(web.outbox.glob("*.eml"))) == 1
        for body in ({"email": "no-at-sign"}, {"email": "two@at@signs"}, {"email": 5}, {"mail": "cfo@example.com"}, {}):
            assert web.client.post("/api/auth/magic-link", json=body).status_code == 422


def test_links_are_rate_limited_per_address_and_per_client(tmp_path: Path) -> None:
    limits = Limits(links_per_address=2, links_per_client=4, window=600)
    with web_app(tmp_path, limits=limits) as web:
        codes = [web.client.post("/api/auth/magic-link", json={"email": "cfo@example.com"}).status_code
                 for _ in range(3)]  # fmt: skip
        assert codes == [202, 202, 429]
        other = web.client.post("/api/auth/magic-link", json={"email": "cto@example.com"})
        assert other.status_code == 202  # another address, same client: 4th hit of the client
        limited = web.client.post("/api/auth/magic-link", json={"email": "admin@example.org"})
        assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 600


def test_a_link_works_once_and_only_for_fifteen_minutes(tmp_path: Path) -> None:
    clock = Clock()
    with web_app(tmp_path, clock=clock) as web:
        web.client.post("/api/auth/magic-link", json={"email": "cfo@example.com"})
        token = read_link(web.outbox, "cfo@example.com").split("token=")[1]
        assert web.client.get(f"/auth/verify?token={token}").status_code == 200  # a mail scanner's GET uses nothing
        assert web.client.post("/auth/verify", data={"token": token}, follow_redirects=False).status_code == 303
        web.client.cookies.clear()
        reused = web.client.post("/auth/verify", data={"token": token}, follow_redirects=False)
        assert (
            reused.status_code == 400
            and "already used" in reused.text
            and COOKIE not in reused.headers.get("set-cookie", "")
        )
        time.sleep(1.1)  # the next message gets a later mtime
        after = time.time() - 0.5
        web.client.post("/api/auth/magic-link", json={"email": "cfo@example.com"})
        late = read_link(web.outbox, "cfo@example.com", after=after).split("token=")[1]
        assert late != token
        clock.now += timedelta(minutes=15, seconds=1)
        expired = web.client.post("/auth/verify", data={"token": late}, follow_redirects=False)
        assert expired.status_code == 400 and "expired" in expired.text
        assert web.client.post("/auth/verify", data={"token": "made-up"}).status_code == 400
        assert web.client.get("/api/me").status_code == 401
        failed = [e.data.get("reason") for e in web.store.entries() if e.kind == "auth.link_failed"]
        assert failed == ["used", "expired", "unknown"]


def test_a_link_signs_in_only_the_stakeholder_it_was_sent_to(tmp_path: Path) -> None:
    with web_app(tmp_path) as web:
        web.client.post("/api/auth/magic-link", json={"email": "cto@example.com"})
        token = read_link(web.outbox, "cto@example.com").split("token=")[1]
        # whatever else the form says, the token names its stakeholder
        web.client.post("/auth/verify", data={"token": token, "email": "cfo@example.com", "sub": "casey"})
        assert web.client.get("/api/me").json()["id"] == "tara"


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: forged({"sub": "casey"}, alg="none", key=""), id="alg-none"),
        pytest.param(
            lambda: forged({"sub": "casey"}, key="another-secret-of-enough-length-0123456789"), id="wrong-key"
        ),
        pytest.param(lambda: forged({"sub": "casey"}, kid="0" * 16), id="unknown-kid"),
        pytest.param(lambda: forged({"sub": "casey", "exp": int(time.time()) - 1}), id="expired"),
        pytest.param(lambda: forged({"sub": "casey", "aud": "other-app"}), id="wrong-audience"),
        pytest.param(lambda: forged({"sub": "casey"}, alg="HS512"), id="other-algorithm"),
    ],
)
def test_forged_or_expired_session_tokens_are_refused(tmp_path: Path, make: object) -> None:
    with web_app(tmp_path) as web:
        use_cookie(web, make())  # type: ignore[operator]
        assert web.client.get("/api/me").status_code == 401
        assert web.client.get("/api/reports").status_code == 401


def test_a_changed_subject_or_added_roles_in_the_token_change_nothing(tmp_path: Path) -> None:
    with web_app(tmp_path) as web:
        sign_in(web, "cfo@example.com")
        token = web.client.cookies[COOKIE]
        head, body, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        for change in ({"sub": "ada"}, {"roles": ["admin"]}):
            edited = base64.urlsafe_b64encode(json.dumps({**claims, **change}).encode()).rstrip(b"=").decode()
            use_cookie(web, f"{head}.{edited}.{signature}")
            assert web.client.get("/api/me").status_code == 401  # the signature no longer matches
        # even signed with the real key (a leaked secret), roles come from the manifest, and a session the store
        # never started is refused
        use_cookie(web, forged({"sub": "ada", "roles": ["admin"]}))
        assert web.client.get("/api/me").status_code == 401
        use_cookie(web, token)
        assert web.client.get("/api/me").json()["roles"] == ["cfo"]


def test_state_changes_need_the_csrf_header_and_a_same_origin(tmp_path: Path) -> None:
    with web_app(tmp_path) as web:
        csrf = sign_in(web, "cfo@example.com")
        assert web.client.post("/auth/logout").status_code == 403
        assert web.client.post("/auth/logout", headers={"X-CSRF-Token": "wrong"}).status_code == 403
        assert web.client.post("/api/reports/cfo", headers={"X-CSRF-Token": "wrong"}).status_code == 403
        evil = {"X-CSRF-Token": csrf, "Origin": "https://evil.test"}
        assert web.client.post("/auth/logout", headers=evil).status_code == 403
        assert web.client.get("/api/me").status_code == 200  # still signed in
        same = {"X-CSRF-Token": csrf, "Origin": "http://127.0.0.1:8000"}
        assert web.client.post("/auth/logout", headers=same).status_code == 204


def test_sign_out_revokes_the_session_even_if_the_cookie_is_kept(tmp_path: Path) -> None:
    with web_app(tmp_path) as web:
        csrf = sign_in(web, "cfo@example.com")
        kept = web.client.cookies[COOKIE]
        assert web.client.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
        use_cookie(web, kept)
        assert web.client.get("/api/me").status_code == 401
        assert [e.kind for e in web.store.entries()][-1] == "auth.session_revoked"


def test_a_rotated_key_keeps_sessions_until_the_old_key_is_dropped(tmp_path: Path) -> None:
    root = write_web_portfolio(tmp_path / "p")
    old = web_config(Settings(jwt_secret=SECRET), root)
    token, _ = Sessions(old).issue("casey")
    new_secret = "a-new-secret-after-rotation-0123456789abcdef"
    rotated = web_config(Settings(jwt_secret=new_secret, jwt_previous_secrets=SECRET), root)
    assert Sessions(rotated).verify(token) is not None
    fresh, _ = Sessions(rotated).issue("casey")
    assert jwt.get_unverified_header(fresh)["kid"] == key_id(new_secret.encode()) != key_id(SECRET.encode())
    assert Sessions(web_config(Settings(jwt_secret=new_secret), root)).verify(token) is None


@pytest.mark.parametrize("secret", [None, "", "short-secret"])
def test_the_app_refuses_to_start_without_a_long_enough_secret(tmp_path: Path, secret: str | None) -> None:
    with pytest.raises(ConfigError, match="EXECINTEL_JWT_SECRET"):
        web_config(Settings(jwt_secret=secret), write_web_portfolio(tmp_path / "p"))


def test_oversized_bodies_and_unknown_paths_are_refused(tmp_path: Path) -> None:
    with web_app(tmp_path) as web:
        big = web.client.post("/api/auth/magic-link", content=b"{" + b" " * 70_000 + b"}",
                              headers={"content-type": "application/json"})  # fmt: skip
        assert big.status_code == 413
        csrf = sign_in(web, "cfo@example.com")
        for path in ("/api/reports/..%2F..%2Fetc%2Fpasswd", "/api/reports/cfo%2F..%2Fcto", "/api/reports/CFO"):
            assert web.client.post(path, headers={"X-CSRF-Token": csrf}).status_code == 404, path
        for path in ("/api/reports/..%2Faudit.sqlite/latest", "/api/reports/cfo/..%2F..%2Faudit.sqlite",
                     "/api/reports/cfo/cfo.json", "/api/runs/..%2F..%2Fx", "/static/..%2F..%2Fapp.py"):  # fmt: skip
            assert web.client.get(path).status_code == 404, path


def test_logs_are_structured_and_never_hold_a_token(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="execintel.web")
    with web_app(tmp_path) as web:
        sign_in(web, "cfo@example.com")
        token = read_link(web.outbox, "cfo@example.com").split("token=")[1]
        session = web.client.cookies[COOKIE]
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("execintel.web")]
    assert any('"event": "http"' in line and '"path": "/auth/verify"' in line for line in lines)
    assert all(token not in line and session not in line and "token=" not in line for line in lines)


def test_serve_refuses_to_start_without_a_secret_and_says_which_variable(tmp_path: Path) -> None:
    portfolio = write_web_portfolio(tmp_path / "p")
    done = cli("serve", str(portfolio), "--port", "8999", cwd=tmp_path, env={"EXECINTEL_JWT_SECRET": "too-short"})
    assert done.returncode == 2, done.stderr
    assert "EXECINTEL_JWT_SECRET" in done.stderr and "at least 32" in done.stderr and "Traceback" not in done.stderr


def test_cors_answers_only_the_configured_origins(tmp_path: Path) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-csrf-token"}
    with web_app(tmp_path, cors_origins="https://dash.example.com") as web:
        allowed = web.client.options("/api/reports/cfo", headers={"Origin": "https://dash.example.com", **preflight})
        assert allowed.headers.get("access-control-allow-origin") == "https://dash.example.com"
        assert allowed.headers.get("access-control-allow-credentials") == "true"
        other = web.client.options("/api/reports/cfo", headers={"Origin": "https://evil.test", **preflight})
        assert "access-control-allow-origin" not in other.headers
        assert (
            "access-control-allow-origin"
            not in web.client.get("/healthz", headers={"Origin": "https://evil.test"}).headers
        )
    with web_app(tmp_path / "none") as web:  # no origins configured: no CORS at all
        answer = web.client.options("/api/reports/cfo", headers={"Origin": "https://dash.example.com", **preflight})
        assert "access-control-allow-origin" not in answer.headers
