"""``execintel explain``: a figure's value, formula and the source rows behind it."""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from execintel.analysis.context import ANALYSES, Context
from execintel.analysis.model import Figure
from execintel.errors import ConfigError, Problem
from execintel.formatting import show
from execintel.reports import REPORTS, build_report
from execintel.reports.document import dumps
from execintel.safefs import MAX_STREAM_BYTES, Confinement, UnsafeFile, open_regular

SHOWN_CHARS = 2_000
SHOWN_BYTES = 4 * SHOWN_CHARS  # UTF-8 holds a character in at most 4 bytes
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


def _count(ranges: str) -> int:
    return sum(int(last or first) - int(first) + 1 for first, _, last in (p.partition("-") for p in ranges.split(",")))


def _numbered_lines(handle: BinaryIO, last: int) -> Iterator[tuple[int, str]]:
    """(number, text) of the first ``last`` lines; a line is shown up to :data:`SHOWN_CHARS`, never held whole."""
    for number in range(1, last + 1):
        head = handle.readline(SHOWN_BYTES)
        if not head:
            return
        cut = len(head) >= SHOWN_BYTES and not head.endswith(b"\n")
        if cut:  # longer than shown: skip the rest of the line a block at a time
            while (more := handle.readline(SHOWN_BYTES)) and not more.endswith(b"\n"):
                pass
        text = head.decode("utf-8", "replace").rstrip("\r\n")
        yield number, text[:SHOWN_CHARS] + "\u2026" if cut or len(text) > SHOWN_CHARS else text


def source_rows(root: Path, reference: str, max_rows: int, confine: Confinement | None = None) -> list[str]:
    """The numbered lines a ``file:2-4,9`` reference names (a CSV's header first), at most ``max_rows``.

    ``max_rows`` 0 prints none (the reference alone says where they are). Only a regular file inside the
    portfolio folder is read (see :mod:`execintel.safefs`), each line shown up to 2,000 characters.
    """
    match = _REF.match(reference)
    if match is None or max_rows < 1:
        return []
    path = root / match["file"]
    wanted = list(itertools.islice(_lines(match["ranges"]), max_rows))
    chosen = set(wanted)
    last = max(chosen, default=0)
    out: list[str] = []
    try:
        with open_regular(path, confine=confine, limit=MAX_STREAM_BYTES) as handle:
            for number, text in _numbered_lines(handle, last):
                if number == 1 and path.suffix.lower() == ".csv" and 1 not in chosen:
                    out.append(f"      {'':>6}   {text}")
                if number in chosen:
                    out.append(f"      {number:>6} | {text}")
    except (UnsafeFile, OSError) as exc:
        return [f"      (not shown: {match['file']} {getattr(exc, 'reason', None) or exc})"]
    total = _count(match["ranges"])
    if total > max_rows:
        out.append(f"      ... and {total - max_rows:,} more rows (--rows N to see more)")
    return out


def explain_lines(ctx: Context, figure_id: str, *, max_rows: int = 20) -> list[str]:
    """The lines ``execintel explain`` prints, one list item per line (values from data are not escaped here)."""
    figure = find_figure(ctx, figure_id)
    value = figure.value
    exact = dumps(value, indent=None) if not isinstance(value, str) else value
    if isinstance(value, list | dict):  # a structured figure (kpis.missing, sources.freshness): its size here
        shown = f"{len(value):,} {'item' if len(value) == 1 else 'items'} (listed as JSON under exact)"
    else:
        shown = show(value, figure.unit, ctx.currency)
    lines = [
        f"{figure.id}: {shown}",
        *([f"  name:     {figure.name}"] if figure.name else []),
        f"  exact:    {exact}" + (f" {figure.unit}" if figure.unit else ""),
        f"  as of:    {ctx.as_of}",
        f"  formula:  {figure.formula}",
        "  sources:" + ("" if figure.sources else " (none: computed from the manifest only)"),
    ]
    for reference in figure.sources:
        lines.append(f"    {reference}")
        lines += source_rows(ctx.portfolio.root, reference, max_rows, ctx.portfolio.confinement)
    return lines


def explain_figure(ctx: Context, figure_id: str, *, max_rows: int = 20) -> str:
    """The explanation ``execintel explain`` prints, as one text."""
    return "\n".join(explain_lines(ctx, figure_id, max_rows=max_rows))
