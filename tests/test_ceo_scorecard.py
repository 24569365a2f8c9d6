"""The CEO report's scorecard, KPI gaps and KPI appendix, on the five-model portfolio of tests/models_portfolio.py.

Every rating below is worked out by hand from the ledgers and events there (arithmetic in the comments), against
the thresholds of ``execintel.reports.scorecard`` (docs/reports/ceo.md).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from conftest import WritePortfolio
from execintel.analysis.kpis import NO_MODEL
from execintel.formatting import show
from execintel.render.html import render_html
from execintel.render.text import render_text
from execintel.reports import Document, ceo, dumps, loads
from helpers import context
from models_portfolio import AS_OF, write_models


@pytest.fixture
def doc(write_portfolio: WritePortfolio) -> Document:
    return ceo.build(context(write_models(write_portfolio), as_of=AS_OF))


def _section(doc: Document, sid: str) -> dict[str, Any]:
    return next(s for s in doc.sections if s["id"] == sid)


def _ratings(doc: Document) -> dict[str, list[str]]:
    return {row["entity"]: [c["rating"] for c in row["cells"]] for row in _section(doc, "scorecard")["rows"]}


def test_scorecard_ratings_worked_out_by_hand(doc: Document) -> None:
    ratings = _ratings(doc)
    # Columns: revenue 2026-10 (against the 12 months' average month), revenue TTM (against TTM expenses), net cash
    # flow a month (amber while the entity's own cash lasts 90 days), gross margin, unit KPI, against break-even.
    # u: October not rated (per-unit revenue is lumpy); 4500 / 5350 = 84% (amber from 80%); -850 / 3 a month with
    # 9950 of cash lasts 9950 / (850 / 3) x 30 = 1053 days (amber); margin 70% (green); bookings 4 / 3 a month
    # against a break-even of 2 = 67% (amber from 50%); 1500 / 2000 = 75% of break-even (amber, on the boundary)
    assert ratings["u"] == ["none", "amber", "amber", "green", "amber", "amber"]
    # s: 1200 x 12 / 3300 = 436% of the average month (green); 3300 / 9120 = 36% (red); -1940 a month with -5820 of
    # cash (red); (3300 - 120) / 3300 = 96% (green); 2 subscribers against 4 on 2026-07-31 = 50% (red);
    # 1100 / 3040 = 36% of break-even (red)
    assert ratings["s"] == ["green", "red", "red", "green", "red", "red"]
    # r: 1200 x 12 / 4200 = 343% (green); 4200 / 900 (green); +600 a month (green); 3300 / 4200 = 79% (green);
    # 2 paying clients against 2 before (green); 900 / 300 = 300% of break-even (green)
    assert ratings["r"] == ["green"] * 6
    # h: 1000 x 12 / 11000 = 109% (green); 11000 / 200 (green); +933.33 a month (green); 100% (green); occupancy 1 of
    # 2 units = 50% (red under 75%); 1000 / (200 / 3) = 1500% of break-even (green)
    assert ratings["h"] == ["green", "green", "green", "green", "red", "green"]
    # n: no revenue in 12 months (red, red); -50 / 3 a month with 450 of cash lasts 810 days (amber); gross margin
    # missing (no Income rows), unit KPI n/a (no revenue model): not rated; 0 / (50 / 3) = 0% of break-even (red)
    assert ratings["n"] == ["red", "red", "amber", "none", "none", "red"]
    # portfolio: October not rated (it includes u's lumpy revenue); 23000 / 15620 = 147% (green); net cash flow
    # (700 - 750 - 2070) / 3 = -706.67 a month with 20180 of cash: 856 days (amber); (23000 - 2370) / 23000 = 90%
    assert ratings["portfolio"] == ["none", "green", "amber", "green", "none", "none"]


def test_each_cell_is_a_figure_of_the_document_with_a_word_for_its_rating(doc: Document) -> None:
    labels = {"green": "good", "amber": "watch", "red": "act", "none": "not rated"}
    cells = [c for row in _section(doc, "scorecard")["rows"] for c in row["cells"]]
    for cell in cells:
        if cell["figure"] is None:
            assert cell["text"] in ("n/a", "missing") and cell["rating"] == "none" and cell["label"] == cell["text"]
            continue
        figure = doc.figures[cell["figure"]]  # the cell's figure is in the report, with its formula and sources
        assert cell["label"] == labels[cell["rating"]] and cell["basis"]
        if figure.unit not in ("USD", "units"):
            assert cell["text"] == show(figure.value, figure.unit)
    row = {r["entity"]: r for r in _section(doc, "scorecard")["rows"]}
    u, n = row["u"]["cells"], row["n"]["cells"]
    assert [c["figure"] for c in u] == ["kpi.revenue_last_month.u", "revenue.ttm.u", "kpi.net_cash_flow.u",
                                        "kpi.gross_margin.u", "kpi.bookings.u", "kpi.break_even_attainment.u"]  # fmt: skip
    # money in whole dollars, bookings to a tenth
    assert [c["text"] for c in u] == ["$2,000", "$4,500", "-$283", "70.0%", "1.3/mo", "75.0%"]
    assert u[4]["basis"] == "break-even is 2 a month"
    assert (n[3]["text"], n[3]["basis"]) == ("missing", "needs Income rows")
    assert (n[4]["text"], n[4]["basis"]) == ("n/a", NO_MODEL)
    assert [r["unit_kpi"] for r in row.values()] == ["Bookings a month", "Active subscribers", "Paying clients",
                                                     "Occupancy", None, None]  # fmt: skip
    # the figures behind the ratings are in the document too
    assert {"expenses.ttm.u", "cash.u", "break_even.units.u", "kpi.subscribers.s.start"} <= doc.figures.keys()


def test_kpi_gaps_one_line_per_entity(doc: Document) -> None:
    # not fitting: u 7, s 4, r 4, h 8, n 10 KPIs, and the portfolio's month-over-month growth = 34
    assert _section(doc, "kpi-gaps")["items"] == [
        "Units Co: needs nps events (1 KPI)",
        "Subs Co: needs marketing spend, Income counterparties that are customer ids, Equity rows, nps events (4 KPIs)",
        "Retainer Co: needs marketing spend, Equity rows (2 KPIs)",
        "House: needs Equity rows, nps events (2 KPIs)",
        "Lab: needs nps events, Income rows (2 KPIs)",  # in catalogue order
        "Not computed where they do not fit the entity's revenue model: 34 KPI values, each with its reason in the"
        " appendix.",
    ]
    assert len(doc.figures["kpis.not_applicable"].value) == 34  # type: ignore[arg-type]


def test_appendix_shows_period_sample_size_and_verdicts(doc: Document) -> None:
    rows = {(r[0], r[1]): r[2] for r in _section(doc, "kpis")["rows"]}
    assert rows[("Churn, last 12 months", "Retainer Co")] == "33.3% over 12 months"
    assert rows[("NPS (ten)", "Retainer Co")] == "40 points (10 responses)"
    assert rows[("NPS (nine)", "Retainer Co")] == "0 points (9 responses: fewer than 10, too few to rely on)"
    assert rows[("Time to profitability", "Retainer Co")] == "reached (net income of the last 12 months is positive)"
    assert rows[("Time to profitability", "Units Co")] == "1 month at the current trend"
    assert rows[("Time to profitability", "Lab")] == "not in sight: revenue is not growing"
    assert not any(k[0].startswith("Net revenue retention") and k[1] != "Retainer Co" for k in rows)
    unfit = {r[0]: (r[1], r[2]) for r in _section(doc, "kpis-not-applicable")["rows"]}
    assert unfit[NO_MODEL][1] == "Lab"
    lumpy = next(why for why in unfit if why.startswith("per-unit revenue is lumpy"))
    assert unfit[lumpy] == ("Revenue growth, month over month", "Units Co")


def test_scorecard_renders_with_words_not_colour_alone(doc: Document) -> None:
    data = loads(dumps(doc.to_json()))
    html = render_html(data, lambda cid: cid)
    cells = re.findall(r'<td class="num sc sc-(green|amber|red|none)"[^>]*>(.*?)</td>', html, flags=re.S)
    assert len(cells) == 6 * 6
    words = {"green": "good", "amber": "watch", "red": "act"}
    for rating, body in cells:
        if rating in words:
            assert words[rating] in body  # the word is printed next to the colour
    text = render_text(data)
    assert "Units Co [unit KPI: Bookings a month]: Revenue 2026-10 $2,000 (not rated); Revenue, 12 months" in (
        " ".join(text.split())
    )
    assert "House [unit KPI: Occupancy]:" in text and "Unit KPI 50.0% (act)" in " ".join(text.split())
