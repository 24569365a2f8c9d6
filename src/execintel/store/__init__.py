"""The audit store: runs, reports, deliveries and their state changes, suppressions, locks, scheduler state.

One interface (:class:`Store`), two backends chosen by URL scheme from :data:`STORES`:

- ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (everything after ``sqlite:///`` is the
  path, so an absolute path gives four slashes), optionally ``?synchronous=normal``;
- ``dynamodb://TABLE``.

Without a URL, ``EXECINTEL_STORE`` is used, else ``sqlite:///<data dir>/execintel.db`` where the data dir is
``EXECINTEL_DATA_DIR``, else ``$XDG_DATA_HOME/execintel``, else ``~/.local/share/execintel``.
Only the standard library is imported here (boto3 when a DynamoDB store is first used): a Lambda can use it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from execintel.config.settings import Settings, load_settings
from execintel.errors import ConfigError, Problem
from execintel.store.base import Clock, StateConflict, Store, lock_is_stale
from execintel.store.dynamodb import DynamoStore
from execintel.store.history import NEW_STORE_FLAG, StoreDamaged, StoreLost, StoreMissing, guard
from execintel.store.records import (
    DELIVERY_STATES,
    Delivery,
    DeliveryState,
    Entry,
    Lock,
    LoginToken,
    ReportRecord,
    RunRecord,
    Session,
    Suppression,
    Verification,
)  # fmt: skip
from execintel.store.sqlite import SqliteStore

__all__ = [
    "DELIVERY_STATES", "NEW_STORE_FLAG", "STORES", "Delivery", "DeliveryState", "DynamoStore", "Entry", "Lock",
    "LoginToken", "Mode", "ReportRecord", "RunRecord", "Session", "SqliteStore", "StateConflict", "Store",
    "StoreDamaged", "StoreLost", "StoreMissing", "Suppression", "Verification", "data_dir", "default_url",
    "lock_is_stale", "open_store",
]  # fmt: skip

Mode = Literal["read", "write", "init"]

STORES: dict[str, type[Store]] = {"sqlite": SqliteStore, "dynamodb": DynamoStore}


def data_dir(settings: Settings) -> Path:
    """Where execintel keeps its own data: EXECINTEL_DATA_DIR, else $XDG_DATA_HOME/execintel, else ~/.local/share."""
    if settings.data_dir is not None:
        return settings.data_dir.expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    # The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "execintel"


def default_url(settings: Settings) -> str:
    """The store used when neither --store nor EXECINTEL_STORE names one: SQLite in the data dir."""
    return f"sqlite:///{data_dir(settings) / 'execintel.db'}"


def open_store(
    url: str | None, settings: Settings | None = None, *, client: Any = None, clock: Clock | None = None,
    mode: Mode = "write", new_store: bool = False,
) -> Store:  # fmt: skip
    """Open the store ``url`` names (None: EXECINTEL_STORE, else the default SQLite file); ConfigError if bad.

    ``mode``: "write" creates a missing SQLite file (a DynamoDB table must have been set up with ``store init``);
    "read" never creates anything (a missing store is a :class:`StoreMissing`); "init" also sets a DynamoDB table
    up. A store that lost the history its marker recorded (deleted, emptied, replaced or rolled back: see
    :mod:`execintel.store.history`) is a :class:`StoreLost` when writing, unless ``new_store`` accepts it.
    """
    settings = settings if settings is not None else load_settings()
    source = "--store" if url else ("EXECINTEL_STORE" if settings.store else "default store")
    url = url or settings.store or default_url(settings)
    scheme, sep, _ = url.partition("://")
    backend = STORES.get(scheme) if sep else None
    if backend is None:
        schemes = " or ".join(f"{name}://" for name in STORES)
        raise ConfigError(Problem(source, f"{url!r} is not a store URL; the scheme must be {schemes} "
                                          "(sqlite:///path/to/execintel.db, dynamodb://TABLE)"))  # fmt: skip
    store = backend.from_url(url, settings=settings, client=client, clock=clock, source=source, create=mode != "read")
    try:
        if mode == "init":
            store.init()
        guard(store, store.marker_path(settings), mode=mode, new_store=new_store, source=source)
    except BaseException:
        store.close()
        raise
    return store
