"""A run's files in the reports bucket: the worker uploads ``out/<run id>/*`` to ``runs/<run id>/``, the api
reads them back for "Latest" and its charts (the same names, sizes and checks as the out folder's reader).

Imports only the standard library and the web app's file rules (boto3 comes with the client).
"""

from __future__ import annotations

import mimetypes
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from execintel.web.files import report_file

__all__ = ["PREFIX", "S3Files", "fetch_previous", "object_key", "upload_run"]

PREFIX = "runs"
KNOWN = 2048  # names known to exist (a run's files never change once uploaded): HEAD requests saved
UPLOADED = (".html", ".png", ".json", ".pdf", ".txt")  # what a run writes; anything else stays local


def object_key(run_id: str, name: str) -> str:
    """The bucket key of a run's file."""
    return f"{PREFIX}/{run_id}/{name}"


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


class S3Files:
    """:class:`~execintel.web.files.ReportFiles` over ``bucket``: HEAD to find a file, a ranged GET to read one."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client, self.bucket = client, bucket
        self._known: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def has(self, run_id: str, name: str) -> bool:
        """True when the bucket holds the run's file (cached once seen: uploaded files are not changed)."""
        if not report_file(run_id, name):
            return False
        key = object_key(run_id, name)
        with self._lock:
            if key in self._known:
                return True
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        self._remember(key)
        return True

    def read(self, run_id: str, name: str, limit: int) -> bytes | None:
        """The file's bytes, at most ``limit`` (404 when larger: one ranged GET, never the whole of a huge object)."""
        if not report_file(run_id, name):
            return None
        key = object_key(run_id, name)
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{limit}")
        except Exception as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound", "InvalidRange"):
                return None
            raise
        body = answer["Body"]
        try:
            data: bytes = body.read(limit + 1)
        finally:
            body.close()
        if len(data) > limit:
            raise HTTPException(404, "The file is too large to serve.")
        self._remember(key)
        return data

    def _remember(self, key: str) -> None:
        with self._lock:
            self._known[key] = None
            while len(self._known) > KNOWN:
                self._known.popitem(last=False)


def upload_run(client: Any, bucket: str, folder: Path) -> list[str]:
    """Upload the files of a run's folder (``out/<run id>``) to ``runs/<run id>/``; the keys written.

    Only regular files with a report's suffix, one level deep (a run writes nothing else the api serves).
    """
    keys = []
    for path in sorted(folder.iterdir()):
        if path.suffix not in UPLOADED or path.is_symlink() or not path.is_file():
            continue
        key = object_key(folder.name, path.name)
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        with path.open("rb") as handle:
            client.put_object(Bucket=bucket, Key=key, Body=handle, ContentType=kind,
                              ServerSideEncryption="AES256")  # fmt: skip
        keys.append(key)
    return keys


MAX_JSON = 64 << 20  # as execintel.pipeline.MAX_REPORT_JSON: an earlier report's JSON is read whole
ANY_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # as the run service's: a run id is a folder name


def fetch_previous(
    client: Any, bucket: str, history: list[tuple[Any, list[Any]]], reports: list[str], out_dir: Path, *,
    tries: int = 3,
) -> list[str]:  # fmt: skip
    """Download each report's latest earlier JSON into ``out_dir/<run id>/`` when it is not there; the keys fetched.

    ``history`` is the store's :meth:`~execintel.store.Store.report_history` (oldest first). A new Lambda instance
    starts with an empty ``/tmp``: without this a run would never find the previous report it compares with (the
    daily digest's "since the last one"). The run checks each file's sha256 against the store before using it.
    At most ``tries`` runs are asked per report; a file that is not in the bucket is skipped.
    """
    fetched = []
    for report in dict.fromkeys(reports):
        asked = 0
        for run, records in reversed(history):
            if not ANY_RUN_ID.fullmatch(run.run_id) or not any(r.report == report for r in records):
                continue
            path = out_dir / run.run_id / f"{report}.json"
            if path.is_file():
                break  # the newest earlier copy is here already
            asked += 1
            try:
                answer = client.get_object(Bucket=bucket, Key=object_key(run.run_id, f"{report}.json"),
                                           Range=f"bytes=0-{MAX_JSON}")  # fmt: skip
            except Exception as exc:
                if _code(exc) not in ("404", "NoSuchKey", "NotFound", "InvalidRange") or asked >= tries:
                    break
                continue
            body = answer["Body"]
            try:
                data = body.read(MAX_JSON + 1)
            finally:
                body.close()
            if len(data) <= MAX_JSON:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                fetched.append(object_key(run.run_id, f"{report}.json"))
            break
    return fetched
