"""Shared pieces of the AWS handler tests: the environment of a Lambda function pointed at the moto server."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import AWS_TEST_ENV, SHARED
from execintel.config.settings import Settings
from execintel.store import open_store

REGION = "us-east-1"
EVENTS = SHARED / "events"  # the AWS sample events (tests/data/shared/README.md says where they come from)
SES_SAMPLES = SHARED / "ses"


def aws_client(service: str, endpoint: str) -> Any:
    """A boto3 client of the moto server with the fake credentials."""
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing",
                        aws_secret_access_key="testing")  # fmt: skip


@contextmanager
def lambda_env(endpoint: str, tmp: Path, table: str, **variables: str) -> Iterator[dict[str, str]]:
    """The environment a function of the SAM template gets (pointed at moto), its DynamoDB table set up with
    ``execintel store init``'s code path and example.com a verified SES identity."""
    env = {**AWS_TEST_ENV, "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": REGION,
           "EXECINTEL_STORE": f"dynamodb://{table}", "EXECINTEL_MAILER": f"ses://{REGION}",
           "EXECINTEL_DATA_DIR": str(tmp / "data"), "EXECINTEL_OUT": str(tmp / "out"), **variables}  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        open_store(f"dynamodb://{table}", Settings(), mode="init").close()
        aws_client("sesv2", endpoint).create_email_identity(EmailIdentity="example.com")
        yield env


def ses_sent() -> list[Any]:
    """Every message moto's SES recorded (the server runs in this process: its backend is moto's module state)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return [m for m in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages if hasattr(m, "raw_data")]


def parsed(message: Any) -> email.message.EmailMessage:
    """The RFC 5322 message SES was handed."""
    found: email.message.EmailMessage = email.message_from_string(message.raw_data, policy=email.policy.default)  # type: ignore[assignment]
    return found
