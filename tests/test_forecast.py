"""The 13-week cash forecast: a hand-computed base and low case, week by week, and the flagged week."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from conftest import WritePortfolio, base_manifest
from execintel.analysis.context import Context
from execintel.analysis.forecast import ForecastResults
from execintel.reports import build_report
from helpers import context

# as_of 2026-11-15. Week k holds the days as_of + 7(k-1) + 1 .. as_of + 7k: W1 11-16..11-22, W2 11-23..11-29,
# W3 11-30..12-06, W4 12-07..12-13, W5 12-14..12-20, W6 12-21..12-27, W7 12-28..01-03, W8 01-04..01-10,
# W9 01-11..01-17, W10 01-18..01-24, W11 01-25..01-31, W12 02-01..02-07, W13 02-08..02-14.
LEDGER = """date,account,amount,description,counterparty
2026-05-01,Equity:Opening-Balances,5000,opening,
2026-07-01,Liabilities:Loan,6000,loan drawdown,bank
2026-08-01,Expenses:Rent,-3000,rent,landlord
2026-09-01,Expenses:Rent,-3000,rent,landlord
2026-10-01,Expenses:Rent,-3000,rent,landlord
2026-11-01,Expenses:Rent,-3000,rent,landlord
2026-08-10,Income:Retainers,2000,retainer,acme
2026-09-10,Income:Retainers,2000,retainer,acme
2026-10-10,Income:Retainers,2000,retainer,acme
2026-11-10,Income:Retainers,2000,retainer,acme
2026-08-20,Liabilities:Loan,-500,repayment,bank
2026-09-20,Liabilities:Loan,-500,repayment,bank
2026-10-20,Liabilities:Loan,-500,repayment,bank
2026-08-15,Income:Sales,600,walk-in sale,walk-in 1
2026-09-20,Income:Sales,320,walk-in sale,walk-in 2
2026-08-05,Expenses:Supplies,-230,supplies,shop a
2026-10-12,Expenses:Supplies,-230,supplies,shop b
"""
# Opening (cash and bank) = 5000 + 6000 - 4 * 3000 + 4 * 2000 - 3 * 500 + 600 + 320 - 230 - 230 = 5960
# Recurring (monthly, from the last occurrence): rent -3000 on 12-01 (W3), 01-01 (W7), 02-01 (W12); loan -500 on
#   11-20 (W1), 12-20 (W5), 01-20 (W10); acme +2000 on 12-10 (W4), 01-10 (W8), 02-10 (W13), but the current
#   invoice INV-9 (due 11-25) stands for the 12-10 receipt, which is dropped.
# Invoices: INV-9 2000 due 11-25 -> W2 (low: 4 weeks later, 12-23 -> W6); INV-8 300, 75 days overdue -> W1 (low:
#   more than 60 days overdue, not counted); INV-7 400, 137 days overdue -> not counted in either case.
# Run rate (rows of 2026-08..10 outside the series, 92 days): receipts 600 + 320 = 920 -> 920 * 7 / 92 = 70 a week
#   (low 35); payments 230 + 230 = 460 -> 35 a week.
# Burn Aug..Oct: 630 + 680 + 1230 = 2540; policy 60 days -> minimum cash 2540 / 3 * 60 / 30 = 1693.33..
BASE_CLOSING = [5795, 7830, 4865, 4900, 4435, 4470, 1505, 3540, 3575, 3110, 3145, 180, 2215]
LOW_CLOSING = [5460, 5460, 2460, 2460, 1960, 3960, 960, 2460, 2460, 1960, 1960, -1040, 460]


def _invoice(number: str, client: str, amount: int, issued: str, due: str) -> dict[str, Any]:
    return {"ts": f"{issued}T12:00:00Z", "entity": "shop", "type": "invoice", "customer": client,
            "client": client, "amount": amount, "invoice": number, "due": due}  # fmt: skip


EVENTS = [
    _invoice("INV-9", "acme", 2000, "2026-11-12", "2026-11-25"),
    _invoice("INV-8", "beta", 300, "2026-08-01", "2026-09-01"),
    _invoice("INV-7", "gamma", 400, "2026-06-01", "2026-07-01"),
]


def _ctx(write_portfolio: WritePortfolio, policies: dict[str, Any] | None = None, events: bool = True) -> Context:
    entity: dict[str, Any] = {"id": "shop", "name": "Shop", "ledger": "ledger.csv"}
    files = {"ledger.csv": LEDGER}
    if events:
        entity["events"] = "events.jsonl"
        files["events.jsonl"] = "\n".join(json.dumps(e) for e in EVENTS)
    manifest = base_manifest(entities=[entity], policies=policies if policies is not None else {"min_runway_days": 60})
    return context(write_portfolio(manifest, files), as_of="2026-11-15")


def _forecast(ctx: Context) -> ForecastResults:
    res = ctx.results("forecast")
    assert isinstance(res, ForecastResults)
    return res


def _values(res: ForecastResults) -> dict[str, Any]:
    return {fid: fig.value for fid, fig in res.figures.items()}


def test_base_and_low_case_week_by_week(write_portfolio: WritePortfolio) -> None:
    values = _values(_forecast(_ctx(write_portfolio)))
    assert values["forecast.opening.portfolio"] == Decimal(5960)
    assert [values[f"forecast.base.week.{w:02d}.closing"] for w in range(1, 14)] == BASE_CLOSING
    assert [values[f"forecast.low.week.{w:02d}.closing"] for w in range(1, 14)] == LOW_CLOSING
    # W1: invoice INV-8 300 + run rate 70 in; loan 500 + run rate 35 out
    assert (values["forecast.base.week.01.receipts"], values["forecast.base.week.01.payments"]) == (370, 535)


def test_lines_add_up_and_the_low_case_assumptions(write_portfolio: WritePortfolio) -> None:
    values = _values(_forecast(_ctx(write_portfolio)))
    base = {
        k: values[f"forecast.base.{k}.total"]
        for k in (
            "recurring-receipts",
            "receivables",
            "other-receipts",
            "recurring-payments",
            "debt-service",
            "other-payments",
        )
    }
    assert base == {"recurring-receipts": 4000, "receivables": 2300, "other-receipts": 910,
                    "recurring-payments": -9000, "debt-service": -1500, "other-payments": -455}  # fmt: skip
    assert 5960 + sum(base.values()) == BASE_CLOSING[-1]
    assert values["forecast.low.recurring-receipts.total"] == 3000  # 2 x 2000 x 0.75
    assert values["forecast.low.receivables.total"] == 2000  # INV-9 late; INV-8 and INV-7 not counted
    assert values["forecast.low.other-receipts.total"] == Decimal("455")  # 13 x 35


def test_first_week_below_the_policy_minimum_is_flagged(write_portfolio: WritePortfolio) -> None:
    res = _forecast(_ctx(write_portfolio))
    values = _values(res)
    assert values["forecast.minimum.portfolio"] == Decimal(2540) * 60 / 90
    # base W7 closes at 1505 < 1693.33 (W1..W6 do not); low W7 at 960 (W5's 1960 is still above)
    assert values["forecast.base.first_week_below_minimum"] == 7
    assert values["forecast.low.first_week_below_minimum"] == 7
    [finding] = res.findings
    assert (finding.kind, finding.severity, finding.subject) == ("forecast-below-minimum", "high",
                                                                 "13-week cash forecast")  # fmt: skip
    # the lowest base closing is W12's 180: 1693.33.. - 180 short
    assert finding.amount == Decimal(2540) * 60 / 90 - 180


def test_without_a_policy_only_cash_below_zero_is_flagged(write_portfolio: WritePortfolio) -> None:
    res = _forecast(_ctx(write_portfolio, policies={}))
    values = _values(res)
    assert "forecast.minimum.portfolio" not in values
    assert "forecast.base.first_week_below_minimum" not in values  # the base case never goes below 0
    assert values["forecast.low.first_week_below_minimum"] == 12  # -1040
    [finding] = res.findings
    assert finding.severity == "medium"  # only the low case dips
    assert finding.amount == Decimal(1040)


def test_without_invoices_the_recurring_receipt_is_projected(write_portfolio: WritePortfolio) -> None:
    values = _values(_forecast(_ctx(write_portfolio, events=False)))
    # no INV-9: acme's 12-10 receipt is projected (W4); no receivables at all
    assert values["forecast.base.recurring-receipts.total"] == 6000
    assert values["forecast.base.receivables.total"] == 0
    assert values["forecast.base.week.04.receipts"] == 2070


def test_no_ledger_no_forecast(write_portfolio: WritePortfolio) -> None:
    ctx = context(write_portfolio(base_manifest()), as_of="2026-11-15")
    assert _forecast(ctx).figures == {}


def test_cfo_report_has_the_forecast_chart_and_table(write_portfolio: WritePortfolio) -> None:
    document = build_report(_ctx(write_portfolio), "cfo")
    sections = {s["id"]: s for s in document.sections}
    chart = sections["forecast-chart"]
    assert [s["name"] for s in chart["series"]] == ["Base case", "Low case", "Policy minimum"]
    assert chart["series"][0]["values"] == BASE_CLOSING
    table = sections["forecast"]
    assert table["rows"][6][0] == "2026-12-28 (base case first below the policy minimum; low case first below the " \
                                  "policy minimum)"  # fmt: skip
    assert "No new owner money or loans" in table["note"]
    for fid in ("forecast.base.week.13.closing", "forecast.low.first_week_below_minimum"):
        assert fid in document.figures
    assert [f.kind for f in document.findings if f.kind == "forecast-below-minimum"] == ["forecast-below-minimum"]


@pytest.mark.parametrize("fid", ["forecast.base.week.01.closing", "forecast.opening.portfolio"])
def test_forecast_figures_cite_ledger_rows(write_portfolio: WritePortfolio, fid: str) -> None:
    figure = _forecast(_ctx(write_portfolio)).figures[fid]
    assert any(s.startswith("ledger.csv:") for s in figure.sources)
