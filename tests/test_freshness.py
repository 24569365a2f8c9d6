"""Freshness (CONTRACT section 8): each source's newest dated row and its age; stale-source findings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import RunOutput, WritePortfolio, base_manifest
from execintel.analysis import freshness
from execintel.explain import explain_lines
from execintel.reports import cmo
from helpers import context

AS_OF = "2026-11-15"


def _events(entity: str, *stamps: str) -> str:
    return "".join(json.dumps({"ts": ts, "entity": entity, "type": "lead"}) + "\n" for ts in stamps)


def _portfolio(write_portfolio: WritePortfolio, **policies: Any) -> Any:
    entities = [
        {"id": "alpha", "name": "Alpha", "ledger": "alpha.csv", "events": "alpha.jsonl", "contacts": "c.csv"},
        {"id": "beta", "name": "Beta", "events": "beta.jsonl"},
    ]
    files: dict[str, str | bytes] = {
        # newest row 2026-11-08 (line 3): 7 days before as_of, not more than 7: fresh
        "alpha.csv": "date,account,amount\n2026-11-01,Income:Sales,10\n2026-11-08,Income:Sales,20\n",
        # newest row 2026-11-07T23:30Z (line 2; the later one is after as_of): 8 days: stale
        "alpha.jsonl": _events("alpha", "2026-11-01T10:00:00Z", "2026-11-07T23:30:00Z", "2026-11-16T08:00:00Z"),
        "beta.jsonl": _events("beta", "2026-11-20T08:00:00Z"),  # nothing up to as_of: no newest row, not stale
        # a portfolio-wide ledger, newest 2026-10-31: 15 days: stale
        "all.csv": "date,entity,account,amount\n2026-10-31,beta,Income:Sales,5\n",
        "costs.csv": "month,service,amount,entity\n2026-09,AWS Lambda,3,\n2026-10,AWS Lambda,4,\n",  # ends 10-31
        "c.csv": "email,name,source,subscribed,last_engaged,segment\na@example.com,A,web,true,2026-11-14,x\n"
        "b@example.com,B,web,true,2026-11-20,x\n",
        "handoffs/a.yaml": "project: a\nstatus: on-track\nupdated: 2026-11-12\n",
        "handoffs/b.yaml": "project: b\nstatus: on-track\nupdated: 2026-11-01\n",
    }
    manifest = base_manifest(entities=entities, ledger="all.csv", cloud_costs="costs.csv", handoffs="handoffs",
                             policies=policies)  # fmt: skip
    return context(write_portfolio(manifest, files), as_of=AS_OF)


def test_each_sources_newest_row_and_age(write_portfolio: WritePortfolio) -> None:
    results = freshness.analyze(_portfolio(write_portfolio))
    listed = [(i["source"], i["kind"], i["entity"], i["newest"], i["row"], i["age_days"], i["stale"])
              for i in results.figures["sources.freshness"].value]  # type: ignore[union-attr]  # fmt: skip
    assert listed == [
        ("all.csv", "ledger", None, "2026-10-31", "all.csv:2", 15, True),
        ("alpha.csv", "ledger", "alpha", "2026-11-08", "alpha.csv:3", 7, False),  # exactly 7 days: not stale
        ("alpha.jsonl", "events", "alpha", "2026-11-07", "alpha.jsonl:2", 8, True),  # 8 days: stale
        ("c.csv", "contacts", "alpha", "2026-11-14", "c.csv:2", 1, None),  # contacts are never called stale
        ("beta.jsonl", "events", "beta", None, None, None, False),
        ("costs.csv", "cloud_costs", None, "2026-10", "costs.csv:3", 15, None),  # October ends 10-31
        ("handoffs", "handoffs", None, "2026-11-12", "handoffs/a.yaml:1", 3, None),
    ]
    stale = {(f.kind, f.severity, f.entity, f.file, f.line) for f in results.findings}
    assert stale == {
        ("stale-source", "medium", None, "all.csv", 2),
        ("stale-source", "medium", "alpha", "alpha.jsonl", 2),
    }
    events = next(f for f in results.findings if f.entity == "alpha")
    assert events.title == "The events source alpha.jsonl is 8 days old (newest row 2026-11-07)"


@pytest.mark.parametrize(("limit", "stale"), [(8, {"all.csv"}), (6, {"all.csv", "alpha.csv", "alpha.jsonl"})])
def test_the_policy_sets_how_old_is_stale(write_portfolio: WritePortfolio, limit: int, stale: set[str]) -> None:
    results = freshness.analyze(_portfolio(write_portfolio, max_source_age_days=limit))
    assert {f.file for f in results.findings} == stale


def test_every_report_lists_the_sources_and_their_stale_findings(write_portfolio: WritePortfolio) -> None:
    doc = cmo.build(_portfolio(write_portfolio))
    table = next(s for s in doc.sections if s["id"] == "freshness")
    assert [r[0] for r in table["rows"]] == ["all.csv", "alpha.csv", "alpha.jsonl", "c.csv", "beta.jsonl",
                                             "costs.csv", "handoffs"]  # fmt: skip
    assert table["rows"][2] == ["alpha.jsonl", "alpha", "events", "2026-11-07", 8, "stale: more than 7 days old"]
    assert table["rows"][4][5] == "no dated row up to as_of"
    listed = next(s for s in doc.sections if s["id"] == "stale-sources")
    assert {doc.findings[i].file for i in listed["findings"]} == {"all.csv", "alpha.jsonl"}
    assert "sources.freshness" in doc.figures
    stale_action = next(a for a in doc.actions if a.id == "action-stale-source")
    assert (stale_action.severity, stale_action.owner, len(stale_action.findings)) == ("medium", "casey", 2)


def test_a_beancount_ledgers_included_files_are_its_rows(write_portfolio: WritePortfolio) -> None:
    main = ('option "operating_currency" "USD"\ninclude "books/2026.beancount"\n'
            "2026-01-01 open Assets:Bank USD\n2026-01-01 open Income:Sales USD\n")  # fmt: skip
    year = '2026-11-10 * "Sale"\n  Assets:Bank  100 USD\n  Income:Sales  -100 USD\n'
    entities = [{"id": "alpha", "name": "Alpha", "ledger": "ledger.beancount"}]
    path = write_portfolio(base_manifest(entities=entities), {"ledger.beancount": main, "books/2026.beancount": year})
    [item] = freshness.newest_rows(context(path, as_of=AS_OF))
    assert (item.source.display, item.shown, item.row, item.age_days, item.stale) == (
        "ledger.beancount",
        "2026-11-10",
        "books/2026.beancount:3",
        5,
        False,
    )  # fmt: skip (the posting line)


@pytest.mark.parametrize("report", ["ceo", "cto", "cfo", "cmo", "accounting", "property", "delivery-ops",
                                    "billing-audit", "daily"])  # fmt: skip
def test_every_demo_report_lists_its_sources(demo_run: RunOutput, report: str) -> None:
    document = demo_run.documents[report]
    items = document["figures"]["sources.freshness"]["value"]
    assert len(items) == 23  # every source of the demo manifest
    assert any(s["id"] == "freshness" for s in document["sections"])
    stale = {f["file"] for f in document["findings"] if f["kind"] == "stale-source"}
    assert stale == {i["row"].rsplit(":", 1)[0] for i in items if i["stale"]}


def test_explain_shows_the_freshness_list_as_json(write_portfolio: WritePortfolio) -> None:
    lines = explain_lines(_portfolio(write_portfolio), "sources.freshness")
    # alpha's ledger, events and contacts, beta's events, the portfolio ledger, cloud costs, handoffs: 7 sources
    assert lines[0] == "sources.freshness: 7 items (listed as JSON under exact)"
    exact = next(line for line in lines if line.startswith("  exact:"))
    items = json.loads(exact.removeprefix("  exact:").strip().removesuffix(" list"))
    # manifest order: the portfolio ledger (15 days), alpha's ledger (7) and events (8); JSON, not Python (None)
    assert [item["age_days"] for item in items][:3] == [15, 7, 8]
