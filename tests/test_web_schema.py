"""schemathesis against the app's /openapi.json: whatever it sends, signed in or not, no 5xx and every answer
matches the published schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from execintel.web.jobs import Job
from web_helpers import Web, sign_in, web_app


def refuse(job: Job) -> None:
    """This test checks the HTTP layer: a queued run ends at once (the run itself is tested elsewhere)."""
    raise RuntimeError(f"runs are not part of this test ({job.report})")


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """One app for every generated case, with a signed-in CFO."""
    with web_app(tmp_path_factory.mktemp("schema"), runner=refuse) as app:
        app.client.headers["X-CSRF-Token"] = sign_in(app, "cfo@example.com")
        yield app


def operations(web: Web) -> list[Any]:
    """Every operation of the published schema (loaded from the app itself)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", web.client.app)
    found = [result.ok() for result in schema.get_all_operations()]
    return [op for op in found if op.path != "/auth/logout"]  # it would end the session the other cases use


def test_no_5xx_and_answers_match_the_schema(web: Web) -> None:
    # Driven by hand rather than with schemathesis' pytest plugin, which pytest 9 no longer runs.
    session = {"execintel_session": web.client.cookies["execintel_session"]}
    headers = {"X-CSRF-Token": web.client.headers["X-CSRF-Token"]}
    checked = []
    for operation in operations(web):

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True
        )  # the same cases every run: no flaky test
        def check(case: Any) -> None:
            case.call_and_validate(cookies=session, headers=headers)

        check()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert len(checked) >= 8, checked


def test_the_schema_is_published_with_every_api_route(web: Web, tmp_path: Path) -> None:
    paths = web.client.get("/openapi.json").json()["paths"]
    for path in ("/api/auth/magic-link", "/api/me", "/api/reports", "/api/reports/{report_id}",
                 "/api/runs/{run_id}", "/api/history", "/api/reports/{report_id}/latest", "/api/webhooks/ses",
                 "/healthz", "/auth/logout"):  # fmt: skip
        assert path in paths, path
