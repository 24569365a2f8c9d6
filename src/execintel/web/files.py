"""What the app serves from the out folder: a run's rendered HTML and its charts, found by name, never by path."""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Protocol

from fastapi import HTTPException

from execintel.report_ids import TITLES

RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{4,16}")
CHART = re.compile(r"[a-z0-9][a-z0-9-]{0,120}\.png")
MAX_HTML = 32 << 20

REPORT_HEADERS = {
    # a report is a document from the manifest's data: it may show images of its own and nothing else
    "Content-Security-Policy": "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox allow-popups",
    "Cache-Control": "private, no-store",
}


def regular(path: Path) -> bool:
    """True for a regular file (not a link, a FIFO or a device)."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def report_file(run_id: str, name: str) -> bool:
    """True for a run id of the app's shape and a file name a run writes for the app: ``<report>.html`` of a known
    report, or a chart (``<report>-<chart>.png``); never a path."""
    html = name.endswith(".html") and name.removesuffix(".html") in TITLES
    return RUN_ID.fullmatch(run_id) is not None and (html or CHART.fullmatch(name) is not None)


def read_limited(path: Path, limit: int) -> bytes:
    """The file's bytes; 404 when it is larger than ``limit``."""
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(404, "The file is too large to serve.")
    return data


class ReportFiles(Protocol):
    """Where the app reads a run's files: the out folder (``execintel serve``) or an S3 bucket (the AWS api)."""

    def has(self, run_id: str, name: str) -> bool:
        """True when run ``run_id`` left a file ``name`` (a checked report or chart name)."""

    def read(self, run_id: str, name: str, limit: int) -> bytes | None:
        """The file's bytes; None when it is not there; 404 when it is larger than ``limit``."""


class LocalFiles:
    """A run's files in ``out_dir/<run_id>/``, as regular files only."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir

    def has(self, run_id: str, name: str) -> bool:
        """True when the run's folder holds ``name`` as a regular file."""
        return report_file(run_id, name) and regular(self.out_dir / run_id / name)

    def read(self, run_id: str, name: str, limit: int) -> bytes | None:
        """The file's bytes (see :func:`read_limited`); None when it is not a regular file of the run."""
        if not self.has(run_id, name):
            return None
        return read_limited(self.out_dir / run_id / name, limit)
