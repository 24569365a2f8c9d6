"""Expenses by P&L line (cloud, email, payment processing, domains, payroll...), from the ledger's account names.

A line is chosen by the words of an ``Expenses`` account after its first segment (split on ``:``, ``-``, ``_``
and spaces): the first line in :data:`LINES` one of whose prefixes starts a word gives the line; an account that
matches none goes to "Other cost of revenue" when it is under ``Expenses:COGS`` and to "Other expenses" otherwise.
Amounts are on the ledger's cash basis (the date the money moved). Called by the finance analysis.
"""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal

from execintel.analysis.finance import _Finance, sources_by

ZERO = Decimal(0)
# (id, title, word prefixes), in the order they are tried
LINES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("cloud", "Cloud and hosting", ("aws", "cloud", "hosting", "gcp", "azure", "server", "compute")),
    ("email", "Email", ("email", "mail", "newsletter", "sendgrid", "mailchimp", "mailgun")),
    ("payment-processing", "Payment processing", ("payment", "processing", "merchant", "stripe", "paypal")),
    ("domains", "Domains and DNS", ("domain", "dns", "registrar")),
    ("software", "Software and subscriptions", ("software", "saas", "subscription")),
    ("payroll", "Payroll and contractors", ("payroll", "wage", "salar", "staff", "employee", "crew", "labor",
                                            "labour", "contractor", "subcontractor")),
    ("marketing", "Marketing and advertising", ("marketing", "advert", "ads", "promotion")),
    ("rent", "Rent and occupancy", ("rent", "lease", "slip", "mooring", "occupancy")),
    ("insurance", "Insurance", ("insurance",)),
    ("professional-fees", "Professional fees", ("professional", "legal", "accounting", "audit", "consult",
                                                "bookkeeping")),
    ("interest", "Interest", ("interest",)),
    ("repairs", "Repairs and maintenance", ("maintenance", "repair")),
    ("fuel-travel", "Fuel, vehicles and travel", ("fuel", "vehicle", "truck", "travel", "meal", "lodging")),
    ("utilities", "Utilities and telephone", ("utilit", "telephone", "phone", "internet", "electric", "water")),
    ("taxes", "Taxes and licences", ("tax", "license", "licence", "permit")),
    ("bank-fees", "Bank fees", ("bank",)),
)  # fmt: skip
OTHER_COGS = ("cogs-other", "Other cost of revenue")
OTHER = ("other", "Other expenses")
TITLES = {key: title for key, title, _ in (*LINES, (*OTHER_COGS, ()), (*OTHER, ()))}
ORDER = [key for key, _, _ in LINES] + [OTHER_COGS[0], OTHER[0]]


def expense_line(account: str) -> str:
    """The P&L line id of an ``Expenses`` account (``Expenses:Cloud:AWS`` -> ``cloud``)."""
    words = [w for w in re.split(r"[:\-_ ]+", account.lower())[1:] if w]
    for key, _, prefixes in LINES:
        if any(w.startswith(p) for w in words for p in prefixes):
            return key
    cogs = account == "Expenses:COGS" or account.startswith("Expenses:COGS:")
    return OTHER_COGS[0] if cogs else OTHER[0]


def add_expense_lines(fin: _Finance) -> None:
    """``expenses.line.<line>.ttm.<e>|portfolio`` and ``expenses.line.<line>.monthly.portfolio``."""
    ctx = fin.ctx
    accounts = [row[0] for row in ctx.query("SELECT DISTINCT account FROM tx WHERE split_part(account, ':', 1) = "
                                            "'Expenses'")]  # fmt: skip
    if not accounts:
        return
    lines = {account: expense_line(account) for account in accounts}
    ttm: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    recent: dict[str, Decimal] = defaultdict(lambda: ZERO)
    last3 = list(fin.last3)
    for entity, account, in_ttm, in_last3 in ctx.query(
        """SELECT entity, account, sum(amount) FILTER (WHERE date > ?),
                  sum(amount) FILTER (WHERE strftime(date, '%Y-%m') IN (?, ?, ?))
           FROM tx WHERE split_part(account, ':', 1) = 'Expenses' GROUP BY ALL""",
        [ctx.window_start, *last3],
    ):
        line = lines[account]
        ttm[(entity, line)] -= in_ttm or ZERO
        ttm[("*", line)] -= in_ttm or ZERO
        recent[line] -= in_last3 or ZERO
    # Each row's line by a lookup in a table of the accounts (a join), not a CASE with a branch per account that
    # every row would walk: a portfolio of many entities has hundreds of Expenses accounts.
    ctx.facts.con.execute(
        "CREATE OR REPLACE TEMP TABLE expense_line_of AS SELECT * FROM (VALUES "
        + ", ".join("(?, ?)" for _ in lines)
        + ") AS v(account, line)",
        [value for pair in lines.items() for value in pair],
    )
    line_sql = "(SELECT l.line FROM expense_line_of AS l WHERE l.account = t.account)"
    src = sources_by(ctx, [f"{line_sql} || '|' || entity", f"{line_sql} || '|*'"],
                     "split_part(account, ':', 1) = 'Expenses' AND date > ?", [ctx.window_start])  # fmt: skip
    src3 = sources_by(ctx, line_sql, "split_part(account, ':', 1) = 'Expenses' AND month IN (?, ?, ?)", last3)
    window = f"{ctx.window_start.isoformat()} < date <= {ctx.as_of.isoformat()}"
    rule = "-sum(amount) of {who} rows on Expenses accounts of the line {title!r} ({accounts}), {window}; cash basis"
    for key in ORDER:
        members = sorted(a for a, line in lines.items() if line == key)
        if not members:
            continue
        title, listed = TITLES[key], ", ".join(members)
        for e in fin.with_ledger:
            if (e, key) in ttm:
                fin.add(f"expenses.line.{key}.ttm.{e}", ttm[(e, key)],
                        rule.format(who=f"{e}'s", title=title, accounts=listed, window=window),
                        src.get(f"{key}|{e}", ()), name=f"{title}, trailing 12 months, {fin._name(e)}",
                        entity=e)  # fmt: skip
        fin.add(f"expenses.line.{key}.ttm.portfolio", ttm[("*", key)],
                rule.format(who="every entity's", title=title, accounts=listed, window=window),
                src.get(f"{key}|*", ()), name=f"{title}, trailing 12 months, portfolio")  # fmt: skip
        fin.add(f"expenses.line.{key}.monthly.portfolio", recent[key] / 3,
                f"-sum(amount) of every entity's rows on Expenses accounts of the line {title!r} dated in "
                f"{', '.join(last3)}, / 3; cash basis", src3.get(key, ()),
                name=f"{title} a month (average of the last 3 complete months), portfolio")  # fmt: skip
