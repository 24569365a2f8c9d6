"""The API Lambda: the web app behind API Gateway (HTTP API payload 2.0 and REST payload 1.0), through Mangum.

Minimal first version (the lead's skeleton): settings from the environment, the portfolio's manifest from
``EXECINTEL_PORTFOLIO``, the store from ``EXECINTEL_STORE`` and the mailer from ``EXECINTEL_MAILER``.
"""

from __future__ import annotations

from pathlib import Path

from mangum import Mangum

from execintel.config.settings import load_settings
from execintel.delivery.mailers import open_mailer
from execintel.store import open_store
from execintel.web import create_app
from execintel.web.config import web_config

settings = load_settings()
config = web_config(settings, settings.portfolio or Path("portfolio"))
app = create_app(config, store=open_store(settings.store, settings), mailer=open_mailer(settings.mailer, settings),
                 settings=settings)  # fmt: skip
handler = Mangum(app, lifespan="off")
