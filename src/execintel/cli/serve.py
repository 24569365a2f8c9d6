"""``execintel serve``: the web app (dashboard, sign-in, report API, SES webhook) with uvicorn."""

from __future__ import annotations

import gc
import logging
from typing import Annotated

import typer

from execintel.cli.common import AllowOutside, PathArg, PortfolioOpt, _open, _settings
from execintel.cli.console import err
from execintel.cli.run import NewStoreOpt, StoreOpt, not_empty
from execintel.errors import ConfigError, Problem


def serve(
    ctx: typer.Context,
    path: PathArg = None,
    portfolio: PortfolioOpt = None,
    allow_outside: AllowOutside = False,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = 8000,
    store: StoreOpt = None,
    mailer: Annotated[
        str | None,
        typer.Option("--mailer", help="Mailer URL for sign-in links and runs (EXECINTEL_MAILER).", show_default=False,
                     callback=not_empty),
    ] = None,
    new_store: NewStoreOpt = False,
) -> None:  # fmt: skip
    """Serve the dashboard and the report API (needs EXECINTEL_JWT_SECRET; see docs/web.md)."""
    import uvicorn  # noqa: PLC0415

    from execintel.delivery.mailers import open_mailer  # noqa: PLC0415
    from execintel.store import open_store  # noqa: PLC0415
    from execintel.web import create_app  # noqa: PLC0415
    from execintel.web.config import web_config  # noqa: PLC0415

    settings = _settings(ctx)
    opened = _open(ctx, path, portfolio, allow_outside=allow_outside)
    config = web_config(settings, opened.path, host=host, port=port, allow_outside=allow_outside)
    if not host.strip():
        raise ConfigError(Problem("--host", "is empty; give an address such as 127.0.0.1"))
    chosen = open_mailer(mailer or settings.mailer, settings, source="--mailer" if mailer else "EXECINTEL_MAILER")
    chosen.check()
    audit = open_store(store, settings, new_store=new_store)
    app = create_app(config, store=audit, mailer=chosen, settings=settings)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    err.print(f"Serving the dashboard of {opened.manifest.portfolio.name} at {config.base_url}/ (Ctrl+C stops)",
              markup=False, soft_wrap=True)  # fmt: skip
    # Everything imported so far lives as long as the server: keep it out of the garbage collector's full passes
    # (a full pass over the framework's objects paused the server for 50-90 ms; docs/benchmarks.md, "Web API").
    gc.collect()
    gc.freeze()
    try:
        # uvicorn's access log would print query strings (a sign-in token): the app logs each request itself
        uvicorn.run(app, host=host, port=port, access_log=False, log_level="info", server_header=False)
    finally:
        audit.close()
