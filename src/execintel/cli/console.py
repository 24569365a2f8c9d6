"""The command line's consoles and the one way a value from data reaches them.

Every value that comes from data (a portfolio or entity name, a file name, a cell, a problem message) goes
through :func:`escape` before it is printed: Rich markup in it is escaped (``[bold]`` prints as typed) and
control characters are made visible (:func:`execintel.controls.visible`), a newline included, so a value can
neither style the terminal, move its cursor, link somewhere, nor forge a line. The consoles themselves
(:class:`SafeConsole`) apply the same rule, newlines aside, to every string they render, tables and
``markup=False`` prints included, as a second guard; they never turn ``:name:`` into an emoji.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from rich.console import Console, ConsoleRenderable
from rich.logging import RichHandler
from rich.markup import escape as escape_markup
from rich.text import Text

from execintel.controls import visible

__all__ = ["SafeConsole", "SafeRichHandler", "err", "escape", "line", "out", "plural"]


def escape(value: object) -> str:
    """A value from data, ready to go inside console markup: markup escaped, control characters visible."""
    return escape_markup(visible(str(value)))


def line(value: object) -> str:
    """A value from data printed with ``markup=False``: control characters (a newline too) visible."""
    return visible(str(value))


class SafeConsole(Console):
    """A Rich console that shows control characters in what it renders instead of sending them to the terminal."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("emoji", False)  # ":rocket:" in a name prints as typed
        super().__init__(**kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        """Render ``text`` with its control characters, but newlines and tabs, made visible first."""
        return super().render_str(visible(text, keep="\n\t"), **kwargs)


class SafeRichHandler(RichHandler):
    """A Rich log handler whose messages (which may quote data) show control characters visibly."""

    def render_message(self, record: logging.LogRecord, message: str) -> ConsoleRenderable:
        """The message as Rich would render it, with its control characters visible."""
        return super().render_message(record, visible(message, keep="\n\t"))


def plural(count: int, word: str, plural_form: str | None = None) -> str:
    """``1 report``, ``2 reports``, ``1,024 entities`` (``plural_form`` when adding an s is wrong)."""
    return f"{count:,} {word if count == 1 else (plural_form or word + 's')}"


# When output is piped (CI logs, files) Rich would assume 80 columns and squeeze tables.
out = SafeConsole(width=None if sys.stdout.isatty() else 160)
err = SafeConsole(stderr=True, width=None if sys.stderr.isatty() else 160)
