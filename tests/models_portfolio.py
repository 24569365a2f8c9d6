"""A hand-made portfolio with one entity per revenue model, as of 2026-11-15 (used by the KPI and scorecard tests).

TTM: 2025-11-15 < date <= 2026-11-15; last 3 complete months 2026-08..2026-10; the 3 months before them
2026-05..2026-07; the prior 12 months 2024-11-15 < date <= 2025-11-15.

- ``u`` per_unit: charters at 1000, variable cost 300, capacity 12; bookings of 1, 1 and 2 units in Aug, Sep, Oct.
- ``s`` subscription: signups, logins and churns of four customers.
- ``r`` retainer: clients a, b, c paying retainers (counterparties that are the events' customer ids).
- ``h`` rental: two units, one let on as_of; rent of 1000 a month.
- ``n`` none: no revenue model, one hosting bill.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import WritePortfolio, base_manifest
from test_kpis import S_LEDGER, U_LEDGER  # the per-unit and subscription businesses of the KPI tests

AS_OF = "2026-11-15"

R_LEDGER = """date,account,amount,counterparty
2025-06-10,Income:Retainers,1000,a
2025-07-10,Income:Retainers,500,b
2026-05-10,Income:Retainers,1000,a
2026-06-10,Income:Retainers,500,b
2026-08-10,Income:Retainers,1200,a
2026-09-10,Income:Retainers,300,c
2026-10-10,Income:Retainers,1200,a
2026-10-20,Expenses:COGS:Contractors,-900,
"""
# rent of 1000 on the first of each month from 2025-12 to 2026-10 (11 months), one repair in October
H_LEDGER = "date,account,amount\n" + "".join(
    f"{month},Income:Rent,1000\n" for month in ["2025-12-01", *(f"2026-{m:02d}-01" for m in range(1, 11))]
) + "2026-10-15,Expenses:Repairs,-200\n"  # fmt: skip
N_LEDGER = "date,account,amount\n2026-01-01,Equity:Opening-Balances,500\n2026-10-05,Expenses:Hosting,-50\n"


def _ev(ts: str, entity: str, kind: str, customer: str | None, **extra: Any) -> str:
    who = {"customer": customer} if customer else {}
    return json.dumps({"ts": f"{ts}T10:00:00Z", "entity": entity, "type": kind, **who, **extra})


EVENTS = [
    _ev("2025-10-01", "u", "booking", "c1"),
    _ev("2026-08-05", "u", "booking", "c1"),
    _ev("2026-09-05", "u", "booking", "c2"),
    _ev("2026-10-05", "u", "booking", "c3", units=2),
    _ev("2026-10-07", "u", "completion", "c3", units=2),
    _ev("2026-02-01", "s", "signup", "u1"),
    _ev("2026-03-01", "s", "login", "u2"),
    _ev("2026-03-02", "s", "login", "u3"),
    _ev("2025-06-01", "s", "signup", "u4"),
    _ev("2026-04-01", "s", "login", "u4"),
    _ev("2026-09-01", "s", "churn", "u1"),
    _ev("2026-10-01", "s", "churn", "u4"),
    _ev("2026-05-01", "s", "lead", "p1"),
    _ev("2025-06-01", "r", "signup", "a"),
    _ev("2025-07-01", "r", "signup", "b"),
    _ev("2026-08-01", "r", "signup", "c"),
    _ev("2026-03-01", "r", "login", "a"),
    _ev("2026-04-01", "r", "login", "b"),
    _ev("2026-07-15", "r", "churn", "b"),
    _ev("2025-12-20", "h", "lease", "t1", unit="A", monthly_rent=1000, start="2026-01-01", end="2026-12-31"),
    _ev("2024-12-20", "h", "lease", "t2", unit="B", monthly_rent=900, start="2025-01-01", end="2026-06-30"),
]
# r's NPS (anonymous, so the respondents are not counted as customers): segment "ten" 10 responses (6 promoters,
# 2 passives, 2 detractors), segment "nine" 9 responses (3, 3, 3)
NPS = [
    *(_ev(f"2026-06-{i + 1:02d}", "r", "nps", None, score=s, segment="ten")
      for i, s in enumerate([10] * 6 + [7] * 2 + [3] * 2)),
    *(_ev(f"2026-07-{i + 1:02d}", "r", "nps", None, score=s, segment="nine")
      for i, s in enumerate([9] * 3 + [8] * 3 + [0] * 3)),
]  # fmt: skip


def write_models(write_portfolio: WritePortfolio) -> Path:
    """Write the five-model portfolio; returns its manifest's path."""
    entities = [
        {"id": "u", "name": "Units Co", "revenue_model": "per_unit", "ledger": "data/u.csv", "events": "data/u.jsonl",
         "unit_economics": {"unit": "charter", "price": 1000, "variable_cost": 300, "capacity_per_month": 12}},
        {"id": "s", "name": "Subs Co", "revenue_model": "subscription", "ledger": "data/s.csv",
         "events": "data/s.jsonl"},
        {"id": "r", "name": "Retainer Co", "revenue_model": "retainer", "ledger": "data/r.csv",
         "events": "data/r.jsonl"},
        {"id": "h", "name": "House", "revenue_model": "rental", "ledger": "data/h.csv", "events": "data/h.jsonl"},
        {"id": "n", "name": "Lab", "revenue_model": "none", "ledger": "data/n.csv"},
    ]  # fmt: skip
    files: dict[str, str | bytes] = {
        "data/u.csv": U_LEDGER,
        "data/s.csv": S_LEDGER,
        "data/r.csv": R_LEDGER,
        "data/h.csv": H_LEDGER,
        "data/n.csv": N_LEDGER,
    }
    for entity in ("u", "s", "r", "h"):  # one events file per entity
        files[f"data/{entity}.jsonl"] = "\n".join(e for e in [*EVENTS, *NPS] if json.loads(e)["entity"] == entity)
    return write_portfolio(base_manifest(entities=entities), files)
