"""The pipeline's entry points shared by every shell (CLI, web, AWS handlers)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from execintel.config import Portfolio, Settings, load_portfolio
from execintel.errors import ConfigError
from execintel.sources import LoadResult, SourceSpec, load_sources


def resolve_portfolio_path(path: Path | None, settings: Settings | None = None) -> Path:
    """The manifest to use: the given path, ``EXECINTEL_PORTFOLIO``, or the bundled demo."""
    if path is None and settings is not None and settings.portfolio is not None:
        path = settings.portfolio
    if path is None:
        from execintel.demo import demo_portfolio  # noqa: PLC0415 - only when no portfolio is given

        return demo_portfolio()
    return path


def open_portfolio(path: Path | None, *, settings: Settings | None = None, allow_outside: bool = False) -> Portfolio:
    """Parse and check the manifest at ``path`` (the demo when None)."""
    return load_portfolio(resolve_portfolio_path(path, settings), allow_outside=allow_outside)


def load_facts(
    portfolio: Portfolio,
    *,
    settings: Settings | None = None,
    keep_going: bool = False,
    clients: dict[str, Any] | None = None,
    progress: Callable[[SourceSpec], None] | None = None,
) -> LoadResult:
    """Load every source; raise :class:`ConfigError` on bad rows unless ``keep_going``."""
    result = load_sources(portfolio, settings=settings, clients=clients, progress=progress)
    if result.errors and not keep_going:
        raise ConfigError(result.errors)
    return result
