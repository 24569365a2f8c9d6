"""Working capital and a balance sheet: receivables and their ageing, loan balances, deferred revenue, and the
assets, liabilities and equity of each entity from its ledger.

Receivables come from the billing analysis (invoice and payment events, ``ctx.results("billing")``), deferred
revenue from the accounting analysis, cash from the finance analysis: each is computed once, where it belongs, and
only summed or laid side by side here. The balance sheet is on the ledger's cash basis; the formulas are listed in
``docs/reports/cfo.md``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from execintel.analysis.accounting import deferred_revenue, gaap_line
from execintel.analysis.context import Context
from execintel.analysis.finance import money_text, sources_by
from execintel.analysis.model import Figure, Finding, Results

ZERO = Decimal(0)
LOANS = "Loans and notes payable"
# Billing's ageing buckets (figure id suffix of billing.<e>.receivables.*) -> this report's bucket names.
AGING = (
    ("current", "receivables.current", "Not yet due"),
    ("1-30", "receivables.overdue.0-30", "1-30 days overdue"),
    ("31-60", "receivables.overdue.31-60", "31-60 days overdue"),
    ("61-90", "receivables.overdue.61-90", "61-90 days overdue"),
    ("over-90", "receivables.overdue.over-90", "More than 90 days overdue"),
)
BALANCE_LINES = (
    ("assets.cash_bank", "Cash and bank accounts"),
    ("assets.other", "Other assets (at cost)"),
    ("assets", "Total assets"),
    ("liabilities", "Liabilities"),
    ("equity.contributed", "Owner equity (opening balances, contributions less draws)"),
    ("equity.retained", "Retained earnings (income less expenses to date)"),
    ("equity", "Total equity"),
)


@dataclass(frozen=True)
class LiabilityAccount:
    """One Liabilities account of an entity: what came in (drawdowns), what went out (repayments), the balance."""

    entity: str
    account: str
    line: str  # its GAAP line (Loans and notes payable, Credit cards payable, Deposits held...)
    drawdowns: Decimal
    repayments: Decimal
    balance: Decimal


@dataclass
class WorkingCapitalResults(Results):
    """Figures and findings, plus the rows the CFO report lays out."""

    receivable_entities: list[str] = field(default_factory=list)  # entities with invoice events
    liabilities: list[LiabilityAccount] = field(default_factory=list)
    ledgered: list[str] = field(default_factory=list)


class _WorkingCapital:
    """Builds the working-capital results for one context."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.cur = ctx.currency
        self.res = WorkingCapitalResults()
        self.finance = ctx.results("finance").figures
        present = {row[0] for row in ctx.query("SELECT DISTINCT entity FROM tx")}
        self.res.ledgered = [e for e in ctx.entities if e in present] + sorted(present - set(ctx.entities))

    def _name(self, entity: str) -> str:
        found = self.ctx.entities.get(entity)
        return found.name if found is not None else entity

    def add(self, fid: str, value: Decimal, formula: str, sources: tuple[str, ...], *, name: str,
            entity: str | None = None) -> Figure:  # fmt: skip
        """Record a money figure."""
        return self.res.add(Figure(fid, value, self.cur, formula, tuple(dict.fromkeys(sources)), name, entity))

    def run(self) -> WorkingCapitalResults:
        """Every figure and finding."""
        self.receivables()
        if self.res.ledgered:
            self.loans()
            self.deferred()
            self.balance_sheet()
        return self.res

    # --- receivables -------------------------------------------------------------------------
    def receivables(self) -> None:
        """``receivables.<bucket>.portfolio``: billing's per-entity ageing summed over the entities with invoices."""
        billing = self.ctx.results("billing").figures
        entities = [e for e in self.ctx.entities if f"billing.{e}.receivables.outstanding" in billing]
        self.res.receivable_entities = entities
        if not entities:
            return
        for bucket, suffix, title in (*AGING, ("outstanding", "receivables.outstanding", "Outstanding")):
            figures = [billing[f"billing.{e}.{suffix}"] for e in entities]
            total = sum((Decimal(f.value) for f in figures if isinstance(f.value, Decimal | int)), ZERO)
            self.add(f"receivables.{bucket}.portfolio", total,
                     f"sum of billing.<e>.{suffix} over the entities with invoice events ({', '.join(entities)})",
                     tuple(s for f in figures for s in f.sources),
                     name=f"Receivables: {title.lower()}, portfolio")  # fmt: skip

    # --- loans ---------------------------------------------------------------------------------
    def loans(self) -> None:
        """Each Liabilities account's drawdowns, repayments and balance; ``loans.balance|declared.<e>``."""
        ctx = self.ctx
        for entity, account, drawn, repaid, balance in ctx.query(
            """SELECT entity, account, sum(amount) FILTER (WHERE amount > 0), -sum(amount) FILTER (WHERE amount < 0),
                      sum(amount) FROM tx WHERE split_part(account, ':', 1) = 'Liabilities'
               GROUP BY ALL ORDER BY entity, account"""
        ):
            self.res.liabilities.append(LiabilityAccount(entity, account, gaap_line(account).line, drawn or ZERO,
                                                         repaid or ZERO, balance or ZERO))  # fmt: skip
        src = sources_by(ctx, "entity || '|' || account", "split_part(account, ':', 1) = 'Liabilities'")
        rule = ("sum(amount) of the {who} ledger rows on Liabilities accounts whose GAAP line is Loans and notes "
                "payable (mortgage, loan, note, debt in the name): drawdowns (cash in) less repayments")  # fmt: skip
        total, declared_total = ZERO, ZERO
        declared_src: list[str] = []
        every: list[str] = []
        for e in self.res.ledgered:
            mine = [a for a in self.res.liabilities if a.entity == e and a.line == LOANS]
            balance = sum((a.balance for a in mine), ZERO)
            total += balance
            sources = tuple(s for a in mine for s in src.get(f"{e}|{a.account}", ()))
            every += sources
            self.add(f"loans.balance.{e}", balance, rule.format(who=f"{e}'s"),
                     sources or self.finance[f"cash.{e}"].sources[:1],
                     name=f"Loan balance per the ledger, {self._name(e)}", entity=e)  # fmt: skip
            entity = ctx.entities.get(e)
            if entity is not None and entity.debts:
                declared = sum((Decimal(d.principal) for d in entity.debts), ZERO)
                declared_total += declared
                declared_src.append(ctx.entity_key(e, "debts"))
                self.add(f"loans.declared.{e}", declared, f"sum of principal of {e}'s debts in the manifest",
                         (ctx.entity_key(e, "debts"),), name=f"Debt principal declared, {self._name(e)}",
                         entity=e)  # fmt: skip
            for account in mine:
                if account.balance < 0 and account.drawdowns == 0:
                    self._unrecorded_loan(account, src.get(f"{e}|{account.account}", ()))
        self.add("loans.balance.portfolio", total, rule.format(who="every entity's"),
                 tuple(every) or self.finance["cash.portfolio"].sources[:1],
                 name="Loan balance per the ledger, portfolio")  # fmt: skip
        if declared_src:
            self.add("loans.declared.portfolio", declared_total, "sum of principal of every debt in the manifest",
                     tuple(declared_src), name="Debt principal declared, portfolio")  # fmt: skip

    def _unrecorded_loan(self, account: LiabilityAccount, sources: tuple[str, ...]) -> None:
        """A loan the ledger only repays: its balance was never recorded, so the balance sheet understates debt."""
        self.res.find(Finding(
            "loan-balance-not-recorded", "low",
            f"{self._name(account.entity)}: {account.account} shows repayments of "
            f"{money_text(account.repayments, self.cur)} but no loan balance",
            entity=account.entity,
            evidence=(f"{account.account}: no drawdown or opening balance, repayments "
                      f"{money_text(account.repayments, self.cur)} ({', '.join(sources)})",
                      "the loan predates the ledger, so the ledger's liabilities (and the balance sheet) leave it out"),
            subject=account.account,
            recommendation="Record the loan's balance at the ledger's start (an opening-balance row on the "
                           "Liabilities account, against Equity:Opening-Balances).",
        ))  # fmt: skip

    # --- deferred revenue ----------------------------------------------------------------------
    def deferred(self) -> None:
        """The accounting analysis's ``deferred_revenue.<e>`` figures, kept with the working capital."""
        accounting = deferred_revenue(self.ctx)
        for fid in [f"deferred_revenue.{e}" for e in self.res.ledgered] + ["deferred_revenue.portfolio"]:
            if fid in accounting:
                self.res.add(accounting[fid])

    # --- balance sheet -------------------------------------------------------------------------
    def balance_sheet(self) -> None:
        """``balance.<line>.<e>`` and ``.portfolio``: assets = liabilities + equity, on the ledger's cash basis."""
        sums: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
        for entity, root, total in self.ctx.query(
            "SELECT entity, split_part(account, ':', 1), sum(amount) FROM tx GROUP BY ALL"
        ):
            sums[(entity, root)] = total or ZERO
        src = sources_by(self.ctx, ["entity || '|' || split_part(account, ':', 1)", "entity"])
        totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
        every: list[str] = []
        for e in self.res.ledgered:
            cash = Decimal(self._money(f"cash.{e}"))
            bank = self._money(f"cash.bank.{e}")
            bought = -sums[(e, "Assets")]  # a CSV ledger's Assets rows: cash spent on non-cash assets
            values = {
                "assets.cash_bank": bank,
                "assets.other": cash - bank + bought,
                "assets": cash + bought,
                "liabilities": sums[(e, "Liabilities")],
                "equity.contributed": sums[(e, "Equity")],
                "equity.retained": sums[(e, "Income")] + sums[(e, "Expenses")],
            }
            values["equity"] = values["equity.contributed"] + values["equity.retained"]
            formulas = {
                "assets.cash_bank": f"cash.bank.{e}",
                "assets.other": f"cash.other.{e} - sum(amount) of {e}'s rows on Assets accounts (cash spent on "
                                "non-cash assets, at cost)",
                "assets": f"cash.{e} - sum(amount) of {e}'s rows on Assets accounts",
                "liabilities": f"sum(amount) of {e}'s rows on Liabilities accounts (drawdowns less repayments)",
                "equity.contributed": f"sum(amount) of {e}'s rows on Equity accounts (opening balances and "
                                      "contributions less draws)",
                "equity.retained": f"sum(amount) of {e}'s rows on Income and Expenses accounts (net income to date)",
                "equity": f"balance.equity.contributed.{e} + balance.equity.retained.{e}",
            }  # fmt: skip
            roots = {"assets.cash_bank": (), "assets.other": ("Assets",), "assets": (), "liabilities": ("Liabilities",),
                     "equity.contributed": ("Equity",), "equity.retained": ("Income", "Expenses"),
                     "equity": ("Equity", "Income", "Expenses")}  # fmt: skip
            for key, title in BALANCE_LINES:
                sources = tuple(s for r in roots[key] for s in src.get(f"{e}|{r}", ()))
                if key.startswith("assets"):
                    sources = self.finance[f"cash.{e}"].sources + sources
                every += sources
                totals[key] += values[key]
                self.add(f"balance.{key}.{e}", values[key], formulas[key], sources or src.get(e, ()),
                         name=f"{title}, {self._name(e)}", entity=e)  # fmt: skip
        for key, title in BALANCE_LINES:
            self.add(f"balance.{key}.portfolio", totals[key], f"sum of balance.{key}.<e> over every entity with a "
                     "ledger", tuple(every), name=f"{title}, portfolio")  # fmt: skip

    def _money(self, fid: str) -> Decimal:
        value = self.finance[fid].value
        return Decimal(value) if isinstance(value, Decimal | int) else ZERO


def analyze(ctx: Context) -> WorkingCapitalResults:
    """Receivables ageing, loans, deferred revenue and the balance sheet of a portfolio as of ``ctx.as_of``."""
    return _WorkingCapital(ctx).run()
