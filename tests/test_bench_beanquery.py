"""The beanquery benchmark's own code: its merged bean-example ledger is clean, and both sides' monthly totals agree."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import beanquery
import pytest
from beancount import loader

from conftest import WritePortfolio, base_manifest
from helpers import bean_example, context

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bench_beanquery as bench


@pytest.fixture(scope="module")
def example_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Three months of bean-example (fixed seed and dates): the generator the benchmark merges households of."""
    path = tmp_path_factory.mktemp("bean") / "example.beancount"
    return bean_example(path, seed=5, begin="2025-10-01", end="2026-01-01").read_text(encoding="utf-8")


def test_households_merge_into_one_clean_ledger(example_text: str, tmp_path: Path) -> None:
    merged = bench.household(example_text, 1, first=True) + bench.household(example_text, 2, first=False)
    path = tmp_path / "merged.beancount"
    path.write_text(merged, encoding="utf-8")
    _entries, errors, _ = loader.load_file(str(path))
    assert errors == []  # no commodity, option or account declared twice
    single = bench.count_transactions(example_text.encode())
    assert single > 50 and bench.count_transactions(merged.encode()) == 2 * single
    # every account of the second household is its own, under H02
    assert "Expenses:H02:Food:Restaurant" in merged and "Expenses:Food:Restaurant" not in merged
    assert merged.count(" commodity USD") == 1


def test_beanquery_and_execintel_agree_month_by_month(
    example_text: str, write_portfolio: WritePortfolio, tmp_path: Path
) -> None:
    ledger = tmp_path / "merged.beancount"
    ledger.write_text(
        bench.household(example_text, 1, first=True) + bench.household(example_text, 2, first=False), encoding="utf-8"
    )
    rows = beanquery.connect(f"beancount:{ledger}").execute(bench.QUERY).fetchall()
    theirs = bench.beanquery_totals(rows)
    entity = {"id": "me", "name": "Me", "ledger": "merged.beancount"}
    path = write_portfolio(base_manifest(entities=[entity]), {"merged.beancount": ledger.read_text()})
    figures = context(path, as_of="2025-12-31").results("finance").figures
    ours = bench.execintel_totals({key: figure.value for key, figure in figures.items()})
    lines = bench.compare(theirs, ours)
    assert [line.split(":")[0] for line in lines][-3:] == ["2025-10", "2025-11", "2025-12"]
    assert theirs["2025-11"].income > 1000 and theirs["2025-11"].expenses > 1000  # a salary and a month's spending


def test_a_difference_of_a_cent_is_reported() -> None:
    month = bench.Month(Decimal("100.00"), Decimal("50.00"))
    with pytest.raises(ValueError, match="disagree on 2025-11"):
        bench.compare({"2025-11": month}, {"2025-11": bench.Month(Decimal("100.01"), Decimal("50.00"))})


def test_bean_query_csv_output_is_read_for_its_usd_amounts() -> None:
    output = (
        "year,month,type,total\n"
        '2025,11,Expenses,"  1200.00 IRAUSD,  7455.69 USD,          "\n'
        '2025,11,Income,"                , -9279.40 USD, -10 VACHR"\n'
    )
    assert bench.beanquery_totals(bench.csv_rows(output)) == {
        "2025-11": bench.Month(Decimal("9279.40"), Decimal("7455.69"))
    }
