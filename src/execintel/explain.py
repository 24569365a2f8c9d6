"""``execintel explain``: a figure's value, formula and the source rows behind it."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from pathlib import Path

from execintel.analysis.context import ANALYSES, Context
from execintel.analysis.model import Figure
from execintel.errors import ConfigError, Problem
from execintel.reports import REPORTS, build_report
from execintel.reports.document import dumps
from execintel.reports.format import show

_REF = re.compile(r"^(?P<file>.+?):(?P<ranges>\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*)$")


def find_figure(ctx: Context, figure_id: str) -> Figure:
    """The figure with this id, from the analyses and then the report builders; did-you-mean when unknown."""
    known: dict[str, Figure] = {}
    for name in ANALYSES:
        known.update(ctx.results(name).figures)
        if figure_id in known:
            return known[figure_id]
    for report in REPORTS:
        known.update(build_report(ctx, report).figures)
        if figure_id in known:
            return known[figure_id]
    close = difflib.get_close_matches(figure_id, list(known), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else "; `execintel run --dry-run` lists them in each .json"
    raise ConfigError(Problem("FIGURE_ID", f"no figure {figure_id!r} in this portfolio as of {ctx.as_of}{hint}"))


def _lines(ranges: str) -> Iterator[int]:
    for part in ranges.split(","):
        first, _, last = part.partition("-")
        yield from range(int(first), int(last or first) + 1)


def source_rows(root: Path, reference: str, max_rows: int) -> list[str]:
    """The numbered lines a ``file:2-4,9`` reference names (a CSV's header first), at most ``max_rows``.

    ``max_rows`` 0 prints none (the reference alone says where they are). Only a regular file is read.
    """
    match = _REF.match(reference)
    if match is None or max_rows < 1:
        return []
    path = (root / match["file"]).resolve()
    if not path.is_file():
        return []
    wanted = list(_lines(match["ranges"]))
    chosen = set(wanted[:max_rows])
    last = max(chosen, default=0)
    out: list[str] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, text in enumerate(handle, start=1):
            if number > last:
                break
            if number == 1 and path.suffix.lower() == ".csv" and 1 not in chosen:
                out.append(f"      {'':>6}   {text.rstrip()}")
            if number in chosen:
                out.append(f"      {number:>6} | {text.rstrip()}")
    if len(wanted) > max_rows:
        out.append(f"      ... and {len(wanted) - max_rows:,} more rows (--rows N to see more)")
    return out


def explain_lines(ctx: Context, figure_id: str, *, max_rows: int = 20) -> list[str]:
    """The lines ``execintel explain`` prints, one list item per line (values from data are not escaped here)."""
    figure = find_figure(ctx, figure_id)
    value = figure.value
    exact = dumps(value, indent=None) if not isinstance(value, str) else value
    lines = [
        f"{figure.id}: {show(value, figure.unit, ctx.currency)}",
        *([f"  name:     {figure.name}"] if figure.name else []),
        f"  exact:    {exact}" + (f" {figure.unit}" if figure.unit else ""),
        f"  as of:    {ctx.as_of}",
        f"  formula:  {figure.formula}",
        "  sources:" + ("" if figure.sources else " (none: computed from the manifest only)"),
    ]
    for reference in figure.sources:
        lines.append(f"    {reference}")
        lines += source_rows(ctx.portfolio.root, reference, max_rows)
    return lines


def explain_figure(ctx: Context, figure_id: str, *, max_rows: int = 20) -> str:
    """The explanation ``execintel explain`` prints, as one text."""
    return "\n".join(explain_lines(ctx, figure_id, max_rows=max_rows))
