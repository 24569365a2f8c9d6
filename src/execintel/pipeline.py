"""The pipeline's entry points shared by every shell (CLI, web, AWS handlers)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from execintel.config import Portfolio, Settings, load_portfolio
from execintel.errors import ConfigError
from execintel.sources import LoadResult, SourceSpec, load_sources

if TYPE_CHECKING:
    from execintel.analysis.context import Context
    from execintel.render.pool import RenderPool
    from execintel.reports.document import Document


def resolve_portfolio_path(path: Path | None, settings: Settings | None = None) -> Path:
    """The manifest to use: the given path, ``EXECINTEL_PORTFOLIO``, or the bundled demo."""
    if path is None and settings is not None and settings.portfolio is not None:
        path = settings.portfolio
    if path is None:
        from execintel.demo import demo_portfolio  # noqa: PLC0415 - only when no portfolio is given

        return demo_portfolio()
    return path


def open_portfolio(
    path: Path | None, *, settings: Settings | None = None, allow_outside: bool = False, allow_plugins: bool = False
) -> Portfolio:
    """Parse and check the manifest at ``path`` (the demo when None)."""
    return load_portfolio(
        resolve_portfolio_path(path, settings), allow_outside=allow_outside, allow_plugins=allow_plugins
    )


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


def new_run_id(now: dt.datetime | None = None) -> str:
    """A sortable run id: ``20261115T070000Z-3f9a``."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def previous_documents(out_dir: Path, exclude: str | None = None) -> Callable[[str], dict[str, Any] | None]:
    """A lookup of the newest earlier report JSON of each report id under ``out_dir`` (for "what changed")."""
    from execintel.reports.document import loads  # noqa: PLC0415

    def find(report: str) -> dict[str, Any] | None:
        if not out_dir.is_dir():
            return None
        for run in sorted((p for p in out_dir.iterdir() if p.is_dir() and p.name != exclude), reverse=True):
            candidate = run / f"{report}.json"
            if candidate.is_file():
                try:
                    document = loads(candidate.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                if isinstance(document, dict) and document.get("report") == report:
                    return document
        return None

    return find


def make_context(
    result: LoadResult,
    *,
    as_of: dt.date | None = None,
    previous: Callable[[str], dict[str, Any] | None] | None = None,
) -> Context:
    """The analysis context of a loaded portfolio."""
    from execintel.analysis.context import Context, resolve_as_of  # noqa: PLC0415

    ctx = Context(result.portfolio, result.facts, resolve_as_of(result.portfolio.manifest, as_of))
    if previous is not None:
        ctx.previous = previous
    return ctx


def write_documents(
    documents: list[Document], folder: Path, *, pdf: bool | None = None, pool: RenderPool | None = None
) -> dict[str, list[Path]]:
    """Write each document's ``.json``, then its renderings (``.html``, ``.txt``, charts, ``.pdf``) into ``folder``.

    Charts and PDFs go through ``pool`` when given (workers started early, while reports were being built).
    """
    from execintel.render import render_documents  # noqa: PLC0415

    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for document in documents:
        path = folder / f"{document.report}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(document.dumps() + "\n", encoding="utf-8")
        tmp.replace(path)
        paths[document.report] = path
    rendered = render_documents([d.to_json() for d in documents], folder, pdf=pdf, pool=pool)
    return {report: [path, *rendered[report]] for report, path in paths.items()}
