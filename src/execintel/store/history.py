"""Noticing a store that has lost its history: the store's identity, and a marker kept outside it.

Every store has an identity, a random id made when it is created (the ``meta`` row ``store_id``). Each time
execintel opens a store for writing, and when it closes it, it records outside the store a small marker: that id
and the head of the audit chain (seq and hash). SQLite keeps it in a hidden file beside the database
(``.execintel.db.marker``); DynamoDB in the data dir (``<data dir>/markers/``), best effort. At the next open the
store must still be the one the marker describes, with the marked entry still in its chain. A store file that was
deleted, emptied or replaced, or restored from an older copy, would otherwise look new and every report would go
out again: such a store is refused (:class:`StoreLost`, exit status 2) until the user accepts it (``--new-store``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from execintel.errors import ConfigError, Problem

if TYPE_CHECKING:
    from execintel.store.base import Store

__all__ = [
    "NEW_STORE_FLAG", "Marker", "StoreDamaged", "StoreLost", "StoreMissing", "describe_loss", "guard", "lost_error",
    "read_marker", "write_marker",
]  # fmt: skip

NEW_STORE_FLAG = "--new-store"


class StoreMissing(ConfigError):
    """The store named does not exist (and the command only reads it, or a DynamoDB table was never set up)."""


class StoreDamaged(ConfigError):
    """The store's file is damaged or is not an execintel store."""


class StoreLost(ConfigError):
    """The store no longer holds the history its marker describes: it was deleted, emptied, replaced or rolled back."""


@dataclass(frozen=True, slots=True)
class Marker:
    """What a store held when execintel last used it: its identity and the head of its audit chain."""

    store_id: str
    seq: int
    hash: str
    url: str


def read_marker(path: Path, source: str) -> Marker | None:
    """The marker at ``path``; None when there is none. A marker that cannot be read is a :class:`StoreDamaged`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad_marker(path, source, str(getattr(exc, "strerror", None) or exc)) from exc
    try:
        data = json.loads(text)
        marker = Marker(str(data["store_id"]), int(data["seq"]), str(data["hash"]), str(data["url"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise _bad_marker(path, source, "it is not a marker written by execintel") from exc
    return marker


def _bad_marker(path: Path, source: str, why: str) -> StoreDamaged:
    return StoreDamaged(Problem(source, f"the store's marker {path} cannot be read ({why}); it records what the "
                                        "store held, to notice a store that lost its history. Delete it only if the "
                                        "store itself is right"))  # fmt: skip


def write_marker(path: Path, marker: Marker) -> None:
    """Replace the marker at ``path`` atomically (a temporary file, fsynced, renamed); OSError when it cannot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(asdict(marker), file, indent=2)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        Path(name).replace(path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def describe_loss(
    marker: Marker | None, store_id: str | None, head_seq: int, hash_at: Callable[[int], str | None]
) -> str | None:
    """How the store differs from what its marker recorded, or None when it still holds that history.

    ``store_id`` and ``head_seq`` describe the store as opened; ``hash_at(seq)`` reads one entry's hash.
    """
    if marker is None or marker.seq <= 0:
        return None  # nothing was recorded yet, so nothing can have been lost
    held = f"it held {marker.seq:,} audit {'entry' if marker.seq == 1 else 'entries'} when execintel last used it"
    if head_seq == 0:
        return f"it is empty, but {held} (the store was deleted, emptied or recreated)"
    if store_id != marker.store_id:
        return f"it is another store than the one execintel used before, which {held[3:]} (the store was replaced)"
    if head_seq < marker.seq:
        return (f"its audit log ends at entry {head_seq:,}, but {held} (it was restored from an older copy, or "
                "entries were deleted)")  # fmt: skip
    if hash_at(marker.seq) != marker.hash:
        return f"entry {marker.seq:,} of its audit log is not the one recorded when execintel last used it (rewritten)"
    return None


def lost_error(source: str, url: str, loss: str) -> StoreLost:
    """The error for a store that lost its history: what happened, why it stops, and the two ways on."""
    return StoreLost(Problem(source, f"the store {url} has lost its history: {loss}. Delivering now could send "
                                     "reports again that already went out. Restore the store from a backup, or "
                                     f"run again with {NEW_STORE_FLAG} to accept it as it is (a delivery it does "
                                     "not know is sent again)"))  # fmt: skip


def guard(store: Store, marker: Path | None, *, mode: str, new_store: bool, source: str) -> None:
    """Check that ``store`` still holds the history its marker recorded, give a new store its identity, and keep
    the marker up to date from now on (``mode`` "write" or "init"). Read-only opens ("read") only note the loss in
    ``store.history_problem`` for ``audit verify`` to report."""
    found = read_marker(marker, source) if marker is not None else None
    store_id, seq, _head = store.identity()
    loss = describe_loss(found, store_id, seq, store.entry_hash)
    store.history_problem = loss
    if mode == "read":
        return
    if loss is not None and not new_store:
        raise lost_error(source, store.url, loss)
    if store_id is None:
        if seq == 0 and mode != "init" and not new_store:
            raise StoreMissing(Problem(source, f"the store {store.url} has never been set up, or it was emptied: "
                                               "nothing in it says it is an execintel store. Set a new one up with: "
                                               f"execintel store init --store {store.url} (if it was emptied, its "
                                               f"history is lost; {NEW_STORE_FLAG} accepts it)"))  # fmt: skip
        store.claim_identity()  # a new store, or one made before stores had an identity
    if loss is not None:
        store.record_acceptance(loss, found)
        store.history_problem = None
    store.keep_marker(marker)
