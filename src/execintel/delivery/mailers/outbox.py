"""The outbox mailer (``outbox:DIR``): each message becomes ``DIR/<key>.eml`` next to ``DIR/<key>.envelope.json``.

The hand-off is the rename of a fully written, fsynced temporary file to ``<key>.eml``, so a ``.eml`` file
exists only for a delivered message and is always complete. Whatever picks messages up from the folder
(a person, a relay script) reads the envelope (sender, every recipient including the audit BCC) from the
JSON file; the ``.eml`` never names the BCC.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import suppress
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote

from execintel.delivery.mailers.base import (
    Commit,
    Mailer,
    MailerError,
    Reconciled,
    Reconciliation,
    SendOutcome,
    url_error,
)
from execintel.errors import ConfigError, Problem

if TYPE_CHECKING:
    from execintel.config.settings import Settings
    from execintel.delivery.compose import OutgoingMessage

__all__ = ["OutboxMailer", "file_stem"]

_STEM_LIMIT = 200


def file_stem(key: str) -> str:
    """The file name stem for a delivery key: percent-encoded, never hidden, at most 200 characters.

    Letters, digits and ``@+=-._`` stay as they are; ``cfo/2026:casey`` becomes ``cfo%2F2026%3Acasey``.
    """
    stem = quote(key, safe="@+=")
    if stem.startswith("."):
        stem = "%2E" + stem[1:]
    if len(stem) > _STEM_LIMIT:
        stem = f"{stem[: _STEM_LIMIT - 17]}-{sha256(key.encode()).hexdigest()[:16]}"
    return stem


class OutboxMailer(Mailer):
    """Write messages into a folder instead of sending them (the default, and the demo's mailer)."""

    scheme = "outbox"

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.url = f"outbox:{self.directory}"
        self._opened = False

    @classmethod
    def from_url(cls, url: str, settings: Settings, *, client: Any = None, source: str = "EXECINTEL_MAILER") -> Self:
        """``outbox:DIR``; a relative DIR is taken from the current folder."""
        scheme, _, path = url.partition(":")
        if scheme.lower() != cls.scheme or not path or path.startswith("//"):
            raise url_error(url, "the outbox mailer needs a folder, like outbox:outbox or outbox:/var/mail/out", source)
        mailer = cls(path)
        mailer.source = source
        return mailer

    def open(self) -> None:
        """Create the folder when it is missing."""
        if self._opened:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._unusable(exc) from exc
        self._opened = True

    def check(self) -> None:
        """Create the folder and write (then remove) a file in it: a folder that cannot take the messages (a
        file in its place, a read-only file system, no space) stops the run before any work is done."""
        self._opened = False
        self.open()
        try:
            probe = _write_temporary(self.directory, ".execintel-check", b"")
            probe.unlink()
        except OSError as exc:
            raise self._unusable(exc) from exc

    def _unusable(self, exc: OSError) -> ConfigError:
        why = exc.strerror or str(exc)
        taken = next((p for p in (self.directory, *self.directory.parents) if p.exists()), None)
        if taken is not None and not taken.is_dir():
            why = f"{taken} is a file, not a folder"
        return ConfigError(Problem(self.source, f"cannot use {self.directory} as the outbox folder: {why}"))

    def close(self) -> None:
        """Nothing to release; the next send checks the folder again."""
        self._opened = False
        super().close()

    def paths(self, key: str) -> tuple[Path, Path]:
        """The ``.eml`` and ``.envelope.json`` files of a delivery key."""
        stem = file_stem(key)
        return self.directory / f"{stem}.eml", self.directory / f"{stem}.envelope.json"

    def send(self, message: OutgoingMessage, commit: Commit) -> SendOutcome:
        """Write the envelope and a temporary file, fsync, ``commit()``, then rename the file to ``<key>.eml``.

        A key whose ``.eml`` already exists is not written again: its outcome is returned and ``commit`` is not
        called, since nothing is handed over.
        """
        self.open()
        eml, envelope = self.paths(message.key)
        if eml.exists():
            return SendOutcome(provider_id=eml.name)
        tmp: Path | None = None
        try:
            staged = _write_temporary(self.directory, _temp_prefix(eml.stem, "envelope"), _envelope(message))
            staged.replace(envelope)
            tmp = _write_temporary(self.directory, _temp_prefix(eml.stem, "eml"), message.data)
            _fsync_directory(self.directory)
        except OSError as exc:
            self._discard(eml.stem, envelope)
            raise MailerError(
                f"Could not write the message for {', '.join(message.to)} into the outbox {self.directory}: "
                f"{exc.strerror or exc}.",
                permanent=False,
            ) from exc
        try:
            commit()
        except BaseException:
            self._discard(eml.stem, envelope)
            raise
        try:
            tmp.replace(eml)  # the hand-off: os.replace, atomic within the folder
            _fsync_directory(self.directory)
        except OSError as exc:
            raise MailerError(
                f"Could not move the message for {', '.join(message.to)} into place as {eml}: {exc.strerror or exc}.",
                permanent=False,
            ) from exc
        return SendOutcome(provider_id=eml.name)

    def reconcile(self, message: OutgoingMessage) -> Reconciliation:
        """SENT when ``<key>.eml`` exists; otherwise NOT_SENT, after removing the envelope and temporary files."""
        eml, envelope = self.paths(message.key)
        if eml.exists():
            return Reconciliation(Reconciled.SENT, provider_id=eml.name, note=f"{eml} exists")
        self._discard(eml.stem, envelope)
        return Reconciliation(
            Reconciled.NOT_SENT, note=f"{eml} was never written; the interrupted attempt's files were removed"
        )

    def _discard(self, stem: str, envelope: Path) -> None:
        """Remove what an attempt that did not complete left behind; best effort (the folder may be read-only)."""
        with suppress(OSError):
            envelope.unlink()
        prefix = _temp_prefix(stem, "")
        with suppress(OSError):
            for entry in self.directory.iterdir():
                if entry.name.startswith(prefix) and entry.name.endswith(".tmp"):
                    entry.unlink(missing_ok=True)


def _temp_prefix(stem: str, kind: str) -> str:
    # "#" never occurs in a stem (quote() encodes it), so one key's prefix never matches another key's files.
    return f".{stem}#{kind}"


def _envelope(message: OutgoingMessage) -> bytes:
    envelope = {
        "key": message.key,
        "sender": message.sender,
        "recipients": list(message.envelope_recipients),
    }
    return json.dumps(envelope, indent=2).encode() + b"\n"


def _write_temporary(directory: Path, prefix: str, data: bytes) -> Path:
    """Write ``data`` to a new temporary file in ``directory`` and fsync it."""
    fd, name = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
