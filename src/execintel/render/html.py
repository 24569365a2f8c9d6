"""Email-safe HTML of a report document: Jinja2 with autoescape, table layout, CSS inlined with css-inline.

Data never becomes template source: values are passed to a fixed template and
escaped, so ``<script>`` or ``{{ 7*7 }}`` in a name comes out as text. Every
value the template prints also has its control characters made visible
(:func:`execintel.controls.visible`): a bidi override cannot reverse the text
after it, as in the plain-text part of the same email.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import css_inline
import jinja2
from markupsafe import Markup, escape

from execintel.controls import visible
from execintel.formatting import CELL_CHARS, PROSE_CHARS, clip, show, show_cell
from execintel.render.layout import Attachments, attached_note, left_out_text, plan

NON_NUMERIC_UNITS = ("", "text", "date")
CARD_COLUMNS = 7  # in mail, a table with this many columns is shown as one card per row: 600 px cannot hold it
LONGEST_WORD = 20  # a word counts at most this long when sharing out column widths (longer ones break)
_LONG_RUN = re.compile(r"\S{25,}")
BREAK_EVERY = 20  # a run of characters without a space gets a break opportunity this often


def breakable(text: Any, limit: int = PROSE_CHARS) -> Markup:
    """Escaped, shortened text with a ``<wbr>`` break opportunity inside each long unbroken run.

    Without them a browser (and WeasyPrint, which takes minutes over a 10,000-character word) must search every
    character for a place to break, and mail clients that ignore ``overflow-wrap`` overflow the page.
    """
    flat = clip(str(text), limit)
    parts, position = [], 0
    for run in _LONG_RUN.finditer(flat):
        parts.append(escape(flat[position : run.start()]))
        word = run.group()
        parts.append(Markup("<wbr>").join(escape(word[i : i + BREAK_EVERY]) for i in range(0, len(word), BREAK_EVERY)))
        position = run.end()
    parts.append(escape(flat[position:]))
    return Markup("").join(parts)


def _visible(value: Any) -> Any:
    """Every value the template prints, with its control characters (newlines and tabs aside) made visible."""
    if isinstance(value, Markup):  # escaped already (by ``breakable``): keep it markup
        return Markup(visible(str(value), keep="\n\t"))  # noqa: S704 - it was markup; visible() adds no tag
    return visible(value, keep="\n\t") if isinstance(value, str) else value


@cache
def _environment() -> jinja2.Environment:
    loader = jinja2.PackageLoader("execintel.render", "templates")
    environment = jinja2.Environment(loader=loader, autoescape=True, trim_blocks=True, lstrip_blocks=True,
                                     finalize=_visible)  # fmt: skip
    environment.filters["prose"] = breakable
    environment.filters["cell"] = lambda text: breakable(text, CELL_CHARS)
    environment.filters["clip"] = lambda text, limit=200: clip(" ".join(str(text).split()), limit)
    return environment


@cache
def stylesheet(*, email: bool = True) -> str:
    """The report CSS (inlined into each element for mail clients; at-rules kept for phones); print adds its rules."""
    folder = resources.files("execintel.render").joinpath("templates")
    css = folder.joinpath("report.css").read_text(encoding="utf-8")
    return css if email else css + folder.joinpath("print.css").read_text(encoding="utf-8")


def column_widths(head: list[str], rows: list[list[str]], numeric: list[bool]) -> list[int]:
    """Percent widths for a fixed-layout mail table, shared out by what each column holds.

    A column's share is its longest word (so words break as rarely as they can) plus a quarter of the rest of
    its longest value; a number column's share is its longest value, which never wraps.
    """
    weights = []
    for i, is_number in enumerate(numeric):
        values = [row[i] for row in rows]
        longest = max((len(v) for v in values), default=0)
        if is_number:
            weights.append(max(longest, *(len(w) for w in head[i].split()), 3) + 1.0)
            continue
        word = min(max((len(w) for v in [head[i], *values] for w in v.split()), default=1), LONGEST_WORD)
        weights.append(word + 1.0 + max(0, min(longest, 2 * LONGEST_WORD) - word) / 4)
    total = sum(weights)
    return [max(1, round(100 * w / total)) for w in weights]


@cache
def _inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def render_html(
    doc: dict[str, Any], image_src: Callable[[str], str], *, email: bool = True, attachments: Attachments | None = None
) -> str:
    """The report as one HTML page; ``image_src(chart_id)`` gives each chart's ``src`` (file name or ``cid:``).

    ``email=True`` lays the page out with nested tables and inlines the CSS into every element, which is what
    mail clients render; ``email=False`` gives the same content as plain blocks with a print stylesheet, for
    PDF and printing. Without ``attachments`` it is the full report (the page and the PDF); with them it is the
    body of the email that carries them: the opening only, for a summary report (see :mod:`.layout`).
    """
    currency = doc.get("currency", "USD")

    def numeric(column: dict[str, Any]) -> bool:
        return column.get("unit", "") not in NON_NUMERIC_UNITS

    def table(section: dict[str, Any]) -> dict[str, Any]:
        """The cells of a table section as text, and how mail lays it out (cards, or columns of these widths)."""
        columns = section["columns"]
        units = [c["unit"] for c in columns]
        rows = [[show_cell(v, u, currency) for v, u in zip(row, units, strict=True)] for row in section["rows"]]
        flags = [numeric(c) for c in columns]
        head = [c["title"] for c in columns]
        return {"rows": rows, "numeric": flags, "cards": email and len(columns) >= CARD_COLUMNS,
                "widths": column_widths(head, rows, flags)}  # fmt: skip

    layout = plan(doc, attachments)
    template = _environment().get_template("report.html.j2")
    page = template.render(
        doc=doc, email=email, css=stylesheet(email=email), image_src=image_src, table=table, numeric=numeric,
        card_columns=CARD_COLUMNS, layout=layout, attached_note=attached_note(layout),
        left_out=left_out_text(layout), show=lambda value, unit: show(value, unit, currency),
    )  # fmt: skip
    return _inliner().inline(page) if email else page
