"""Events JSONL, contacts CSV and handoff files."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

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


# One bad events line is that line's error; the file is read a line at a time -----------------------------------

GOOD_EVENT = '{"ts": "2026-11-02T18:00:00Z", "type": "booking", "amount": 1800}'


def _events(write_portfolio: WritePortfolio, lines: list[str]) -> tuple[int, list[str]]:
    entity = {"id": "qosd", "name": "Q", "events": "e.jsonl"}
    result = load(write_portfolio(base_manifest(entities=[entity]), {"e.jsonl": "\n".join(lines) + "\n"}))
    [report] = result.reports
    return report.rows_loaded, [str(p) for p in report.problems]


def test_a_bad_events_line_is_an_error_for_that_line_and_the_others_load(write_portfolio: WritePortfolio) -> None:
    lines = [
        GOOD_EVENT,
        '{"ts": "2026-11-02", "type": "x", "deep": ' + "[" * 100_000 + "]" * 100_000 + "}",  # RecursionError before
        '{"ts": "0001-01-01T00:00:00+14:00", "type": "lead"}',  # OverflowError before: in UTC it is year 0
        '{"ts": "9999-12-31T23:00:00-05:00", "type": "lead"}',  # ... and year 10000
        '{"ts": "2026-11-02", "type": "booking", "amount": ' + "1" * 5000 + "}",  # int() refuses 5000 digits
        "[" * 100_000,  # deep and not even closed
        GOOD_EVENT,
    ]
    loaded, problems = _events(write_portfolio, lines)
    assert loaded == 2  # before: the whole file failed with RecursionError or OverflowError
    assert problems == [
        "e.jsonl:2: nests arrays and objects more than 64 levels deep",
        "e.jsonl:3: ts: ts '0001-01-01T00:00:00+14:00' is out of range: in UTC it falls before year 1 or after year 9999",
        "e.jsonl:4: ts: ts '9999-12-31T23:00:00-05:00' is out of range: in UTC it falls before year 1 or after year 9999",
        "e.jsonl:5: is not valid JSON: Exceeds the limit (4300 digits) for integer string conversion: value has 5000 digits",
        "e.jsonl:6: nests arrays and objects more than 64 levels deep",
    ]


def test_an_events_line_over_the_cap_is_refused_without_being_held(write_portfolio: WritePortfolio) -> None:
    from execintel.sources.events import MAX_LINE_CHARS

    huge = '{"ts": "2026-11-02", "type": "note", "text": "' + "x" * (3 * MAX_LINE_CHARS) + '"}'
    crlf = GOOD_EVENT + "\r"  # a Windows line ending is fine
    loaded, problems = _events(write_portfolio, [GOOD_EVENT, huge, crlf, "", huge])
    assert loaded == 2
    limit = f"{MAX_LINE_CHARS:,}"
    assert problems == [
        f"e.jsonl:2: is longer than {limit} characters; one event per line is expected",
        f"e.jsonl:5: is longer than {limit} characters; one event per line is expected",
    ]


def test_events_are_read_a_chunk_at_a_time(write_portfolio: WritePortfolio, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole file is never read into memory: the reader asks for chunks of at most 1 MB."""
    import io

    from execintel.sources import base

    sizes: list[int] = []
    real_read = io.TextIOWrapper.read

    class Spy(io.TextIOWrapper):
        def read(self, size: int | None = -1) -> str:
            sizes.append(-1 if size is None else size)
            return real_read(self, size)

    monkeypatch.setattr(base.io, "TextIOWrapper", Spy)
    loaded, problems = _events(write_portfolio, [GOOD_EVENT] * 50_000)
    assert (loaded, problems) == (50_000, [])
    assert sizes and all(0 < size <= 1 << 20 for size in sizes)


# Resource bombs in handoff files: that file is refused with its line, the others load ---------------------------

LAUGHS = "financials:\n  base: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
    f"  x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)
)


@pytest.mark.timeout(120)
def test_yaml_and_json_bombs_in_handoffs_are_refused_file_by_file(write_portfolio: WritePortfolio) -> None:
    head = "project: p\nstatus: on-track\nupdated: 2026-10-01\n"
    files: dict[str, str | bytes] = {
        "handoffs/good.yaml": head,
        "handoffs/laughs.yaml": head + LAUGHS,  # before: str() of 9**10 numbers
        "handoffs/deep.yaml": head + "risks: " + "[" * 50_000 + "]" * 50_000 + "\n",  # before: RecursionError
        "handoffs/deep.md": "---\n" + head + "risks: " + "[" * 50_000 + "]" * 50_000 + "\n---\nnotes\n",
        "handoffs/deep.json": '{"project": "p", "risks": ' + "[" * 50_000 + "]" * 50_000 + "}",
    }
    result = load(write_portfolio(base_manifest(handoffs="handoffs"), files))
    [report] = result.reports
    assert (report.rows_loaded, report.rows_rejected) == (1, 4)
    assert [str(p) for p in report.problems] == [
        "handoffs/deep.json:1: nests arrays and objects more than 64 levels deep",
        "handoffs/deep.md:5: nests more than 64 levels deep",
        "handoffs/deep.yaml:4: nests more than 64 levels deep",
        "handoffs/laughs.yaml:10: aliases expand to more than 100,000 values (here *a4); "
        "write the values out or use fewer aliases",
    ]


def test_event_numbers_and_handoff_financials_with_other_digits_are_refused(write_portfolio: WritePortfolio) -> None:
    lines = [
        '{"ts": "2026-11-02", "type": "booking", "amount": "1_000"}',
        '{"ts": "2026-11-02", "type": "booking", "units": "\uff11"}',
        '{"ts": "2026-11-02", "type": "nps", "score": "\u0661\u0660"}',
        '{"ts": "\uff12\uff10\uff12\uff16-11-02", "type": "lead"}',
        '{"ts": "2026-11-02", "type": "booking", "amount": "12.5", "units": "2", "score": "9"}',
    ]
    loaded, problems = _events(write_portfolio, lines)
    assert loaded == 1
    assert problems == [  # before: 1000, 1 and 10
        "e.jsonl:1: amount: amount '1_000' is not a number",
        "e.jsonl:2: units: units '\uff11' is not a number",
        "e.jsonl:3: score: score '\u0661\u0660' must be a whole number from 0 to 10",
        "e.jsonl:4: ts: ts '\uff12\uff10\uff12\uff16-11-02' is not an ISO 8601 timestamp",
    ]
    head = "project: p\nstatus: on-track\nupdated: 2026-10-01\nfinancials:\n"
    files: dict[str, str | bytes] = {
        "handoffs/a.yaml": head + "  budget: 1_000\n",  # YAML 1.1 reads 1000
        "handoffs/b.yaml": head + "  budget: '\u0661\u0662\u0663'\n",
        "handoffs/c.json": json.dumps({"project": "c", "status": "on-track", "updated": "2026-10-01",
                                       "financials": {"budget": "\uff11\uff12"}}),
        "handoffs/d.yaml": head + "  budget: 1500.5\n  spent: '20'\n",
    }  # fmt: skip
    result = load(write_portfolio(base_manifest(handoffs="handoffs"), files))
    assert [str(p) for p in result.errors] == [
        "handoffs/a.yaml:4: financials.budget: '1_000' is not a number",
        "handoffs/b.yaml:4: financials.budget: '\u0661\u0662\u0663' is not a number",
        "handoffs/c.json: financials.budget: '\uff11\uff12' is not a number",
    ]
    assert result.facts.query("SELECT financials FROM handoffs") == [('{"budget": "1500.5", "spent": "20"}',)]
