"""The report ids and titles, without importing the reports (the web app and the AWS api must stay light)."""

from __future__ import annotations

TITLES: dict[str, str] = {
    "ceo": "CEO report",
    "cto": "CTO report",
    "cfo": "CFO report",
    "cmo": "CMO report",
    "accounting": "Accounting report",
    "property": "Property report",
    "delivery-ops": "Delivery operations",
    "billing-audit": "Billing audit",
    "daily": "Daily digest",
}
REPORT_IDS: tuple[str, ...] = tuple(TITLES)
