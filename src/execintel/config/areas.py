"""Who owns what (CONTRACT section 8): each finding kind's area, and the role that owns each area.

An action's owner is the stakeholder the manifest's ``owners`` map names for its finding kind, else for its area,
else the first stakeholder (in manifest order) whose ``roles`` hold the area's role; ``None`` when nobody does.
The tables live in ``config`` because the manifest's ``owners`` keys are checked against them when it is read.
A finding kind missing from :data:`AREA_OF_KIND` belongs to the area ``other`` (owned by the CEO).
"""

from __future__ import annotations

from typing import Final

# Area -> the role that owns it: security and stack the CTO, finance and policies the CFO, marketing the CMO,
# the books accounting, the rest the CEO.
ROLE_OF_AREA: Final[dict[str, str]] = {
    "security": "cto",
    "stack": "cto",
    "finance": "cfo",
    "policies": "cfo",
    "marketing": "cmo",
    "books": "accounting",
    "sales": "ceo",
    "operations": "ceo",
    "governance": "ceo",
    "data": "ceo",
    "other": "ceo",
}

# Finding kind -> its area.
AREA_OF_KIND: Final[dict[str, str]] = {
    # security (CTO report)
    "hardcoded-secret": "security",
    "secret-in-history": "security",
    "env-file-committed": "security",
    "unauthenticated-endpoint": "security",
    "no-waf": "security",
    "no-rate-limit": "security",
    # stack: delivery process and cloud cost (CTO report)
    "no-staging": "stack",
    "manual-deploy": "stack",
    "cloud-savings": "stack",
    "cloud-costs-partial": "data",
    # finance (CFO report, billing audit)
    "runway-below-policy": "finance",
    "negative-unit-margin": "finance",
    "no-burn": "finance",
    "under-billed": "finance",
    "unbilled-work": "finance",
    "overdue-receivable": "finance",
    "forecast-below-minimum": "finance",
    "runway-relies-on-owner-money": "finance",
    "low-dscr": "finance",
    # policies the portfolio holds itself to
    "unapproved-debt": "policies",
    "cash-review-overdue": "policies",
    # marketing (CMO report)
    "no-ota-listing": "marketing",
    "broken-funnel": "marketing",
    # the books (accounting report)
    "no-revenue-tracking": "books",
    "missing-receipt": "books",
    "uncategorized-expense": "books",
    "deferred-revenue": "books",
    "capital-candidate": "books",
    "payment-not-in-ledger": "books",
    "receipts-not-tracked": "books",
    "loan-balance-not-recorded": "books",
    # the rest: the CEO's
    "empty-pipeline": "sales",
    "missing-billing-model": "governance",
    "unsigned-equity": "governance",
    "project-blocked": "operations",
    "project-at-risk": "operations",
    "job-negative-margin": "operations",
    "job-uncompleted": "operations",
    "lease-expiring": "operations",
    "unit-vacant": "operations",
    "stale-source": "data",
}


def area_of(kind: str) -> str:
    """The area a finding kind belongs to (``other`` for a kind this table does not list)."""
    return AREA_OF_KIND.get(kind, "other")


def owner_keys() -> list[str]:
    """Every key the manifest's ``owners`` map accepts: the finding kinds and the areas, sorted."""
    return sorted({*AREA_OF_KIND, *ROLE_OF_AREA})
