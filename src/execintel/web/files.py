"""What the app serves from the out folder: a run's rendered HTML and its charts, found by name, never by path."""

from __future__ import annotations

import re
import stat
from pathlib import Path

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


def html_file(out_dir: Path, run_id: str, report: str) -> Path | None:
    """The rendered HTML of ``report`` in run ``run_id``'s folder, if it is there as a regular file."""
    if not RUN_ID.fullmatch(run_id) or report not in TITLES:
        return None
    path = out_dir / run_id / f"{report}.html"
    return path if regular(path) else None


def read_limited(path: Path, limit: int) -> bytes:
    """The file's bytes; 404 when it is larger than ``limit``."""
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(404, "The file is too large to serve.")
    return data
