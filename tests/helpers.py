"""Small helpers shared by test modules."""

from __future__ import annotations

from pathlib import Path

from execintel.config import load_portfolio
from execintel.sources import LoadResult, load_sources


def load(path: Path, **kwargs: object) -> LoadResult:
    """Load a portfolio's sources (problems are returned, not raised)."""
    return load_sources(load_portfolio(path, allow_outside=bool(kwargs.pop("allow_outside", False))), **kwargs)  # type: ignore[arg-type]
