"""The synthetic portfolios the loading benchmark measures are valid, with the row counts asked for."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from helpers import load, load_module

SYNTH_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "synth.py"


synth = load_module("synth", SYNTH_PATH)


@pytest.mark.parametrize("layout", ["portfolio", "entity"])
def test_synthetic_portfolio_loads_without_errors(tmp_path: Path, layout: str) -> None:
    made = synth.make_portfolio(tmp_path, entities=3, ledger_rows=500, events=300, contacts=200, seed=7, layout=layout)
    result = load(made.manifest)
    assert [str(p) for p in result.errors] == []
    counts = {table: result.facts.count(table) for table in ("transactions", "events", "contacts")}
    assert counts == {"transactions": 500, "events": 300, "contacts": 200}
    per_entity = result.facts.query("SELECT entity, count(*) FROM transactions GROUP BY entity ORDER BY entity")
    assert per_entity == [("e001", 167), ("e002", 167), ("e003", 166)]
    assert sum(r.rows_loaded for r in result.reports) == made.rows
    # in date order, as bank exports and ledgers are: a window of dates is a run of lines
    for ledger in {r.spec.path for r in result.reports if r.table == "transactions"}:
        assert ledger is not None
        with ledger.open(encoding="utf-8", newline="") as handle:
            dates = [row["date"] for row in csv.DictReader(handle)]
        assert len(dates) > 100 and dates == sorted(dates), ledger


def test_same_seed_gives_the_same_portfolio_and_it_is_reused(tmp_path: Path) -> None:
    first, reused = synth.cached_portfolio(tmp_path / "a", entities=2, ledger_rows=50, events=20, contacts=10, seed=3)
    assert not reused
    again, reused = synth.cached_portfolio(tmp_path / "a", entities=2, ledger_rows=50, events=20, contacts=10, seed=3)
    assert reused and again == first
    # data an older generator wrote (the marker says which) is written again
    marker = tmp_path / "a" / synth.COMPLETE_MARKER
    marker.write_text(marker.read_text().replace(f'"generator": {synth.GENERATOR}', '"generator": 1'))
    _, reused = synth.cached_portfolio(tmp_path / "a", entities=2, ledger_rows=50, events=20, contacts=10, seed=3)
    assert not reused
    other = synth.make_portfolio(tmp_path / "b", entities=2, ledger_rows=50, events=20, contacts=10, seed=3)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert other.rows == first.rows == 80
