"""One web job: open the portfolio, load its sources, build one report and deliver it with the run service.

Imported inside the job only: this module pulls in the analysis stack.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from execintel.config.settings import Settings
    from execintel.delivery.mailers.base import Mailer
    from execintel.store import Store
    from execintel.web.config import WebConfig
    from execintel.web.jobs import Job

WAIT = 120.0  # seconds to wait for another run of the portfolio (a CLI run, a schedule) to finish delivering


def run_job(
    job: Job, *, config: WebConfig, store: Store, mailer: Mailer, mail_lock: threading.Lock,
    settings: Settings | None,
) -> None:  # fmt: skip
    """Run ``job.report`` as ``job.run_id``, triggered by ``job.subject``; errors are recorded by the run."""
    from execintel.config.settings import load_settings  # noqa: PLC0415
    from execintel.pipeline import load_facts, open_portfolio  # noqa: PLC0415
    from execintel.render.pdf import available  # noqa: PLC0415
    from execintel.service import RunRequest, run_reports  # noqa: PLC0415

    chosen = settings or load_settings()
    portfolio = open_portfolio(config.portfolio, settings=chosen, allow_outside=config.allow_outside)
    loaded = load_facts(portfolio, settings=chosen)
    request = RunRequest(report_ids=[job.report], out_dir=config.out_dir, pdf=available(),
                         trigger=f"web:{job.subject}", run_id=job.run_id, always_build=True, wait=WAIT)  # fmt: skip
    with mail_lock:
        run_reports(portfolio, loaded, request, settings=chosen, mailer=mailer, store=store)
