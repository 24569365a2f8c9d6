"""The ``execintel`` command line: :mod:`.app` (the Typer app and its entry point), :mod:`.common` (options and
helpers every command shares), one module per command group (:mod:`.run`, :mod:`.schedule`, :mod:`.store`) and
:mod:`.console` (safe Rich output). Imports go one way: common <- command modules <- app."""

from __future__ import annotations

from execintel.cli.app import main  # importing it registers every command on the app
from execintel.cli.common import app

__all__ = ["app", "main"]
