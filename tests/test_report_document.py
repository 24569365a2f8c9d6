"""Report documents: exact JSON numbers, the plain-text rendering, report selection, explain's source rows."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import WritePortfolio, base_manifest
from execintel.analysis.model import Figure, Finding
from execintel.errors import ConfigError
from execintel.explain import source_rows
from execintel.render.text import render_text
from execintel.reports import parse_report_ids
from execintel.reports.document import Document, dumps, loads
from execintel.safefs import Confinement
from helpers import context


def _document() -> Document:
    runway = Figure("runway.days.portfolio", 212, "days", "cash / burn * 30", ("data/ledger.csv:2-418",), "Runway")
    burn = Figure("burn.monthly.portfolio", Decimal("4376.613333333333333333333333"), "USD", "avg", (), "Burn")
    finding = Finding("no-waf", "high", "CloudFront without WAF", "qosd", ("stack shipcaptaincrew",))
    doc = Document("cfo", "CFO report", "Example Holdings", dt.date(2026, 11, 15), "USD")
    doc.figures = {runway.id: runway, burn.id: burn}
    doc.findings = [finding]
    doc.sections = [
        {"id": "runway", "title": "Runway", "kind": "figures", "figures": [runway.id, burn.id]},
        {"id": "cash", "title": "Cash by entity", "kind": "table",
         "columns": [{"title": "Entity", "unit": ""}, {"title": "Cash", "unit": "USD"}],
         "rows": [["qosd", Decimal("18769.550000000000000000")], ["jada", Decimal("-1200")]]},
        {"id": "risks", "title": "Risks", "kind": "findings", "findings": [0]},
    ]  # fmt: skip
    return doc


def test_amounts_are_exact_json_numbers_not_floats_or_strings() -> None:
    text = _document().dumps()
    data = json.loads(text, parse_float=Decimal)
    assert data["figures"]["burn.monthly.portfolio"]["value"] == Decimal("4376.613333333333333333333333")
    assert data["figures"]["runway.days.portfolio"] == {
        "value": 212, "unit": "days", "formula": "cash / burn * 30",
        "sources": ["data/ledger.csv:2-418"], "name": "Runway",
    }  # fmt: skip
    assert '["qosd", 18769.55]' in text  # trailing zeros dropped, a number not a string
    [finding] = data["findings"]
    assert finding == {
        "id": finding["id"], "kind": "no-waf", "severity": "high", "entity": "qosd",
        "title": "CloudFront without WAF", "evidence": ["stack shipcaptaincrew"],
    }  # fmt: skip
    assert re.fullmatch(r"no-waf-[0-9a-f]{12}", finding["id"])
    assert data["actions"] == []
    assert loads(text)["sections"][1]["rows"][1][1] == Decimal("-1200")


def test_a_string_that_looks_like_the_placeholder_is_left_alone() -> None:
    assert json.loads(dumps({"a": "x:0", "b": Decimal("1E+3"), "c": Decimal("-0.00")})) == {
        "a": "x:0",
        "b": 1000,
        "c": 0,
    }


def test_plain_text_shows_money_to_cents_and_findings_with_severity() -> None:
    text = render_text(json.loads(_document().dumps(), parse_float=Decimal))
    assert "CFO report - Example Holdings - as of 2026-11-15" in text
    assert "Runway: 212 days" in text
    assert "Burn: $4,376.61" in text
    assert "  qosd    $18,769.55\n  jada    -$1,200.00\n" in text  # money right-aligned
    assert "[HIGH] CloudFront without WAF [qosd]" in text


def test_unknown_report_ids_are_refused_with_the_known_ones() -> None:
    assert parse_report_ids("cfo, cto,cfo") == ["cfo", "cto"]
    with pytest.raises(ConfigError) as caught:
        parse_report_ids(["cfo,board"])
    assert str(caught.value).startswith("--reports: unknown report 'board' (known: ceo, cto, cfo")


def test_explain_prints_the_numbered_source_rows_under_the_csv_header(tmp_path: Path) -> None:
    csv = tmp_path / "ledger.csv"
    csv.write_text("date,account,amount\n2026-01-01,Income:Sales,10\n2026-01-02,Income:Sales,20\n2026-01-03,X,1\n")
    rows = source_rows(tmp_path, "ledger.csv:2,4", max_rows=20)
    assert [r.split() for r in rows] == [
        ["date,account,amount"],
        ["2", "|", "2026-01-01,Income:Sales,10"],
        ["4", "|", "2026-01-03,X,1"],
    ]
    assert (
        source_rows(tmp_path, "ledger.csv:2-4", max_rows=1)[-1].strip() == "... and 2 more rows (--rows N to see more)"
    )


def test_explain_reads_source_rows_only_from_regular_files_inside_the_portfolio(tmp_path: Path) -> None:
    root = tmp_path / "portfolio"
    root.mkdir()
    (tmp_path / "private.csv").write_text("date,account,amount\n2026-01-01,Income:Secret,424242\n")
    (root / "ledger.csv").symlink_to(tmp_path / "private.csv")
    os.mkfifo(root / "pipe.csv")
    confine = Confinement.of(root)
    [escaped] = source_rows(root, "ledger.csv:2", max_rows=20, confine=confine)
    assert "not shown: ledger.csv leads outside the portfolio folder" in escaped and "424242" not in escaped
    [fifo] = source_rows(root, "pipe.csv:2", max_rows=20, confine=confine)  # before: blocked forever
    assert "not shown: pipe.csv is a named pipe (FIFO)" in fifo


def test_explain_shows_a_long_line_cut_without_reading_it_whole(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_bytes(b'{"a": "' + b"x" * 5_000_000 + b'"}\n{"b": 2}\n')
    first, second = source_rows(tmp_path, "events.jsonl:1-2", max_rows=20)
    assert first.endswith("\u2026") and len(first) < 2_100
    assert second.split() == ["2", "|", '{"b":', "2}"]


def test_context_views_leave_out_rows_after_as_of(write_portfolio: WritePortfolio) -> None:
    ledger = "date,account,amount\n2026-11-15,Income:Sales,10\n2026-11-16,Income:Sales,99\n"
    path = write_portfolio(base_manifest(entities=[{"id": "qosd", "name": "Q", "ledger": "l.csv"}]), {"l.csv": ledger})
    ctx = context(path)
    assert ctx.as_of == dt.date(2026, 11, 15)
    assert ctx.query("SELECT sum(amount) FROM tx") == [(Decimal("10"),)]
    assert ctx.provenance("FROM tx") == ("l.csv:2",)
    assert ctx.window_start == dt.date(2025, 11, 15)
    assert list(ctx.complete_months()) == ["2026-08", "2026-09", "2026-10"]


def test_every_report_builds_on_a_manifest_with_no_data_and_says_what_is_missing(
    write_portfolio: WritePortfolio,
) -> None:
    from execintel.reports import REPORTS, build_report

    ctx = context(write_portfolio(base_manifest()))
    for report in REPORTS:
        document = build_report(ctx, report).to_json()
        assert document["report"] == report
        text = render_text(json.loads(dumps(document), parse_float=Decimal))
        assert text.startswith(document["title"])
    missing = build_report(ctx, "cfo").to_json()["missing"]
    assert missing, "the CFO report must say that there is no ledger"
