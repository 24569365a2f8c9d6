"""Events from a DynamoDB table (``dynamodb:TABLE``), scanned with pagination.

boto3 lives only here (and in the other AWS adapters). The client can be
injected; otherwise one is built from the settings, and boto3 itself honours
``AWS_ENDPOINT_URL`` (moto in tests, AWS in production).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from execintel.sources.base import register
from execintel.sources.events import EventSource


def _client(settings: Any) -> Any:
    import boto3  # noqa: PLC0415 - heavy; only when a DynamoDB source exists
    from botocore.config import Config  # noqa: PLC0415

    kwargs = settings.aws_client_kwargs() if settings is not None else {}
    session = boto3.session.Session()
    if "region_name" not in kwargs and session.region_name is None:
        kwargs["region_name"] = "us-east-1"
    return session.client("dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 3}), **kwargs)


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
        try:
            client = self.client or _client(self.settings)
            for page in client.get_paginator("scan").paginate(TableName=self.table_name):
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
