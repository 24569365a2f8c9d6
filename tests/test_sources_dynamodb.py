"""DynamoDB events (``dynamodb:TABLE``): a paginated scan of a table on a moto server on loopback."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.config import Config

from conftest import AWS_TEST_ENV, WritePortfolio, base_manifest
from execintel.config import Settings, load_portfolio
from execintel.sources import dynamodb, load_sources

TABLE = "qosd-events"
ITEMS = 1200
BAD_ITEM = 600
# ~1 KB per item, ~1.2 MB in all: more than the 1 MB a single Scan call returns.
PADDING = "x" * 1000
AWS_ENV = AWS_TEST_ENV
BAD_TS = re.compile(rf"^dynamodb:{TABLE}:(\d+): item \1\.ts: ts 'not-a-date' is not an ISO 8601 timestamp$")


@pytest.fixture(scope="module")
def endpoint(moto_endpoint: str) -> Iterator[str]:
    """The moto server on 127.0.0.1, holding the events table."""
    url = moto_endpoint
    client = _client(url)
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    requests = [{"PutRequest": {"Item": _item(i)}} for i in range(ITEMS)]
    for start in range(0, ITEMS, 25):
        client.batch_write_item(RequestItems={TABLE: requests[start : start + 25]})
    try:
        yield url
    finally:
        client.delete_table(TableName=TABLE)


def _client(url: str, **config: Any) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(**config),
    )


def _item(i: int) -> dict[str, Any]:
    ts = "not-a-date" if i == BAD_ITEM else f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:00:00Z"
    return {
        "id": {"S": f"e-{i:04d}"},
        "ts": {"S": ts},
        "type": {"S": "booking"},
        "customer": {"S": f"c-{i % 50}"},
        "amount": {"N": "100.50"},
        "units": {"N": "1"},
        "channel": {"S": "direct"},
        "padding": {"S": PADDING},
    }


def _portfolio(write_portfolio: WritePortfolio) -> Any:
    entity = {"id": "qosd", "name": "Queen of San Diego", "events": f"dynamodb:{TABLE}"}
    return write_portfolio(base_manifest(entities=[entity]))


def test_an_injected_client_scans_every_page_and_rejects_the_bad_item(
    endpoint: str, write_portfolio: WritePortfolio
) -> None:
    client = _client(endpoint)
    scans: list[str] = []
    client.meta.events.register("after-call.dynamodb.Scan", lambda **_: scans.append("scan"))
    result = load_sources(load_portfolio(_portfolio(write_portfolio)), clients={"events-dynamodb": client})
    [report] = result.reports
    assert len(scans) >= 2  # the table is larger than one page
    assert (report.rows_loaded, report.rows_rejected) == (ITEMS - 1, 1)
    [problem] = report.errors
    assert BAD_TS.match(str(problem)), str(problem)
    [(count, total, customers)] = result.facts.query(
        "SELECT count(*), sum(amount), count(DISTINCT customer) FROM events"
    )
    assert (count, total, customers) == (ITEMS - 1, Decimal("100.50") * (ITEMS - 1), 50)
    # attributes outside the event columns are kept, not dropped
    [(attrs,)] = result.facts.query("SELECT attrs FROM events WHERE customer = 'c-1' LIMIT 1")
    assert '"padding"' in attrs and '"id": "e-' in attrs


def test_the_cli_finds_the_table_through_aws_endpoint_url(endpoint: str, write_portfolio: WritePortfolio) -> None:
    path = _portfolio(write_portfolio)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EXECINTEL_"))}
    env.update(AWS_ENV, AWS_ENDPOINT_URL=endpoint)
    result = subprocess.run(
        [sys.executable, "-m", "execintel", "sources", str(path), "--keep-going"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if " events-dynamodb " in line)
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert cells[:5] == ["events-dynamodb", f"dynamodb:{TABLE}", "qosd", f"{ITEMS - 1:,}", "1"]
    problems = [line for line in result.stderr.splitlines() if BAD_TS.match(line)]
    assert len(problems) == 1, result.stderr
    strict = subprocess.run(
        [sys.executable, "-m", "execintel", "validate", str(path)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert strict.returncode == 2 and "1 problem found" in strict.stderr


def test_an_unreachable_endpoint_is_one_problem_not_a_crash(write_portfolio: WritePortfolio) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # nothing listens on the port any more; one attempt, no retries
    client = _client(f"http://127.0.0.1:{port}", retries={"mode": "standard", "max_attempts": 1})
    result = load_sources(load_portfolio(_portfolio(write_portfolio)), clients={"events-dynamodb": client})
    [report] = result.reports
    assert report.rows_loaded == 0
    [problem] = report.errors
    assert str(problem).startswith(f"dynamodb:{TABLE}: DynamoDB table '{TABLE}' cannot be read: Could not connect")


@pytest.mark.timeout(60)
def test_a_server_that_never_answers_is_one_problem_not_a_hang(
    monkeypatch: pytest.MonkeyPatch, write_portfolio: WritePortfolio
) -> None:
    monkeypatch.setattr(dynamodb, "READ_TIMEOUT", 1.0)  # 60 s in use; the test should not wait 3 x 60 s
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes each connection; nobody ever reads or answers
        port = silent.getsockname()[1]
        settings = Settings(
            aws_endpoint_url=f"http://127.0.0.1:{port}", aws_region="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        result = load_sources(load_portfolio(_portfolio(write_portfolio)), settings=settings)
    [problem] = result.errors
    assert str(problem).startswith(f"dynamodb:{TABLE}: DynamoDB table '{TABLE}' cannot be read: Read timeout")


def test_a_missing_table_is_named(endpoint: str, write_portfolio: WritePortfolio) -> None:
    entity = {"id": "qosd", "name": "Q", "events": "dynamodb:no-such-table"}
    portfolio = load_portfolio(write_portfolio(base_manifest(entities=[entity])))
    result = load_sources(portfolio, clients={"events-dynamodb": _client(endpoint)})
    assert [str(p) for p in result.errors] == ["dynamodb:no-such-table: DynamoDB table 'no-such-table' does not exist"]


def test_missing_credentials_are_named(monkeypatch: pytest.MonkeyPatch, write_portfolio: WritePortfolio) -> None:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in AWS_ENV.items():
        if name not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.setenv(name, value)
    result = load_sources(load_portfolio(_portfolio(write_portfolio)))
    [problem] = result.errors
    assert str(problem).startswith(f"dynamodb:{TABLE}: DynamoDB table '{TABLE}' cannot be read: no AWS credentials")


def test_without_boto3_the_problem_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, write_portfolio: WritePortfolio
) -> None:
    monkeypatch.setitem(sys.modules, "boto3.dynamodb.types", None)  # import fails as if boto3 were absent
    result = load_sources(load_portfolio(_portfolio(write_portfolio)))
    assert [str(p) for p in result.errors] == [
        f"dynamodb:{TABLE}: reading DynamoDB needs boto3; install it with: pip install 'execintel[aws]'"
    ]
