"""Figures and findings: what analysis produces, each with its formula and its sources."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
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


@dataclass(frozen=True)
class Finding:
    """A gap, risk or shortfall of a declared kind, with its evidence."""

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

    def to_json(self) -> dict[str, Any]:
        """The contract's JSON shape, with optional place and amount fields."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "severity": self.severity,
            "entity": self.entity,
            "title": self.title,
            "evidence": list(self.evidence),
        }
        for name in ("amount", "file", "line", "commit", "recommendation"):
            value = getattr(self, name)
            if value not in (None, ""):
                out[name] = value
        return out


@dataclass
class Results:
    """Figures by id and findings, as analysis accumulates them."""

    figures: dict[str, Figure] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def add(self, figure: Figure) -> Figure:
        """Record a figure (ids are unique)."""
        self.figures[figure.id] = figure
        return figure

    def find(self, finding: Finding) -> Finding:
        """Record a finding."""
        self.findings.append(finding)
        return finding

    def extend(self, other: Results) -> None:
        """Merge another result set into this one."""
        self.figures.update(other.figures)
        self.findings.extend(other.findings)


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
        lines = sorted(by_file.get(file, ()))
        if not lines:
            out.append(file)
            continue
        ranges: list[str] = []
        start = prev = lines[0]
        for line in lines[1:]:
            if line == prev + 1:
                prev = line
                continue
            ranges.append(f"{start}-{prev}" if prev != start else f"{start}")
            start = prev = line
        ranges.append(f"{start}-{prev}" if prev != start else f"{start}")
        out.append(f"{file}:{','.join(ranges)}")
    return tuple(out)


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
