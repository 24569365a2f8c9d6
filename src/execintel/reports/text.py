"""Plain-text rendering of a report document (reads only the document JSON)."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from typing import Any

from execintel.reports.format import show

WIDTH = 78
MAX_TEXT = 60  # a longer text cell (a description, a name) wraps within its column


def _wrap(text: str, indent: str = "") -> list[str]:
    """Wrap ``text``; continuation lines align under the text, not under a bullet (``"  - "``)."""
    hanging = " " * len(indent) if indent.strip() else indent + "  "
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=hanging) or [indent]


def _cell(value: Any, unit: str, currency: str) -> str:
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return show(value, unit, currency)
    return "" if value is None else show(value, "", currency)


def _fit(widths: list[int], numeric: list[bool]) -> list[int]:
    """Column widths: numbers keep theirs; a text column wider than ``MAX_TEXT`` wraps at that width."""
    return [w if n else min(w, MAX_TEXT) for w, n in zip(widths, numeric, strict=True)]


def _table(section: dict[str, Any], currency: str) -> list[str]:
    columns = section["columns"]
    head = [c["title"] for c in columns]
    body = [[_cell(v, c["unit"], currency) for v, c in zip(row, columns, strict=True)] for row in section["rows"]]
    if not body:
        return ["  (none)"]
    numeric = [c["unit"] not in ("", "text", "date") for c in columns]
    widths = _fit([max(len(r[i]) for r in [head, *body]) for i in range(len(head))], numeric)

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


def render_text(doc: dict[str, Any]) -> str:
    """The report as plain text: title, summary, then each section."""
    currency = doc.get("currency", "USD")
    figures = doc.get("figures", {})
    findings = doc.get("findings", [])
    title = f"{doc['title']} - {doc['portfolio']} - as of {doc['as_of']}"
    lines = [*_wrap(title), "=" * min(len(title), WIDTH), ""]
    for item in doc.get("summary", []):
        lines += _wrap(item, "* ")
    if doc.get("summary"):
        lines.append("")
    for section in doc.get("sections", []):
        lines += [*_wrap(section["title"]), "-" * min(len(section["title"]), WIDTH)]
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
        elif kind == "list":
            for item in section["items"]:
                lines += _wrap(item, "  - ")
        if section.get("note"):
            lines += _wrap(f"Note: {section['note']}", "  ")
        lines.append("")
    if doc.get("missing"):
        lines += ["Missing data", "------------"]
        for entry in doc["missing"]:
            lines += _wrap(f"{entry['data']}: would enable {entry['needed_for']}", "  - ")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
