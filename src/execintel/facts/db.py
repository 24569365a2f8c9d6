"""The facts database: an in-process DuckDB that analysis queries with SQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from execintel.facts.schema import AMOUNT, DATE_COLUMNS, TABLES, column_names

SCAN_CHUNK_ROWS = 20_000

_ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),  # UTC, without zone: DuckDB returns plain datetimes
    "INTEGER": pa.int64(),
    "BIGINT": pa.int64(),
    "BOOLEAN": pa.bool_(),
    "JSON": pa.string(),
    AMOUNT: pa.string(),  # exact decimal text, cast by DuckDB
}


SMALL_FACTS = 50_000  # rows in every table together, under which queries run on one thread (fit_threads)


class Facts:
    """The normalised data of one portfolio, one table per kind of input."""

    def __init__(self, con: duckdb.DuckDBPyConnection | None = None) -> None:
        self.con = con or duckdb.connect(":memory:")
        for table, columns in TABLES.items():
            cols = ", ".join(f'"{name}" {kind}' for name, kind in columns)
            self.con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")
        self._selects = {
            table: ", ".join(
                f'CAST("{name}" AS {kind}) AS "{name}"' if kind in (AMOUNT, "JSON") else f'"{name}"'
                for name, kind in columns
            )
            for table, columns in TABLES.items()
        }

    def append(self, table: str, columns: Sequence[Sequence[Any]]) -> int:
        """Insert rows given column-wise (in the table's column order); return how many."""
        if not columns or not columns[0]:
            return 0
        names = column_names(table)
        arrays = [
            pa.array(values, type=_ARROW_TYPES[kind]) for values, (_, kind) in zip(columns, TABLES[table], strict=True)
        ]
        batch = pa.Table.from_arrays(arrays, names=list(names))  # noqa: F841 - scanned by DuckDB
        self.con.execute(f"INSERT INTO {table} SELECT {self._selects[table]} FROM batch")
        return len(columns[0])

    def append_arrow(self, table: str, batch: pa.Table, constants: Mapping[str, Any] | None = None) -> int:
        """Insert an Arrow table whose columns are named like the facts table's; return how many rows.

        Each column is cast to the facts column's type, so dates, timestamps and
        exact decimals may come as ISO or decimal text. A facts column the batch
        lacks takes its value from ``constants``, else NULL.
        """
        if not batch.num_rows:
            return 0
        constants = constants or {}
        present = set(batch.column_names)
        params: list[Any] = []
        selects: list[str] = []
        for name, kind in TABLES[table]:
            if name in present:
                selects.append(f'CAST("{name}" AS {kind})')
            elif name in constants:
                selects.append(f"CAST(? AS {kind})")
                params.append(constants[name])
            else:
                selects.append(f"CAST(NULL AS {kind})")
        # Zero-copy slices: DuckDB scans (and inserts) an Arrow table's chunks in parallel.
        arrow_batch = pa.Table.from_batches(batch.to_batches(max_chunksize=SCAN_CHUNK_ROWS))  # noqa: F841
        self.con.execute(f"INSERT INTO {table} SELECT {', '.join(selects)} FROM arrow_batch", params)
        return int(batch.num_rows)

    def fit_threads(self) -> int:
        """Run queries on one DuckDB thread when the facts are small; returns the rows counted.

        A small portfolio's analyses are hundreds of queries over a few thousand rows, where starting a second
        thread costs more than it saves (the demo's run is about 8% faster on one); from about a hundred thousand
        rows the second thread pays (see docs/benchmarks.md).
        """
        rows = sum(self.count(table) for table in TABLES)
        if rows < SMALL_FACTS:
            self.con.execute("SET threads = 1")
        return rows

    def count(self, table: str, source_file: str | None = None) -> int:
        """Rows in a table, optionally only those from one source file."""
        if source_file is None:
            row = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()
        else:
            row = self.con.execute(f"SELECT count(*) FROM {table} WHERE source_file = ?", [source_file]).fetchone()
        return int(row[0]) if row else 0

    def date_range(self, table: str, source_file: str) -> tuple[str, str] | None:
        """The earliest and latest date of the rows from one source, as ISO text."""
        column = DATE_COLUMNS.get(table)
        if column is None:
            return None
        row = self.con.execute(
            f'SELECT CAST(min("{column}") AS VARCHAR), CAST(max("{column}") AS VARCHAR) FROM {table} '
            "WHERE source_file = ? OR starts_with(source_file, ? || '/')",
            [source_file, source_file.rstrip("/")],
        ).fetchone()
        if not row or row[0] is None:
            return None
        return str(row[0])[:10], str(row[1])[:10]

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a read query and return all rows."""
        return self.con.execute(sql, params or []).fetchall()

    def close(self) -> None:
        """Release the database."""
        self.con.close()
