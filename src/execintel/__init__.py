"""execintel: honest, data-driven executive briefings for a small portfolio of businesses."""

from __future__ import annotations

__version__ = "0.1.0"
