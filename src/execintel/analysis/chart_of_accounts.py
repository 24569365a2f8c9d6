"""The proposed chart of accounts: where each ledger account goes in GAAP financial statements.

The rules (listed in ``docs/reports/accounting.md``, "Chart of accounts: mapping rules") read only the account
name, so the mapping is the same for every portfolio and every ``as_of``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# (statement section, line, token prefixes): the first rule one of whose prefixes starts a token of the account
# (segments after the first, split on ':', '-', '_', ' ') gives the line.
_ASSET_LINES = (
    ("Cash and cash equivalents", ("bank", "cash", "checking", "savings", "stripe", "paypal")),
    ("Accounts receivable", ("receivable",)),
    ("Inventory", ("inventory",)),
    ("Prepaid expenses", ("prepaid",)),
    ("Property and equipment", ("equipment", "vehicle", "property", "building", "furniture", "computer", "vessel",
                                "boat", "land", "improvement")),
)  # fmt: skip
_LIABILITY_LINES = (
    ("Loans and notes payable", ("mortgage", "loan", "note", "debt")),
    ("Credit cards payable", ("credit", "card")),
    ("Deposits held", ("deposit",)),
    ("Deferred revenue", ("deferred", "unearned")),
    ("Taxes payable", ("tax",)),
    ("Accounts payable", ("payable",)),
)
_EQUITY_LINES = (
    ("Opening balance equity", ("opening",)),
    ("Owner contributions", ("contribution", "capital", "investment")),
    ("Owner draws and distributions", ("draw", "distribution", "dividend")),
    ("Retained earnings", ("retained",)),
)
_OPEX_LINES = (
    ("Uncategorized (to reclassify)", ("uncategorized", "uncategorised")),
    ("Depreciation and amortization", ("depreciation", "amortization", "amortisation")),
    ("Rent and occupancy", ("rent", "lease", "slip", "mooring", "occupancy")),
    ("Software and cloud", ("software", "cloud", "aws", "hosting", "saas", "domain", "subscription")),
    ("Marketing and advertising", ("marketing", "advert", "promotion", "ads")),
    ("Insurance", ("insurance",)),
    ("Fuel, repairs and maintenance", ("fuel", "maintenance", "repair", "vehicle")),
    ("Professional fees", ("professional", "legal", "accounting", "audit", "consult", "bookkeeping")),
    ("Payroll and contract labour", ("contractor", "payroll", "wage", "salar", "labor", "labour", "crew", "staff")),
    ("Utilities and telephone", ("utilit", "telephone", "phone", "internet", "electric", "water")),
    ("Taxes and licences", ("tax", "license", "licence", "permit")),
    ("Bank and payment fees", ("bank", "fee", "merchant", "payment")),
    ("Travel and meals", ("travel", "meal", "lodging")),
)


@dataclass(frozen=True)
class GaapLine:
    """Where an account goes in GAAP financial statements."""

    statement: str  # Balance sheet | Income statement
    section: str  # Assets, Liabilities, Equity, Revenue, Cost of revenue, Operating expenses, Other income and expense
    line: str


def _tokens(account: str) -> list[str]:
    return [t for t in re.split(r"[:\-_ ]+", account.lower())[1:] if t]


def _match(tokens: list[str], rules: Sequence[tuple[str, tuple[str, ...]]], default: str) -> str:
    for line, prefixes in rules:
        if any(t.startswith(p) for t in tokens for p in prefixes):
            return line
    return default


def _human(segment: str) -> str:
    return segment.replace("-", " ").replace("_", " ").strip().capitalize()


def gaap_line(account: str) -> GaapLine:
    """The proposed GAAP statement line of a ledger account (rules in ``docs/reports/accounting.md``)."""
    parts = account.split(":")
    top, tokens = parts[0], _tokens(account)
    if top == "Assets":
        return GaapLine("Balance sheet", "Assets", _match(tokens, _ASSET_LINES, "Other assets"))
    if top == "Liabilities":
        return GaapLine("Balance sheet", "Liabilities", _match(tokens, _LIABILITY_LINES, "Other liabilities"))
    if top == "Equity":
        return GaapLine("Balance sheet", "Equity", _match(tokens, _EQUITY_LINES, "Other equity"))
    if top == "Income":
        if any(t.startswith("interest") for t in tokens):
            return GaapLine("Income statement", "Other income and expense", "Interest income")
        return GaapLine("Income statement", "Revenue", f"Revenue: {_human(parts[1])}" if len(parts) > 1 else "Revenue")
    if top == "Expenses":
        if len(parts) > 1 and parts[1] == "COGS":
            line = f"Cost of revenue: {_human(parts[2])}" if len(parts) > 2 else "Cost of revenue"
            return GaapLine("Income statement", "Cost of revenue", line)
        if any(t.startswith("interest") for t in tokens):
            return GaapLine("Income statement", "Other income and expense", "Interest expense")
        if "income" in tokens and any(t.startswith("tax") for t in tokens):
            return GaapLine("Income statement", "Income taxes", "Income tax expense")
        return GaapLine(
            "Income statement", "Operating expenses", _match(tokens, _OPEX_LINES, "Other operating expenses")
        )
    return GaapLine("Other", "Other", "Unmapped (first segment is not a contract account type)")
