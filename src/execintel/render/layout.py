"""What goes where: the order every format shows a report in, and what the email body of a summary report holds.

Every report opens the same way, in every format: the narrative, the actions, the headline figures with their
comparisons, then the sections placed in the summary (charts unless a builder says otherwise), then the detail
(every other section, in the document's order), then the missing data. :func:`plan` turns a document into that
order once, with every comparison already worded, so the HTML, the plain text and the PDF cannot disagree.

A document with ``"email": "summary"`` (the CEO, CFO, CTO and CMO reports) sends only its opening in the email
body, with bounded lengths (at most :data:`EMAIL_ACTIONS` actions, :data:`EMAIL_HEADLINE` headline figures,
:data:`EMAIL_CHARTS` charts, :data:`EMAIL_ROWS` rows or items a section) and a note that names the attached PDF
holding the rest; the page written to ``out/`` and the PDF hold everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from execintel.formatting import impact_text, show

EMAIL_ACTIONS = 7
EMAIL_HEADLINE = 10
EMAIL_CHARTS = 3
EMAIL_ROWS = 10
EMAIL_PARAGRAPHS = 3
EMAIL_TITLES = 12  # detail sections named in the email's "in the attached report" list
# Medium, low and info findings of one kind a findings section shows; the rest are counted in its note. Critical
# and high findings are always shown, every one.
SHOWN_PER_KIND = 50
ALWAYS_SHOWN = ("critical", "high")


@dataclass(frozen=True)
class Attachments:
    """What an email carries beside its body: the PDF (None when PDF support is missing) and worklist CSVs."""

    pdf: str | None
    csv: tuple[str, ...] = ()


@dataclass(frozen=True)
class Compared:
    """One comparison as a reader sees it: ``a month before (2026-10-15): $17,000.00 (+$1,769.55, +10.4%)``."""

    label: str
    value: str
    change: str  # "+$1,769.55, +10.4%"; "" when there is none
    met: bool | None  # for a target


@dataclass(frozen=True)
class HeadlineRow:
    """A headline figure with its comparisons, worded."""

    figure: str
    name: str
    value: str
    compared: tuple[Compared, ...]


@dataclass(frozen=True)
class ActionRow:
    """An action as shown: severity, title and one line of owner, due date and impact."""

    priority: int
    severity: str
    title: str
    details: str


@dataclass
class Plan:
    """A document laid out for one format: each part in order, and what the email leaves to the attachment."""

    narrative: list[str]
    actions: list[ActionRow]
    headline: list[HeadlineRow]
    summary: list[dict[str, Any]]
    detail: list[dict[str, Any]]
    missing: list[dict[str, Any]]
    email_summary: bool = False  # only the opening is shown: the rest is in the attachment
    more_actions: int = 0
    more_headline: int = 0
    left_out: list[str] = field(default_factory=list)  # titles of what the email leaves to the attachment
    attachments: Attachments | None = None


def _signed(text: str, value: Decimal) -> str:
    return f"+{text}" if value > 0 else text


def _compared(item: dict[str, Any], unit: str, figures: dict[str, Any], currency: str) -> Compared | None:
    other = figures.get(item.get("figure") or "")
    if other is None:
        return None
    parts = []
    delta, ratio = item.get("change"), item.get("change_ratio")
    if isinstance(delta, Decimal | int) and not isinstance(delta, bool):
        parts.append(_signed(show(delta, unit, currency), Decimal(delta)))
    if isinstance(ratio, Decimal | int) and not isinstance(ratio, bool):
        parts.append(_signed(show(ratio, "ratio", currency), Decimal(ratio)))
    met = item.get("met")
    return Compared(item["label"], show(other["value"], other["unit"], currency), ", ".join(parts),
                    met if isinstance(met, bool) else None)  # fmt: skip


def headline_rows(doc: dict[str, Any]) -> list[HeadlineRow]:
    """The document's headline entries, worded (an entry whose figure is gone is skipped)."""
    currency = doc.get("currency", "USD")
    figures = doc.get("figures", {})
    rows = []
    for entry in doc.get("headline", []):
        figure = figures.get(entry.get("figure"))
        if figure is None:
            continue
        compared = [_compared(c, figure["unit"], figures, currency) for c in entry.get("comparisons", [])]
        rows.append(HeadlineRow(entry["figure"], figure.get("name") or entry["figure"],
                                show(figure["value"], figure["unit"], currency),
                                tuple(c for c in compared if c is not None)))  # fmt: skip
    return rows


def action_rows(doc: dict[str, Any]) -> list[ActionRow]:
    """The document's actions in priority order, worded."""
    currency = doc.get("currency", "USD")
    rows = []
    for action in sorted(doc.get("actions", []), key=lambda a: a.get("priority", 0)):
        owner = action.get("owner")
        parts = [f"owner {owner}" if owner else "no owner (nobody holds the role)", f"due {action.get('due')}"]
        impact = action.get("impact")
        if isinstance(impact, dict):
            parts.append(f"worth {impact_text(impact, currency)}")
        count = len(action.get("findings", []))
        if count > 1:
            parts.append(f"{count} findings")
        rows.append(ActionRow(int(action.get("priority", 0)), str(action.get("severity", "")),
                              str(action.get("title", "")), "; ".join(parts)))  # fmt: skip
    return rows


def place(section: dict[str, Any]) -> str:
    """Where a section goes: its ``place``, else the summary for a chart and the detail for anything else."""
    where = section.get("place")
    if where in ("summary", "detail"):
        return str(where)
    return "summary" if section.get("kind") == "chart" else "detail"


def _shortened(section: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A summary section cut to what an email shows, and how many rows or items were left out."""
    kind = section["kind"]
    key = {"table": "rows", "list": "items", "findings": "findings", "figures": "figures",
           "text": "paragraphs"}.get(kind)  # fmt: skip
    if key is None:
        return section, 0
    limit = EMAIL_PARAGRAPHS if kind == "text" else EMAIL_ROWS
    items = section.get(key, [])
    if len(items) <= limit:
        return section, 0
    return {**section, key: items[:limit]}, len(items) - limit


def worklist_cut(section: dict[str, Any]) -> dict[str, Any]:
    """A worklist as a report shows it: its first ``shown`` rows, and a note naming the CSV file with every row."""
    rows = section.get("rows", [])
    shown = section.get("shown")
    if not section.get("worklist") or not isinstance(shown, int) or len(rows) <= shown:
        return section
    note = f"The first {shown:,} of {len(rows):,} rows; every row is in {section['worklist']}."
    return {**section, "rows": rows[:shown], "note": " ".join(filter(None, [section.get("note"), note]))}


def findings_cut(section: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """A findings section as a report shows it: every critical and high finding, the first :data:`SHOWN_PER_KIND`
    of each other kind, and a note counting the rest by kind and naming the JSON that lists every one.

    Tens of thousands of line-level findings (an expense without a receipt, one per ledger row) would make the
    page tens of megabytes that nobody reads; the accounting worklists and the JSON hold them all.
    """
    findings: list[dict[str, Any]] = doc.get("findings", [])
    shown: dict[str, int] = {}
    kept: list[int] = []
    left: dict[str, int] = {}
    for index in section.get("findings", []):
        finding = findings[index] if isinstance(index, int) and 0 <= index < len(findings) else {}
        kind = str(finding.get("kind", ""))
        if finding.get("severity") in ALWAYS_SHOWN or shown.get(kind, 0) < SHOWN_PER_KIND:
            kept.append(index)
            shown[kind] = shown.get(kind, 0) + 1
        else:
            left[kind] = left.get(kind, 0) + 1
    if not left:
        return section
    counted = ", ".join(f"{n:,} more {kind} {'finding' if n == 1 else 'findings'}" for kind, n in left.items())
    note = (
        f"Not shown: {counted} (the first {SHOWN_PER_KIND} of a kind are; every critical and high one is). "
        f"Every finding is in {doc.get('report', 'the report')}.json."
    )
    return {**section, "findings": kept, "note": " ".join(filter(None, [section.get("note"), note]))}


def plan(doc: dict[str, Any], attachments: Attachments | None = None) -> Plan:
    """The layout of ``doc``: the full report when ``attachments`` is None (the page, the PDF, the ``.txt``), else
    the email body, which for a summary report is its opening only."""
    sections = [
        worklist_cut(s) if s.get("kind") == "table" else findings_cut(s, doc) if s.get("kind") == "findings" else s
        for s in doc.get("sections", [])
    ]
    summary = [s for s in sections if place(s) == "summary"]
    detail = [s for s in sections if place(s) != "summary"]
    layout = Plan(narrative=list(doc.get("summary", [])), actions=action_rows(doc), headline=headline_rows(doc),
                  summary=summary, detail=detail, missing=list(doc.get("missing", [])),
                  attachments=attachments)  # fmt: skip
    if attachments is None or doc.get("email") != "summary":
        return layout
    layout.email_summary = True
    layout.more_actions = max(0, len(layout.actions) - EMAIL_ACTIONS)
    layout.actions = layout.actions[:EMAIL_ACTIONS]
    layout.more_headline = max(0, len(layout.headline) - EMAIL_HEADLINE)
    layout.headline = layout.headline[:EMAIL_HEADLINE]
    shown: list[dict[str, Any]] = []
    charts = 0
    for section in summary:
        if section["kind"] == "chart":
            charts += 1
            if charts > EMAIL_CHARTS:
                layout.left_out.append(section["title"])
                continue
        cut, more = _shortened(section)
        if more:
            cut = {**cut, "note": " ".join(filter(None, [cut.get("note"), f"{more:,} more in the attached report."]))}
        shown.append(cut)
    layout.summary = shown
    layout.left_out += [s["title"] for s in detail]
    if layout.missing:
        layout.left_out.append("Missing data")
    layout.detail, layout.missing = [], []
    return layout


def attached_note(layout: Plan) -> str:
    """What the email of a summary report says about the rest: which file holds it, or why none is attached."""
    if layout.attachments is None:
        return ""
    if layout.attachments.pdf:
        return (f"This email is the summary. The full report, with every table, finding and worklist, is attached: "
                f"{layout.attachments.pdf}.")  # fmt: skip
    return ("This email is the summary. The full report is not attached because PDF support is not installed "
            "where it was made; `execintel preview` there opens it.")  # fmt: skip


def left_out_text(layout: Plan) -> str:
    """``In the attached report: Cash on hand, Burn, ... and 9 more.``"""
    titles = layout.left_out
    if not titles:
        return ""
    named = ", ".join(" ".join(str(t).split()) for t in titles[:EMAIL_TITLES])
    more = f" and {len(titles) - EMAIL_TITLES:,} more" if len(titles) > EMAIL_TITLES else ""
    where = "In the attached report" if layout.attachments and layout.attachments.pdf else "In the full report"
    return f"{where}: {named}{more}."
