"""How values read in report text: money to cents, counts with separators, ratios as percentages.

Shared by the analyses (finding titles) and the reports and renderers, so neither imports the other for it.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from execintel.analysis.model import Figure

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$", "JPY": "¥"}
MONEY_UNITS = {"USD", "EUR", "GBP", "CAD", "AUD", "JPY", "CHF", "NZD", "SEK", "NOK", "DKK", "MXN"}


def money(value: Decimal | int, currency: str = "USD", *, cents: bool = True) -> str:
    """``$18,769.55`` (rounded half up to cents only here, for display); negative as ``-$1,200.00``."""
    amount = Decimal(value).quantize(Decimal("0.01") if cents else Decimal(1), rounding=ROUND_HALF_UP)
    symbol = CURRENCY_SYMBOLS.get(currency)
    body = f"{abs(amount):,.2f}" if cents else f"{abs(amount):,.0f}"
    text = f"{symbol}{body}" if symbol else f"{body} {currency}"
    return f"-{text}" if amount < 0 else text


def show(value: Any, unit: str = "", currency: str = "USD") -> str:
    """A value as report text, by unit (money, days, percent, ratio, counts, text)."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(show(v, "", currency) if not isinstance(v, dict) else str(v.get("id", v)) for v in value)
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        if unit in MONEY_UNITS or unit == "money":
            return money(number, currency if unit == "money" else unit)
        if unit == "percent":
            return f"{number.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):,}%"
        if unit == "ratio":
            return f"{(number * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):,}%"
        if number == number.to_integral_value():
            text = f"{int(number):,}"
        else:
            text = f"{number.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"
        return f"{text} {unit}" if unit and unit not in ("count", "number") else text
    return str(value)


def show_cell(value: Any, unit: str, currency: str = "USD") -> str:
    """A table cell as report text: a number by its column's unit, anything else as it is, nothing for null."""
    if value is None:
        return ""
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return show(value, unit, currency)
    return show(value, "", currency)


def impact_text(impact: dict[str, Any], currency: str = "USD") -> str:
    """An action's impact as report text: ``{"amount": 20.68, "unit": "USD/month"}`` reads ``$20.68 per month``."""
    unit = str(impact.get("unit", ""))
    head, _, per = unit.partition("/")
    amount = show(impact.get("amount"), head, currency)
    return f"{amount} per {per}" if per else amount


def show_figure(figure: Figure | None, currency: str = "USD") -> str:
    """A figure's value as report text (``n/a`` when the figure is absent)."""
    return "n/a" if figure is None else show(figure.value, figure.unit, currency)


CELL_CHARS = 120  # a table cell longer than this is shortened when shown (the JSON and CSV keep it whole)
PROSE_CHARS = 2000  # a summary line, paragraph, finding or name longer than this is shortened when shown


def clip(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters with an ellipsis; a 10,000-character value must not swamp a page."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
