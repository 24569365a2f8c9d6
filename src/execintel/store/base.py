"""The :class:`Store` base: every rule of the audit store lives here; backends only read and write rows.

A backend stores plain rows (see :mod:`execintel.store.records`) and implements five primitives: get one row,
list rows, apply one conditional :class:`Write` together with one audit entry atomically, list audit entries,
and read a consistent :class:`Snapshot`. The base validates arguments, drafts each audit entry (the backend
seals it onto the chain inside its transaction), decides when a lock is stale and verifies the log.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from execintel.errors import StoreError
from execintel.store.history import Marker, write_marker
from execintel.store.records import (
    CHANGES,
    DELIVERY_FIELDS,
    DELIVERY_STATES,
    KEYS,
    RUN_STATUSES,
    Condition,
    Delivery,
    DeliveryState,
    Draft,
    Entry,
    Lock,
    LoginToken,
    ReportRecord,
    Row,
    RunRecord,
    Scalar,
    Session,
    Snapshot,
    Suppression,
    Verification,
    Write,
    check_chain,
    from_row,
    iso,
    replay_deliveries,
    to_column,
    to_plain,
    to_row,
)

if TYPE_CHECKING:
    from execintel.config.settings import Settings

__all__ = [
    "KEYS", "Clock", "Condition", "Delivery", "DeliveryState", "Draft", "Entry", "Lock", "ReportRecord", "RunRecord",
    "Snapshot", "StateConflict", "Store", "Suppression", "Verification", "Write", "lock_is_stale",
]  # fmt: skip

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
_NOT_AT_START = ("run_id", "finished", "status")  # the run id is the entry's own; the rest is not known yet
# States whose envelope recipients count toward the daily limit: what may have gone out counts.
COUNTED = ("sending", "sent", "unknown")
_RETRIES = 20
# The columns of a report record that report_history reads (the figures snapshot, the bulk, is left out).
_HISTORY_COLUMNS = ("run_id", "report", "period", "content_hash", "generated", "as_of", "findings")


class StateConflict(StoreError):
    """A delivery was not in a state the transition expected (someone else changed it first)."""

    def __init__(self, key: str, current: str, expected: Collection[str], target: str) -> None:
        self.key, self.current, self.expected = key, current, tuple(sorted(expected))
        super().__init__(
            f"Delivery {key!r} is {current!r}, not {' or '.join(map(repr, self.expected))}; "
            f"it was not changed to {target!r}."
        )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def lock_is_stale(lock: Lock, now: datetime, hostname: str | None = None) -> bool:
    """Expired, or held by a process on this host that is gone (a run killed with kill -9 must not block)."""
    if lock.expires <= now:
        return True
    parts = lock.owner.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    return parts[0] == (hostname or socket.gethostname()) and not _pid_alive(int(parts[1]))


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, not {value!r}")
    return value


def _positive(name: str, value: float) -> float:
    if not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
    return value


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Store(ABC):
    """The audit trail and delivery state of execintel; every change but a lock appends one audit entry."""

    scheme: ClassVar[str]
    instant_commit: ClassVar[bool] = True
    """True when a commit cannot be lost by a process kill once it is written, and the call returns at once
    (SQLite). False when a write may be applied by a server while the process is still waiting for the answer
    (DynamoDB): then a delivery found "sending" after a crash may not have been handed over yet."""
    url: str

    def __init__(self, url: str, clock: Clock | None = None) -> None:
        self.url = url
        self._clock = clock or _utcnow
        self.history_problem: str | None = None
        """Set by ``open_store``: how the store differs from its marker (a store that lost its history)."""
        self._marker: Path | None = None
        self._marked: tuple[int, str] | None = None

    @classmethod
    @abstractmethod
    def from_url(
        cls, url: str, *, settings: Settings, client: Any = None, clock: Clock | None = None, source: str = "--store",
        create: bool = True,
    ) -> Self:  # fmt: skip
        """Open the store a URL of this backend's scheme names; a bad URL is a ConfigError naming ``source``.

        ``create=False``: the store must exist already (a :class:`StoreMissing` otherwise).
        """

    @abstractmethod
    def marker_path(self, settings: Settings) -> Path | None:
        """Where the marker that records this store's history lives (see :mod:`execintel.store.history`)."""

    @abstractmethod
    def init(self) -> None:
        """Create the schema or table when missing (idempotent)."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection or client."""

    # The primitives a backend implements.
    @abstractmethod
    def _get(self, table: str, key: tuple[str, ...]) -> Row | None: ...

    @abstractmethod
    def _rows(
        self, table: str, where: Mapping[str, Scalar], *, at_least: tuple[str, str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> list[Row]:  # fmt: skip
        """Rows whose columns equal ``where`` (and whose column ``at_least[0]`` is >= ``at_least[1]``); with
        ``columns``, only those columns of each row (the others read back as None)."""

    @abstractmethod
    def _commit(self, write: Write, entry: Draft | None, *, sync: bool = True) -> bool:
        """Apply ``write`` and append ``entry`` atomically; False (and nothing written) when its condition fails.

        ``sync=False`` may skip waiting for the disk: the change survives the process being killed, not power loss.
        """

    @abstractmethod
    def _head(self) -> tuple[int, str]:
        """The seq and hash of the last audit entry (0 and the genesis hash for an empty log)."""

    @abstractmethod
    def _hash_at(self, seq: int) -> str | None:
        """The hash of audit entry ``seq``, or None when there is no such entry."""

    @abstractmethod
    def _entry_rows(self, *, after: int, limit: int | None, run_id: str | None) -> list[Row]: ...

    @abstractmethod
    def _snapshot(self) -> Snapshot: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    # Identity: what makes a store lost or replaced noticeable (see execintel.store.history).
    def store_id(self) -> str | None:
        """The random id the store was given when it was created; None for a store that was never set up."""
        row = self._get("meta", ("store_id",))
        return None if row is None else str(row["value"])

    def identity(self) -> tuple[str | None, int, str]:
        """The store id and the seq and hash of the head of the audit chain."""
        seq, head = self._head()
        return self.store_id(), seq, head

    def entry_hash(self, seq: int) -> str | None:
        """The hash of audit entry ``seq`` (None when it does not exist)."""
        return self._hash_at(seq)

    def claim_identity(self) -> str:
        """Give the store its id when it has none (a new store); the id it has otherwise."""
        row: Row = {"name": "store_id", "value": secrets.token_hex(16), "created": iso(self._now())}
        self._commit(Write("put", "meta", ("store_id",), row, "absent"), None)
        found = self.store_id()
        assert found is not None  # noqa: S101 - just written, or written by a racing process
        return found

    def record_acceptance(self, loss: str, marker: Marker | None) -> None:
        """Record in the audit log that this store was accepted although it lost its history (``--new-store``)."""
        now = self._now()
        data = {"loss": loss, "marker": None if marker is None else {"store_id": marker.store_id, "seq": marker.seq}}
        self._commit(Write("put", "meta", ("accepted",), {"name": "accepted", "value": iso(now)}),
                     self._draft("store.accepted", None, data, now))  # fmt: skip

    def keep_marker(self, path: Path | None) -> None:
        """Record the head in the marker at ``path`` now, and again at each finished run and at close."""
        self._marker = path
        self.save_marker()

    def save_marker(self) -> None:
        """Write the marker when the head moved since it was last written; a failure is logged, not raised."""
        if self._marker is None:
            return
        store_id, seq, head = self.identity()
        if store_id is None or (seq, head) == self._marked:
            return
        try:
            write_marker(self._marker, Marker(store_id, seq, head, self.url))
        except OSError as exc:
            log.warning("could not update the store's marker %s: %s", self._marker, exc)
            return
        self._marked = (seq, head)

    def _now(self) -> datetime:
        now = self._clock()
        iso(now)  # refuses a naive clock early
        return now

    def _draft(self, kind: str, run_id: str | None, data: dict[str, Any], now: datetime) -> Draft:
        return Draft(iso(now), kind, run_id, data)

    # Runs and reports.
    def start_run(self, run: RunRecord) -> None:
        """Record a run that started (audit "run.started"); a run id is used once."""
        _text("run_id", run.run_id)
        row = to_row(run)
        data = {name: to_plain(name, getattr(run, name)) for name in row if name not in _NOT_AT_START}
        if not self._commit(Write("put", "runs", (run.run_id,), row, "absent"),
                            self._draft("run.started", run.run_id, data, self._now())):  # fmt: skip
            raise StoreError(f"Run {run.run_id!r} already exists in {self.url}.")

    def finish_run(self, run_id: str, status: str, summary: Mapping[str, Any]) -> None:
        """Record how a run ended (audit "run.finished"); a run finishes once."""
        if status not in RUN_STATUSES:
            raise ValueError(f"status must be one of {', '.join(RUN_STATUSES)}, not {status!r}")
        now = self._now()
        values = {"finished": iso(now), "status": status, "summary": to_column("summary", summary)}
        data = {"status": status, "summary": dict(summary)}
        if self._commit(Write("update", "runs", (run_id,), values, ("status", None)),
                        self._draft("run.finished", run_id, data, now)):  # fmt: skip
            self.save_marker()
            return
        run = self.get_run(run_id)
        if run is None:
            raise StoreError(f"Run {run_id!r} is not in {self.url}.")
        raise StoreError(f"Run {run_id!r} already finished ({run.status}) in {self.url}.")

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run with this id, or None."""
        row = self._get("runs", (run_id,))
        return None if row is None else from_row(RunRecord, row)

    def list_runs(self, limit: int = 20) -> list[RunRecord]:
        """The newest ``limit`` runs, newest first."""
        rows = sorted(self._rows("runs", {}), key=lambda r: (str(r["started"]), str(r["run_id"])), reverse=True)
        return [from_row(RunRecord, row) for row in rows[: max(limit, 0)]]

    def record_report(self, record: ReportRecord) -> None:
        """Record a generated report (audit "report.generated" with its content hash and figures)."""
        if len(record.content_hash) != 64 or not all(c in "0123456789abcdef" for c in record.content_hash):
            raise ValueError(f"content_hash must be a sha256 hex digest, not {record.content_hash!r}")
        if self._get("runs", (record.run_id,)) is None:
            raise StoreError(f"Run {record.run_id!r} is not in {self.url}; start it before recording its reports.")
        row = to_row(record)
        data = {name: to_plain(name, getattr(record, name)) for name in row if name != "run_id"}
        if not self._commit(Write("put", "reports", (record.run_id, record.report), row, "absent"),
                            self._draft("report.generated", record.run_id, data, self._now())):  # fmt: skip
            raise StoreError(f"Report {record.report!r} of run {record.run_id!r} is already recorded in {self.url}.")

    def reports(self, run_id: str) -> list[ReportRecord]:
        """The reports a run generated, by report id."""
        rows = sorted(self._rows("reports", {"run_id": run_id}), key=lambda r: str(r["report"]))
        return [from_row(ReportRecord, row) for row in rows]

    def report_history(self, portfolio: str) -> list[tuple[RunRecord, list[ReportRecord]]]:
        """Every run of ``portfolio`` (oldest first) with the reports it recorded, by report id, their figures left
        out (``{}``: read them with :meth:`reports`). What the findings lifecycle reads: as_of and findings."""
        runs = [from_row(RunRecord, row) for row in self._rows("runs", {"portfolio": portfolio})]
        runs.sort(key=lambda r: (r.started, r.run_id))
        ids = {run.run_id for run in runs}
        by_run: dict[str, list[ReportRecord]] = {}
        for row in self._rows("reports", {}, columns=_HISTORY_COLUMNS):
            if row.get("run_id") in ids:
                by_run.setdefault(str(row["run_id"]), []).append(replace(from_row(ReportRecord, row), figures={}))
        return [(run, sorted(by_run.get(run.run_id, []), key=lambda r: r.report)) for run in runs]

    # Deliveries.
    def add_delivery(self, delivery: Delivery) -> tuple[Delivery, bool]:
        """Insert a delivery when its key is new -> (it, True); else (the stored one, False), changing nothing."""
        _text("key", delivery.key)
        _text("recipient", delivery.recipient)
        if delivery.state not in DELIVERY_STATES:
            raise ValueError(f"state must be one of {', '.join(DELIVERY_STATES)}, not {delivery.state!r}")
        if isinstance(delivery.recipients, bool) or not isinstance(delivery.recipients, int) or delivery.recipients < 1:
            raise ValueError(f"recipients must be a positive int, not {delivery.recipients!r}")
        for _ in range(_RETRIES):
            now = self._now()
            sending_at = now if delivery.state == "sending" and delivery.sending_at is None else delivery.sending_at
            stored = replace(delivery, updated=now, sending_at=sending_at)
            data = {**{name: to_plain(name, getattr(stored, name)) for name in DELIVERY_FIELDS},
                    "from": None, "to": stored.state}  # fmt: skip
            if self._commit(Write("put", "deliveries", (delivery.key,), to_row(stored), "absent"),
                            self._draft(f"delivery.{stored.state}", stored.run_id, data, now)):  # fmt: skip
                return stored, True
            existing = self.get_delivery(delivery.key)
            if existing is not None:
                return existing, False
        raise StoreError(f"Delivery {delivery.key!r} could not be added to {self.url}: it kept changing.")

    def get_delivery(self, key: str) -> Delivery | None:
        """The delivery with this key, or None."""
        row = self._get("deliveries", (key,))
        return None if row is None else from_row(Delivery, row)

    def transition(
        self, key: str, state: DeliveryState, *, run_id: str, expect: Collection[DeliveryState], sync: bool = True,
        **changes: Any,
    ) -> Delivery:  # fmt: skip
        """Move a delivery to ``state`` if it is in one of ``expect`` (else StateConflict), with its audit entry.

        ``sync=False``: the change is kept if the process is killed, but may be lost with power; the next change
        with ``sync=True`` makes it durable. The SMTP mailer's commit point uses it: waiting for the disk there
        would widen the window between the record and the hand-off (see docs/delivery.md).
        """
        for name, value in changes.items():
            if name not in CHANGES:
                raise TypeError(f"transition() got an unexpected keyword argument {name!r}; it may set "
                                f"{', '.join(CHANGES)}")  # fmt: skip
            if not isinstance(value, CHANGES[name]) or (name == "attempts" and isinstance(value, bool)):
                raise TypeError(f"transition() {name} must be {' or '.join(t.__name__ for t in CHANGES[name])}, "
                                f"not {value!r}")  # fmt: skip
        wanted = frozenset(expect)
        for name in (state, *wanted):
            if name not in DELIVERY_STATES:
                raise ValueError(f"{name!r} is not a delivery state ({', '.join(DELIVERY_STATES)})")
        if not wanted:
            raise ValueError("expect must name at least one state")
        _text("run_id", run_id)
        for _ in range(_RETRIES):
            current = self._get("deliveries", (key,))
            if current is None:
                raise StoreError(f"Delivery {key!r} is not in {self.url}.")
            before = str(current["state"])
            if before not in wanted:
                raise StateConflict(key, before, wanted, state)
            now = self._now()
            update = dict(changes)
            if state == "sending" and "sending_at" not in update:
                update["sending_at"] = now  # entering "sending" is what counts toward the daily limit
            plain = {name: to_plain(name, value) for name, value in update.items()}
            values: Row = {name: to_column(name, value) for name, value in plain.items()}
            values |= {"state": state, "run_id": run_id, "updated": iso(now)}
            # Conditional on the state we read, so "from" in the audit entry is exactly what was replaced.
            entry = self._draft(f"delivery.{state}", run_id, {"key": key, "from": before, "to": state, **plain}, now)
            if self._commit(Write("update", "deliveries", (key,), values, ("state", before)), entry, sync=sync):
                return from_row(Delivery, {**current, **values})
        raise StoreError(f"Delivery {key!r} in {self.url} kept changing; gave up after {_RETRIES} attempts.")

    def deliveries(
        self, *, run_id: str | None = None, portfolio: str | None = None, period: str | None = None,
        states: Collection[str] | None = None,
    ) -> list[Delivery]:  # fmt: skip
        """Deliveries matching every filter given, by portfolio, period, report and recipient."""
        where = {k: v for k, v in (("run_id", run_id), ("portfolio", portfolio), ("period", period)) if v is not None}
        rows = [r for r in self._rows("deliveries", where) if states is None or r["state"] in states]
        rows.sort(key=lambda r: tuple(str(r[k]) for k in ("portfolio", "period", "report", "recipient", "key")))
        return [from_row(Delivery, row) for row in rows]

    def recipients_since(self, portfolio: str, since: datetime) -> int:
        """Envelope recipients of deliveries that entered "sending" at or after ``since`` and did not fail."""
        rows = self._rows("deliveries", {"portfolio": portfolio}, at_least=("sending_at", iso(since)))
        return sum(int(r["recipients"] or 0) for r in rows if r["state"] in COUNTED and r.get("sending_at") is not None)

    def delivery_by_provider_id(self, provider_id: str) -> Delivery | None:
        """The delivery the mail provider knows by ``provider_id`` (SES's MessageId), or None."""
        rows = self._rows("deliveries", {"provider_id": _text("provider_id", provider_id)})
        rows.sort(key=lambda r: str(r.get("updated") or ""))
        return from_row(Delivery, rows[-1]) if rows else None

    # The web app's sign-in: magic-link tokens and sessions (each change audited with the subject, never a token).
    def add_login(self, token_hash: str, subject: str, *, ttl: float) -> LoginToken:
        """Keep a new magic-link token's hash for ``ttl`` seconds (audit "auth.link_requested")."""
        now = self._now()
        expires = now + timedelta(seconds=_positive("ttl", ttl))
        token = LoginToken(_text("token_hash", token_hash), _text("subject", subject), now, expires,
                           ttl=int(expires.timestamp()) + 86_400)  # fmt: skip
        data = {"subject": subject, "expires": iso(expires)}
        if not self._commit(Write("put", "logins", (token_hash,), to_row(token), "absent"),
                            self._draft("auth.link_requested", None, data, now)):  # fmt: skip
            raise StoreError(f"A sign-in token could not be recorded in {self.url}.")
        return token

    def consume_login(self, token_hash: str) -> tuple[LoginToken | None, str]:
        """Use a magic-link token once: (the token, "") or (None, why: "unknown", "used" or "expired").

        Atomic: of two requests with one token, exactly one gets it. Audited as "auth.link_consumed" or
        "auth.link_failed" (with the subject when the token is known).
        """
        row = self._get("logins", (token_hash,))
        now = self._now()
        token = None if row is None else from_row(LoginToken, row)
        why = "unknown" if token is None else "used" if token.used is not None else \
            "expired" if token.expires <= now else ""  # fmt: skip
        if token is not None and not why:
            use = Write("update", "logins", (token_hash,), {"used": iso(now)}, ("used", None))
            consumed = self._commit(use, self._draft("auth.link_consumed", None, {"subject": token.subject}, now))
            if consumed:
                return replace(token, used=now), ""
            why = "used"  # another request took it first
        self.record_event("auth.link_failed", {"subject": token.subject if token else None, "reason": why})
        return None, why

    def start_session(self, jti: str, subject: str, expires: datetime) -> Session:
        """Record a new session (audit "auth.session_started")."""
        now = self._now()
        session = Session(_text("jti", jti), _text("subject", subject), now, expires,
                          ttl=int(expires.timestamp()) + 86_400)  # fmt: skip
        if not self._commit(Write("put", "sessions", (jti,), to_row(session), "absent"),
                            self._draft("auth.session_started", None,
                                        {"subject": subject, "expires": iso(expires)}, now)):  # fmt: skip
            raise StoreError(f"Session {jti!r} is already recorded in {self.url}.")
        return session

    def session(self, jti: str) -> Session | None:
        """The session with this ``jti``, or None."""
        row = self._get("sessions", (jti,))
        return None if row is None else from_row(Session, row)

    def revoke_session(self, jti: str) -> bool:
        """Sign a session out (audit "auth.session_revoked"); False when it was unknown or already revoked."""
        found = self.session(jti)
        if found is None:
            return False
        now = self._now()
        return self._commit(Write("update", "sessions", (jti,), {"revoked": iso(now)}, ("revoked", None)),
                            self._draft("auth.session_revoked", None, {"subject": found.subject}, now))  # fmt: skip

    # Events that change no row: authentication and mail-provider feedback.
    EVENT_PREFIXES: ClassVar[tuple[str, ...]] = ("auth.", "feedback.")

    def record_event(self, kind: str, data: Mapping[str, Any], *, run_id: str | None = None) -> None:
        """Append one audit entry of ``kind`` ("auth.*" or "feedback.*") with ``data`` (plain JSON, no secrets)."""
        if not kind.startswith(self.EVENT_PREFIXES) or not kind.replace(".", "").replace("_", "").isalnum():
            raise ValueError(f"kind must start with {' or '.join(self.EVENT_PREFIXES)}, not {kind!r}")
        now = self._now()
        # An entry commits with a row write: the meta row "last_event" (which changes nothing else) carries it.
        row: Row = {"name": "last_event", "value": kind, "created": iso(now)}
        if not self._commit(Write("put", "meta", ("last_event",), row), self._draft(kind, run_id, dict(data), now)):
            raise StoreError(f"The {kind} event could not be recorded in {self.url}.")

    # Suppression list.
    def suppress(self, address: str, reason: str, *, source: str) -> None:
        """Add an address (case-insensitive) or update its reason (audit "suppression.added")."""
        address = _text("address", address).strip().lower()
        now = self._now()
        existing = self.suppression(address)
        record = Suppression(address, reason, source, existing.added if existing else now)
        if not self._commit(Write("put", "suppressions", (address,), to_row(record)),
                            self._draft("suppression.added", None,
                                        {"address": address, "reason": reason, "source": source}, now)):  # fmt: skip
            raise StoreError(f"Suppressing {address!r} in {self.url} failed.")

    def unsuppress(self, address: str, *, source: str) -> bool:
        """Remove an address (audit "suppression.removed"); False when it was not there."""
        address = address.strip().lower()
        return self._commit(Write("delete", "suppressions", (address,), when="present"),
                            self._draft("suppression.removed", None, {"address": address, "source": source},
                                        self._now()))  # fmt: skip

    def suppression(self, address: str) -> Suppression | None:
        """The suppression of this address (any case), or None."""
        row = self._get("suppressions", (address.strip().lower(),))
        return None if row is None else from_row(Suppression, row)

    def suppressions(self) -> list[Suppression]:
        """Every suppressed address, alphabetically."""
        return sorted((from_row(Suppression, r) for r in self._rows("suppressions", {})), key=lambda s: s.address)

    # Locks: leases, not audited.
    def acquire(self, name: str, *, ttl: float, token: str | None = None) -> Lock | None:
        """Take the named lock for ``ttl`` seconds; None while someone else holds it (a stale lock is taken over).

        ``token`` ends the owner (``hostname:pid:token``; default random): the AWS api names the run it started.
        """
        _positive("ttl", ttl)
        if token is not None and (not token or ":" in token):
            raise ValueError(f"a lock token is a non-empty text without ':', not {token!r}")
        owner = f"{socket.gethostname()}:{os.getpid()}:{token or secrets.token_hex(8)}"
        for _ in range(_RETRIES):
            now = self._now()
            lock = Lock(name, owner, now + timedelta(seconds=ttl))
            current = self.holder(name, live=False)
            if current is not None and not lock_is_stale(current, now):
                return None
            # Taking over is conditional on the stale owner: of two racing takers, one wins.
            when: Condition = "absent" if current is None else ("owner", current.owner)
            if self._commit(Write("put", "locks", (name,), to_row(lock), when), None):
                return lock
        return None

    def renew(self, lock: Lock, *, ttl: float) -> Lock:
        """Extend a lock still held; StoreError when it was lost (expired and taken over)."""
        renewed = Lock(lock.name, lock.owner, self._now() + timedelta(seconds=_positive("ttl", ttl)))
        values: Row = {"expires": iso(renewed.expires)}
        if not self._commit(Write("update", "locks", (lock.name,), values, ("owner", lock.owner)), None):
            holder = self.holder(lock.name, live=False)
            by = f"it is now held by {holder.owner}" if holder else "nobody holds it now"
            raise StoreError(f"Lock {lock.name!r} in {self.url} was lost ({by}); stop before doing more work.")
        return renewed

    def release(self, lock: Lock) -> None:
        """Give a lock up, if this owner still holds it."""
        self._commit(Write("delete", "locks", (lock.name,), when=("owner", lock.owner)), None)

    def holder(self, name: str, *, live: bool = True) -> Lock | None:
        """Who holds the named lock; None when nobody does (or, with ``live``, when the lock is stale)."""
        row = self._get("locks", (name,))
        lock = None if row is None else from_row(Lock, row)
        return None if lock is None or (live and lock_is_stale(lock, self._now())) else lock

    # Scheduler state.
    def last_fired(self, schedule_key: str) -> datetime | None:
        """When the schedule last fired, or None."""
        row = self._get("schedule", (schedule_key,))
        return None if row is None else datetime.fromisoformat(str(row["fired"]))

    def set_fired(self, schedule_key: str, when: datetime, run_id: str | None = None) -> None:
        """Record that a schedule fired (audit "schedule.fired")."""
        row: Row = {"schedule_key": _text("schedule_key", schedule_key), "fired": iso(when), "run_id": run_id}
        self._commit(Write("put", "schedule", (schedule_key,), row),
                     self._draft("schedule.fired", run_id, {"schedule_key": schedule_key, "fired": iso(when)},
                                 self._now()))  # fmt: skip

    # The audit log.
    def entries(self, *, run_id: str | None = None, after: int = 0, limit: int | None = None) -> list[Entry]:
        """Audit entries after seq ``after`` (of one run, if given), ascending."""
        return [from_row(Entry, row) for row in self._entry_rows(after=after, limit=limit, run_id=run_id)]

    def verify(self) -> Verification:
        """Recompute the hash chain, check the head, and replay every delivery against its row."""
        snapshot = self._snapshot()
        problems, parsed = check_chain(snapshot.head, snapshot.entries)
        problems += replay_deliveries(parsed, snapshot.deliveries)
        if self.history_problem is not None:
            problems.insert(0, f"the store has lost its history: {self.history_problem}")
        return Verification(not problems, len(snapshot.entries), tuple(problems))
