"""Events JSONL, contacts CSV and handoff files."""

from __future__ import annotations

import json
from decimal import Decimal

from conftest import WritePortfolio, base_manifest
from helpers import load


def test_events_keep_extra_attributes_and_reject_bad_lines(write_portfolio: WritePortfolio) -> None:
    lines = [
        {"ts": "2026-11-02T18:00:00Z", "type": "booking", "customer": "c-1", "amount": 1800, "units": 1,
         "channel": "direct", "segment": "corporate", "job": "J-7"},
        {"ts": "2026-11-03", "type": "nps", "score": 9},
        {"ts": "yesterday", "type": "lead"},
        {"ts": "2026-11-03T00:00:00Z", "type": "nps"},
    ]  # fmt: skip
    text = "\n".join(json.dumps(x) for x in lines) + "\n{not json\n"
    entity = {"id": "qosd", "name": "Q", "events": "e.jsonl"}
    result = load(write_portfolio(base_manifest(entities=[entity]), {"e.jsonl": text}))
    [report] = result.reports
    assert (report.rows_loaded, report.rows_rejected) == (2, 3)
    assert [p.line for p in report.problems] == [3, 4, 5]
    row = result.facts.query("SELECT entity, amount, attrs->>'job', source_line FROM events WHERE type='booking'")
    assert row == [("qosd", Decimal(1800), "J-7", 1)]


def test_contacts_flag_invalid_addresses_but_keep_them(write_portfolio: WritePortfolio) -> None:
    csv = (
        "email,name,source,subscribed,last_engaged,segment\n"
        "a@example.com,A,web,true,2026-10-01,corp\n"
        "A@Example.com,A2,web,false,,corp\n"
        "broken@localhost,B,web,true,,\n"
        "c@example.org,C,web,maybe,,\n"
    )
    entity = {"id": "qosd", "name": "Q", "contacts": "c.csv"}
    result = load(write_portfolio(base_manifest(entities=[entity]), {"c.csv": csv}))
    [report] = result.reports
    assert (report.rows_loaded, report.rows_rejected) == (3, 1)
    assert str(report.problems[0]) == "c.csv:5: subscribed: subscribed 'maybe' must be true or false"
    rows = result.facts.query("SELECT email_key, email_valid, subscribed FROM contacts ORDER BY source_line")
    assert rows == [("a@example.com", True, True), ("a@example.com", True, False), ("broken@localhost", False, True)]


HANDOFF_MD = """---
project: shipcaptaincrew
entity: qosd
status: at-risk
updated: 2026-11-01
summary: Crew scheduling tool
financials: {monthly_cost: 12.5}
risks: [No staging]
next_steps: [Add staging]
---
Deploys are manual.
"""


def test_handoffs_in_three_formats(write_portfolio: WritePortfolio) -> None:
    files = {
        "handoffs/scc.md": HANDOFF_MD,
        "handoffs/funnel.yaml": "project: funnel\nstatus: blocked\nupdated: 2026-10-01\nblockers: [No tracking]\n",
        "handoffs/site.json": json.dumps({"project": "site", "status": "on-track", "updated": "2026-09-09"}),
        "handoffs/bad.yaml": "project: bad\nstatus: fine\nupdated: 2026-09-09\n",
    }
    result = load(write_portfolio(base_manifest(handoffs="handoffs"), files))
    [report] = result.reports
    assert (report.rows_loaded, report.rows_rejected) == (3, 1)
    assert [str(p) for p in report.errors] == [
        "handoffs/bad.yaml:2: status: status 'fine' must be one of on-track, at-risk, blocked"
    ]
    row = result.facts.query(
        "SELECT entity, status, financials->>'monthly_cost', notes, source_file FROM handoffs WHERE project='shipcaptaincrew'"
    )
    assert row == [("qosd", "at-risk", "12.5", "Deploys are manual.", "handoffs/scc.md")]
    assert report.date_range == ("2026-09-09", "2026-11-01")


def test_a_connector_that_crashes_is_reported_and_the_others_still_load(write_portfolio: WritePortfolio) -> None:
    """The per-source trap: an unexpected exception becomes that source's problem, not a failed run."""
    from dataclasses import replace

    from execintel.config import load_portfolio
    from execintel.sources import SOURCES, Source, load_sources, plan_sources

    class Exploding(Source):
        kind = "test-exploding"
        table = "events"

        def rows(self):  # type: ignore[no-untyped-def]
            raise ZeroDivisionError("boom")

    SOURCES[Exploding.kind] = Exploding
    try:
        manifest = base_manifest(entities=[{"id": "qosd", "name": "Q", "contacts": "contacts.csv"}])
        path = write_portfolio(manifest, {"contacts.csv": "email,name\na@example.com,A\n"})
        portfolio = load_portfolio(path)
        [contacts] = plan_sources(portfolio)
        broken = replace(contacts, kind=Exploding.kind, display="broken.jsonl")
        result = load_sources(portfolio, specs=[broken, contacts])
    finally:
        del SOURCES[Exploding.kind]
    assert [str(p) for p in result.errors] == [
        "broken.jsonl: could not be read (ZeroDivisionError: boom); run with --debug for details"
    ]
    assert result.reports[1].rows_loaded == 1
