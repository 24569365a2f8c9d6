"""Control characters made visible: the one rule every text output of execintel applies to values from data.

A name, a file name or a cell may hold characters a terminal or a mail reader acts on instead of showing: ESC
(colour, cursor moves, OSC 8 hyperlinks, a retitled window), BEL, backspace and carriage return (which overwrite
what was printed), a newline (which forges a line of its own), the 8-bit C1 controls (U+009B is a CSI on some
terminals) and the bidi embedding, override and isolate controls (which reorder the text around them, as in
"Trojan Source"). :func:`visible` replaces each with one visible character, so text keeps its width (a table
laid out before the replacement still lines up):

- C0 controls and DEL become their Unicode control pictures: ESC is ``␛``, a newline ``␊``, BEL ``␇``;
- C1 controls, the bidi controls above and the line and paragraph separators (U+2028, U+2029) become ``�``.

Each output medium applies it at its boundary: the console in :mod:`execintel.cli.console`, the plain-text
report in :func:`execintel.render.text.render_text`. JSON escapes control characters itself and HTML is
escaped by its template.
"""

from __future__ import annotations

import functools

REPLACEMENT = "\ufffd"
# Controls with no picture of their own: C1, bidi embeddings/overrides (LRE RLE PDF LRO RLO) and isolates
# (LRI RLI FSI PDI), and the Unicode line and paragraph separators (some terminals and mail readers break there).
_OTHER = (*range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029)


@functools.cache
def _table(keep: str) -> dict[int, str]:
    table = {code: chr(0x2400 + code) for code in range(0x20)}
    table[0x7F] = "\u2421"
    table.update(dict.fromkeys(_OTHER, REPLACEMENT))
    for char in keep:
        table.pop(ord(char), None)
    return table


def visible(text: str, keep: str = "") -> str:
    """``text`` with every control character but those in ``keep`` (e.g. ``"\\t"``) replaced by a visible one."""
    return text.translate(_table(keep))
