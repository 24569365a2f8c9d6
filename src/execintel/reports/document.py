"""Report documents: the JSON of CONTRACT section 7, and the builder report modules fill in.

A document holds figures (by id, each with value, unit, formula, sources),
findings, and ``sections`` that say how to lay them out. Sections are plain
JSON so renderers read only the document:

``figures``   ``{"id", "title", "kind": "figures", "figures": [figure ids]}``
``table``     ``{"id", "title", "kind": "table", "columns": [{"title", "unit"}], "rows": [[cell, ...]]}``
              a cell is a value (number, text, null); a column's ``unit`` says how to show numbers
``findings``  ``{"id", "title", "kind": "findings", "findings": [indices into "findings"]}``
``text``      ``{"id", "title", "kind": "text", "paragraphs": [text]}``
``list``      ``{"id", "title", "kind": "list", "items": [text]}``
``scorecard`` ``{"id", "title", "kind": "scorecard", "columns": [{"id", "title"}], "rows": [{"entity", "name",
              "model", "unit_kpi", "cells": [{"figure", "text", "rating", "label", "basis"}]}]}`` (CEO report)
``chart``     ``{"id", "title", "kind": "chart", "chart": "line" | "bar" | "stacked-bar", "unit",
              "x": [labels], "series": [{"name", "values": [number or null]}]}`` (drawn as an image)

Any section may carry ``"note"`` (e.g. which data is missing). Text in
sections is template wording with numbers taken from figures (see
:func:`execintel.formatting.show`).

Every report opens the same way (docs/rendering.md): the ``narrative`` (3 to 5 sentences whose every number is a
figure), the ``actions``, the ``headline`` figures with their comparisons, then the sections placed in the
summary (``"place": "summary"``; charts by default), then the detail. ``"email": "summary"`` sends only that
opening in the email body, the detail in the attached PDF. A table with ``"worklist"`` is a list a person works
through, also written as a CSV file with every row.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from execintel.analysis.model import SEVERITY_ORDER, Action, Figure, Finding, Results
from execintel.reports.summary import MAX_SENTENCES, fill, headline_entry

if TYPE_CHECKING:
    from execintel.analysis.comparisons import Period
    from execintel.analysis.context import Context

SCHEMA_VERSION = 1
Column = tuple[str, str]  # (title, unit); unit "" for text
Place = Literal["summary", "detail"]
WORKLIST_SHOWN = 25  # rows of a worklist shown in the report; its CSV file holds every row


@dataclass
class Document:
    """One report: figures, findings and sections, as of one date."""

    report: str
    title: str
    portfolio: str
    as_of: dt.date
    currency: str
    figures: dict[str, Figure] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    sections: list[dict[str, Any]] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    missing: list[dict[str, str]] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    narrative: list[dict[str, Any]] = field(default_factory=list)
    headline: list[dict[str, Any]] = field(default_factory=list)
    email: Literal["summary", "full"] = "full"
    _json: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    def finished_json(self) -> dict[str, Any]:
        """:meth:`to_json` of the finished document, built once: writing, rendering and recording a report read the
        same dict (a large portfolio's CFO report is thousands of figures to build each time). Neither the
        document nor the dict may change after this is first called."""
        if self._json is None:
            self._json = self.to_json()
        return self._json

    def to_json(self) -> dict[str, Any]:
        """The report JSON (Decimals stay Decimals; :func:`dumps` writes them as exact JSON numbers)."""
        return {
            "report": self.report,
            "title": self.title,
            "portfolio": self.portfolio,
            "as_of": self.as_of.isoformat(),
            "currency": self.currency,
            "schema": SCHEMA_VERSION,
            "summary": list(self.summary),
            "figures": {fid: fig.to_json() for fid, fig in self.figures.items()},
            "findings": [f.to_json() for f in self.findings],
            "actions": [a.to_json() for a in self.actions],
            "narrative": list(self.narrative),
            "headline": list(self.headline),
            "email": self.email,
            "sections": self.sections,
            "missing": list(self.missing),
        }

    def dumps(self) -> str:
        """The report JSON as text (compact: json's fast C encoder only runs without indent), exact amounts."""
        return dumps(self.finished_json(), indent=None)


def decimal_text(value: Decimal) -> str:
    """An exact decimal as a JSON number: no exponent, no trailing zeros (``18769.55``, ``212``)."""
    if not value.is_finite():
        raise ValueError(f"not a finite number: {value}")
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def dumps(document: Any, *, indent: int | None = 2) -> str:
    """``json.dumps`` with Decimal values written as exact JSON numbers (not floats, not strings)."""
    token = secrets.token_hex(8)
    numbers: list[str] = []

    def number(value: Any) -> str:  # json's encoder asks only for what it cannot write itself
        if isinstance(value, Decimal):
            numbers.append(decimal_text(value))
            return f"{token}:{len(numbers) - 1}"
        if isinstance(value, dt.date):
            return value.isoformat()
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    def convert(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): convert(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        return number(value) if isinstance(value, Decimal | dt.date) else value

    try:  # the C encoder walks the document; Decimals and dates come back through number()
        text = json.dumps(document, indent=indent, ensure_ascii=False, default=number, check_circular=False)
    except TypeError:  # a key json will not write as it is (str() of it is what is wanted): the slow walk
        numbers.clear()
        text = json.dumps(convert(document), indent=indent, ensure_ascii=False)
    return re.sub(rf'"{token}:(\d+)"', lambda m: numbers[int(m.group(1))], text)


def loads(text: str) -> Any:
    """Read a report JSON back with exact decimals."""
    return json.loads(text, parse_float=Decimal)


class DocumentBuilder:
    """What report modules use to assemble a document from analysis results."""

    def __init__(self, ctx: Context, report: str, title: str) -> None:
        self.ctx = ctx
        self.doc = Document(
            report=report,
            title=title,
            portfolio=ctx.manifest.portfolio.name,
            as_of=ctx.as_of,
            currency=ctx.currency,
        )
        self._finding_index: dict[int, int] = {}
        self.top_limit: int | None = None  # set by top_actions: the portfolio's first actions, not the report's
        self.later_actions: list[Action] = []
        self.top_findings: dict[str, Finding] = {}
        self._on_build: list[Callable[[Document], None]] = []

    # --- figures and findings -------------------------------------------------------------
    def figure(self, figure: Figure | None) -> str | None:
        """Put a figure in the document; returns its id (None passes through, for absent figures)."""
        if figure is None:
            return None
        self.doc.figures[figure.id] = figure
        return figure.id

    def figures_from(self, results: Results, prefix: str = "", ids: Iterable[str] | None = None) -> list[str]:
        """Add every figure of ``results`` whose id starts with ``prefix`` (or the listed ``ids``)."""
        chosen = (
            [results.figures[i] for i in ids if i in results.figures]
            if ids is not None
            else [f for f in results.figures.values() if f.id.startswith(prefix)]
        )
        return [self.figure(f) or "" for f in chosen]

    def finding(self, finding: Finding) -> int:
        """Put a finding in the document (once); returns its index."""
        key = id(finding)
        if key not in self._finding_index:
            self._finding_index[key] = len(self.doc.findings)
            self.doc.findings.append(finding)
        return self._finding_index[key]

    # --- sections -------------------------------------------------------------------------
    def _section(self, sid: str, title: str, kind: str, note: str | None, **body: Any) -> dict[str, Any]:
        section: dict[str, Any] = {"id": sid, "title": title, "kind": kind, **body}
        if note:
            section["note"] = note
        self.doc.sections.append(section)
        return section

    def figures_section(self, sid: str, title: str, figures: Sequence[Figure | str | None], note: str | None = None
                        ) -> dict[str, Any]:  # fmt: skip
        """A list of figures shown as name: value (absent figures are skipped)."""
        ids: list[str] = []
        for item in figures:
            if isinstance(item, Figure):
                ids.append(self.figure(item) or "")
            elif isinstance(item, str) and item in self.doc.figures:
                ids.append(item)
        return self._section(sid, title, "figures", note, figures=ids)

    def table(self, sid: str, title: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]],
              note: str | None = None) -> dict[str, Any]:  # fmt: skip
        """A table; ``columns`` are (title, unit) pairs, cells are values."""
        body_rows = [list(r) for r in rows]
        for row in body_rows:
            if len(row) != len(columns):
                raise ValueError(f"section {sid}: a row has {len(row)} cells for {len(columns)} columns")
        cols = [{"title": t, "unit": u} for t, u in columns]
        return self._section(sid, title, "table", note, columns=cols, rows=body_rows)

    def scorecard(self, sid: str, title: str, columns: Sequence[dict[str, str]], rows: Sequence[dict[str, Any]],
                  note: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Rows of rated cells, each naming its figure (built by :mod:`execintel.reports.scorecard`)."""
        for row in rows:
            if len(row["cells"]) != len(columns):
                raise ValueError(f"section {sid}: a row has {len(row['cells'])} cells for {len(columns)} columns")
        return self._section(sid, title, "scorecard", note, columns=list(columns), rows=list(rows))

    def findings_section(self, sid: str, title: str, findings: Iterable[Finding], note: str | None = None
                         ) -> dict[str, Any]:  # fmt: skip
        """Findings, most severe first."""
        ordered = sorted(findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.entity or "", f.kind))
        return self._section(sid, title, "findings", note, findings=[self.finding(f) for f in ordered])

    def text(self, sid: str, title: str, paragraphs: Iterable[str], note: str | None = None) -> dict[str, Any]:
        """Paragraphs of template wording (numbers come from figures)."""
        return self._section(sid, title, "text", note, paragraphs=list(paragraphs))

    def bullets(self, sid: str, title: str, items: Iterable[str], note: str | None = None) -> dict[str, Any]:
        """A bulleted list."""
        return self._section(sid, title, "list", note, items=list(items))

    def chart(self, sid: str, title: str, chart: str, unit: str, x: Sequence[str], *,
              series: Sequence[tuple[str, Sequence[Any]]], note: str | None = None
              ) -> dict[str, Any] | None:  # fmt: skip
        """A chart of figures' values (renderers draw it; the text rendering shows its numbers). None when empty."""
        if not x or not series:
            return None
        body = [{"name": name, "values": list(values)} for name, values in series]
        for item in body:
            if len(item["values"]) != len(x):
                count = len(item["values"])
                raise ValueError(f"section {sid}: series {item['name']!r} has {count} values for {len(x)} labels")
        return self._section(sid, title, "chart", note, chart=chart, unit=unit, x=list(x), series=body)

    def summary(self, line: str) -> None:
        """A line of the report's opening (prefer :meth:`narrative`, whose numbers are checked to be figures)."""
        self.doc.summary.append(line)

    # --- summary first: narrative, headline, placement, worklists -------------------------------
    def narrative(self, template: str, **values: Figure | str | None) -> bool:
        """A sentence of the opening narrative; False (and nothing added) when a figure it needs is absent.

        ``{name}`` fields take a figure (shown with its formatting, and put in the document) or a name; the
        template's own words may hold no digit. After five sentences more are left out: the first say most.
        """
        entry = fill(template, values, self.doc.currency)
        if entry is None or len(self.doc.narrative) >= MAX_SENTENCES:
            return False
        for value in values.values():
            if isinstance(value, Figure):
                self.figure(value)
        self.doc.narrative.append(entry)
        self.doc.summary.append(entry["text"])
        return True

    def headline(self, figures: Iterable[Figure | None], *, period: Period | None = None) -> list[str]:
        """Headline figures, each with its comparisons (previous period, a year before, target) as figures.

        ``period`` overrides how far back "the previous period" is (the daily digest: ``"day"``). Absent
        figures are skipped; a figure already in the headline is not added twice.
        """
        from execintel.analysis.comparisons import compare  # noqa: PLC0415 - reports without a headline skip it

        listed = {entry["figure"] for entry in self.doc.headline}
        ids: list[str] = []
        for figure in figures:
            if figure is None or figure.id in listed:
                continue
            self.figure(figure)
            comparisons = compare(self.ctx, figure, period)
            for item in comparisons:
                self.figure(item.figure)
            self.doc.headline.append(headline_entry(figure, comparisons))
            listed.add(figure.id)
            ids.append(figure.id)
        return ids

    def compared(self, figure_id: str, basis: str) -> Figure | None:
        """The comparison figure of a headline figure (``basis``: previous, year_ago, target), when there is one."""
        return self.doc.figures.get(f"comparison.{basis}.{figure_id}")

    def place(self, section: dict[str, Any] | None, where: Place) -> dict[str, Any] | None:
        """Put a section in the summary (the email of a summary report shows it) or in the detail only."""
        if section is not None:
            section["place"] = where
        return section

    def email_summary(self) -> None:
        """The email body holds the opening and the summary sections; the detail goes to the attached PDF."""
        self.doc.email = "summary"

    def worklist(self, sid: str, title: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]], *,
                 shown: int = WORKLIST_SHOWN, note: str | None = None) -> dict[str, Any]:  # fmt: skip
        """A list a person works through, one row per item: the report shows the first ``shown`` rows, and the
        CSV file ``<report>-<sid>.csv`` (written beside the report and attached to its email) holds every row with
        exact values. Give the rows in the order to work them."""
        section = self.table(sid, title, columns, rows, note=note)
        section["worklist"] = f"{self.doc.report}-{sid}.csv"
        section["shown"] = shown
        return section

    def missing(self, data: str, needed_for: str) -> None:
        """Record data the portfolio lacks and what it would enable."""
        entry = {"data": data, "needed_for": needed_for}
        if entry not in self.doc.missing:
            self.doc.missing.append(entry)

    # --- actions and the findings lifecycle (CONTRACT section 8; see execintel.reports.decisions) -----------------
    def top_actions(self, limit: int, candidates: Iterable[Finding]) -> list[Finding]:
        """Make this report's actions the portfolio's first ``limit`` across all areas (the CEO's 7).

        Returns ``candidates`` (the findings the report means to show) less those of severity critical or high that
        no top action covers (they are in the area reports), plus the top actions' findings they lack.
        """
        from execintel.reports.decisions import SEVERE, covered, top_actions  # noqa: PLC0415

        self.top_limit = limit
        self.doc.actions, self.later_actions, self.top_findings = top_actions(self.ctx, limit)
        keep = covered(self.doc.actions)
        chosen = [f for f in candidates if f.severity not in SEVERE or f.id in keep]
        shown = {f.id for f in chosen}
        extra = [self.top_findings[i] for a in self.doc.actions for i in a.findings if i not in shown]
        return chosen + list(dict.fromkeys(extra))

    def on_build(self, step: Callable[[Document], None]) -> None:
        """Run ``step`` on the document once its findings are final (actions applied, first_seen and status set)."""
        self._on_build.append(step)

    def build(self) -> Document:
        """The finished document: freshness, actions and the findings lifecycle applied, then the on_build steps."""
        from execintel.reports.decisions import finish  # noqa: PLC0415

        finish(self)
        for step in self._on_build:
            step(self.doc)
        for section in self.doc.sections:  # a worklist is named by :meth:`worklist`: its CSV file's name
            if "worklist" in section and not str(section["worklist"]).endswith(".csv"):
                raise ValueError(f"section {section['id']}: worklist {section['worklist']!r} is not a CSV file name")
        return self.doc
