"""The audit store in one DynamoDB table (``dynamodb://TABLE``): single-table design, on-demand billing.

boto3 lives only here and is imported when the store is first used, so the SQLite store works without it.
Items (``pk``, ``sk``)::

    LOG / SEQ#000000000001      an audit entry          LOG / HEAD              last seq and hash
    RUN#<id> / RUN              a run                   RUN#<id> / REPORT#<r>   a report of that run
    DELIVERY#<key> / DELIVERY   a delivery              SUPPRESSION / <address> LOCK / <name> SCHEDULE / <key>

A change and its audit entry are one ``TransactWriteItems``: the change with its condition, the entry
(``attribute_not_exists``) and the head (conditional on the seq it was read at). When another process appended
first, the head condition fails and the append is retried on the new head, so the chain stays linear.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, cast

from execintel.errors import ConfigError, Problem, StoreError
from execintel.store.base import Clock, Condition, Snapshot, Store, Write
from execintel.store.history import StoreMissing
from execintel.store.records import GENESIS, Draft, Row, Scalar

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, PutTypeDef, TransactWriteItemTypeDef

    from execintel.config.settings import Settings

PREFIX = "dynamodb://"
TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
LOG, HEAD = "LOG", "HEAD"
_CONSTANT_PK = {"suppressions": "SUPPRESSION", "locks": "LOCK", "schedule": "SCHEDULE", "meta": "META"}
_APPEND_RETRIES = 50
# Every call is bounded: 5 s to connect, 20 s for an answer, at most 4 attempts (standard retry mode, backoff
# with jitter). A conditional write retried after a lost answer is safe: TransactWriteItems carries an
# idempotency token, and the other writes are conditional.
CONNECT_TIMEOUT, READ_TIMEOUT, ATTEMPTS = 5.0, 20.0, 4


def _seq_key(seq: int) -> str:
    return f"SEQ#{seq:012d}"


def _keys(table: str, key: tuple[str, ...]) -> tuple[str, str]:
    if table == "runs":
        return f"RUN#{key[0]}", "RUN"
    if table == "reports":
        return f"RUN#{key[0]}", f"REPORT#{key[1]}"
    if table == "deliveries":
        return f"DELIVERY#{key[0]}", "DELIVERY"
    if table == "logins":
        return f"LOGIN#{key[0]}", "LOGIN"
    if table == "sessions":
        return f"SESSION#{key[0]}", "SESSION"
    return _CONSTANT_PK[table], key[0]


def _value(value: str | int) -> AttributeValueTypeDef:
    # Every number the store keeps is an int (figures and summaries are JSON text), so N round-trips exactly.
    return {"N": str(value)} if isinstance(value, int) else {"S": value}


def _item(pk: str, sk: str, row: Mapping[str, Scalar]) -> dict[str, AttributeValueTypeDef]:
    """An item: None columns are left out (read back as None), so conditions can use attribute_not_exists."""
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{k: _value(v) for k, v in row.items() if v is not None}}


def _row(item: Mapping[str, Any]) -> Row:
    return {k: int(v["N"]) if "N" in v else v.get("S") for k, v in item.items() if k not in ("pk", "sk")}


class _Expression:
    """Placeholders for names (many columns are reserved words) and values of one request."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, AttributeValueTypeDef] = {}

    def name(self, column: str) -> str:
        alias = f"#n{len(self.names)}"
        self.names[alias] = column
        return alias

    def value(self, value: str | int) -> str:
        alias = f":v{len(self.values)}"
        self.values[alias] = _value(value)
        return alias

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"ExpressionAttributeNames": self.names} if self.names else {}
        return params | ({"ExpressionAttributeValues": self.values} if self.values else {})

    def condition(self, when: Condition, op: str) -> str | None:
        if when == "absent":
            return "attribute_not_exists(pk)"
        if when == "present" or (when is None and op == "update"):  # an update never creates a partial item
            return "attribute_exists(pk)"
        if isinstance(when, tuple):
            column, value = when
            test = f"attribute_not_exists({self.name(column)})" if value is None else \
                f"{self.name(column)} = {self.value(value)}"  # fmt: skip
            return f"attribute_exists(pk) AND {test}"
        return None


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class DynamoStore(Store):
    """The audit store in a DynamoDB table (AWS, or moto in tests)."""

    scheme = "dynamodb"
    instant_commit = False  # a write may be applied while the process waits for DynamoDB's answer

    def __init__(
        self, table: str, *, client: DynamoDBClient | None = None, settings: Settings | None = None,
        clock: Clock | None = None, source: str = "--store",
        timeouts: tuple[float, float, int] = (CONNECT_TIMEOUT, READ_TIMEOUT, ATTEMPTS),
    ) -> None:  # fmt: skip
        super().__init__(f"{PREFIX}{table}", clock)
        self.table = table
        self.source = source
        self._client = client
        self._own_client = client is None
        self._settings = settings
        self._timeouts = timeouts

    @classmethod
    def from_url(
        cls, url: str, *, settings: Settings, client: Any = None, clock: Clock | None = None, source: str = "--store",
        create: bool = True,
    ) -> Self:  # fmt: skip
        """``dynamodb://TABLE``; the client comes from ``settings`` (AWS_* variables) unless one is given."""
        table = url[len(PREFIX) :] if url.startswith(PREFIX) else ""
        if not TABLE_NAME.fullmatch(table):
            raise ConfigError(Problem(source, f"{url!r} names no valid DynamoDB table; write dynamodb://TABLE "
                                              "(3-255 letters, digits, '_', '-', '.')"))  # fmt: skip
        return cls(table, client=client, settings=settings, clock=clock, source=source)

    def marker_path(self, settings: Settings) -> Path | None:
        """A marker in the data dir, one per table and endpoint: best effort (a Lambda has no lasting disk)."""
        from execintel.store import data_dir  # noqa: PLC0415 - the package imports this module

        kwargs = settings.aws_client_kwargs()
        where = f"{kwargs.get('region_name', '')}|{kwargs.get('endpoint_url', '')}"
        digest = hashlib.sha256(where.encode()).hexdigest()[:12]
        return data_dir(settings) / "markers" / f"dynamodb-{self.table}-{digest}.json"

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Translate botocore's exceptions into StoreError sentences naming the table."""
        try:
            from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415
        except ImportError:
            raise StoreError(f"The store {self.url} needs boto3: pip install 'execintel[aws]'.") from None
        try:
            yield
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                raise StoreMissing(Problem(self.source, f"The DynamoDB table {self.table!r} does not exist; create "
                                           f"it with: execintel store init --store {self.url}")) from exc  # fmt: skip
            message = exc.response.get("Error", {}).get("Message", str(exc))
            raise StoreError(f"The store {self.url} failed to {action}: {_code(exc)}: {message}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"The store {self.url} failed to {action}: {exc} (check AWS_REGION and the "
                             "credentials, or pass --env-file)") from exc  # fmt: skip

    @property
    def client(self) -> DynamoDBClient:
        """The boto3 DynamoDB client, built from the settings on first use unless one was injected."""
        if self._client is None:
            with self._errors("connect"):
                import boto3  # noqa: PLC0415 - heavy, and only this backend needs it
                from botocore.config import Config  # noqa: PLC0415

                kwargs = self._settings.aws_client_kwargs() if self._settings is not None else {}
                connect, read, attempts = self._timeouts
                config = Config(connect_timeout=connect, read_timeout=read,
                                retries={"mode": "standard", "total_max_attempts": attempts})  # fmt: skip
                self._client = boto3.client("dynamodb", config=config, **kwargs)  # type: ignore[call-overload]
        return self._client

    def init(self) -> None:
        """Create the table (pk, sk; on-demand billing) when missing and wait until it is ACTIVE."""
        from botocore.exceptions import ClientError  # noqa: PLC0415

        with self._errors("create its table"):
            try:
                table = self.client.describe_table(TableName=self.table)["Table"]
            except ClientError as exc:
                if _code(exc) != "ResourceNotFoundException":
                    raise
                try:
                    self.client.create_table(
                        TableName=self.table, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "sk", "KeyType": "RANGE"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                              {"AttributeName": "sk", "AttributeType": "S"}],
                    )  # fmt: skip
                except ClientError as race:
                    if _code(race) != "ResourceInUseException":  # another process is creating it
                        raise
                self.client.get_waiter("table_exists").wait(
                    TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
                )
                return
        keys = {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]}
        if keys != {"pk": "HASH", "sk": "RANGE"}:
            raise StoreError(f"The DynamoDB table {self.table!r} exists but its key is not (pk, sk); it is not an "
                             "execintel store. Name another table.")  # fmt: skip

    def close(self) -> None:
        """Update the marker (best effort), then close the client if this store built it."""
        if self._client is not None:
            with contextlib.suppress(StoreError):  # the table is gone or unreachable: keep the old marker
                self.save_marker()
        if self._client is not None and self._own_client:
            self._client.close()
            self._client = None

    def _get(self, table: str, key: tuple[str, ...]) -> Row | None:
        pk, sk = _keys(table, key)
        return self._get_item(pk, sk, f"read {table}")

    def _get_item(self, pk: str, sk: str, action: str) -> Row | None:
        with self._errors(action):
            item = self.client.get_item(
                TableName=self.table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
            ).get("Item")
        return None if item is None else _row(item)

    def _paged(self, call: Callable[..., Any], action: str, **params: Any) -> Iterator[Row]:
        with self._errors(action):
            while True:
                page = call(TableName=self.table, ConsistentRead=True, **params)
                yield from (_row(item) for item in page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    return
                params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _rows(
        self, table: str, where: Mapping[str, Scalar], *, at_least: tuple[str, str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> list[Row]:  # fmt: skip
        # A small table: runs, deliveries and the reports of every run are a filtered Scan, the rest a Query on
        # one partition.
        expr = _Expression()
        by_run = table == "reports" and isinstance(where.get("run_id"), str)
        filters = [f"{expr.name(c)} = {expr.value(v)}" for c, v in where.items()
                   if v is not None and not (by_run and c == "run_id")]  # fmt: skip
        if at_least is not None:
            filters.append(f"{expr.name(at_least[0])} >= {expr.value(at_least[1])}")
        params: dict[str, Any] = {"FilterExpression": " AND ".join(filters)} if filters else {}
        if columns:
            params["ProjectionExpression"] = ", ".join(expr.name(c) for c in columns)
        if table in _CONSTANT_PK:
            params["KeyConditionExpression"] = f"pk = {expr.value(_CONSTANT_PK[table])}"
        elif by_run:
            run = expr.value(f"RUN#{where['run_id']}")
            params["KeyConditionExpression"] = f"pk = {run} AND begins_with(sk, {expr.value('REPORT#')})"
        elif table == "reports":  # every run's reports: REPORT#<report> items under each RUN#<id>
            params["FilterExpression"] = " AND ".join([f"begins_with(sk, {expr.value('REPORT#')})", *filters])
        else:
            params["FilterExpression"] = " AND ".join([f"sk = {expr.value(_keys(table, ('',))[1])}", *filters])
        call = self.client.query if "KeyConditionExpression" in params else self.client.scan
        return list(self._paged(call, f"list {table}", **params, **expr.params()))

    def _operation(self, write: Write) -> TransactWriteItemTypeDef:
        pk, sk = _keys(write.table, write.key)
        expr = _Expression()
        body: dict[str, Any] = {"TableName": self.table}
        if write.op == "put":
            body["Item"] = _item(pk, sk, write.values)
        else:
            body["Key"] = {"pk": {"S": pk}, "sk": {"S": sk}}
        if write.op == "update":
            sets = [f"{expr.name(c)} = {expr.value(v)}" for c, v in write.values.items() if v is not None]
            removes = [expr.name(c) for c, v in write.values.items() if v is None]
            body["UpdateExpression"] = " ".join(
                [*(["SET " + ", ".join(sets)] if sets else []), *(["REMOVE " + ", ".join(removes)] if removes else [])]
            )
        condition = expr.condition(write.when, write.op)
        if condition is not None:
            body["ConditionExpression"] = condition
        body |= expr.params()
        return cast("TransactWriteItemTypeDef", {write.op.capitalize(): body})

    def _head(self) -> tuple[int, str]:
        head = self._get_item(LOG, HEAD, "read the audit log head")
        return (0, GENESIS) if head is None else (int(head["seq"] or 0), str(head["hash"]))

    def _hash_at(self, seq: int) -> str | None:
        row = self._get_item(LOG, _seq_key(seq), "read the audit log")
        return None if row is None else str(row["hash"])

    def _commit(self, write: Write, entry: Draft | None, *, sync: bool = True) -> bool:
        # Every DynamoDB write is durable when it is acknowledged: ``sync`` changes nothing here.
        from botocore.exceptions import ClientError  # noqa: PLC0415

        operation = self._operation(write)
        with self._errors(f"write {write.table} {'/'.join(write.key)!r}"):
            if entry is None:
                try:
                    if "Put" in operation:
                        self.client.put_item(**operation["Put"])
                    elif "Update" in operation:
                        self.client.update_item(**operation["Update"])
                    else:
                        self.client.delete_item(**operation["Delete"])
                except ClientError as exc:
                    if _code(exc) == "ConditionalCheckFailedException":
                        return False
                    raise
                return True
            for attempt in range(_APPEND_RETRIES):
                head = self._get_item(LOG, HEAD, "read the audit log head")
                row = entry.seal(*((int(head["seq"] or 0), str(head["hash"])) if head else (0, GENESIS)))
                new_head: PutTypeDef = {"TableName": self.table,
                                        "Item": _item(LOG, HEAD, {"seq": row["seq"], "hash": row["hash"]})}  # fmt: skip
                if head is None:
                    new_head["ConditionExpression"] = "attribute_not_exists(pk)"
                else:
                    new_head |= {"ConditionExpression": "#s = :s", "ExpressionAttributeNames": {"#s": "seq"},
                                 "ExpressionAttributeValues": {":s": _value(int(head["seq"] or 0))}}  # fmt: skip
                put_entry: PutTypeDef = {"TableName": self.table, "ConditionExpression": "attribute_not_exists(pk)",
                                         "Item": _item(LOG, _seq_key(int(row["seq"] or 0)), row)}  # fmt: skip
                try:
                    self.client.transact_write_items(TransactItems=[operation, {"Put": put_entry}, {"Put": new_head}])
                    return True
                except ClientError as exc:
                    if _code(exc) != "TransactionCanceledException":
                        raise
                    reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                    if reasons and reasons[0] == "ConditionalCheckFailed":
                        return False  # the change's own condition failed: nothing was written
                # Another process appended first (or DynamoDB saw a conflict): back off, read the new head.
                time.sleep((1 + secrets.randbelow(10)) * 0.002 * min(attempt + 1, 10))
        raise StoreError(f"The store {self.url} could not append to its audit log after {_APPEND_RETRIES} attempts "
                         "(too many processes writing at once).")  # fmt: skip

    def _entry_rows(self, *, after: int, limit: int | None, run_id: str | None) -> list[Row]:
        expr = _Expression()
        params: dict[str, Any] = {
            "KeyConditionExpression": f"pk = {expr.value(LOG)} AND sk BETWEEN "
            f"{expr.value(_seq_key(after + 1))} AND {expr.value(_seq_key(10**12 - 1))}"
        }
        if run_id is not None:
            params["FilterExpression"] = f"{expr.name('run_id')} = {expr.value(run_id)}"
        rows: list[Row] = []
        for row in self._paged(self.client.query, "read the audit log", **params, **expr.params()):
            if limit is not None and len(rows) >= limit:
                break
            rows.append(row)
        return rows

    def _snapshot(self) -> Snapshot:
        # No read transaction spans a whole table: read the log, then the head, and read on while the head shows
        # entries that were appended meanwhile. Deliveries are read last (see docs/store.md on concurrent writers).
        entries = self._entry_rows(after=0, limit=None, run_id=None)
        head = self._get_item(LOG, HEAD, "read the audit log head")
        for _ in range(10):
            last = int(entries[-1]["seq"] or 0) if entries else 0
            if head is None or int(head["seq"] or 0) <= last:
                break
            more = self._entry_rows(after=last, limit=None, run_id=None)
            if not more:
                break
            entries += more
            head = self._get_item(LOG, HEAD, "read the audit log head")
        return Snapshot(head, entries, self._rows("deliveries", {}))
