"""Charts as PNG (matplotlib, Agg backend) from a report document's ``chart`` sections."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter

from execintel.formatting import CURRENCY_SYMBOLS, MONEY_UNITS

WIDTH_IN, HEIGHT_IN, DPI = 5.6, 2.6, 200  # 560 x 260 CSS pixels, drawn at 2x for sharp screens
PALETTE = ("#1f4e79", "#c55a11", "#548235", "#7f6000", "#7030a0", "#2e75b6", "#a5a5a5")


def _number(value: Any) -> float:
    return float(value) if isinstance(value, Decimal | int | float) and not isinstance(value, bool) else float("nan")


def _axis_label(value: float, unit: str, currency: str) -> str:
    if unit in MONEY_UNITS or unit == "money":
        symbol = CURRENCY_SYMBOLS.get(unit if unit in MONEY_UNITS else currency)
        return f"{symbol}{value:,.0f}" if symbol else f"{value:,.0f}"
    return f"{value:,.0f}"


def _month(label: str) -> str:
    """``2026-03`` as ``Mar 26``; any other label unchanged."""
    try:
        return dt.datetime.strptime(label, "%Y-%m").strftime("%b %y")
    except ValueError:
        return label


def _label(text: Any, limit: int) -> str:
    """A data label made safe for a chart: one line, at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"


def warm() -> None:
    """Draw and encode a tiny chart, which loads matplotlib's fonts and caches once per process."""
    render_chart({"chart": "line", "x": ["2026-01", "2026-02"], "unit": "USD",
                  "series": [{"name": "a", "values": [1, 2]}, {"name": "b", "values": [2, 1]}]})  # fmt: skip


def render_chart(section: dict[str, Any], currency: str = "USD") -> bytes:
    """The PNG of one chart section (line, bar or stacked-bar).

    Names from the data are plain text (``$`` never starts math) and are shortened to fit the legend.
    """
    with mpl.rc_context({"text.parse_math": False, "text.usetex": False}):
        return _draw(section, currency)


def _draw(section: dict[str, Any], currency: str) -> bytes:
    x = [_label(label, 12) for label in section["x"]]
    unit = section.get("unit", "")
    fig, ax = plt.subplots(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    try:
        positions = list(range(len(x)))
        series = section["series"]
        kind = section["chart"]
        if kind == "line":
            for i, item in enumerate(series):
                ax.plot(positions, [_number(v) for v in item["values"]], marker="o", markersize=3,
                        color=PALETTE[i % len(PALETTE)], label=_label(item["name"], 28))  # fmt: skip
        elif kind == "stacked-bar":
            bottom = [0.0] * len(x)
            for i, item in enumerate(series):
                values = [0.0 if v is None else _number(v) for v in item["values"]]
                ax.bar(positions, values, bottom=bottom, color=PALETTE[i % len(PALETTE)],
                       label=_label(item["name"], 28))  # fmt: skip
                bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        else:
            width = 0.8 / max(len(series), 1)
            for i, item in enumerate(series):
                offset = (i - (len(series) - 1) / 2) * width
                ax.bar([p + offset for p in positions], [_number(v) for v in item["values"]], width=width,
                       color=PALETTE[i % len(PALETTE)], label=_label(item["name"], 28))  # fmt: skip
        step = max(1, len(x) // 8)
        ax.set_xticks(positions[::step], [_month(label) for label in x[::step]])
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: _axis_label(v, unit, currency)))
        ax.tick_params(labelsize=7)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.grid(axis="y", linewidth=0.4, alpha=0.5)
        if len(series) > 1:  # above the plot, never over the data
            fig.legend(fontsize=6, frameon=False, ncols=min(len(series), 4), loc="outside upper center")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", metadata={"Software": None})
        return buffer.getvalue()
    finally:
        plt.close(fig)
