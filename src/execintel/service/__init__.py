"""One run service for every shell: the CLI's ``execintel run``, the web app's jobs, the scheduler and the AWS
worker all run reports with the same call, :func:`run_reports`, and only present what it reports.

::

    portfolio = open_portfolio(path, settings=settings)
    loaded = load_facts(portfolio, settings=settings)
    mailer, store = open_endpoints(settings, None, None)
    result = run_reports(portfolio, loaded, RunRequest(["cfo"]), settings=settings, mailer=mailer, store=store,
                         events=print)

Importing this package pulls in none of the analysis stack (``tests/test_service.py`` checks it): the web app
imports it at start-up, and the work imports what it needs when it runs.
"""

from __future__ import annotations

from execintel.service.delivering import OUTCOMES, delivery_status
from execintel.service.endpoints import open_dry_run_store, open_endpoints
from execintel.service.model import Events, RunEvent, RunRequest, RunResult, ignore
from execintel.service.run import build, resolve_reports, run_reports

__all__ = [
    "OUTCOMES", "Events", "RunEvent", "RunRequest", "RunResult", "build", "delivery_status", "ignore",
    "open_dry_run_store", "open_endpoints", "resolve_reports", "run_reports",
]  # fmt: skip
