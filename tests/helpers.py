"""Small helpers shared by test modules."""

from __future__ import annotations

from pathlib import Path

from execintel.analysis.context import Context
from execintel.config import load_portfolio
from execintel.sources import LoadResult, load_sources


def load(path: Path, **kwargs: object) -> LoadResult:
    """Load a portfolio's sources (problems are returned, not raised)."""
    return load_sources(load_portfolio(path, allow_outside=bool(kwargs.pop("allow_outside", False))), **kwargs)  # type: ignore[arg-type]


def context(path: Path, as_of: str | None = None, **kwargs: object) -> Context:
    """The analysis context of a portfolio written by ``write_portfolio`` (sources must load cleanly)."""
    import datetime as dt

    from execintel.analysis.context import Context, resolve_as_of

    result = load(path, **kwargs)
    assert result.errors == [], [str(p) for p in result.errors]
    date = dt.date.fromisoformat(as_of) if as_of else None
    return Context(result.portfolio, result.facts, resolve_as_of(result.portfolio.manifest, date))
