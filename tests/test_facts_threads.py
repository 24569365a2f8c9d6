"""DuckDB runs a small portfolio's many tiny queries on one thread and a large one's on every core."""

from __future__ import annotations

import duckdb

from execintel.facts import Facts
from execintel.facts.db import SMALL_FACTS


def _threads(facts: Facts) -> int:
    row = facts.con.execute("SELECT current_setting('threads')").fetchone()
    assert row is not None
    return int(row[0])


def _add_rows(facts: Facts, rows: int) -> None:
    facts.con.execute(
        "INSERT INTO transactions (entity, date, account, amount) "
        "SELECT 'shop', DATE '2026-01-01' + CAST(i % 300 AS INTEGER), 'Income:Sales', 1 FROM range(?) AS t(i)",
        [rows],
    )


def test_small_facts_run_on_one_thread_and_the_earlier_dates_cursors_too() -> None:
    facts = Facts(duckdb.connect(":memory:", config={"threads": 2}))
    _add_rows(facts, 1_000)
    assert facts.fit_threads() == 1_000
    assert _threads(facts) == 1
    assert _threads(Facts(facts.con.cursor())) == 1  # an earlier date's context reads through a cursor


def test_large_facts_keep_every_thread() -> None:
    facts = Facts(duckdb.connect(":memory:", config={"threads": 2}))
    _add_rows(facts, SMALL_FACTS)
    assert facts.fit_threads() == SMALL_FACTS
    assert _threads(facts) == 2
