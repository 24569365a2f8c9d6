"""The audit store's records, how they become rows, and the hash chain over the audit log (pure functions).

A row is plain columns of ``str | int | None``: times are ISO-8601 UTC strings with microseconds (fixed width,
so they sort as text), booleans 0/1, and mappings (run summaries, figure snapshots, audit data) canonical JSON
text, the same text that is hashed. :func:`check_chain` and :func:`replay_deliveries` are what
``Store.verify`` runs over the rows a backend read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, get_args

# "unknown": the message may or may not have reached the provider (its final step went out, no answer came back);
# it is never sent again on its own (see docs/delivery.md).
DeliveryState = Literal["rendered", "sending", "sent", "failed", "suppressed", "held", "unknown"]
DELIVERY_STATES: tuple[str, ...] = get_args(DeliveryState)
RUN_STATUSES = ("ok", "failed", "held", "interrupted")
GENESIS = "0" * 64
Scalar = str | int | None
Row = dict[str, Scalar]
R = TypeVar("R")
Condition = Literal["absent", "present"] | tuple[str, Scalar] | None  # of a Write: see Write.when
Parsed = tuple[int, str, str, str | None, Any]  # seq, ts, kind, run_id and data of an entry that parsed

# Each logical table and the columns that identify one of its rows.
KEYS: dict[str, tuple[str, ...]] = {
    "runs": ("run_id",), "reports": ("run_id", "report"), "deliveries": ("key",),
    "suppressions": ("address",), "locks": ("name",), "schedule": ("schedule_key",), "meta": ("name",),
    "logins": ("token_hash",), "sessions": ("jti",),
}  # fmt: skip
_DATES = frozenset({"started", "finished", "generated", "sending_at", "updated", "added", "expires", "ts", "fired",
                    "used", "revoked"})  # fmt: skip
_BOOLS = frozenset({"dry_run", "forced", "permanent"})
_JSONS = frozenset({"summary", "figures", "data", "findings"})
# A report with more findings than this keeps no titles in its findings snapshot: the record (and its audit entry)
# must fit one DynamoDB item (400 KB). Titles only name resolved findings in the CEO's "what changed".
TITLED_FINDINGS = 500
TITLE_CHARS = 200


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run of the pipeline: who started it, for which period, and how it ended."""

    run_id: str
    portfolio: str
    trigger: str
    schedule_id: str | None
    period: str
    started: datetime
    dry_run: bool = False
    forced: bool = False
    mailer: str = ""
    finished: datetime | None = None
    status: str | None = None
    summary: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReportRecord:
    """A report a run generated: the hash of its JSON, a snapshot of its figures, its ``as_of`` and its findings.

    ``findings`` maps each finding id to ``{"severity", "amount", "entity", "title"}`` (see :func:`findings_snapshot`);
    it and ``as_of`` are None in records written before the store kept them (schema version 3 and older).
    """

    run_id: str
    report: str
    period: str
    content_hash: str
    figures: Mapping[str, Any]
    generated: datetime
    as_of: str | None = None
    findings: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One report for one recipient and period, and where it is on its way to the inbox."""

    key: str
    portfolio: str
    schedule_id: str | None
    period: str
    report: str
    recipient: str
    recipients: int
    state: DeliveryState
    run_id: str
    attempts: int = 0
    provider_id: str | None = None
    reason: str | None = None
    permanent: bool | None = None
    sending_at: datetime | None = None
    updated: datetime | None = None
    mailer: str | None = None


@dataclass(frozen=True, slots=True)
class Suppression:
    """An address nothing is sent to, and why."""

    address: str
    reason: str
    source: str
    added: datetime


@dataclass(frozen=True, slots=True)
class LoginToken:
    """A magic-link token of the web app, kept only as its SHA-256; used once, before ``expires``."""

    token_hash: str
    subject: str
    added: datetime
    expires: datetime
    used: datetime | None = None
    ttl: int | None = None  # epoch seconds: DynamoDB's TTL deletes the item a day after it expired


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in session of the web app (its JWT's ``jti``); ``revoked`` once signed out."""

    jti: str
    subject: str
    added: datetime
    expires: datetime
    revoked: datetime | None = None
    ttl: int | None = None


@dataclass(frozen=True, slots=True)
class Lock:
    """A named lease; ``owner`` is ``hostname:pid:token``."""

    name: str
    owner: str
    expires: datetime


@dataclass(frozen=True, slots=True)
class Entry:
    """One audit-log entry, chained to the one before by ``prev_hash``."""

    seq: int
    ts: datetime
    kind: str
    run_id: str | None
    data: Mapping[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class Verification:
    """What :meth:`Store.verify` found; each problem names the entry or delivery concerned."""

    ok: bool
    entries: int
    problems: tuple[str, ...]


def findings_snapshot(findings: list[Mapping[str, Any]]) -> dict[str, Any]:
    """A report JSON's findings as the store keeps them: id -> severity, amount (exact, as text), entity and title
    (cut to :data:`TITLE_CHARS`; none when the report has more than :data:`TITLED_FINDINGS` findings). Empty
    values are left out; findings without an id (none since ids exist) are skipped."""
    titled = len(findings) <= TITLED_FINDINGS
    out: dict[str, Any] = {}
    for finding in findings:
        fid = finding.get("id")
        if not isinstance(fid, str) or not fid:
            continue
        item: dict[str, Any] = {"severity": str(finding.get("severity", ""))}
        if finding.get("amount") is not None:
            item["amount"] = str(finding["amount"])
        if finding.get("entity"):
            item["entity"] = str(finding["entity"])
        if titled and finding.get("title"):
            item["title"] = str(finding["title"])[:TITLE_CHARS]
        out[fid] = item
    return out


def canonical_json(value: Any) -> str:
    """The one JSON text of ``value`` that is hashed: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def entry_hash(prev_hash: str, seq: int, ts: str, kind: str, *, run_id: str | None, data: Any) -> str:
    """sha256 of the previous hash and the canonical JSON of the entry's seq, ts, kind, run_id and data."""
    body = canonical_json({"seq": seq, "ts": ts, "kind": kind, "run_id": run_id, "data": data})
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with microseconds: fixed width, so the strings sort in time order."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no time zone; the store only takes aware datetimes")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def to_plain(name: str, value: Any) -> Any:
    """A field as JSON (audit data): datetimes as ISO text, mappings as dicts."""
    if isinstance(value, datetime):
        return iso(value)
    return dict(value) if name in _JSONS and value is not None else value


def to_column(name: str, value: Any) -> Scalar:
    """A plain (JSON) field value as a column: booleans as 0/1, mappings as canonical JSON text."""
    if value is None:
        return None
    if name in _BOOLS:
        return int(bool(value))
    if name in _JSONS:
        try:
            return canonical_json(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be JSON (str, int, float, bool, None, list, dict): {exc}") from exc
    return value  # type: ignore[no-any-return]


def to_row(record: Any) -> Row:
    """A record as a row of columns."""
    return {f.name: to_column(f.name, to_plain(f.name, getattr(record, f.name))) for f in fields(record)}


def from_row(cls: type[R], row: Mapping[str, Scalar]) -> R:
    """A record read back from a row (missing columns are None)."""
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        value: Any = row.get(f.name)
        if value is not None and f.name in _DATES:
            value = datetime.fromisoformat(str(value))
        elif value is not None and f.name in _BOOLS:
            value = bool(value)
        elif value is not None and f.name in _JSONS:
            value = json.loads(str(value))
        values[f.name] = value
    return cls(**values)


@dataclass(frozen=True, slots=True)
class Draft:
    """An audit entry before it has its place (seq and prev_hash) in the chain."""

    ts: str
    kind: str
    run_id: str | None
    data: dict[str, Any]

    def seal(self, head_seq: int, head_hash: str) -> Row:
        """The entry's row as the successor of the head (``head_seq``, ``head_hash``)."""
        text = canonical_json(self.data)
        seq = head_seq + 1
        digest = entry_hash(head_hash, seq, self.ts, self.kind, run_id=self.run_id, data=json.loads(text))
        return {"seq": seq, "ts": self.ts, "kind": self.kind, "run_id": self.run_id, "data": text,
                "prev_hash": head_hash, "hash": digest}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Write:
    """One change to one row; ``when`` is its condition: "absent", "present" or (column, value) equal."""

    op: Literal["put", "update", "delete"]
    table: str
    key: tuple[str, ...]
    values: Row = field(default_factory=dict)
    when: Condition = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The head, every entry (ascending seq) and every delivery row, read consistently."""

    head: Row | None
    entries: list[Row]
    deliveries: list[Row]


# What transition(**changes) may set, and the types each accepts.
CHANGES: dict[str, tuple[type, ...]] = {
    "attempts": (int,), "provider_id": (str, type(None)), "reason": (str, type(None)),
    "permanent": (bool, type(None)), "sending_at": (datetime, type(None)), "mailer": (str, type(None)),
}  # fmt: skip
DELIVERY_FIELDS = tuple(f.name for f in fields(Delivery))


def check_chain(head: Row | None, entries: list[Row]) -> tuple[list[str], list[Parsed]]:
    """Problems of the chain (edited, deleted or reordered entries; a head that does not match) and the entries."""
    problems: list[str] = []
    prev_seq, prev_hash = 0, GENESIS
    parsed: list[Parsed] = []
    for row in entries:
        seq, ts, kind = int(row["seq"] or 0), str(row["ts"]), str(row["kind"])
        run_id = None if row.get("run_id") is None else str(row["run_id"])
        if seq != prev_seq + 1:
            missing = f"{prev_seq + 1}" if seq == prev_seq + 2 else f"{prev_seq + 1} to {seq - 1}"
            problems.append(f"entry {missing} is missing: seq jumps from {prev_seq} to {seq} (deleted)")
        elif row["prev_hash"] != prev_hash:
            problems.append(f"entry {seq}: prev_hash does not match the hash of entry {prev_seq} "
                            "(an entry was edited, replaced or reordered)")  # fmt: skip
        try:
            data = json.loads(str(row["data"]))
        except ValueError:
            problems.append(f"entry {seq}: data is not valid JSON (edited)")
        else:
            if entry_hash(str(row["prev_hash"]), seq, ts, kind, run_id=run_id, data=data) != row["hash"]:
                problems.append(f"entry {seq} ({kind}): hash does not match its content (edited)")
            parsed.append((seq, ts, kind, run_id, data))
        prev_seq, prev_hash = seq, str(row["hash"])
    head_seq = None if head is None else int(head["seq"] or 0)
    if head is None or head_seq is None:
        if entries:
            problems.append(f"the head record is missing, but the log has entries up to {prev_seq}")
    elif head_seq != prev_seq:
        what = (f"entry {head_seq} is missing (deleted from the end of the log)" if head_seq > prev_seq
                else f"entries after {head_seq} were appended outside the store")  # fmt: skip
        problems.append(f"the head says the log ends at entry {head_seq} but it ends at {prev_seq}: {what}")
    elif head["hash"] != prev_hash:
        problems.append(f"the head's hash does not match entry {prev_seq} (the last entry was replaced)")
    return problems, parsed


def replay_deliveries(parsed: list[Parsed], rows: list[Row]) -> list[str]:
    """Rebuild each delivery from its audit entries and compare it with its row (an edited row is caught)."""
    replayed: dict[str, tuple[int, Row]] = {}
    for seq, ts, kind, run_id, data in parsed:
        if not kind.startswith("delivery.") or not isinstance(data, dict) or "key" not in data:
            continue
        key, before = str(data["key"]), replayed.get(str(data["key"]))
        if data.get("from") is None or before is None:
            row = {name: to_column(name, data.get(name)) for name in DELIVERY_FIELDS}
        else:
            row = {**before[1], **{name: to_column(name, data[name]) for name in CHANGES if name in data}}
            row |= {"state": data.get("to"), "run_id": run_id, "updated": ts}
        replayed[key] = (seq, row)
    stored = {str(r["key"]): r for r in rows}
    problems: list[str] = []
    for key in sorted(stored.keys() | replayed.keys()):
        if key not in replayed:
            problems.append(f"delivery {key!r} is in the deliveries table but has no audit entry (written outside)")
        elif key not in stored:
            problems.append(f"delivery {key!r} is in the audit log (entry {replayed[key][0]}) but not in the "
                            "deliveries table (deleted)")  # fmt: skip
        else:
            seq, expected = replayed[key]
            problems += [
                f"delivery {key!r}: {name} is {stored[key].get(name)!r} in the deliveries table but "
                f"{expected.get(name)!r} in the audit log (last change: entry {seq})"
                for name in DELIVERY_FIELDS if stored[key].get(name) != expected.get(name)
            ]  # fmt: skip
    return problems
