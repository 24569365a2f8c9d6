"""The api Lambda against the moto server: the sample API Gateway events (HTTP API 2.0, REST 1.0, the authorizer
one), a real magic-link sign-in carried by those events, an on-demand run handed to the worker function and read
back from the reports bucket, and a broken secret answered 503 with a clear log line, not a crash loop."""

from __future__ import annotations

import base64
import dataclasses
import importlib
import io
import json
import logging
import secrets
import sys
import zipfile
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import boto3
import httpx2
import jwt
import pytest
from fastapi import HTTPException

from aws_helpers import EVENTS, aws_client, lambda_env, parsed, ses_sent
from execintel.aws import worker
from execintel.aws.reports import S3Files
from execintel.aws.secrets import SecretKeys
from execintel.config.settings import Settings
from execintel.web.auth import Sessions
from execintel.web.config import key_id, web_config
from web_helpers import LINK, write_web_portfolio

TABLE = "execintel-api-test"
BUCKET = "execintel-api-reports"
FUNCTION = "execintel-worker"
BASE = "https://dashboard.example.com"


@pytest.fixture(scope="module")
def aws(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The api's environment: a small portfolio, its JWT secret in Secrets Manager (made now: a fake), the worker
    function (moto's Lambda without Docker: it accepts asynchronous invocations) and the reports bucket."""
    tmp = tmp_path_factory.mktemp("aws-api")
    portfolio = write_web_portfolio(tmp / "portfolio").parent
    secret = aws_client("secretsmanager", moto_endpoint).create_secret(
        Name="execintel-api-test-jwt", SecretString=secrets.token_urlsafe(48))  # fmt: skip
    httpx2.post(f"{moto_endpoint}/moto-api/config", json={"lambda": {"use_docker": False}})
    role = aws_client("iam", moto_endpoint).create_role(RoleName="execintel-worker-test", AssumeRolePolicyDocument="{}")
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    aws_client("lambda", moto_endpoint).create_function(
        FunctionName=FUNCTION, Runtime="python3.12", Role=role["Role"]["Arn"], Handler="handler.handler",
        Code={"ZipFile": code.getvalue()})  # fmt: skip
    aws_client("s3", moto_endpoint).create_bucket(Bucket=BUCKET)
    with lambda_env(moto_endpoint, tmp, TABLE, EXECINTEL_PORTFOLIO=str(portfolio), EXECINTEL_BASE_URL=BASE,
                    EXECINTEL_JWT_SECRET_ARN=secret["ARN"], EXECINTEL_WORKER_FUNCTION=FUNCTION,
                    EXECINTEL_REPORTS_BUCKET=BUCKET, EXECINTEL_PDF="false", SECRET_ID=secret["ARN"]) as env:  # fmt: skip
        worker.reset()
        yield env
        worker.reset()


def fresh_api() -> ModuleType:
    """The api module imported anew: a new Lambda instance (its state is built at import)."""
    sys.modules.pop("execintel.aws.api", None)
    return importlib.import_module("execintel.aws.api")


@pytest.fixture(scope="module")
def api(aws: dict[str, str]) -> ModuleType:
    """One api instance for the module."""
    return fresh_api()


def v2(method: str, path: str, *, body: str | None = None, cookies: list[str] | None = None,
       headers: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    """The HTTP API (payload 2.0) sample event, changed into this request."""
    event = json.loads((EVENTS / "apiGatewayProxyV2Event.json").read_text())
    event["requestContext"]["http"].update(method=method, path=path)
    event.update(rawPath=path, rawQueryString="", queryStringParameters=None, body=body, cookies=cookies or [],
                 headers={"host": "dashboard.example.com", **(headers or {})})  # fmt: skip
    return event


def v1(method: str, path: str, *, body: str | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The REST API (payload 1.0) sample event, changed into this request."""
    event = json.loads((EVENTS / "apiGatewayProxyEvent.json").read_text())
    every = {"host": "dashboard.example.com", **(headers or {})}
    event.update(httpMethod=method, path=path, resource="/{proxy+}", body=body, headers=every,
                 multiValueHeaders={k: [v] for k, v in every.items()}, queryStringParameters=None,
                 multiValueQueryStringParameters=None)  # fmt: skip
    event["requestContext"].update(httpMethod=method, path=path, resourcePath="/{proxy+}")
    return event


def body_of(answer: dict[str, Any]) -> str:
    """An answer's body as text."""
    body = answer.get("body") or ""
    return base64.b64decode(body).decode() if answer.get("isBase64Encoded") else str(body)


def set_cookies(answer: dict[str, Any]) -> list[str]:
    """The Set-Cookie values of an answer of either payload version."""
    single = (answer.get("headers") or {}).get("set-cookie")
    return [*(answer.get("cookies") or []), *((answer.get("multiValueHeaders") or {}).get("set-cookie", [])),
            *([single] if single else [])]  # fmt: skip


def sign_in(api: ModuleType, address: str) -> tuple[str, str]:
    """The magic-link flow through API Gateway events: the session cookie and the CSRF token."""
    before = len(ses_sent())
    asked = api.handler(v2("POST", "/api/auth/magic-link", body=json.dumps({"email": address}),
                           headers={"content-type": "application/json", "origin": BASE}), None)  # fmt: skip
    assert asked["statusCode"] == 202, asked
    [message] = [m for m in ses_sent()[before:] if parsed(m)["To"].addresses[0].addr_spec == address]
    text = parsed(message).get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = LINK.search(text)
    assert link is not None and link.group(0).startswith(f"{BASE}/auth/verify?token=")
    token = link.group(0).split("token=", 1)[1]
    done = api.handler(v1("POST", "/auth/verify", body=urlencode({"token": token}),
                          headers={"content-type": "application/x-www-form-urlencoded", "origin": BASE}), None)  # fmt: skip
    assert done["statusCode"] == 303, done
    [cookie] = [c for c in set_cookies(done) if c.startswith("execintel_session=")]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie
    session = SimpleCookie(cookie)["execintel_session"].value
    me = api.handler(v2("GET", "/api/me", cookies=[f"execintel_session={session}"]), None)
    assert me["statusCode"] == 200, me
    return session, json.loads(body_of(me))["csrf_token"]


@pytest.mark.parametrize(("sample", "status"), [("apiGatewayProxyV2Event.json", 404),
                                                ("apiGatewayProxyEvent.json", 404),
                                                ("apiGatewayProxyV2LambdaAuthorizerEvent.json", 404)])  # fmt: skip
def test_the_sample_api_gateway_events_are_answered(api: ModuleType, sample: str, status: int) -> None:
    answer = api.handler(json.loads((EVENTS / sample).read_text()), None)
    assert answer["statusCode"] == status  # /my/path is no route of the app
    assert json.loads(body_of(answer)) == {"detail": "Not Found"}
    headers = {k.lower(): v for k, v in (answer.get("headers") or {}).items()}
    assert headers["x-content-type-options"] == "nosniff"  # the app's guard answered, not a crash


def test_health_and_the_unauthenticated_answer_on_both_payload_versions(api: ModuleType) -> None:
    assert api.handler(v2("GET", "/healthz"), None)["statusCode"] == 200
    assert api.handler(v1("GET", "/healthz"), None)["statusCode"] == 200
    for event in (v2("GET", "/api/me"), v1("GET", "/api/me"), v2("GET", "/api/me", cookies=["cookie1", "cookie2"])):
        answer = api.handler(event, None)
        assert answer["statusCode"] == 401 and json.loads(body_of(answer))["detail"] == "Sign in first."


def test_a_stakeholder_signs_in_with_the_emailed_link_on_either_payload_version(api: ModuleType) -> None:
    session, _csrf = sign_in(api, "cfo@example.com")
    rest = api.handler(v1("GET", "/api/me", headers={"cookie": f"execintel_session={session}"}), None)
    assert rest["statusCode"] == 200 and json.loads(body_of(rest))["id"] == "casey"
    authorizer = json.loads((EVENTS / "apiGatewayProxyV2LambdaAuthorizerEvent.json").read_text())
    authorizer["requestContext"]["http"]["path"] = authorizer["rawPath"] = "/api/me"
    authorizer["cookies"] = [f"execintel_session={session}"]
    assert api.handler(authorizer, None)["statusCode"] == 200


def test_an_on_demand_run_goes_to_the_worker_and_its_report_is_read_from_the_bucket(
    aws: dict[str, str], api: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoked: list[dict[str, Any]] = []

    def seen(params: dict[str, Any], **_: Any) -> None:
        invoked.append({"type": params["InvocationType"], "payload": json.loads(params["Payload"])})

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # put back after the test
    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("provide-client-params.lambda.Invoke", seen)
    instance = fresh_api()  # a new instance, its clients made from a session that reports each Invoke
    session, csrf = sign_in(instance, "cfo@example.com")
    cookie = [f"execintel_session={session}"]
    headers = {"x-csrf-token": csrf, "origin": BASE}
    started = instance.handler(v2("POST", "/api/reports/cfo", cookies=cookie, headers=headers), None)
    assert started["statusCode"] == 202, started
    run_id = json.loads(body_of(started))["run_id"]
    assert invoked == [{"type": "Event", "payload": {"job": {"run_id": run_id, "report": "cfo",
                                                             "subject": "cfo@example.com"}}}]  # fmt: skip
    # another instance knows it from the store: the run is queued, and the report cannot start twice
    other = fresh_api()
    assert json.loads(body_of(other.handler(v2("GET", f"/api/runs/{run_id}", cookies=cookie), None)))["status"] == \
        "queued"  # fmt: skip
    twice = other.handler(v2("POST", "/api/reports/cfo", cookies=cookie, headers=headers), None)
    assert twice["statusCode"] == 409 and json.loads(body_of(twice))["run_id"] == run_id
    # the worker function does the job (as Lambda would deliver the payload), then a retry of it changes nothing
    assert worker.handler(invoked[0]["payload"], None)["status"] == "ok"
    before = len(ses_sent())
    assert worker.handler(invoked[0]["payload"], None)["status"] == "ignored"
    assert len(ses_sent()) == before
    run = json.loads(body_of(other.handler(v2("GET", f"/api/runs/{run_id}", cookies=cookie), None)))
    assert run["status"] == "ok"
    assert {(d["recipient"], d["state"]) for d in run["deliveries"]} == {("cfo@example.com", "sent"),
                                                                         ("admin@example.org", "sent")}  # fmt: skip
    listed = json.loads(body_of(other.handler(v2("GET", "/api/reports", cookies=cookie), None)))
    [cfo] = [r for r in listed["reports"] if r["id"] == "cfo"]
    assert cfo["latest"]["run_id"] == run_id and cfo["running"] is None
    latest = other.handler(v2("GET", "/api/reports/cfo/latest", cookies=cookie), None)
    assert latest["statusCode"] == 200 and "<html" in body_of(latest).lower()
    again = other.handler(v2("POST", "/api/reports/cfo", cookies=cookie, headers=headers), None)
    assert again["statusCode"] == 202  # the finished run frees the report


def test_a_missing_or_short_secret_answers_503_with_a_clear_log_line_until_it_is_fixed(
    aws: dict[str, str], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = aws_client("secretsmanager", aws["AWS_ENDPOINT_URL"])
    short = manager.create_secret(Name="execintel-api-test-short", SecretString="too-short")
    monkeypatch.setenv("EXECINTEL_JWT_SECRET_ARN", short["ARN"])
    with caplog.at_level(logging.ERROR, logger="execintel.aws"):
        broken = fresh_api()
        answers = [broken.handler(v2("GET", "/healthz"), None), broken.handler(v1("GET", "/api/me"), None)]
    assert [a["statusCode"] for a in answers] == [503, 503]
    assert "too-short" not in json.dumps(answers) and "too-short" not in caplog.text
    [line] = {r.getMessage() for r in caplog.records if "api.config_error" in r.getMessage()}
    assert "EXECINTEL_JWT_SECRET_ARN" in line and "9 bytes" in line and "at least 32" in line
    assert "Traceback" not in caplog.text
    monkeypatch.setenv("EXECINTEL_JWT_SECRET_ARN", short["ARN"].replace("short", "nothere"))
    assert fresh_api().handler(v2("GET", "/healthz"), None)["statusCode"] == 503
    # fixed in Secrets Manager: the same instance serves again once RETRY seconds have passed, no redeploy
    monkeypatch.setenv("EXECINTEL_JWT_SECRET_ARN", short["ARN"])
    again = fresh_api()
    manager.put_secret_value(SecretId=short["ARN"], SecretString=json.dumps({"current": secrets.token_urlsafe(48)}))
    monkeypatch.setattr(again, "RETRY", 0.0)
    assert again.handler(v2("GET", "/healthz"), None)["statusCode"] == 200


def test_a_rotated_secret_signs_after_the_ttl_and_the_previous_one_still_verifies(
    aws: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    manager = aws_client("secretsmanager", aws["AWS_ENDPOINT_URL"])
    old, new = secrets.token_urlsafe(48), secrets.token_urlsafe(48)
    arn = manager.create_secret(Name="execintel-api-test-rotation", SecretString=old)["ARN"]
    now = [0.0]
    keys = SecretKeys.from_secrets_manager(manager, arn, 300.0, clock=lambda: now[0])
    sessions = Sessions(dataclasses.replace(web_config(Settings(jwt_secret=old), Path()), keys=keys))

    def kid(token: str) -> str:
        return str(jwt.get_unverified_header(token)["kid"])

    token, _ = sessions.issue("casey")
    manager.put_secret_value(SecretId=arn, SecretString=json.dumps({"current": new, "previous": [old]}))
    now[0] = 299.0
    assert kid(sessions.issue("casey")[0]) == key_id(old.encode())  # kept for the TTL
    now[0] = 301.0
    assert kid(sessions.issue("casey")[0]) == key_id(new.encode())  # read again: the new secret signs
    assert sessions.verify(token) is not None  # and the previous one still verifies
    manager.put_secret_value(SecretId=arn, SecretString=new)  # the old secret dropped
    now[0] = 700.0
    assert sessions.verify(token) is None
    fresh, _ = sessions.issue("casey")
    manager.put_secret_value(SecretId=arn, SecretString="short")  # a bad value: the last good keys stay
    now[0] = 1100.0
    with caplog.at_level(logging.ERROR, logger="execintel.aws"):
        assert sessions.verify(fresh) is not None
    assert "api.secret_refresh_failed" in caplog.text and "short" not in caplog.text  # never the value


def test_the_bucket_reader_serves_only_report_names_and_at_most_its_limit(aws: dict[str, str]) -> None:
    s3 = aws_client("s3", aws["AWS_ENDPOINT_URL"])
    run_id = "20261116T150000Z-beef"
    for name in ("cfo.html", "cfo-cash-chart.png", "notes.txt"):
        s3.put_object(Bucket=BUCKET, Key=f"runs/{run_id}/{name}", Body=b"x" * 100)
    s3.put_object(Bucket=BUCKET, Key="secret.html", Body=b"private")
    files = S3Files(s3, BUCKET)
    assert files.has(run_id, "cfo.html") and files.has(run_id, "cfo-cash-chart.png")
    assert files.read(run_id, "cfo.html", 100) == b"x" * 100
    assert not files.has(run_id, "notes.txt") and files.read(run_id, "notes.txt", 100) is None  # not a report name
    assert not files.has(run_id, "../../secret.html") and not files.has("..", "secret.html")
    assert not files.has(run_id, "ceo.html") and files.read(run_id, "ceo.html", 100) is None  # not there
    with pytest.raises(HTTPException) as refused:
        files.read(run_id, "cfo.html", 99)  # one byte over: refused without reading the rest
    assert refused.value.status_code == 404


@pytest.mark.parametrize("name", ["EXECINTEL_WORKER_FUNCTION", "EXECINTEL_REPORTS_BUCKET", "EXECINTEL_BASE_URL"])
def test_a_missing_variable_answers_503_and_the_log_names_it(
    aws: dict[str, str], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.delenv(name)
    with caplog.at_level(logging.ERROR, logger="execintel.aws"):
        answer = fresh_api().handler(v2("GET", "/healthz"), None)
    assert answer["statusCode"] == 503
    assert f"{name}: is not set" in caplog.text and "Traceback" not in caplog.text
