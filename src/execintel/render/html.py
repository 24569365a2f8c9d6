"""Email-safe HTML of a report document: Jinja2 with autoescape, table layout, CSS inlined with css-inline.

Data never becomes template source: values are passed to a fixed template and
escaped, so ``<script>`` or ``{{ 7*7 }}`` in a name comes out as text.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import css_inline
import jinja2

from execintel.reports.format import show

NON_NUMERIC_UNITS = ("", "text", "date")


@cache
def _environment() -> jinja2.Environment:
    loader = jinja2.PackageLoader("execintel.render", "templates")
    return jinja2.Environment(loader=loader, autoescape=True, trim_blocks=True,
                              lstrip_blocks=True)  # fmt: skip


@cache
def stylesheet(*, email: bool = True) -> str:
    """The report CSS (inlined into each element for mail clients; at-rules kept for phones); print adds its rules."""
    folder = resources.files("execintel.render").joinpath("templates")
    css = folder.joinpath("report.css").read_text(encoding="utf-8")
    return css if email else css + folder.joinpath("print.css").read_text(encoding="utf-8")


@cache
def _inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def render_html(doc: dict[str, Any], image_src: Callable[[str], str], *, email: bool = True) -> str:
    """The report as one HTML page; ``image_src(chart_id)`` gives each chart's ``src`` (file name or ``cid:``).

    ``email=True`` lays the page out with nested tables and inlines the CSS into every element, which is what
    mail clients render; ``email=False`` gives the same content as plain blocks with a print stylesheet, for
    PDF and printing.
    """
    currency = doc.get("currency", "USD")

    def cell_text(value: Any, unit: str) -> str:
        if value is None:
            return ""
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            return show(value, unit, currency)
        return show(value, "", currency)

    def numeric(column: dict[str, Any]) -> bool:
        return column.get("unit", "") not in NON_NUMERIC_UNITS

    template = _environment().get_template("report.html.j2")
    page = template.render(
        doc=doc, email=email, css=stylesheet(email=email), image_src=image_src, cell_text=cell_text, numeric=numeric,
        show=lambda value, unit: show(value, unit, currency),
    )  # fmt: skip
    return _inliner().inline(page) if email else page
