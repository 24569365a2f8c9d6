"""Honest cash (CONTRACT section 8): owner contributions, burn and runway with debt service, self-funded runway,
the lowest month-end runway of the last 6 months, and cash on hand split into cash and bank accounts versus
other assets (investments, retirement accounts at cost) so that no brokerage balance is read as runway.

Called by the finance analysis, whose figures these extend (``ctx.results("finance")``); the formulas are listed
in ``docs/reports/cfo.md``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from decimal import Decimal
from fractions import Fraction

from execintel.analysis.accounting import gaap_line
from execintel.analysis.finance import _Finance, money_text, sources_by
from execintel.analysis.model import Figure, Finding
from execintel.analysis.recurring import grouped_sources

ZERO = Decimal(0)
# Positive amounts on these Equity accounts are owner contributions; the opening balance is not new money.
OPENING = "Equity:Opening-Balances"
CONTRIBUTION = (
    f"split_part(account, ':', 1) = 'Equity' AND amount > 0 AND account <> '{OPENING}' "
    f"AND NOT starts_with(account, '{OPENING}:')"
)
# An Assets account named like one of these is an investment or retirement account, never cash for runway.
INVESTMENT_WORDS = ("invest", "broker", "retire", "401k", "403b", "457b", "ira", "roth", "pension", "stock", "share",
                    "securit", "crypto", "fund", "etf", "bond", "option", "annuit", "hsa")  # fmt: skip
HISTORY_MONTHS = 6  # the lowest month-end runway is taken over this many complete months


def _tokens(account: str) -> list[str]:
    return [t for t in re.split(r"[:\-_ ]+", account.lower())[1:] if t]


def is_cash_account(account: str, lot_parents: set[str]) -> bool:
    """Whether a beancount Assets account is a cash or bank account that runway may count on.

    It is when its name reads as cash (the accounting report's "Cash and cash equivalents" line: bank, cash,
    checking, savings, stripe, paypal), no part of its name reads as an investment or retirement account, and
    neither it nor an account beside it (same parent) ever held a position at cost: the cash of a brokerage or
    a 401(k) (``Assets:US:Vanguard:Cash`` beside ``Assets:US:Vanguard:VBMPD``) is not operating cash.
    """
    if gaap_line(account).line != "Cash and cash equivalents":
        return False
    if any(t.startswith(w) for t in _tokens(account) for w in INVESTMENT_WORDS):
        return False
    return account.rsplit(":", 1)[0] not in lot_parents and account not in lot_parents


class HonestCash:
    """Adds the honest-cash figures to a finance run (needs its ledger aggregates and its runway history)."""

    def __init__(self, fin: _Finance) -> None:
        self.fin = fin
        self.ctx = fin.ctx
        self.cur = fin.cur
        self.last3 = fin.last3
        self.recent_start = dt.date.fromisoformat(self.last3[0] + "-01")

    def run(self) -> None:
        """Every honest-cash figure and finding, in report order."""
        if not self.ctx.lean:  # no comparison reads them (an earlier date's context: see Context.lean)
            self.cash_split()
        recent = self.contributions()
        self.burn_with_debt()
        self.self_funded(recent)
        if not self.ctx.lean:
            self.lowest_month_end()

    # --- cash and bank versus other assets -----------------------------------------------------
    def cash_split(self) -> None:
        """``cash.bank.<e>``: the part of ``cash.<e>`` in cash and bank accounts; ``cash.other.<e>``: the rest.

        A CSV ledger's rows all move its implicit cash account. A beancount ledger's Assets postings say where its
        cash is: only the postings to cash and bank accounts (:func:`is_cash_account`) count as bank, and whatever
        else ``cash.<e>`` holds (investments at cost, conversion differences) is other assets.
        """
        fin, ctx, as_of = self.fin, self.ctx, self.ctx.as_of
        rows = ctx.query(
            "SELECT entity, account, bool_or(at_cost), sum(amount) FROM asset_postings WHERE date <= ? GROUP BY ALL",
            [as_of],
        )
        lot_parents = {account.rsplit(":", 1)[0] for _, account, at_cost, _ in rows if at_cost}
        lot_parents |= {account for _, account, at_cost, _ in rows if at_cost}
        in_bank: dict[str, Decimal] = defaultdict(lambda: ZERO)
        accounts: dict[tuple[str, bool], list[str]] = defaultdict(list)
        for entity, account, _, total in rows:
            cash = is_cash_account(account, lot_parents)
            accounts[(entity, cash)].append(account)
            if cash:
                in_bank[entity] += total or ZERO
        beancount = "source_file IN (SELECT DISTINCT source_file FROM asset_postings)"
        csv = dict(ctx.query(f"SELECT entity, sum(amount) FROM tx WHERE NOT coalesce({beancount}, FALSE) GROUP BY 1"))
        rule = ("sum(amount) of {whose} CSV ledger rows (a CSV ledger's implicit account is cash) + the balance of "
                "{whose} beancount Assets accounts that are cash or bank accounts (named bank, cash, checking, "
                "savings, stripe or paypal, not named as an investment or retirement account, and with no position "
                "held at cost in them or beside them)")  # fmt: skip
        bank_total, other_total = ZERO, ZERO
        bank_src: list[str] = []
        other_src: list[str] = []
        csv_rows = grouped_sources(ctx, "SELECT entity AS k, source_file AS f, source_line AS l FROM tx "
                                   f"WHERE NOT coalesce({beancount}, FALSE)")  # fmt: skip
        postings = self._postings(accounts)
        for e in fin.with_ledger:
            name = fin._name(e)
            bank = (csv.get(e) or ZERO) + in_bank.get(e, ZERO)
            other = fin.ledger.cash[e] - bank
            mine_bank = csv_rows.get(e, ()) + postings.get(f"{e}|bank", ())
            mine_other = postings.get(f"{e}|other", ())
            bank_src += mine_bank
            other_src += mine_other
            bank_total += bank
            other_total += other
            fin.add(f"cash.bank.{e}", bank, rule.format(whose=f"{e}'s"), mine_bank,
                    name=f"Cash and bank accounts, {name}", entity=e)  # fmt: skip
            listed = accounts.get((e, False))
            fin.add(f"cash.other.{e}", other,
                    f"cash.{e} - cash.bank.{e}: other assets counted in cash on hand"
                    + (f" ({', '.join(sorted(listed))})" if listed else ""),
                    mine_other, name=f"Other assets in cash on hand (investments, retirement, at cost), {name}",
                    entity=e)  # fmt: skip
        fin.add("cash.bank.portfolio", bank_total, "sum of cash.bank.<e> over every entity with a ledger",
                tuple(dict.fromkeys(bank_src)), name="Cash and bank accounts, portfolio")  # fmt: skip
        fin.add("cash.other.portfolio", other_total, "cash.portfolio - cash.bank.portfolio",
                tuple(dict.fromkeys(other_src)),
                name="Other assets in cash on hand (investments, retirement, at cost), portfolio")  # fmt: skip

    def _postings(self, accounts: dict[tuple[str, bool], list[str]]) -> dict[str, tuple[str, ...]]:
        """Provenance of the Assets postings up to ``as_of`` on the listed accounts of each (entity, is cash),
        keyed ``<e>|bank`` and ``<e>|other``: one pass for every entity (a query per entity cost entities x rows)."""
        pairs = [(entity, account, "bank" if cash else "other") for (entity, cash), names in accounts.items()
                 for account in names]  # fmt: skip
        if not pairs:
            return {}
        entities, names, sides = (list(column) for column in zip(*pairs, strict=True))
        return grouped_sources(
            self.ctx,
            "SELECT p.entity || '|' || m.side AS k, p.source_file AS f, p.source_line AS l FROM asset_postings p "
            "JOIN (SELECT unnest(?::VARCHAR[]) AS entity, unnest(?::VARCHAR[]) AS account, "
            "unnest(?::VARCHAR[]) AS side) m ON p.entity = m.entity AND p.account = m.account WHERE p.date <= ?",
            [entities, names, sides, self.ctx.as_of],
        )

    # --- owner contributions -------------------------------------------------------------------
    def contributions(self) -> Decimal:
        """``contributions.ttm|recent.<e>`` and ``.portfolio``; returns ``contributions.recent.portfolio``."""
        fin, ctx = self.fin, self.ctx
        start, recent = ctx.window_start, self.recent_start
        totals = {
            entity: (ttm or ZERO, rec or ZERO)
            for entity, ttm, rec in ctx.query(
                f"SELECT entity, sum(amount) FILTER (WHERE date > ?), sum(amount) FILTER (WHERE date >= ?) FROM tx "
                f"WHERE {CONTRIBUTION} GROUP BY entity",
                [start, recent],
            )
        }
        what = (f"sum(amount) of rows with amount > 0 on Equity accounts other than {OPENING} and its sub-accounts "
                "(owner contributions)")  # fmt: skip
        windows = {
            "ttm": (f"{start.isoformat()} < date <= {ctx.as_of.isoformat()}", "date > ?", start,
                    "Owner contributions, trailing 12 months"),
            "recent": (f"{recent.isoformat()} <= date <= {ctx.as_of.isoformat()} (from the first day of the earliest "
                       "of the last 3 complete months)", "date >= ?", recent,
                       f"Owner contributions since {recent.isoformat()}"),
        }  # fmt: skip
        recent_total = ZERO
        for index, (window, (words, where, since, title)) in enumerate(windows.items()):
            src = self._sources(f"{CONTRIBUTION} AND {where}", [since])
            for e in fin.with_ledger:
                fin.add(f"contributions.{window}.{e}", totals.get(e, (ZERO, ZERO))[index],
                        f"{what} of {e}, {words}", src.get(e, ()), name=f"{title}, {fin._name(e)}",
                        entity=e)  # fmt: skip
            total = sum((t[index] for t in totals.values()), ZERO)
            fin.add(f"contributions.{window}.portfolio", total, f"{what} of every entity, {words}",
                    src.get("*", ()), name=f"{title}, portfolio")  # fmt: skip
            recent_total = total
        return recent_total

    def _sources(self, where: str, params: list[object]) -> dict[str, tuple[str, ...]]:
        return sources_by(self.ctx, ["entity", "'*'"], where, params)

    # --- burn and runway with debt service -----------------------------------------------------
    def burn_with_debt(self) -> None:
        """``burn.monthly.with_debt.portfolio`` (net cash flow without Equity rows only) and its runway."""
        fin = self.fin
        nets = dict(self.ctx.query(
            "SELECT strftime(date, '%Y-%m'), sum(amount) FROM tx WHERE strftime(date, '%Y-%m') IN (?, ?, ?) "
            "AND split_part(account, ':', 1) <> 'Equity' GROUP BY 1", list(self.last3)))  # fmt: skip
        src = self._sources("month IN (?, ?, ?) AND split_part(account, ':', 1) <> 'Equity'", list(self.last3))
        burns: list[Decimal] = []
        for month in self.last3:
            net = nets.get(month) or ZERO
            burns.append(max(ZERO, -net))
            fin.add(f"burn.month.with_debt.{month}.portfolio", max(ZERO, -net),
                    f"max(0, -sum(amount) of every ledger row dated in {month} except Equity accounts); loan "
                    "drawdowns and repayments (Liabilities) count", src.get("*", ()),
                    name=f"Burn with debt service, {month}, portfolio")  # fmt: skip
        total = sum(burns, ZERO)
        burn = fin.add("burn.monthly.with_debt.portfolio", total / 3,
                       f"(sum over {', '.join(self.last3)} of max(0, -net cash flow of the month)) / 3; net cash flow "
                       "= sum(amount) of the month's ledger rows except Equity accounts (loan drawdowns and "
                       "repayments count)", src.get("*", ()),
                       name="Monthly burn with debt service (average of the last 3 complete months)")  # fmt: skip
        if total == 0:
            return
        cash = fin.cash_total
        fin.add("runway.days.with_debt.portfolio", math.floor(Fraction(cash) * 90 / Fraction(total)),
                "floor(cash.portfolio / burn.monthly.with_debt.portfolio * 30), computed exactly as "
                "floor(cash.portfolio * 90 / sum of the 3 monthly burns with debt service)",
                tuple(dict.fromkeys(fin.results.figures["cash.portfolio"].sources + burn.sources)),
                name="Runway with debt service", unit="days")  # fmt: skip

    def self_funded(self, recent: Decimal) -> None:
        """``runway.days.self_funded.portfolio``: runway without the owner money of the recent months."""
        fin = self.fin
        burn = fin.results.figures.get("burn.monthly.portfolio")
        total = sum((max(ZERO, -fin.ledger.month_sum(None, m, "income", "cogs", "opex", "other"))
                     for m in self.last3), ZERO)  # fmt: skip
        if burn is None or total == 0:
            return
        days = max(0, math.floor((Fraction(fin.cash_total) - Fraction(recent)) * 90 / Fraction(total)))
        sources = fin.results.figures["cash.portfolio"].sources + burn.sources
        sources += fin.results.figures["contributions.recent.portfolio"].sources
        fin.add("runway.days.self_funded.portfolio", days,
                "max(0, floor((cash.portfolio - contributions.recent.portfolio) / burn.monthly.portfolio * 30)), "
                "computed exactly with the sum of the 3 monthly burns", tuple(dict.fromkeys(sources)),
                name="Self-funded runway (without recent owner contributions)", unit="days")  # fmt: skip
        policy = self.ctx.manifest.policies.min_runway_days
        runway = fin.results.figures.get("runway.days.portfolio")
        if policy is None or runway is None or not isinstance(runway.value, int) or runway.value < policy:
            return
        if days >= policy or recent <= 0:
            return
        fin.results.find(Finding(
            "runway-relies-on-owner-money", "medium",
            f"Runway meets the {policy}-day policy only thanks to {money_text(recent, self.cur)} of recent owner "
            "contributions",
            evidence=(f"runway.days.portfolio {runway.value} days; without the contributions since "
                      f"{self.recent_start.isoformat()} ({money_text(recent, self.cur)}), {days} days",
                      f"policy minimum {policy} days ({self.ctx.manifest_key('policies.min_runway_days')})"),
            amount=recent, file=self.ctx.manifest_file, subject="portfolio runway without owner contributions",
            recommendation="Plan how the business covers its burn without new owner money, or decide how much "
                           "more the owners will put in and when.",
        ))  # fmt: skip

    # --- the lowest month-end runway -----------------------------------------------------------
    def lowest_month_end(self) -> None:
        """``runway.days.month_end.min.portfolio``: the lowest runway at the end of the last 6 complete months."""
        fin = self.fin
        months = fin.pnl_months[:-1][-HISTORY_MONTHS:]
        points: list[tuple[int, str, Figure]] = []
        for m in months:
            fig = fin.results.figures.get(f"runway.days.month_end.{m}.portfolio")
            if fig is not None and isinstance(fig.value, int):
                points.append((fig.value, m, fig))
        if not points:
            return
        days, month, low = min(points, key=lambda p: (p[0], p[1]))
        fin.add("runway.days.month_end.min.portfolio", days,
                f"min of runway.days.month_end.<m>.portfolio over {months[0]} .. {months[-1]} (months without burn "
                f"have no runway and are skipped); lowest at the end of {month}", low.sources,
                name=f"Lowest month-end runway, last {HISTORY_MONTHS} complete months ({month})",
                unit="days")  # fmt: skip
