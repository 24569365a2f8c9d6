"""Deploying execintel to AWS: the SAM template rendered from a portfolio's manifest (:mod:`.template`, its
schedules through :mod:`.cron`), the checks of the build (:mod:`.validate`), the commands (:mod:`.steps`) and the
whole deployment as one call (:mod:`.service`)."""

from __future__ import annotations

from execintel.deployment.cron import CronTranslationError, to_eventbridge
from execintel.deployment.steps import Plan, dry_run, run_plan
from execintel.deployment.template import render_template, template_parameters
from execintel.deployment.validate import DeployError

__all__ = [
    "CronTranslationError",
    "DeployError",
    "Plan",
    "dry_run",
    "render_template",
    "run_plan",
    "template_parameters",
    "to_eventbridge",
]
