"""Events from a DynamoDB table (``dynamodb:TABLE``), scanned with pagination.

boto3 lives only here (and in the other AWS adapters). The client can be
injected; otherwise one is built from the settings, and boto3 itself honours
``AWS_ENDPOINT_URL`` (moto in tests, AWS in production).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from execintel.sources.base import register
from execintel.sources.events import EventSource

CONNECT_TIMEOUT = 10.0
"""Seconds to open a connection to DynamoDB."""
READ_TIMEOUT = 60.0
"""Seconds to wait for each answer (a page of a scan is at most 1 MB)."""
SCAN_DEADLINE = 1800.0
"""Seconds a whole scan may take; past it the source stops with an error, the rows read so far are not kept."""
MAX_ITEMS = 10_000_000
"""Items read from one table at most; past it the source stops with an error naming the table."""


def _client(settings: Any) -> Any:
    import boto3  # noqa: PLC0415 - heavy; only when a DynamoDB source exists
    from botocore.config import Config  # noqa: PLC0415

    kwargs = settings.aws_client_kwargs() if settings is not None else {}
    session = boto3.session.Session()
    if "region_name" not in kwargs and session.region_name is None:
        kwargs["region_name"] = "us-east-1"
    config = Config(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
    )
    return session.client("dynamodb", config=config, **kwargs)


@register
class DynamoDbEvents(EventSource):
    """Scan every item of a table; attribute names as in the events JSONL format."""

    kind = "events-dynamodb"

    @property
    def table_name(self) -> str:
        """The table named after ``dynamodb:``."""
        return self.spec.location.split(":", 1)[1]

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Yield one event per item."""
        try:
            from boto3.dynamodb.types import TypeDeserializer  # noqa: PLC0415
            from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError  # noqa: PLC0415
        except ImportError:
            raise self.fail("reading DynamoDB needs boto3; install it with: pip install 'execintel[aws]'") from None

        if not self.table_name:
            raise self.fail("names no table; write dynamodb:TABLE_NAME")
        deserialize = TypeDeserializer().deserialize
        ordinal = 0
        deadline = time.monotonic() + SCAN_DEADLINE
        try:
            client = self.client or _client(self.settings)
            for page in client.get_paginator("scan").paginate(TableName=self.table_name):
                if time.monotonic() > deadline:
                    minutes = f"{SCAN_DEADLINE / 60:.0f} minutes"
                    raise self.fail(f"the scan of DynamoDB table {self.table_name!r} took longer than {minutes} "
                                    f"and was stopped after {ordinal:,} items")  # fmt: skip
                if ordinal + len(page.get("Items", [])) > MAX_ITEMS:
                    raise self.fail(f"DynamoDB table {self.table_name!r} holds more than {MAX_ITEMS:,} items, more "
                                    "than execintel reads from one table; export the events you need")  # fmt: skip
                for raw in page.get("Items", []):
                    ordinal += 1
                    item = {k: deserialize(v) for k, v in raw.items()}
                    row = self.event_row(item, ordinal, f"item {ordinal}")
                    if row is not None:
                        yield row
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                raise self.fail(f"DynamoDB table {self.table_name!r} does not exist") from None
            message = exc.response.get("Error", {}).get("Message", str(exc))
            raise self.fail(f"DynamoDB scan of {self.table_name!r} failed: {code}: {message}") from None
        except NoCredentialsError:
            raise self.fail(
                f"DynamoDB table {self.table_name!r} cannot be read: no AWS credentials "
                "(set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use --env-file)"
            ) from None
        except BotoCoreError as exc:
            raise self.fail(f"DynamoDB table {self.table_name!r} cannot be read: {exc}") from None
