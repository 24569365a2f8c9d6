"""``python -m execintel``."""

from __future__ import annotations

from execintel.cli import main

main()
