"""The audit store in one SQLite file (``sqlite:///PATH``): WAL, a versioned schema, one connection per store.

Every change runs in ``BEGIN IMMEDIATE``: the write lock is taken before the head of the audit log is read, so
two processes appending to the same file keep one linear chain. ``busy_timeout`` makes the second one wait.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self
from urllib.parse import parse_qsl

from execintel.errors import ConfigError, ExecintelError, Problem, StoreError
from execintel.store.base import COUNTED, KEYS, Clock, Snapshot, Store, Write
from execintel.store.history import StoreDamaged, StoreMissing
from execintel.store.records import GENESIS, Draft, Row, Scalar, iso

if TYPE_CHECKING:
    from execintel.config.settings import Settings

log = logging.getLogger(__name__)

Synchronous = Literal["normal", "full"]
PREFIX = "sqlite:///"
BUSY_TIMEOUT_MS = 10_000
_TABLES = {"schedule": "schedule_state"}  # logical table -> SQLite table, where they differ


def _v1(db: sqlite3.Connection) -> None:
    """The first schema: the audit log and its head, runs, reports, deliveries, suppressions."""
    for statement in (
        "CREATE TABLE head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL)",
        """CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, kind TEXT NOT NULL, run_id TEXT,
            data TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)""",
        "CREATE INDEX audit_log_run ON audit_log (run_id, seq)",
        """CREATE TABLE runs (run_id TEXT PRIMARY KEY, portfolio TEXT NOT NULL, "trigger" TEXT NOT NULL,
            schedule_id TEXT, period TEXT NOT NULL, started TEXT NOT NULL, dry_run INTEGER NOT NULL,
            forced INTEGER NOT NULL, mailer TEXT NOT NULL, finished TEXT, status TEXT, summary TEXT NOT NULL)""",
        "CREATE INDEX runs_started ON runs (started)",
        """CREATE TABLE reports (run_id TEXT NOT NULL REFERENCES runs (run_id), report TEXT NOT NULL,
            period TEXT NOT NULL, content_hash TEXT NOT NULL, figures TEXT NOT NULL, generated TEXT NOT NULL,
            PRIMARY KEY (run_id, report))""",
        """CREATE TABLE deliveries ("key" TEXT PRIMARY KEY, portfolio TEXT NOT NULL, schedule_id TEXT,
            period TEXT NOT NULL, report TEXT NOT NULL, recipient TEXT NOT NULL, recipients INTEGER NOT NULL,
            state TEXT NOT NULL, run_id TEXT NOT NULL, attempts INTEGER NOT NULL, provider_id TEXT, reason TEXT,
            permanent INTEGER, sending_at TEXT, updated TEXT)""",
        "CREATE INDEX deliveries_run ON deliveries (run_id)",
        """CREATE TABLE suppressions (address TEXT PRIMARY KEY, reason TEXT NOT NULL, source TEXT NOT NULL,
            added TEXT NOT NULL)""",
    ):
        db.execute(statement)


def _v2(db: sqlite3.Connection) -> None:
    """Locks and scheduler state; the mailer of each delivery; the index behind the daily send limit."""
    for statement in (
        "ALTER TABLE deliveries ADD COLUMN mailer TEXT",
        "CREATE INDEX deliveries_sending ON deliveries (portfolio, sending_at)",
        "CREATE TABLE locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires TEXT NOT NULL)",
        "CREATE TABLE schedule_state (schedule_key TEXT PRIMARY KEY, fired TEXT NOT NULL, run_id TEXT)",
    ):
        db.execute(statement)


def _v3(db: sqlite3.Connection) -> None:
    """The store's identity (``store_id``), which tells a replaced or recreated file from the one used before."""
    db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL, created TEXT)")


def _v4(db: sqlite3.Connection) -> None:
    """Each report's ``as_of`` and findings (id, severity, amount, entity, title): the findings lifecycle reads them
    from the store, not from out/. Reports recorded before have neither (NULL)."""
    for statement in ("ALTER TABLE reports ADD COLUMN as_of TEXT", "ALTER TABLE reports ADD COLUMN findings TEXT"):
        db.execute(statement)


def _v5(db: sqlite3.Connection) -> None:
    """The web app's magic-link tokens (hashes only) and sessions."""
    for statement in (
        """CREATE TABLE logins (token_hash TEXT PRIMARY KEY, subject TEXT NOT NULL, added TEXT NOT NULL,
            expires TEXT NOT NULL, used TEXT, ttl INTEGER)""",
        """CREATE TABLE sessions (jti TEXT PRIMARY KEY, subject TEXT NOT NULL, added TEXT NOT NULL,
            expires TEXT NOT NULL, revoked TEXT, ttl INTEGER)""",
    ):
        db.execute(statement)


# Schema version N is MIGRATIONS[:N] applied in order; PRAGMA user_version holds N. Only ever append.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3, _v4, _v5]
# What SQLite says about a file that is not a database, or one whose pages are damaged (truncated, overwritten).
_DAMAGED = ("file is not a database", "malformed", "file is encrypted", "not a database")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SqliteStore(Store):
    """The audit store in a local SQLite file."""

    scheme = "sqlite"

    def __init__(
        self, path: Path | str, *, synchronous: Synchronous = "full", clock: Clock | None = None,
        url: str | None = None, source: str = "--store",
    ) -> None:  # fmt: skip
        self.path = Path(path).expanduser()
        super().__init__(url or f"{PREFIX}{self.path}", clock)
        self.synchronous = synchronous
        self.source = source
        self._relaxed = False  # the connection is set for a commit without fsync (see _transaction)
        self._lock = threading.Lock()  # one connection, possibly shared with a delivery worker thread
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                       check_same_thread=False)  # fmt: skip
        except OSError as exc:
            raise self._unusable(exc.strerror or str(exc)) from exc
        except sqlite3.Error as exc:
            raise self._unusable(str(exc)) from exc
        self._db.row_factory = sqlite3.Row
        try:
            with self._sql("open"):
                self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                self._wal()
                # FULL: each commit is on disk before it returns, a power cut included (see docs/store.md).
                self._db.execute(f"PRAGMA synchronous = {synchronous.upper()}")
                self._db.execute("PRAGMA foreign_keys = ON")
            self.init()
        except BaseException:
            self._db.close()
            raise

    def _wal(self) -> None:
        """Switch the file to WAL. SQLite answers "locked" at once, without waiting, when two processes make the
        same new file WAL together; wait for the other one as ``busy_timeout`` would."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _unusable(self, why: str) -> ExecintelError:
        """The error for a store file that cannot be opened or created: a ConfigError naming the path."""
        folder = next((p for p in (self.path, *self.path.parents) if p.exists()), None)
        if folder is not None and folder != self.path and not folder.is_dir():
            why = f"{folder} is a file, not a folder"
        elif folder is not None and not os.access(folder, os.W_OK):
            why = f"{folder} cannot be written ({why})"
        return ConfigError(Problem(self.source, f"the store file {self.path} cannot be opened or created: {why}"))

    @classmethod
    def from_url(
        cls, url: str, *, settings: Settings, client: Any = None, clock: Clock | None = None, source: str = "--store",
        create: bool = True,
    ) -> Self:  # fmt: skip
        """``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``, optionally ``?synchronous=normal``.

        With ``create=False`` (commands that only read) a missing or empty file is a :class:`StoreMissing`.
        """
        target, _, query = url.partition("?")
        path = target[len(PREFIX) :] if target.startswith(PREFIX) else ""
        if not path or path.endswith("/"):
            raise ConfigError(Problem(source, f"{url!r} names no database file; write sqlite:///relative/path.db "
                                              "or sqlite:////absolute/path.db"))  # fmt: skip
        synchronous = "full"
        try:
            params = parse_qsl(query, strict_parsing=True) if query else []
        except ValueError:
            params = [("?", query)]
        for name, value in params:
            if name != "synchronous" or value.lower() not in ("normal", "full"):
                raise ConfigError(Problem(source, f"{url!r}: the only SQLite URL option is ?synchronous=full or "
                                                  "?synchronous=normal"))  # fmt: skip
            synchronous = value.lower()
        if not create:
            _check_exists(Path(path).expanduser(), url, source)
        return cls(path, synchronous="normal" if synchronous == "normal" else "full", clock=clock, url=url,
                   source=source)  # fmt: skip

    def marker_path(self, settings: Settings) -> Path:
        """The marker beside the database, hidden, so that ``rm execintel.db*`` leaves it (see history.py)."""
        return self.path.with_name(f".{self.path.name}.marker")

    @contextmanager
    def _sql(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if any(sign in str(exc) for sign in _DAMAGED):
                raise StoreDamaged(Problem(self.source, f"the store file {self.path} is damaged or is not an "
                                           f"execintel store (SQLite says: {exc}); restore it from a backup, or name "
                                           "another store")) from exc  # fmt: skip
            raise StoreError(f"The store {self.url} failed to {action}: {exc}.") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"The store {self.url} failed to {action}: {exc}.") from exc

    @contextmanager
    def _transaction(
        self, action: str, begin: str = "BEGIN IMMEDIATE", *, sync: bool = True
    ) -> Iterator[sqlite3.Connection]:
        with self._lock, self._sql(action):
            # A commit with sync=False is written to the WAL without an fsync, and without a checkpoint (which
            # would fsync): a process kill cannot lose it, and it returns in microseconds. The next synced commit
            # fsyncs the WAL, which makes the earlier frames durable too.
            relax = not sync and self.synchronous == "full"
            if relax != self._relaxed:
                self._db.execute(f"PRAGMA synchronous = {'NORMAL' if relax else self.synchronous.upper()}")
                self._db.execute(f"PRAGMA wal_autocheckpoint = {0 if relax else 1000}")
                self._relaxed = relax
            self._db.execute(begin)
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def init(self) -> None:
        """Bring the schema to the newest version, each migration in the same transaction as its version bump."""
        with self._transaction("migrate its schema") as db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > len(MIGRATIONS):
                raise StoreError(f"The store {self.url} has schema version {version}, newer than this execintel "
                                 f"knows ({len(MIGRATIONS)}); upgrade execintel.")  # fmt: skip
            for number, migrate in enumerate(MIGRATIONS[version:], start=version + 1):
                migrate(db)
                db.execute(f"PRAGMA user_version = {number}")
        self.claim_identity()

    @property
    def schema_version(self) -> int:
        """The schema version of the file (``PRAGMA user_version``)."""
        with self._lock, self._sql("read its schema version"):
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def recipients_since(self, portfolio: str, since: datetime) -> int:
        """As the base class says, summed by SQLite: each delivery asks this, so it must not read every row."""
        states = ", ".join("?" * len(COUNTED))
        with self._lock, self._sql("count the recipients of the last 24 hours"):
            row = self._db.execute(
                f"SELECT COALESCE(SUM(recipients), 0) FROM deliveries WHERE portfolio = ? AND sending_at >= ? "
                f"AND state IN ({states})", [portfolio, iso(since), *COUNTED],
            ).fetchone()  # fmt: skip
        return int(row[0])

    def close(self) -> None:
        """Update the marker, then close the connection."""
        try:
            self.save_marker()
        except ExecintelError as exc:  # a store that failed cannot say where its head is: keep the old marker
            log.warning("%s", exc)
        with self._lock:
            self._db.close()

    def _where(self, table: str, key: tuple[str, ...]) -> tuple[str, list[Scalar]]:
        return " AND ".join(f"{_quote(c)} = ?" for c in KEYS[table]), list(key)

    def _get(self, table: str, key: tuple[str, ...]) -> Row | None:
        where, args = self._where(table, key)
        with self._lock, self._sql(f"read {table}"):
            row = self._db.execute(f"SELECT * FROM {_TABLES.get(table, table)} WHERE {where}", args).fetchone()
        return None if row is None else dict(row)

    def _rows(
        self, table: str, where: Mapping[str, Scalar], *, at_least: tuple[str, str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> list[Row]:  # fmt: skip
        clauses = [f"{_quote(c)} = ?" for c in where]
        args: list[Scalar] = list(where.values())
        if at_least is not None:
            clauses.append(f"{_quote(at_least[0])} >= ?")
            args.append(at_least[1])
        chosen = ", ".join(map(_quote, columns)) if columns else "*"
        sql = f"SELECT {chosen} FROM {_TABLES.get(table, table)}"
        sql += f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock, self._sql(f"list {table}"):
            return [dict(row) for row in self._db.execute(sql, args)]

    def _apply(self, db: sqlite3.Connection, write: Write) -> bool:
        name = _TABLES.get(write.table, write.table)
        where, args = self._where(write.table, write.key)
        if isinstance(write.when, tuple):
            where += f" AND {_quote(write.when[0])} IS ?"
            args.append(write.when[1])
        columns = list(write.values)
        if write.op == "delete":
            return db.execute(f"DELETE FROM {name} WHERE {where}", args).rowcount == 1 or write.when is None
        if write.op == "update" or isinstance(write.when, tuple):
            assignments = ", ".join(f"{_quote(c)} = ?" for c in columns)
            return db.execute(f"UPDATE {name} SET {assignments} WHERE {where}",
                              [*write.values.values(), *args]).rowcount == 1  # fmt: skip
        insert = (f"INSERT INTO {name} ({', '.join(map(_quote, columns))}) VALUES ({', '.join('?' * len(columns))}) "
                  f"ON CONFLICT ({', '.join(map(_quote, KEYS[write.table]))}) DO ")  # fmt: skip
        if write.when == "absent":
            return db.execute(insert + "NOTHING", list(write.values.values())).rowcount == 1
        assignments = ", ".join(f"{_quote(c)} = excluded.{_quote(c)}" for c in columns)
        db.execute(insert + f"UPDATE SET {assignments}", list(write.values.values()))
        return True

    def _head(self) -> tuple[int, str]:
        with self._lock, self._sql("read the audit log head"):
            row = self._db.execute("SELECT seq, hash FROM head WHERE id = 1").fetchone()
        return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))

    def _hash_at(self, seq: int) -> str | None:
        with self._lock, self._sql("read the audit log"):
            row = self._db.execute("SELECT hash FROM audit_log WHERE seq = ?", [seq]).fetchone()
        return None if row is None else str(row[0])

    def _commit(self, write: Write, entry: Draft | None, *, sync: bool = True) -> bool:
        with self._transaction(f"write {write.table} {'/'.join(write.key)!r}", sync=sync) as db:
            done = self._apply(db, write)
            if done and entry is not None:
                head = db.execute("SELECT seq, hash FROM head WHERE id = 1").fetchone()
                row = entry.seal(*(head if head else (0, GENESIS)))
                db.execute("INSERT INTO audit_log (seq, ts, kind, run_id, data, prev_hash, hash) "
                           "VALUES (:seq, :ts, :kind, :run_id, :data, :prev_hash, :hash)", row)  # fmt: skip
                db.execute("INSERT INTO head (id, seq, hash) VALUES (1, :seq, :hash) "
                           "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash", row)  # fmt: skip
        return done

    def _entry_rows(self, *, after: int, limit: int | None, run_id: str | None) -> list[Row]:
        sql = "SELECT * FROM audit_log WHERE seq > ?" + (" AND run_id = ?" if run_id is not None else "")
        args: list[Scalar] = [after] + ([run_id] if run_id is not None else [])
        if limit is not None:
            sql, args = sql + " ORDER BY seq LIMIT ?", [*args, limit]
        else:
            sql += " ORDER BY seq"
        with self._lock, self._sql("read the audit log"):
            return [dict(row) for row in self._db.execute(sql, args)]

    def _snapshot(self) -> Snapshot:
        # One read transaction: the head, the log and the deliveries are seen at the same instant.
        with self._transaction("read the audit log", begin="BEGIN") as db:
            head = db.execute("SELECT seq, hash FROM head WHERE id = 1").fetchone()
            entries = [dict(row) for row in db.execute("SELECT * FROM audit_log ORDER BY seq")]
            deliveries = [dict(row) for row in db.execute("SELECT * FROM deliveries")]
        return Snapshot(None if head is None else dict(head), entries, deliveries)


def _check_exists(path: Path, url: str, source: str) -> None:
    """A read-only command never creates a store: a missing, empty or non-file path is an error naming it."""
    if path.is_dir():
        raise StoreDamaged(Problem(source, f"{url} names the folder {path}, not a store file"))
    if not path.exists():
        raise StoreMissing(Problem(source, f"the store {url} does not exist (there is no file {path}); check the "
                                           "path, or create an empty store with: execintel store init --store "
                                           f"{url}"))  # fmt: skip
    if path.stat().st_size == 0:
        raise StoreMissing(Problem(source, f"the store file {path} is empty: it holds no history (was it emptied?)"))
