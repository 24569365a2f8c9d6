"""Cloud cost analysis: spend by month and service, the 3-month average and trend, savings rules."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import SHARED, WritePortfolio, base_manifest
from execintel.analysis import cloud
from execintel.analysis.context import Context
from execintel.analysis.model import Results
from execintel.demo import demo_portfolio
from execintel.render import print_html
from execintel.render.html import render_html
from execintel.render.pdf import write_pdf
from execintel.render.text import render_text
from execintel.reports import Document, build_report, dumps, loads
from helpers import context

D = Decimal


def _costs(write_portfolio: WritePortfolio, lines: list[str], as_of: str = "2026-11-15") -> Context:
    csv = "month,service,amount,entity\n" + "\n".join(lines) + "\n"
    entities = [{"id": "qosd", "name": "Q"}, {"id": "jada", "name": "J"}, {"id": "dc", "name": "DC"}]
    path = write_portfolio(base_manifest(entities=entities, cloud_costs="aws.csv"), {"aws.csv": csv})
    return context(path, as_of=as_of)


def _rows(service: str, entity: str, amounts: dict[str, str]) -> list[str]:
    return [f"{month},{service},{amount},{entity}" for month, amount in amounts.items()]


def test_monthly_figures_average_with_an_empty_month_and_trend(write_portfolio: WritePortfolio) -> None:
    lines = [
        "2026-05,Amazon S3,10.00,qosd", "2026-06,Amazon S3,20.00,qosd", "2026-07,Amazon S3,30.00,",
        "2026-08,Amazon S3,40.00,qosd", "2026-08,AWS Lambda,2.50,qosd",
        # no row for 2026-09: it counts 0
        "2026-10,Amazon S3,50.00,qosd",
        "2026-11,Amazon S3,7.00,qosd",  # the month of as_of: billed so far, not in the 3-month average
        "2026-12,Amazon S3,99.00,qosd",  # after as_of: ignored by every figure
    ]  # fmt: skip
    results = cloud.analyze(_costs(write_portfolio, lines))
    months = {k.removeprefix("cloud.spend.month."): f.value for k, f in results.figures.items() if ".month." in k}
    assert months == {"2026-05": D(10), "2026-06": D(20), "2026-07": D(30), "2026-08": D("42.5"), "2026-10": D(50),
                      "2026-11": D(7)}  # fmt: skip
    # (42.50 + 0 + 50.00) / 3 = 30.8333...
    assert results.figures["cloud.spend.monthly"].value == D("92.5") / 3
    assert results.figures["cloud.spend.monthly.previous"].value == D(60) / 3  # (10 + 20 + 30) / 3
    assert results.figures["cloud.spend.trend"].value == D("92.5") / D(60) - 1  # +54.17 %
    assert results.figures["cloud.spend.service.amazon-s3.monthly"].value == D(90) / 3
    assert results.figures["cloud.spend.service.aws-lambda.monthly"].value == D("2.5") / 3
    assert results.figures["cloud.spend.monthly"].sources == ("aws.csv:5-7",)
    assert results.figures["cloud.spend.month.2026-08"].unit == "USD"


def test_no_rows_in_the_last_three_complete_months_means_no_average(write_portfolio: WritePortfolio) -> None:
    results = cloud.analyze(_costs(write_portfolio, ["2026-03,Amazon S3,5.00,qosd"]))
    # no average, trend or savings figure; the data covers none of Aug, Sep, Oct 2026, and says so
    assert set(results.figures) == {"cloud.spend.month.2026-03", "cloud.coverage.months"}
    assert results.figures["cloud.coverage.months"].value == 0
    assert [f.kind for f in results.findings] == ["cloud-costs-partial"]


def test_no_cost_data_gives_no_figures(write_portfolio: WritePortfolio) -> None:
    ctx = context(write_portfolio(base_manifest()), as_of="2026-11-15")
    assert cloud.analyze(ctx).figures == {}


@pytest.fixture
def savings_ctx(write_portfolio: WritePortfolio) -> Context:
    prev, recent = ("2026-05", "2026-06", "2026-07"), ("2026-08", "2026-09", "2026-10")
    lines = [
        *_rows("Amazon EC2", "jada", dict(zip(prev + recent, ["20", "20", "20", "20", "20", "21"], strict=True))),
        *_rows("Amazon S3", "qosd", dict(zip(prev + recent, ["10", "11", "12", "13", "14", "15"], strict=True))),
        *_rows("Amazon DynamoDB", "qosd", dict(zip(recent, ["5", "5", "5"], strict=True))),
        *_rows("AmazonCloudWatch", "qosd", dict(zip(prev + recent, ["4", "4", "4", "5", "5", "5"], strict=True))),
        *_rows("Amazon VPC", "dc", dict(zip(recent, ["3.60", "3.72", "3.48"], strict=True))),  # no compute in dc
        *_rows("Amazon VPC", "jada", dict(zip(recent, ["3.60", "3.72", "3.60"], strict=True))),  # EC2 in jada
        *_rows("AWS Lambda", "qosd", dict(zip(recent, ["4", "9", "2"], strict=True))),  # usage-driven: no rule
        *_rows("Amazon RDS", "qosd", dict(zip(recent, ["0.50", "0.50", "0.50"], strict=True))),  # under $1
    ]
    return _costs(write_portfolio, lines)


@pytest.fixture
def savings(savings_ctx: Context) -> Results:
    return cloud.analyze(savings_ctx)


def test_savings_rules_estimate_each_saving(savings: Results) -> None:
    found = {(f.title.split(":")[0], f.entity): f.amount for f in savings.findings}
    assert found == {
        # 35% of (20 + 20 + 21) / 3 = 7.11666...
        ("Always-on compute could be reserved or scheduled", "jada"): D(61) / 3 * D("0.35"),
        # grew (42 - 33) / 33 = 27 %; 45% of the 2026-07 spend (12) = 5.40
        ("S3 storage keeps growing with no lifecycle rule", "qosd"): D("5.40"),
        # 40% of 5 = 2.00
        ("DynamoDB spend is flat", "qosd"): D("2.00"),
        # grew 25 %; 25% of 5 = 1.25
        ("CloudWatch spend keeps growing", "qosd"): D("1.25"),
        # all of (3.60 + 3.72 + 3.48) / 3 = 3.60
        ("Network resources billed with nothing to serve", "dc"): D("3.60"),
    }
    # 7.11666... + 5.40 + 2.00 + 1.25 + 3.60
    assert savings.figures["cloud.savings.monthly"].value == D(61) / 3 * D("0.35") + D("12.25")
    assert all(f.kind == "cloud-savings" and f.evidence[0].startswith("rule ") for f in savings.findings)
    assert {f.severity for f in savings.findings if f.amount is not None and f.amount >= 5} == {"low"}


def test_each_saving_shows_its_amount_a_month_in_html_text_and_pdf(savings_ctx: Context, tmp_path: Path) -> None:
    document = loads(dumps(build_report(savings_ctx, "cto").to_json()))
    [table] = [s for s in document["sections"] if s["id"] == "cloud-savings"]
    assert [(row[1], row[2], row[3]) for row in table["rows"]] == [
        ("Amazon EC2", "J", D(61) / 3 * D("0.35")),  # 35% of (20 + 20 + 21) / 3 = 7.1166...
        ("Amazon S3", "Q", D("5.4")),  # 45% of the 2026-07 spend of 12
        ("Amazon VPC", "DC", D("3.6")),  # all of (3.60 + 3.72 + 3.48) / 3
        ("Amazon DynamoDB", "Q", D(2)),  # 40% of 5
        ("AmazonCloudWatch", "Q", D("1.25")),  # 25% of 5
    ]
    # the savings findings stay in the JSON (with their evidence) for the actions built from their amounts
    assert sorted(f["amount"] for f in document["findings"] if f["kind"] == "cloud-savings") == sorted(
        row[3] for row in table["rows"]
    )
    (tmp_path / "cto.html").write_text(print_html(document), encoding="utf-8")
    pdf = write_pdf(print_html(document), tmp_path, tmp_path / "cto.pdf")
    shown = {
        "html": render_html(document, lambda chart: chart),
        "text": render_text(document),
        "pdf": subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True, check=True).stdout,
    }
    for medium, text in shown.items():
        for amount in ("$7.12", "$5.40", "$3.60", "$2.00", "$1.25"):
            assert amount in text, (medium, amount)
        assert "Saving a month" in text, medium
        assert "In all $19.37 a month" in " ".join(text.split()), medium  # 7.1166... + 12.25


def test_saving_ids_stay_the_same_when_as_of_moves(write_portfolio: WritePortfolio) -> None:
    # EC2 of jada flat at 20 a month all year: always-on-compute fires as of 2026-10-15 and 2026-11-15 alike
    lines = _rows("Amazon EC2", "jada", {f"2026-{m:02d}": "20" for m in range(1, 12)})
    ids = []
    for as_of in ("2026-10-15", "2026-11-15"):
        [finding] = cloud.analyze(_costs(write_portfolio, lines, as_of)).findings
        assert (finding.amount, finding.title) == (D(7), "Always-on compute could be reserved or scheduled: "
                                                   "Amazon EC2 (jada), about $7.00 a month")  # 35% of 20  # fmt: skip
        ids.append(finding.id)
    assert ids[0] == ids[1]


def test_spend_by_entity_with_shared_costs_apart(write_portfolio: WritePortfolio) -> None:
    lines = [
        "2026-07,Amazon EC2,100,jada",  # before the last 3 complete months
        "2026-08,Amazon S3,10,qosd", "2026-09,Amazon S3,11,qosd", "2026-10,Amazon S3,12,qosd",
        "2026-09,Amazon EC2,6,jada",
        "2026-10,Amazon Route 53,3,",  # shared: no entity
    ]  # fmt: skip
    ctx = _costs(write_portfolio, lines)
    figures = cloud.analyze(ctx).figures
    # qosd (10 + 11 + 12) / 3 = 11; jada (0 + 6 + 0) / 3 = 2; shared (0 + 0 + 3) / 3 = 1; dc billed nothing
    assert figures["cloud.spend.entity.qosd.monthly"].value == D(11)
    assert figures["cloud.spend.entity.jada.monthly"].value == D(2)
    assert figures["cloud.spend.shared.monthly"].value == D(1)
    assert "cloud.spend.entity.dc.monthly" not in figures
    assert figures["cloud.spend.monthly"].value == D(14)  # (10 + 17 + 15) / 3 = 11 + 2 + 1
    assert figures["cloud.spend.shared.monthly"].sources == ("aws.csv:7",)
    # the data spans 2026-07 to 2026-10: May and June are not covered, so no trend (before: (42 - 100) / 100)
    assert figures["cloud.coverage.months"].value == 3
    assert "cloud.spend.monthly.previous" in figures and "cloud.spend.trend" not in figures
    document = build_report(ctx, "cto")
    [table] = [s for s in document.sections if s["id"] == "cloud-entities"]
    assert [row[0] for row in table["rows"]] == ["Q", "J", "Shared (no entity)"]  # manifest order, shared last
    assert table["rows"][0][1:5] == [D(10), D(11), D(12), D(11)]
    [overview] = [s for s in document.sections if s["id"] == "cloud-overview"]
    assert "No trend: the cost data does not cover all 6 months it compares." in overview["note"]


def test_a_one_month_bill_says_the_average_counts_two_missing_months_as_zero(write_portfolio: WritePortfolio) -> None:
    ctx = _costs(write_portfolio, ["2026-10,Amazon S3,30,qosd"])
    results = cloud.analyze(ctx)
    # the contract's average: (0 + 0 + 30) / 3 = 10, a third of the real bill; the data covers 1 of the 3 months
    assert results.figures["cloud.spend.monthly"].value == D(10)
    assert results.figures["cloud.coverage.months"].value == 1
    [partial] = [f for f in results.findings if f.kind == "cloud-costs-partial"]
    assert partial.severity == "medium"
    assert partial.title == "Cloud cost data covers 1 of the 3 months behind the monthly cloud spend"
    assert partial.evidence[:2] == (
        "the cost data spans 2026-10 to 2026-10: it covers 1 of 2026-08, 2026-09, 2026-10 (2026-10)",
        "cloud.spend.monthly = $10.00: the contract's average over 3 months, counting the 2 month(s) the data does "
        "not reach as 0; the 1 month(s) billed average $30.00",
    )
    document = build_report(ctx, "cto")
    [overview] = [s for s in document.sections if s["id"] == "cloud-overview"]
    assert overview["note"].startswith("The cost data covers 1 of 2026-08, 2026-09, 2026-10")
    assert "cloud-costs-partial" in {f.kind for f in document.findings}


def test_focus_sample_loads_and_sums(write_portfolio: WritePortfolio) -> None:
    path = write_portfolio(base_manifest(cloud_costs="focus_sample.csv"))
    shutil.copy(SHARED / "costs" / "focus_sample.csv", path.parent / "focus_sample.csv")
    results = cloud.analyze(context(path, as_of="2024-11-15"))
    months = [D(str(f.value)) for k, f in results.figures.items() if k.startswith("cloud.spend.month.")]
    assert sum(months, D(0)) == D("20.52022672899")  # the sample's known total (tests/test_sources_costs.py)
    # every charge period starts in 2024-09, one of the last 3 complete months (Aug, Sep, Oct 2024)
    assert results.figures["cloud.spend.monthly"].value == D("20.52022672899") / 3
    assert "cloud.spend.trend" not in results.figures  # nothing billed May-Jul 2024
    # a public one-month export: the average is a third of its bill (Aug and Oct count 0), and the report says the
    # data covers 1 of the 3 months
    assert results.figures["cloud.coverage.months"].value == 1
    assert [f.kind for f in results.findings if f.kind == "cloud-costs-partial"] == ["cloud-costs-partial"]


@pytest.fixture(scope="module")
def demo_cto() -> Document:
    """The CTO report of the bundled demo portfolio."""
    return build_report(context(demo_portfolio()), "cto")


def test_demo_spend_and_savings(demo_cto: Document) -> None:
    figures = demo_cto.figures
    assert [figures[f"cloud.spend.month.{m}"].value for m in ("2026-08", "2026-09", "2026-10")] == [
        D("77.06"), D("76.21"), D("76.07"),
    ]  # fmt: skip
    monthly = figures["cloud.spend.monthly"].value
    assert monthly == (D("77.06") + D("76.21") + D("76.07")) / 3
    assert all(D(50) <= figures[k].value <= D(84) for k in figures if k.startswith("cloud.spend.month."))  # type: ignore[operator]
    rules = {f.evidence[0].split(":")[0] for f in demo_cto.findings if f.kind == "cloud-savings"}
    assert rules == {
        "rule always-on-compute", "rule s3-lifecycle", "rule dynamodb-capacity", "rule log-retention",
        "rule idle-network",
    }  # fmt: skip
    # EC2 35% of 18.3133 = 6.41, S3 45% of 15.61 = 7.02, DynamoDB 40% of 5.6733 = 2.27, CloudWatch 25% of 5.1733 = 1.29,
    # the idle public IPv4 address all of (3.72 + 3.60 + 3.72) / 3 = 3.68: 20.68 in all
    assert figures["cloud.savings.monthly"].value.quantize(D("0.01")) == D("20.68")  # type: ignore[union-attr]
