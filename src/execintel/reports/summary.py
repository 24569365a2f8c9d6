"""The top of every report: a narrative built from figures, and headline figures with their comparisons.

Narrative sentences are templates whose numbers can only come from figures: a template's own words may hold no
digit (:func:`fill` refuses one), and each ``{name}`` is a figure shown with that figure's formatting, or a name
from the manifest. A headline entry is a figure id with its comparisons (see
:mod:`execintel.analysis.comparisons`): the earlier or target value is a figure of the document, and the entry
carries the change to it, so every format shows the same numbers.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from execintel.analysis.comparisons import Comparison
from execintel.analysis.model import Figure
from execintel.formatting import show_figure

MAX_SENTENCES = 5  # a narrative longer than this is no longer read in a minute
_DIGIT = re.compile(r"\d")


class TemplateError(ValueError):
    """A narrative template that would put a number in the report that is not a figure (a programming error)."""


def fields(template: str) -> list[str]:
    """The ``{name}`` fields of a template; its literal words must hold no digit."""
    names: list[str] = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        if _DIGIT.search(literal):
            raise TemplateError(f"narrative template {template!r} types a number by hand ({literal.strip()!r}); "
                                "numbers must come from figures")  # fmt: skip
        if name is not None:
            if not name.isidentifier() or spec or conversion:
                raise TemplateError(f"narrative template {template!r}: {{{name}}} must be a plain name")
            names.append(name)
    return names


def fill(template: str, values: Mapping[str, Figure | str | None], currency: str) -> dict[str, Any] | None:
    """The narrative entry ``{"text", "template", "figures": {field: figure id}, "names": {field: text}}``; None
    when a figure it needs is absent.

    A :class:`Figure` is shown as its value with its unit's formatting; a ``str`` is a name, as it is. The entry
    lets anyone rebuild the text from the template and the document's figures.
    """
    shown: dict[str, str] = {}
    figures: dict[str, str] = {}
    names: dict[str, str] = {}
    for name in fields(template):
        if name not in values:
            raise TemplateError(f"narrative template {template!r} has no value for {{{name}}}")
        value = values[name]
        if value is None:
            return None
        if isinstance(value, Figure):
            if value.value is None:
                return None
            shown[name] = show_figure(value, currency)
            figures[name] = value.id
        else:
            shown[name] = names[name] = value
    return {"text": template.format_map(shown), "template": template, "figures": figures, "names": names}


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        return None
    return Decimal(value)


def change(value: Any, other: Any) -> tuple[Decimal | None, Decimal | None]:
    """``value - other`` and that change as a share of ``|other|`` (None when ``other`` is 0 or not a number)."""
    a, b = _number(value), _number(other)
    if a is None or b is None:
        return None, None
    delta = a - b
    return delta, (delta / abs(b) if b else None)


def headline_entry(figure: Figure, comparisons: list[Comparison]) -> dict[str, Any]:
    """``{"figure", "comparisons": [...]}`` for the document's ``headline`` list."""
    items: list[dict[str, Any]] = []
    for item in comparisons:
        entry: dict[str, Any] = {"basis": item.basis, "label": item.label,
                                 "figure": None if item.figure is None else item.figure.id,
                                 "as_of": None if item.as_of is None else item.as_of.isoformat()}  # fmt: skip
        if item.figure is None:
            entry["reason"] = item.reason
        else:
            delta, ratio = change(figure.value, item.figure.value)
            entry["change"], entry["change_ratio"] = delta, ratio
            if item.direction is not None:
                entry["direction"] = item.direction
                entry["met"] = delta is not None and delta >= 0
        items.append(entry)
    return {"figure": figure.id, "comparisons": items}


def trend(value: Figure | None, other: Figure | None) -> str:
    """``up from``, ``down from`` or ``the same as``: how ``value`` stands against ``other`` (for a sentence)."""
    delta, _ratio = change(None if value is None else value.value, None if other is None else other.value)
    if delta is None or delta == 0:
        return "the same as"
    return "up from" if delta > 0 else "down from"


def above(value: Figure | None, floor: Figure | None) -> str:
    """``above``, ``below`` or ``at``: a value against a minimum (for a sentence)."""
    delta, _ratio = change(None if value is None else value.value, None if floor is None else floor.value)
    if delta is None or delta == 0:
        return "at"
    return "above" if delta > 0 else "below"
