"""Cloud costs in all three formats; the public samples load with their known totals."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal

from conftest import SHARED, WritePortfolio, base_manifest
from helpers import load


def _load_costs(write_portfolio: WritePortfolio, name: str, content: str | bytes | None = None):  # type: ignore[no-untyped-def]
    files: dict[str, str | bytes] = {name: content} if content is not None else {}
    path = write_portfolio(base_manifest(cloud_costs=name), files)
    if content is None:
        shutil.copy(SHARED / "costs" / name, path.parent / name)
    return load(path)


def test_focus_sample_loads_every_row_with_exact_billed_cost(write_portfolio: WritePortfolio) -> None:
    result = _load_costs(write_portfolio, "focus_sample.csv")
    [report] = result.reports
    assert report.spec.kind == "costs-focus"
    assert (report.rows_loaded, report.rows_rejected, report.errors) == (1000, 0, [])
    assert result.facts.query("SELECT sum(amount) FROM cloud_costs")[0][0] == Decimal("20.52022672899")
    months = dict(result.facts.query("SELECT month, count(*) FROM cloud_costs GROUP BY month"))
    assert sum(months.values()) == 1000
    assert set(months) <= {"2024-09", "2024-10"}


def test_cost_explorer_response_loads_unblended_cost_by_service(write_portfolio: WritePortfolio) -> None:
    result = _load_costs(write_portfolio, "ce-get-cost-and-usage-response.json")
    [report] = result.reports
    assert report.spec.kind == "costs-ce"
    rows = result.facts.query("SELECT month, service, amount, source_key FROM cloud_costs ORDER BY source_key")
    assert len(rows) == 2
    assert {r[0] for r in rows} == {"2017-09"}
    assert {r[1] for r in rows} == {"Amazon Simple Storage Service"}
    assert sum(r[2] for r in rows) == Decimal("40.6226137778")
    assert rows[0][3] == "ResultsByTime[0].Groups[0]"


def test_own_csv_with_entity_and_shared_rows(write_portfolio: WritePortfolio) -> None:
    csv = "month,service,amount,entity\n2026-09,Amazon S3,3.20,qosd\n2026-09,AWS Lambda,0.40,\n2026-9,Amazon S3,1,\n"
    result = _load_costs(write_portfolio, "aws.csv", csv)
    [report] = result.reports
    assert (report.rows_loaded, report.rows_rejected) == (2, 1)
    assert [str(p) for p in report.problems] == ["aws.csv:4: month: month '2026-9' must look like 2026-11"]
    assert result.facts.query("SELECT entity FROM cloud_costs ORDER BY amount DESC") == [("qosd",), (None,)]


def test_cost_amounts_and_months_with_other_digits_or_separators_are_refused(write_portfolio: WritePortfolio) -> None:
    own = "month,service,amount\n2026-10,S3,1_000\n2026-10,S3,\u0661\u0662\n\uff12\uff10\uff12\uff16-\uff11\uff10,S3,1\n2026-10,S3,2.5\n"
    result = _load_costs(write_portfolio, "costs.csv", own)
    assert [str(p) for p in result.errors] == [  # before: 1000, 12, and a month of fullwidth digits
        "costs.csv:2: amount: amount '1_000' is not a number",
        "costs.csv:3: amount: amount '\u0661\u0662' is not a number",
        "costs.csv:4: month: month '\uff12\uff10\uff12\uff16-\uff11\uff10' must look like 2026-11",
    ]
    focus = "BilledCost,ServiceName,ChargePeriodStart\n1_0,S3,2026-10-01\n\uff13,S3,2026-10-01\n1,S3,2026-10-01\n"
    result = _load_costs(write_portfolio, "focus.csv", focus)
    assert [str(p) for p in result.errors] == [
        "focus.csv:2: BilledCost: BilledCost '1_0' is not a number",
        "focus.csv:3: BilledCost: BilledCost '\uff13' is not a number",
    ]
    groups = [{"Keys": ["S3"], "Metrics": {"UnblendedCost": {"Amount": amount}}} for amount in ("1_000", "7")]
    response = {"ResultsByTime": [{"TimePeriod": {"Start": "2026-10-01"}, "Groups": groups}]}
    result = _load_costs(write_portfolio, "ce.json", json.dumps(response))
    assert [str(p) for p in result.errors] == [
        "ce.json: ResultsByTime[0].Groups[0]: UnblendedCost.Amount '1_000' is not a number"
    ]
    assert result.facts.query("SELECT amount FROM cloud_costs") == [(Decimal(7),)]
