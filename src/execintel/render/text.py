"""Plain-text rendering of a report document (reads only the document JSON).

The text is the plain part of every email, read in terminals and mail readers, so no value from data may act on
them: every line is passed through :func:`plain` at the end. Whitespace inside a value (a newline or carriage
return in a handoff summary) is folded into spaces when the value is wrapped or put in a cell, so a value never
forges a line of its own; any other control character (ESC, BEL, backspace, bidi overrides) is shown as a
visible character of the same width (``␛``), so tables laid out before still line up.
"""

from __future__ import annotations

import textwrap
from typing import Any

from execintel.controls import visible
from execintel.formatting import CELL_CHARS, PROSE_CHARS, clip, show, show_cell
from execintel.render.layout import Attachments, Plan, attached_note, left_out_text, plan

WIDTH = 78
MIN_TEXT = 12  # a text column is not squeezed narrower than this; a table that cannot fit is shown as records
MAX_TEXT = 40  # a longer text cell (a description, a name) wraps within its column
LONG_WORD = 20  # a longer word may be broken when its column is narrowed


def plain(line: str) -> str:
    """One line of the text as it may be sent: every control character but a tab made visible (a newline too)."""
    return visible(line, keep="\t")


def _wrap(text: str, indent: str = "") -> list[str]:
    """Wrap ``text`` to the page; continuation lines align under the text, not under a bullet (``"  - "``)."""
    hanging = " " * len(indent) if indent.strip() else indent + "  "
    return textwrap.wrap(clip(text, PROSE_CHARS), WIDTH, initial_indent=indent, subsequent_indent=hanging) or [indent]


def _cell(value: Any, unit: str, currency: str) -> str:
    return clip(" ".join(show_cell(value, unit, currency).split()), CELL_CHARS)


def _fit(head: list[str], body: list[list[str]], numeric: list[bool]) -> list[int] | None:
    """Column widths that fit the page, or None when they cannot.

    Number columns give way first, down to their widest value (their titles wrap word by word); then the widest
    text column, down to its longest word (at least ``MIN_TEXT``, at most ``LONG_WORD``), its cells wrapping.
    """
    widths, floors = [], []
    for i, is_number in enumerate(numeric):
        cells = max(len(r[i]) for r in body)
        title_word = max((len(w) for w in head[i].split()), default=0)
        natural = max(cells, len(head[i]))
        widths.append(natural if is_number else min(natural, MAX_TEXT))
        words = max((len(w) for r in body for w in r[i].split() if len(w) <= LONG_WORD), default=0)
        floors.append(max(cells, title_word) if is_number else min(natural, max(MIN_TEXT, title_word, words)))
    room = WIDTH - 2 - 2 * (len(widths) - 1)
    while sum(widths) > room:
        shrinkable = [i for i in range(len(widths)) if widths[i] > floors[i]]
        if not shrinkable:
            return None
        widest = max(shrinkable, key=lambda i: (numeric[i], widths[i]))
        widths[widest] = max(floors[widest], widths[widest] - (sum(widths) - room))
    return widths


def _grid(head: list[str], body: list[list[str]], widths: list[int], numeric: list[bool]) -> list[str]:
    def lines(cells: list[str]) -> list[str]:
        # a cell wider than its column wraps onto more lines; nothing is cut
        wrapped = [textwrap.wrap(c, w) or [""] if len(c) > w else [c] for c, w in zip(cells, widths, strict=True)]
        out = []
        for k in range(max(len(w) for w in wrapped)):
            parts = [(w[k] if k < len(w) else "") for w in wrapped]
            parts = [c.rjust(w) if n else c.ljust(w) for c, w, n in zip(parts, widths, numeric, strict=True)]
            out.append("  " + "  ".join(parts).rstrip())
        return out

    rule = "  " + "  ".join("-" * w for w in widths)
    return [*lines(head), rule, *(line for r in body for line in lines(r))]


def _records(head: list[str], body: list[list[str]]) -> list[str]:
    """A table too wide for the page, one record per row: the first cell as a heading, then ``title: value``."""
    out = []
    for row in body:
        out += _wrap(row[0] or "-", "  - ")
        for title, cell in zip(head[1:], row[1:], strict=True):
            if cell:
                out += _wrap(f"{title}: {cell}" if title else cell, "      ")
    return out


def _table(section: dict[str, Any], currency: str) -> list[str]:
    columns = section["columns"]
    head = [c["title"] for c in columns]
    body = [[_cell(v, c["unit"], currency) for v, c in zip(row, columns, strict=True)] for row in section["rows"]]
    if not body:
        return ["  (none)"]
    numeric = [c["unit"] not in ("", "text", "date") for c in columns]
    widths = _fit(head, body, numeric)
    return _records(head, body) if widths is None else _grid(head, body, widths, numeric)


def _scorecard(section: dict[str, Any]) -> list[str]:
    """A scorecard, one entry per row: each column's value with its rating's word (never a colour alone)."""
    out = []
    titles = [c["title"] for c in section["columns"]]
    for row in section["rows"]:
        cells = [
            f"{title} {cell['text']}" + (f" ({cell['label']})" if cell.get("figure") else "")
            for title, cell in zip(titles, row["cells"], strict=True)
        ]
        unit = f" [unit KPI: {row['unit_kpi']}]" if row.get("unit_kpi") else ""
        out += _wrap(f"{row['name']}{unit}: " + "; ".join(cells), "  - ")
    return out


def _section(section: dict[str, Any], figures: dict[str, Any], findings: list[Any], currency: str) -> list[str]:
    """One section: its title underlined, its body by kind, its note."""
    lines = [*_wrap(section["title"]), "-" * min(len(section["title"]), WIDTH)]
    kind = section["kind"]
    if kind == "figures":
        for fid in section["figures"]:
            fig = figures[fid]
            lines += _wrap(f"{fig.get('name') or fid}: {show(fig['value'], fig['unit'], currency)}", "  ")
    elif kind == "table":
        lines += _table(section, currency)
    elif kind == "findings":
        if not section["findings"]:
            lines.append("  None.")
        for index in section["findings"]:
            finding = findings[index]
            who = f" [{finding['entity']}]" if finding.get("entity") else ""
            lines += _wrap(f"[{finding['severity'].upper()}] {finding['title']}{who}", "  ")
            for evidence in finding.get("evidence", []):
                lines += _wrap(evidence, "      - ")
            if finding.get("recommendation"):
                lines += _wrap(f"Next step: {finding['recommendation']}", "      ")
    elif kind == "text":
        for paragraph in section["paragraphs"]:
            lines += [*_wrap(paragraph, "  "), ""]
        if lines[-1] == "":
            lines.pop()
    elif kind == "chart":
        columns = [{"title": "", "unit": ""}, *({"title": s["name"], "unit": section["unit"]}
                                                for s in section["series"])]  # fmt: skip
        rows = [[x, *(s["values"][i] for s in section["series"])] for i, x in enumerate(section["x"])]
        lines += ["  (chart; its numbers:)", *_table({"columns": columns, "rows": rows}, currency)]
    elif kind == "scorecard":
        lines += _scorecard(section)
    elif kind == "list":
        for item in section["items"]:
            lines += _wrap(item, "  - ")
    if section.get("note"):
        lines += _wrap(f"Note: {section['note']}", "  ")
    return [*lines, ""]


def _heading(title: str) -> list[str]:
    return [title, "-" * len(title)]


def _opening(layout: Plan) -> list[str]:
    """The narrative, the actions and the headline figures with their comparisons."""
    lines: list[str] = []
    if layout.narrative:
        lines += [*_wrap(" ".join(layout.narrative)), ""]
    if layout.actions:
        lines += _heading("What to do")
        for action in layout.actions:
            lines += _wrap(f"{action.priority}. [{action.severity.upper()}] {action.title}", "  ")
            lines += _wrap(action.details, "      ")
        if layout.more_actions:
            lines += _wrap(f"{layout.more_actions:,} more in the attached report.", "  ")
        lines.append("")
    if layout.headline:
        lines += _heading("Headline figures")
        for row in layout.headline:
            lines += _wrap(f"{row.name}: {row.value}", "  ")
            for c in row.compared:
                verdict = "" if c.met is None else (", met" if c.met else ", NOT MET")
                change = f" ({c.change})" if c.change else ""
                lines += _wrap(f"{c.label}: {c.value}{change}{verdict}", "      ")
        if layout.more_headline:
            lines += _wrap(f"{layout.more_headline:,} more in the attached report.", "  ")
        lines.append("")
    return lines


def render_text(doc: dict[str, Any], attachments: Attachments | None = None) -> str:
    """The report as plain text in the order of every format (see :mod:`execintel.render.layout`).

    Without ``attachments`` it is the full report (the ``.txt`` file); with them, the plain part of the email
    that carries them: the opening only, for a summary report.
    """
    currency = doc.get("currency", "USD")
    figures = doc.get("figures", {})
    findings = doc.get("findings", [])
    layout = plan(doc, attachments)
    title = f"{doc['title']} - {doc['portfolio']} - as of {doc['as_of']}"
    lines = [*_wrap(title), "=" * min(len(title), WIDTH), ""]
    if layout.email_summary:
        lines += [*_wrap(attached_note(layout)), ""]
    lines += _opening(layout)
    for section in layout.summary:
        lines += _section(section, figures, findings, currency)
    csv = layout.attachments.csv if layout.attachments is not None else ()
    if layout.email_summary:
        lines += [*_heading("Full report"), *_wrap(left_out_text(layout), "  ")]
    elif layout.detail and (layout.narrative or layout.actions or layout.headline or layout.summary):
        lines += ["=" * len("Full detail"), "Full detail", "=" * len("Full detail"), ""]
    for section in layout.detail:
        lines += _section(section, figures, findings, currency)
    if csv:
        lines += _wrap(f"Worklists, one row per item, attached as CSV: {', '.join(csv)}.", "  " if
                       layout.email_summary else "")  # fmt: skip
    if layout.email_summary or csv:
        lines.append("")
    if layout.missing:
        lines += ["Missing data", "------------"]
        for entry in layout.missing:
            lines += _wrap(f"{entry['data']}: would enable {entry['needed_for']}", "  - ")
        lines.append("")
    return "\n".join(plain(line) for line in lines).rstrip() + "\n"
