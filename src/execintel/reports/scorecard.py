"""The CEO scorecard: one row per active entity (and the portfolio), six KPIs, each cell rated red, amber or green.

Every cell names the figure it shows; its rating compares that figure with another figure of the document by a
threshold declared here (docs/reports/ceo.md lists them). A cell also carries a text label, so the rating never
rests on colour alone. A KPI that does not fit the entity's revenue model shows ``n/a``; one that fits but
cannot be computed shows ``missing``; neither is rated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from execintel.analysis.context import Context
from execintel.analysis.kpis import KPI_BY_ID, model_of
from execintel.analysis.model import Figure
from execintel.formatting import MONEY_UNITS, money, show

Rating = str  # "green" | "amber" | "red" | "none"
LABELS: dict[Rating, str] = {"green": "good", "amber": "watch", "red": "act", "none": "not rated"}
PORTFOLIO = "portfolio"

# Thresholds: a cell is green at or above the first number, amber at or above the second, red below.
REVENUE_MONTH_OF_AVERAGE = (Decimal("0.9"), Decimal("0.6"))  # last month / (TTM revenue / 12)
REVENUE_COVERS_COSTS = (Decimal(1), Decimal("0.8"))  # TTM revenue / TTM expenses
GROSS_MARGIN = (Decimal("0.5"), Decimal("0.3"))
BOOKINGS_OF_BREAK_EVEN = (Decimal(1), Decimal("0.5"))  # bookings a month / break-even units
COUNT_KEPT = (Decimal(1), Decimal("0.9"))  # subscribers or paying clients now / 3 months earlier
OCCUPANCY = (Decimal("0.9"), Decimal("0.75"))
BREAK_EVEN = (Decimal(1), Decimal("0.75"))  # revenue a month / break-even revenue a month
LEGEND = (
    "Each cell: the value, then good (green), watch (amber) or act (red) against the comparison in its note;"
    " n/a = the KPI does not fit the revenue model, missing = the data is not there. Thresholds: docs/reports/ceo.md."
)
DEFAULT_RUNWAY_DAYS = 90  # net cash flow: amber when cash lasts this long (or policies.min_runway_days)


@dataclass(frozen=True)
class Cell:
    """One scorecard cell: the figure it shows, its text, rating, label and the comparison behind the rating."""

    figure: str | None
    text: str
    rating: Rating
    basis: str

    def to_json(self) -> dict[str, Any]:
        """``{"figure", "text", "rating", "label", "basis"}``."""
        label = LABELS[self.rating] if self.figure is not None else self.text
        return {"figure": self.figure, "text": self.text, "rating": self.rating, "label": label, "basis": self.basis}


def _number(figure: Figure | None) -> Decimal | None:
    if figure is None or isinstance(figure.value, bool) or not isinstance(figure.value, Decimal | int):
        return None
    return Decimal(figure.value)


def _band(value: Decimal, thresholds: tuple[Decimal, Decimal]) -> Rating:
    green, amber = thresholds
    return "green" if value >= green else "amber" if value >= amber else "red"


def _pct(value: Decimal) -> str:
    return show(value, "ratio")


class Scorecard:
    """Builds the rows of the scorecard from the figures of the CEO report."""

    def __init__(self, ctx: Context, figures: Mapping[str, Figure]) -> None:
        self.ctx = ctx
        self.figures = figures
        self.cur = ctx.currency
        kpis = ctx.results("kpis").figures
        self.missing = {(m["id"], m["entity"]): m["data"] for m in _items(kpis.get("kpis.missing"))}
        self.unfit = {(m["id"], m["entity"]): m["reason"] for m in _items(kpis.get("kpis.not_applicable"))}
        self.month = ctx.complete_months(1)[0]
        self.used: list[str] = []

    def get(self, fid: str) -> Figure | None:
        """A figure of the report (or of the finance and KPI analyses, which the report then includes)."""
        figure = self.figures.get(fid) or self.ctx.results("finance").figures.get(fid)
        figure = figure or self.ctx.results("kpis").figures.get(fid)
        if figure is not None and fid not in self.used:
            self.used.append(fid)
        return figure

    def text(self, figure: Figure) -> str:
        """A figure's value, money to whole units of currency (the JSON and the appendix keep it exact)."""
        value = _number(figure)
        if value is not None and (figure.unit in MONEY_UNITS or figure.unit == "money"):
            return money(value, self.cur, cents=False)
        if value is not None and figure.unit == "units":
            return f"{value.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}/mo"
        return show(figure.value, figure.unit, self.cur)

    def cell(self, kpi: str, key: str, fid: str, rate: Callable[[Figure], tuple[Rating, str]]) -> Cell:
        """The cell of ``fid`` for ``key`` (an entity id or ``portfolio``), rated by ``rate`` when it exists."""
        figure = self.get(fid)
        if figure is None:
            if (kpi, key) in self.unfit:
                return Cell(None, "n/a", "none", self.unfit[(kpi, key)])
            need = self.missing.get((kpi, key))
            return Cell(None, "missing", "none", f"needs {need}" if need else "no data for this figure")
        rating, basis = rate(figure)
        return Cell(fid, self.text(figure), rating, basis)

    # --- ratings --------------------------------------------------------------------------------------------
    def revenue_month(self, key: str, lumpy: bool) -> Callable[[Figure], tuple[Rating, str]]:
        """Last month's revenue against the average month of the last 12 (not rated for lumpy per-unit sales)."""

        def rate(figure: Figure) -> tuple[Rating, str]:
            if lumpy:
                return "none", "not rated: per-unit revenue is lumpy, one month says little; read the 12 months"
            ttm = _number(self.get(f"revenue.ttm.{key}"))
            value = _number(figure) or Decimal(0)
            if not ttm:
                return ("green", "first revenue in 12 months") if value > 0 else ("red", "no revenue in 12 months")
            share = value * 12 / ttm
            return _band(share, REVENUE_MONTH_OF_AVERAGE), f"{_pct(share)} of the average month of the last 12"

        return rate

    def revenue_ttm(self, key: str) -> Callable[[Figure], tuple[Rating, str]]:
        """TTM revenue against TTM expenses: does the business pay for itself over a year."""

        def rate(figure: Figure) -> tuple[Rating, str]:
            expenses = _number(self.get(f"expenses.ttm.{key}"))
            value = _number(figure) or Decimal(0)
            if not expenses:
                return "green", "no expenses in the last 12 months"
            share = value / expenses
            return _band(share, REVENUE_COVERS_COSTS), f"covers {_pct(share)} of the 12 months' expenses"

        return rate

    def net_cash_flow(self, key: str) -> Callable[[Figure], tuple[Rating, str]]:
        """Net cash flow: green when not negative; amber when cash lasts the policy's runway at this rate."""

        def rate(figure: Figure) -> tuple[Rating, str]:
            value = _number(figure) or Decimal(0)
            if value >= 0:
                return "green", "cash comes in"
            days = self.ctx.manifest.policies.min_runway_days or DEFAULT_RUNWAY_DAYS
            cash = _number(self.get(f"cash.{key}")) or Decimal(0)
            lasts = max(Decimal(0), cash) / -value * 30
            whose = "the portfolio's cash" if key == PORTFOLIO else "its own cash"
            basis = f"uses cash: {whose} lasts {int(lasts)} days at this rate (amber from {days})"
            return ("amber" if lasts >= days else "red"), basis

        return rate

    def gross_margin(self, figure: Figure) -> tuple[Rating, str]:
        """Gross margin against fixed bands."""
        value = _number(figure) or Decimal(0)
        return _band(value, GROSS_MARGIN), "green from 50%, amber from 30%"

    def unit_kpi(self, key: str, kpi: str) -> Callable[[Figure], tuple[Rating, str]]:
        """The entity's unit KPI against its reference: break-even volume, 3 months earlier, occupancy bands."""

        def rate(figure: Figure) -> tuple[Rating, str]:
            value = _number(figure) or Decimal(0)
            if kpi == "occupancy":
                return _band(value, OCCUPANCY), "green from 90%, amber from 75%"
            if kpi == "bookings":
                units = _number(self.get(f"break_even.units.{key}"))
                if units is None:
                    return "none", "not rated: no break-even volume (unit_economics)"
                if units == 0:
                    return "green", "break-even needs no sales"
                return _band(value / units, BOOKINGS_OF_BREAK_EVEN), f"break-even is {units} a month"
            start = self.get(f"kpi.{kpi}.{key}.start")
            before = _number(start)
            if before is None or start is None:
                return "none", "not rated: no earlier count"
            if before == 0:
                return ("green" if value > 0 else "red"), f"was 0 ({start.name})"
            return _band(value / before, COUNT_KEPT), f"was {int(before)} ({start.name})"

        return rate

    def break_even(self, figure: Figure) -> tuple[Rating, str]:
        """Revenue a month against break-even revenue a month."""
        value = _number(figure) or Decimal(0)
        return _band(value, BREAK_EVEN), f"{_pct(value)} of break-even revenue"

    # --- rows -----------------------------------------------------------------------------------------------
    def row(self, key: str, model: str, lumpy: bool) -> list[Cell]:
        """The six cells of an entity (or, with ``key="portfolio"``, of the portfolio)."""
        unit = UNIT_KPI.get(model)
        cells = [
            self.cell("revenue_last_month", key, f"kpi.revenue_last_month.{key}", self.revenue_month(key, lumpy)),
            self.cell("revenue_last_month", key, f"revenue.ttm.{key}", self.revenue_ttm(key)),
            self.cell("net_cash_flow", key, f"kpi.net_cash_flow.{key}", self.net_cash_flow(key)),
            self.cell("gross_margin", key, f"kpi.gross_margin.{key}", self.gross_margin),
        ]
        if key == PORTFOLIO:
            cells.append(Cell(None, "n/a", "none", "each entity has its own unit KPI"))
            cells.append(Cell(None, "n/a", "none", "break-even is set per entity"))
            return cells
        if unit is None:
            cells.append(Cell(None, "n/a", "none", self.unfit.get(("bookings", key), "no revenue model")))
        else:
            cells.append(self.cell(unit, key, f"kpi.{unit}.{key}", self.unit_kpi(key, unit)))
        cells.append(self.cell("break_even_attainment", key, f"kpi.break_even_attainment.{key}", self.break_even))
        return cells


# The unit KPI of each revenue model (a model without one shows n/a).
UNIT_KPI: dict[str, str] = {
    "per_unit": "bookings",
    "subscription": "subscribers",
    "retainer": "paying_clients",
    "rental": "occupancy",
}


def _items(figure: Figure | None) -> list[dict[str, Any]]:
    return [m for m in figure.value if isinstance(m, dict)] if figure and isinstance(figure.value, list) else []


def columns(ctx: Context) -> list[dict[str, str]]:
    """The scorecard's columns: id and title."""
    month = ctx.complete_months(1)[0]
    return [
        {"id": "revenue_last_month", "title": f"Revenue {month}"},
        {"id": "revenue_ttm", "title": "Revenue, 12 months"},
        {"id": "net_cash_flow", "title": "Net cash flow a month"},
        {"id": "gross_margin", "title": "Gross margin"},
        {"id": "unit_kpi", "title": "Unit KPI"},
        {"id": "break_even", "title": "Against break-even"},
    ]


def build(ctx: Context, figures: Mapping[str, Figure]) -> tuple[list[dict[str, Any]], list[Figure]]:
    """The scorecard rows (JSON) and every figure its cells and ratings use (to put in the document)."""
    card = Scorecard(ctx, figures)
    rows: list[dict[str, Any]] = []
    for entity in ctx.active_entities:
        model = model_of(entity)
        cells = card.row(entity.id, model, lumpy=model == "per_unit")
        unit = UNIT_KPI.get(model)
        rows.append({
            "entity": entity.id, "name": entity.name, "model": model,
            "unit_kpi": KPI_BY_ID[unit].name if unit else None,
            "cells": [c.to_json() for c in cells],
        })  # fmt: skip
    if card.get("revenue.ttm.portfolio") is not None:
        lumpy = any(model_of(e) == "per_unit" for e in ctx.active_entities)
        cells = card.row(PORTFOLIO, "", lumpy=lumpy)
        rows.append({"entity": PORTFOLIO, "name": "Portfolio", "model": None, "unit_kpi": None,
                     "cells": [c.to_json() for c in cells]})  # fmt: skip
    used = [f for f in (card.get(fid) for fid in list(card.used)) if f is not None]
    return rows, used
