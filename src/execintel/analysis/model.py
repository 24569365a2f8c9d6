"""Figures and findings: what analysis produces, each with its formula and its sources."""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITY_ORDER: dict[str, int] = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
Value = Decimal | int | str | bool | list[Any] | dict[str, Any] | None


@dataclass(frozen=True)
class Figure:
    """One number (or list) a report shows, with how it was computed and from which rows."""

    id: str
    value: Value
    unit: str
    formula: str
    sources: tuple[str, ...] = ()
    name: str = ""
    entity: str | None = None

    def __post_init__(self) -> None:
        if len(self.sources) > 1:  # references to the same file, from the parts a figure is made of: one each
            object.__setattr__(self, "sources", merge_sources(tuple(self.sources)))

    def to_json(self) -> dict[str, Any]:
        """The contract's JSON shape: value, unit, formula, sources (+ name, entity)."""
        out: dict[str, Any] = {
            "value": self.value,
            "unit": self.unit,
            "formula": self.formula,
            "sources": list(self.sources),
        }
        if self.name:
            out["name"] = self.name
        if self.entity:
            out["entity"] = self.entity
        return out


Status = Literal["new", "open"]


@dataclass(frozen=True)
class Finding:
    """A gap, risk or shortfall of a declared kind, with its evidence.

    ``subject`` names the thing the condition is about (a stack item, an account, a source row, a secret's
    fingerprint and file...) in words that do not change from run to run: with the kind and entity it makes the
    finding's stable :attr:`id` (CONTRACT section 8). It must never hold an amount, a date or anything else that
    moves with ``as_of``. ``first_seen`` and ``status`` are set from the audit store when the report is built.
    """

    kind: str
    severity: Severity
    title: str
    entity: str | None = None
    evidence: tuple[str, ...] = ()
    amount: Decimal | None = None
    file: str | None = None
    line: int | None = None
    commit: str | None = None
    recommendation: str = ""
    subject: str = ""
    first_seen: dt.date | None = None
    status: Status | None = None

    @property
    def id(self) -> str:
        """Stable across runs of a portfolio: ``<kind>-<12 hex digits>`` of kind, entity and subject."""
        subject = self.subject or "|".join(str(v) for v in (self.file or "", self.line or "", self.commit or ""))
        digest = hashlib.sha256("\x1f".join((self.kind, self.entity or "", subject)).encode()).hexdigest()
        return f"{self.kind}-{digest[:12]}"

    def to_json(self) -> dict[str, Any]:
        """The contract's JSON shape (section 7, with section 8's id, first_seen and status), optional fields."""
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "severity": self.severity,
            "entity": self.entity,
            "title": self.title,
            "evidence": list(self.evidence),
        }
        if self.first_seen is not None:
            out["first_seen"] = self.first_seen.isoformat()
        if self.status is not None:
            out["status"] = self.status
        for name in ("amount", "file", "line", "commit", "recommendation"):
            value = getattr(self, name)
            if value not in (None, ""):
                out[name] = value
        return out


@dataclass(frozen=True)
class Impact:
    """What acting on an action is worth, when it can be computed (CONTRACT section 8)."""

    amount: Decimal
    unit: str  # e.g. "USD/month" for a saving, "USD" for money overdue, deferred or at risk
    basis: str  # one sentence: how the amount was computed, from which figures

    def to_json(self) -> dict[str, Any]:
        """``{"amount", "unit", "basis"}``."""
        return {"amount": self.amount, "unit": self.unit, "basis": self.basis}


@dataclass(frozen=True)
class Action:
    """One thing to do: the findings that share one remedy, with an owner, a due date and what it is worth."""

    id: str
    title: str
    priority: int  # 1 first
    severity: Severity
    owner: str | None  # a stakeholder id of the manifest, or None when nobody holds the owning role
    due: dt.date
    impact: Impact | None
    findings: tuple[str, ...]  # finding ids of the same report

    def to_json(self) -> dict[str, Any]:
        """CONTRACT section 8: id, title, priority, severity, owner, due, impact, findings."""
        return {
            "id": self.id,
            "title": self.title,
            "priority": self.priority,
            "severity": self.severity,
            "owner": self.owner,
            "due": self.due.isoformat(),
            "impact": None if self.impact is None else self.impact.to_json(),
            "findings": list(self.findings),
        }


def distinct(finding: Finding, taken: set[str]) -> Finding:
    """``finding`` with an id none of ``taken`` has: its subject extended by its place (file, line, commit), else by
    an ordinal. Two things an analysis names alike (two stack items of one name, one secret added by two commits)
    keep apart ids this way, the same in every run that finds both."""
    place = f"{finding.file or ''}:{finding.line or ''}@{finding.commit or ''}"
    for extra in (place, *(f"{place}#{n}" for n in range(2, len(taken) + 3))):
        candidate = replace(finding, subject=f"{finding.subject}|{extra}")
        if candidate.id not in taken:
            return candidate
    raise AssertionError("unreachable: one of len(taken) + 1 ordinals is free")  # pragma: no cover


@dataclass
class Results:
    """Figures by id and findings, as analysis accumulates them; finding ids are unique within it."""

    figures: dict[str, Figure] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    _ids: set[str] = field(default_factory=set, repr=False, compare=False)

    def add(self, figure: Figure) -> Figure:
        """Record a figure (ids are unique)."""
        self.figures[figure.id] = figure
        return figure

    def find(self, finding: Finding) -> Finding:
        """Record a finding; one whose id is taken already gets a distinct one (see :func:`distinct`)."""
        if len(self._ids) != len(self.findings):  # the list was changed directly: index it again
            self._ids = {f.id for f in self.findings}
        if finding.id in self._ids:
            finding = distinct(finding, self._ids)
        self._ids.add(finding.id)
        self.findings.append(finding)
        return finding

    def extend(self, other: Results) -> None:
        """Merge another result set into this one."""
        self.figures.update(other.figures)
        for finding in other.findings:
            self.find(finding)


def compress_lines(rows: Iterable[tuple[str | None, int | None]]) -> tuple[str, ...]:
    """Provenance ``file:2-418`` ranges from (source_file, source_line) pairs."""
    by_file: dict[str, set[int]] = {}
    whole: set[str] = set()
    for file, line in rows:
        if file is None:
            continue
        if line is None:
            whole.add(file)
        else:
            by_file.setdefault(file, set()).add(int(line))
    out: list[str] = []
    for file in sorted(set(by_file) | whole):
        lines = by_file.get(file)
        out.append(f"{file}:{_ranges_text([(line, line) for line in lines])}" if lines else file)
    return tuple(out)


def _lines_ref(reference: str) -> tuple[str, str] | None:
    """(file, ranges) of a ``file:2-40,44`` reference; None for any other (a manifest key, a whole file)."""
    file, colon, ranges = reference.rpartition(":")
    if not colon or not file or not ranges[:1].isdigit() or not ranges[-1:].isdigit():
        return None
    return file, ranges


@lru_cache(maxsize=256)
def merge_sources(sources: tuple[str, ...]) -> tuple[str, ...]:
    """``sources`` with every ``file:ranges`` reference to one file merged into one, where the first was.

    A figure made of parts (a portfolio's total of its entities, a runway from cash and burn) cites each part's
    rows; the same rows are then one reference, written as :func:`compress_lines` writes them (consecutive lines
    as one range), instead of one per part. Other references (manifest keys, whole files) and their order are
    kept; repeats are dropped. Memoised: many figures share the same parts (a run clears the cache when its reports
    are built, so a long-lived process does not keep a large portfolio's references).
    """
    parsed = [_lines_ref(reference) for reference in sources]
    files = [ref[0] for ref in parsed if ref is not None]
    if len(files) == len(set(files)):
        return tuple(dict.fromkeys(sources))
    by_file: dict[str, list[str]] = {}
    for ref in parsed:
        if ref is not None:
            by_file.setdefault(ref[0], []).append(ref[1])
    merged: dict[str, str] = {}
    try:
        for file, parts in by_file.items():
            merged[file] = parts[0] if len(parts) == 1 else _union(parts)
    except ValueError:  # not line ranges after all: keep the references as they are
        return tuple(dict.fromkeys(sources))
    out: list[str] = []
    for reference, ref in zip(sources, parsed, strict=True):
        if ref is None:
            out.append(reference)
        elif ref[0] in merged:  # the file's first reference carries them all
            out.append(f"{ref[0]}:{merged.pop(ref[0])}")
    return tuple(dict.fromkeys(out))


UNION_IN_NUMPY_CHARS = 20_000  # longer range lists are merged with numpy (a million spans in a fraction of a second)


def _union(parts: list[str]) -> str:
    """The union of ``2-40,44``-style range lists, as one such list (consecutive lines as one range)."""
    if sum(len(part) for part in parts) > UNION_IN_NUMPY_CHARS:
        return _union_numpy(parts)
    spans: list[tuple[int, int]] = []
    for text in parts:
        for part in text.split(","):
            first, _, last = part.partition("-")
            spans.append((int(first), int(last or first)))
    return _ranges_text(spans)


def _union_numpy(parts: list[str]) -> str:
    """:func:`_union` of long lists, vectorised: ``4-6`` is read as ``4, -6`` (a negative number ends the range its
    predecessor starts), the spans are sorted, and a span starts a new range when it begins after every earlier one
    ends (plus one line)."""
    import numpy as np  # noqa: PLC0415 - matplotlib's dependency; imported only for long lists

    text = ",".join(parts).replace("-", ",-")
    with warnings.catch_warnings():  # malformed text warns and stops early: caught by the count below
        warnings.simplefilter("ignore")
        values = np.fromstring(text, dtype=np.int64, sep=",")
    if len(values) != text.count(",") + 1 or (np.abs(values) >= 2**53).any():  # unread text, or saturated
        raise ValueError(text[:40])
    negative = values < 0
    starts_at = np.flatnonzero(~negative)
    starts = values[starts_at]
    ends = starts.copy()
    has_end = np.zeros(len(values), dtype=bool)
    has_end[:-1] = negative[1:]
    ranged = has_end[starts_at]
    ends[ranged] = -values[starts_at[ranged] + 1]
    if (ends < starts).any() or (starts <= 0).any():
        raise ValueError(text[:40])
    order = np.argsort(starts, kind="stable")  # among equal starts the order does not matter
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    new = np.ones(len(starts), dtype=bool)
    new[1:] = starts[1:] > reach[:-1] + 1
    first = starts[new]
    last = reach[np.append(np.flatnonzero(new)[1:] - 1, len(starts) - 1)]
    return _spans_text(zip(first.tolist(), last.tolist(), strict=True))


def _ranges_text(spans: list[tuple[int, int]]) -> str:
    """``2-40,44`` from (first, last) line spans in any order, overlapping and adjacent ones joined."""
    spans.sort()
    merged: list[list[int]] = []
    for first, last in spans:
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return _spans_text(merged)


def _spans_text(spans: Iterable[Sequence[int]]) -> str:
    """``2-40,44`` from sorted, separate (first, last) spans."""
    return ",".join(f"{a}-{b}" if a != b else f"{a}" for a, b in spans)


def month_key(day: dt.date) -> str:
    """``YYYY-MM`` of a date."""
    return f"{day.year:04d}-{day.month:02d}"


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (clamped to the month's last day)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(day)


def last_complete_months(as_of: dt.date, count: int = 3) -> Sequence[str]:
    """The ``count`` calendar months before the month of ``as_of``, oldest first."""
    first = as_of.replace(day=1)
    return [month_key(add_months(first, -i)) for i in range(count, 0, -1)]
