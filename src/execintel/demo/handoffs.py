"""The seven supporting infrastructure projects, one handoff file each (Markdown, YAML and JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from execintel.demo.common import write_text

SHIPCAPTAINCREW_MD = """\
---
project: shipcaptaincrew
entity: qosd
status: at-risk
updated: 2026-11-10
summary: Crew scheduling and charter operations tool (Lambda, API Gateway, DynamoDB, S3, CloudFront).
financials:
  monthly_aws_cost: 47.90
  hours_invested: 160
  charter_revenue_supported_monthly: 5400
risks:
  - JWT_SECRET committed in .env.production
  - No WAF in front of CloudFront
  - No rate limiting on the API Gateway stage
  - Production only; changes are tested live
blockers:
  - Nobody owns the AWS account's security settings
next_steps:
  - Rotate the JWT secret and move it to Secrets Manager
  - Add a staging stage and a CI deploy
  - Put AWS WAF with rate-based rules in front of the distribution
---
# shipcaptaincrew

Deployed by hand: `zip` the function, `aws lambda update-function-code`, then
sync the frontend to S3 and invalidate CloudFront. The reports dashboard in
the frontend posts to `/api/reports/*` with a magic-link JWT.
"""

EXEC_REPORTS_YAML = """\
# The executive reporting scripts; portfolio-wide, so no entity.
project: exec-reports
status: at-risk
updated: 2026-11-12
summary: Two Python scripts that build the five executive reports and send them through SES.
financials:
  monthly_ses_cost: 2.50
  hours_invested: 40
risks:
  - repos.env with AWS keys was committed once; the keys are still in git history
  - Report content was hard-coded before the data sources existed
blockers:
  - AWS keys from repos.env not yet rotated
next_steps:
  - Rotate the leaked access key and purge it from history
  - Replace the scripts with execintel schedules
"""

QDN_FUNNEL = {
    "project": "quickdumpnow-booking-funnel",
    "entity": "quickdumpnow",
    "status": "blocked",
    "updated": "2026-10-28",
    "summary": "Quote-request form to booked job: 30-60 requests a month, almost none become bookings.",
    "financials": {"monthly_ad_spend": 215, "leads_per_month": 45, "bookings_last_12_months": 2},
    "risks": ["Quote requests go to an unmonitored inbox", "No follow-up within 24 hours"],
    "blockers": ["No one assigned to call leads back", "No booking calendar on the site"],
    "next_steps": [
        "Route quote requests to a phone alert",
        "Add instant price ranges and a booking calendar",
        "Google Business Profile: photos, service area, review requests after each job",
    ],
}

GAS_MICROSERVICE_MD = """\
---
project: gas-microservice
entity: dangerouscentaur
status: at-risk
updated: 2026-09-30
summary: Google Apps Script web app behind the contact form and newsletter sign-up.
financials:
  monthly_cost: 0
  hours_invested: 25
risks:
  - Web app deployed for anyone, anonymous; doPost accepts any request
  - No JWT or shared-secret validation
blockers: []
next_steps:
  - Require a signed token on doPost
  - Add a billing model for DangerousCentaur's own services
---
Endpoints: `doGet` returns the form config, `doPost` appends a row to the
leads sheet and sends a notification.
"""

JADA_BACKEND_YAML = """\
project: jada-backend
entity: jada
status: at-risk
updated: 2026-10-20
summary: Legacy Node.js/Express backend on one always-on EC2 instance; deployed by hand over SSH.
financials:
  monthly_aws_cost: 22.20
  monthly_contractor_cost: 2200
  monthly_revenue: 735
risks:
  - Stripe live secret key hard-coded in src/payments.js
  - Single instance, no automated deploy, no tests
  - Unattached Elastic IP still billed
blockers:
  - Contract developer has no budget for the rewrite
next_steps:
  - Move the Stripe key to the environment and roll it
  - Schedule or reserve the instance
  - Release the idle Elastic IP
"""

RENTAL_BOOKKEEPING_YAML = """\
project: rental-bookkeeping
entity: rental-3028
status: on-track
updated: 2026-11-03
summary: Beancount books for 3028 51st St (two units), reconciled monthly.
financials:
  monthly_rent_roll: 4745
  mortgage_payment: 2844.31
  vacancy_days_ttm: 30
risks:
  - Water heater replacement expensed, not capitalized
blockers: []
next_steps:
  - Split capital improvements from repairs
  - Reserve for the December property tax installment
"""

YACHT_QUOTING = {
    "project": "yacht-delivery-quoting",
    "entity": "yacht-delivery",
    "status": "on-track",
    "updated": "2026-11-08",
    "summary": "Quote calculator for delivery jobs: distance rate with a minimum, crew days and return travel.",
    "financials": {"rate_per_nm": 5.5, "base_fee": 900, "minimum_quote": 1400, "quotes_sent_ttm": 48},
    "risks": ["Quotes live in a spreadsheet; accepted quotes are re-typed into invoices"],
    "blockers": [],
    "next_steps": ["Record each quote as an event with route and distance", "Track quote-to-booking conversion"],
}


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2) + "\n"


HANDOFFS = {
    "shipcaptaincrew.md": SHIPCAPTAINCREW_MD,
    "exec-reports.yaml": EXEC_REPORTS_YAML,
    "quickdumpnow-booking-funnel.json": _json(QDN_FUNNEL),
    "gas-microservice.md": GAS_MICROSERVICE_MD,
    "jada-backend.yaml": JADA_BACKEND_YAML,
    "rental-bookkeeping.yaml": RENTAL_BOOKKEEPING_YAML,
    "yacht-delivery-quoting.json": _json(YACHT_QUOTING),
}


def write_handoffs(folder: Path) -> None:
    """Write the seven handoff files into ``folder``."""
    for name, text in HANDOFFS.items():
        write_text(folder / name, text)
