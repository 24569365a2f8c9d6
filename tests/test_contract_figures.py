"""The contract's money figures, recomputed independently from the raw ledger rows on random portfolios.

The independent checks the contract mentions run portfolios nobody has seen through ``execintel run`` and compare
the figures with values computed separately. This test does the same: it writes random ledgers (every account root,
opening balances and their sub-accounts, owner contributions and withdrawals, loans, rows on the window edges and
after ``as_of``), runs the real command, and recomputes every figure of CONTRACT sections 7 and 8 with nothing but
the formulas of the contract and plain Python over the CSV rows, sharing no code with execintel.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import random
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from conftest import cli

ACCOUNTS = (
    "Assets:Bank:Checking", "Equity:Opening-Balances", "Equity:Opening-Balances:Entity", "Equity:Owner-Contributions",
    "Equity:Owner-Draws", "Liabilities:Loan", "Liabilities:CreditCard", "Income:Sales", "Income:Charters",
    "Expenses:COGS:Materials", "Expenses:Rent", "Expenses:Software", "Expenses:Uncategorized",
)  # fmt: skip


def _months_before(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month + 1, candidate)
        except ValueError:
            continue
    raise AssertionError(day)


def _ledger(rng: random.Random, entities: list[str], as_of: dt.date) -> list[dict[str, str]]:
    start = as_of - dt.timedelta(days=800)
    rows = []
    for entity in entities:
        rows.append({"date": start.isoformat(), "entity": entity, "account": "Equity:Opening-Balances",
                     "amount": str(rng.randint(0, 50_000))})  # fmt: skip
    edges = [_months_before(as_of, 12), _months_before(as_of, 12) + dt.timedelta(days=1), as_of,
             as_of + dt.timedelta(days=1), as_of.replace(day=1), _months_before(as_of.replace(day=1), 3)]  # fmt: skip
    for _ in range(rng.randint(40, 160)):
        account = rng.choice(ACCOUNTS)
        day = rng.choice(edges) if rng.random() < 0.15 else start + dt.timedelta(days=rng.randint(0, 830))
        sign = 1 if account.startswith(("Income", "Liabilities")) else -1
        if account.startswith("Equity"):
            sign = rng.choice((1, 1, -1))
        if rng.random() < 0.1:
            sign = -sign  # refunds, repayments, reversals
        cents = Decimal(rng.randint(1, 900_000)) / 100
        rows.append({"date": day.isoformat(), "entity": rng.choice(entities), "account": account,
                     "amount": str(sign * cents)})  # fmt: skip
    return rows


def _expected(rows: list[dict[str, str]], entities: list[str], as_of: dt.date) -> dict[str, Decimal | int | None]:
    """Every figure of sections 7 and 8 that depends on the ledger alone, from the contract's words."""
    seen = [(dt.date.fromisoformat(r["date"]), r["entity"], r["account"], Decimal(r["amount"])) for r in rows]
    seen = [r for r in seen if r[0] <= as_of]  # rows dated after as_of are ignored by every figure
    window_start = _months_before(as_of, 12)  # the 12 months ending at as_of: window_start < d <= as_of
    first_of_month = as_of.replace(day=1)
    complete = [_months_before(first_of_month, k) for k in (3, 2, 1)]  # first days of the last 3 complete months
    month_keys = {(d.year, d.month) for d in complete}
    root = lambda account: account.split(":", 1)[0]  # noqa: E731

    def is_contribution(account: str, amount: Decimal) -> bool:
        opening = account == "Equity:Opening-Balances" or account.startswith("Equity:Opening-Balances:")
        return root(account) == "Equity" and not opening and amount > 0

    out: dict[str, Decimal | int | None] = {}
    for entity in entities:
        mine = [r for r in seen if r[1] == entity]
        out[f"cash.{entity}"] = sum((r[3] for r in mine), Decimal(0))
        ttm = [r for r in mine if window_start < r[0] <= as_of]
        out[f"revenue.ttm.{entity}"] = sum((r[3] for r in ttm if root(r[2]) == "Income" and r[3] > 0), Decimal(0))
        out[f"expenses.ttm.{entity}"] = -sum((r[3] for r in ttm if root(r[2]) == "Expenses"), Decimal(0))
    cash = sum((r[3] for r in seen), Decimal(0))
    out["cash.portfolio"] = cash

    def burn(excluded: tuple[str, ...]) -> Decimal:
        total = Decimal(0)
        for year, month in sorted(month_keys):
            net = sum((r[3] for r in seen if (r[0].year, r[0].month) == (year, month) and root(r[2]) not in excluded),
                      Decimal(0))  # fmt: skip
            total += max(Decimal(0), -net)
        return total / 3

    plain, with_debt = burn(("Equity", "Liabilities")), burn(("Equity",))
    out["burn.monthly.portfolio"] = plain
    out["burn.monthly.with_debt.portfolio"] = with_debt
    out["runway.days.portfolio"] = math.floor(cash / plain * 30) if plain else None
    out["runway.days.with_debt.portfolio"] = math.floor(cash / with_debt * 30) if with_debt else None
    out["contributions.ttm.portfolio"] = sum(
        (r[3] for r in seen if window_start < r[0] <= as_of and is_contribution(r[2], r[3])), Decimal(0)
    )
    recent = sum((r[3] for r in seen if complete[0] <= r[0] <= as_of and is_contribution(r[2], r[3])), Decimal(0))
    out["contributions.recent.portfolio"] = recent
    out["runway.days.self_funded.portfolio"] = max(0, math.floor((cash - recent) / plain * 30)) if plain else None
    return out


@pytest.mark.parametrize("seed", range(int(os.environ.get("EXECINTEL_TEST_TRIALS", "3")) - 1))  # 2; test-all: 9
def test_ledger_figures_match_an_independent_computation(tmp_path: Path, seed: int) -> None:
    rng = random.Random(f"contract-{seed}")  # noqa: S311 - test data
    as_of = rng.choice([dt.date(2026, 11, 15), dt.date(2024, 2, 29), dt.date(2026, 3, 31), dt.date(2026, 1, 1)])
    entities = ["alpha", "beta", "gamma"][: rng.randint(1, 3)]
    rows = _ledger(rng, entities, as_of)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["date", "entity", "account", "amount"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    folder = tmp_path / "portfolio"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "ledger.csv").write_text(buffer.getvalue(), encoding="utf-8")
    manifest = {
        "version": 1, "portfolio": {"name": f"Contract {seed}", "as_of": as_of.isoformat()},
        "sender": "reports@example.com", "ledger": "data/ledger.csv",
        "stakeholders": [{"id": "casey", "name": "Casey", "email": "ceo@example.com", "roles": ["ceo"]}],
        "entities": [{"id": e, "name": e.title(), "revenue_model": "per_unit"} for e in entities],
    }  # fmt: skip
    (folder / "portfolio.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    done = cli("run", "--dry-run", "--no-pdf", "--reports", "cfo", "--out", "out", str(folder), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [report] = (tmp_path / "out").glob("*/cfo.json")
    figures = json.loads(report.read_text(encoding="utf-8"), parse_float=Decimal)["figures"]
    for figure_id, expected in _expected(rows, entities, as_of).items():
        if expected is None:
            assert figure_id not in figures, f"{figure_id} must be absent when its burn is 0"
            continue
        assert figure_id in figures, f"{figure_id} is missing (seed {seed}, as_of {as_of})"
        value = figures[figure_id]["value"]
        if isinstance(expected, int):
            assert value == expected, (figure_id, value, expected)
        else:  # exact decimals; a figure may hold more digits of a quotient than the contract rounds to
            assert abs(Decimal(value) - expected) < Decimal("1e-12"), (figure_id, value, expected)
