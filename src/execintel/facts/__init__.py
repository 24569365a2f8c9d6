"""The facts database (DuckDB) holding every source's normalised rows."""

from __future__ import annotations

from execintel.facts.db import Facts
from execintel.facts.schema import TABLES, column_names

__all__ = ["TABLES", "Facts", "column_names"]
