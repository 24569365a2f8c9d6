"""Marketing (CMO): contact counting across files, engagement window, campaign model, channels, milestones."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from conftest import WritePortfolio, base_manifest
from execintel.analysis.campaign import campaign_range
from execintel.analysis.context import Context
from execintel.reports import build_report
from helpers import context

HEADER = "email,name,source,subscribed,last_engaged,segment\n"
D = Decimal


def _ctx(write_portfolio: WritePortfolio) -> Context:
    entities = [
        {"id": "qosd", "name": "Q", "contacts": "q.csv", "unit_economics": {"price": 1800, "variable_cost": 650},
         "channels": [
             {"name": "Sailo", "kind": "ota", "status": "planned", "audience": 50000, "direct_booking_likelihood": 0.9},
             {"name": "GetMyBoat", "kind": "ota", "status": "planned", "audience": 400000,
              "direct_booking_likelihood": 0.5},
             {"name": "Email", "kind": "email", "status": "live", "audience": 3},
         ]},
        {"id": "qdn", "name": "D", "contacts": "d.csv"},
    ]  # fmt: skip
    files = {
        # a@ valid; B@ repeats a@ (case-insensitive); bad is invalid; c@ valid, engaged exactly 90 days before as_of
        "q.csv": HEADER + "a@example.com,A,web,true,2026-11-15,corporate\n"
        "B@example.com,B,web,true,2026-11-01,corporate\n"
        "A@EXAMPLE.COM,A2,import,true,2026-11-01,corporate\n"
        "not-an-address,X,web,true,,family\n"
        "c@example.com,C,event,false,2026-08-17,family\n",
        # b@ repeats q.csv's B@ (the earlier entity in the manifest wins); d@ valid, engaged 89 days before
        "d.csv": HEADER + "b@example.com,B,web,true,2026-08-18,local\nd@example.com,D,web,true,2026-08-18,local\n",
    }
    return context(write_portfolio(base_manifest(entities=entities), files))


def test_contacts_are_counted_across_files_in_manifest_order(write_portfolio: WritePortfolio) -> None:
    results = _ctx(write_portfolio).results("marketing")
    values = {k: f.value for k, f in results.figures.items() if k.startswith("contacts.")}
    # rows: 5 + 2 = 7; duplicates: A@EXAMPLE.COM (of a@), b@ (of B@) = 2; invalid: 1; valid: a, B, c, d = 4
    assert (values["contacts.total"], values["contacts.valid"], values["contacts.duplicates"]) == (7, 4, 2)
    assert values["contacts.invalid"] == 1
    assert values["contacts.subscribed"] == 3  # a, B, d (c is not subscribed; duplicates and invalid never count)
    # engaged: as_of - 90 days = 2026-08-17 is excluded; a (11-15), B (11-01), d (08-18) are in
    assert values["contacts.engaged_90d"] == 3
    assert (values["contacts.qdn.total"], values["contacts.qdn.valid"], values["contacts.qdn.duplicates"]) == (2, 1, 1)
    assert results.figures["contacts.total"].sources == ("d.csv:2-3", "q.csv:2-6")


def test_campaign_range_uses_subscribed_valid_contacts_and_the_unit_price(write_portfolio: WritePortfolio) -> None:
    results = _ctx(write_portfolio).results("marketing")
    # qosd: 2 subscribed valid (a, B); low 2 x 0.02 x 0.10 x 1800 = 7.2; high 2 x 0.05 x 0.25 x 1800 = 45
    assert results.figures["campaign.qosd.revenue.low"].value == Decimal("7.2")
    assert results.figures["campaign.qosd.revenue.high"].value == Decimal("45")
    assert "campaign.qdn.revenue.low" not in results.figures  # no unit price and no bookings: not modelled
    low, high = campaign_range(1000, Decimal(100), (Decimal("0.1"), Decimal("0.2")), (Decimal("0.5"), Decimal(1)))
    assert (low, high) == (Decimal("5000"), Decimal("20000"))


def test_launch_sequence_puts_the_likeliest_direct_channel_first(write_portfolio: WritePortfolio) -> None:
    ctx = _ctx(write_portfolio)
    results = ctx.results("marketing")
    assert [line.split(" (")[0] for line in results.launch] == ["1. Sailo", "2. GetMyBoat"]  # type: ignore[attr-defined]
    assert "the largest audience" in results.launch[1]  # type: ignore[attr-defined]
    assert results.figures["channels.live"].value == 1
    document = build_report(ctx, "cmo")
    milestones = next(s for s in document.sections if s["id"] == "milestones")["rows"]
    assert [30, "2026-12-15", "Clean the contact list: remove 1 invalid and 2 duplicate addresses"] in milestones
    # the launch sequence's order: step 1 (Sailo) by day 30, step 2 (GetMyBoat) by day 60
    assert [30, "2026-12-15", "List Q on Sailo (launch step 1 of 2)"] in milestones
    assert [60, "2027-01-14", "List Q on GetMyBoat (launch step 2 of 2)"] in milestones


@pytest.fixture(scope="module")
def demo_cmo() -> dict[str, object]:
    from execintel.demo import demo_portfolio
    from execintel.pipeline import load_facts, make_context, open_portfolio

    ctx = make_context(load_facts(open_portfolio(demo_portfolio())))
    return build_report(ctx, "cmo").to_json()


def test_demo_cmo_report_counts_the_3676_contacts(demo_cmo: dict[str, object]) -> None:
    figures = demo_cmo["figures"]
    assert isinstance(figures, dict)
    assert [figures[f"contacts.{k}"]["value"] for k in ("total", "valid", "duplicates", "invalid")] == [
        3676,
        3575,
        59,
        42,
    ]
    assert figures["funnel.quickdumpnow.leads"]["value"] > 100 * figures["funnel.quickdumpnow.bookings"]["value"]
    kinds = {f["kind"] for f in demo_cmo["findings"]}  # type: ignore[attr-defined]
    assert {"no-ota-listing", "broken-funnel", "empty-pipeline"} <= kinds


def test_milestones_take_the_first_three_steps_of_the_launch_sequence(write_portfolio: WritePortfolio) -> None:
    channels = [
        {"name": "Sailo", "kind": "ota", "status": "planned", "audience": 10000, "direct_booking_likelihood": 0.9},
        {"name": "GetMyBoat", "kind": "ota", "status": "planned", "audience": 400000,
         "direct_booking_likelihood": 0.5},
        {"name": "Viator", "kind": "ota", "status": "planned", "audience": 250000, "direct_booking_likelihood": 0.3},
        {"name": "GetYourGuide", "kind": "ota", "status": "planned", "audience": 200000,
         "direct_booking_likelihood": 0.3},
        {"name": "Newsletter", "kind": "email", "status": "planned", "audience": 500, "direct_booking_likelihood": 0.95},
        {"name": "Old forum", "kind": "social", "status": "none", "audience": 90000, "direct_booking_likelihood": 0.99},
    ]  # fmt: skip
    ctx = context(write_portfolio(base_manifest(entities=[{"id": "q", "name": "Q", "channels": channels}])))
    results = ctx.results("marketing")
    # by likelihood (then audience): Newsletter 0.95, Sailo 0.9, GetMyBoat 0.5, Viator 0.3 (250,000),
    # GetYourGuide 0.3 (200,000); "Old forum" has status none: not pursued, not in the sequence
    assert [line.split(" (")[0] for line in results.launch] == [  # type: ignore[attr-defined]
        "1. Newsletter", "2. Sailo", "3. GetMyBoat", "4. Viator", "5. GetYourGuide",
    ]  # fmt: skip
    assert results.figures["channels.planned"].value == 5
    document = build_report(ctx, "cmo")
    [milestones] = [s for s in document.sections if s["id"] == "milestones"]
    # before: the planned OTAs by reach (GetMyBoat, Viator, GetYourGuide): the first step never appeared
    assert milestones["rows"] == [
        [30, "2026-12-15", "Launch Newsletter (email) for Q (launch step 1 of 5)"],
        [60, "2027-01-14", "List Q on Sailo (launch step 2 of 5)"],
        [90, "2027-02-13", "List Q on GetMyBoat (launch step 3 of 5)"],
    ]
    assert milestones["note"] == "Launch steps 4 to 5 follow after day 90."


def _booking(ts: str, customer: str, channel: str, amount: int = 1800, units: int | None = None) -> str:
    event: dict[str, object] = {"ts": ts, "type": "booking", "customer": customer, "channel": channel, "amount": amount}
    if units is not None:
        event["units"] = units
    return json.dumps(event) + "\n"


def test_campaign_is_capped_at_spare_capacity_checked_against_history_with_roi(write_portfolio: WritePortfolio) -> None:
    contacts = HEADER + "".join(f"c{i}@example.com,C,web,true,,\n" for i in range(2000))
    events = (
        # the last 3 complete months (Aug-Oct 2026): 2 + 2 + 3 = 7 units booked, 7 / 3 a month
        _booking("2026-08-03T18:00:00Z", "a", "email") + _booking("2026-08-20T18:00:00Z", "b", "email")
        + _booking("2026-09-12T18:00:00Z", "c", "Newsletter", units=2)
        + "".join(_booking(f"2026-10-{d:02d}T18:00:00Z", f"d{d}", "direct") for d in (1, 2, 3))
        + _booking("2025-10-01T18:00:00Z", "e", "email")  # over 12 months before as_of: not the list's history
    )  # fmt: skip
    entity = {"id": "q", "name": "Q", "contacts": "q.csv", "events": "q.jsonl",
              "unit_economics": {"unit": "charter", "price": 1800, "variable_cost": 650, "capacity_per_month": 12},
              "channels": [{"name": "Newsletter", "kind": "email", "status": "live"}]}  # fmt: skip
    ctx = context(write_portfolio(base_manifest(entities=[entity]), {"q.csv": contacts, "q.jsonl": events}))
    figures = ctx.results("marketing").figures
    spare = D(12) - D(7) / 3  # 12 - 7/3 = 9.67 charters a month
    assert figures["campaign.q.capacity"].value == spare
    # one send: 2,000 x 0.02 x 0.10 = 4 (low), 2,000 x 0.05 x 0.25 = 25 (high), capped at 9.67
    assert (figures["campaign.q.bookings.low"].value, figures["campaign.q.bookings.high"].value) == (D(4), spare)
    # revenue: 4 x 1,800 = 7,200 and 9.67 x 1,800 = 17,400; cost: 4 x 650 = 2,600 and 9.67 x 650 = 6,283.33
    assert figures["campaign.q.revenue.low"].value == D(7200)
    assert figures["campaign.q.revenue.high"].value == spare * 1800
    assert figures["campaign.q.cost.low"].value == D(2600)
    # ROI = revenue - cost: 7,200 - 2,600 = 4,600; 17,400 - 6,283.33 = 11,116.67
    assert figures["campaign.q.roi.low"].value == D(4600)
    assert figures["campaign.q.roi.high"].value == spare * 1800 - spare * 650
    # the list's history: bookings with channel email or Newsletter (its email channel) in 12 months: 2 + 1 = 3
    assert figures["campaign.q.history.bookings"].value == 3
    document = build_report(ctx, "cmo")
    [table] = [s for s in document.sections if s["id"] == "campaign"]
    assert [row[:2] for row in table["rows"]] == [["Q", "low"], ["Q", "high"]]
    assert table["rows"][0][2:] == [D(4), D(7200), D(2600), D(4600)]
    [check] = [s for s in document.sections if s["id"] == "campaign-check"]
    assert check["items"] == [
        "Q: one send to 2,000 contacts is modelled at 4 to 25 charter bookings; spare capacity 9.67 charters a month "
        "caps the model; the list produced 3 bookings (channel email) in the last 12 months: even the low case of "
        "one send is above that, so treat the model as optimistic."
    ]


def test_channel_attribution_with_cac_where_costs_exist(write_portfolio: WritePortfolio) -> None:
    lead = '{{"ts": "2026-10-0{d}T18:00:00Z", "type": "lead", "customer": "l{d}"{channel}}}\n'
    events = (
        "".join(lead.format(d=d, channel=', "channel": "Sailo"') for d in (1, 2))
        + "".join(lead.format(d=d, channel=', "channel": "email"') for d in (3, 4, 5))
        + lead.format(d=6, channel="")  # no channel
        + _booking("2025-06-01T18:00:00Z", "c4", "direct", 900)  # c4's first booking: before the window
        + _booking("2026-09-10T18:00:00Z", "c1", "sailo") + _booking("2026-10-01T18:00:00Z", "c2", "sailo")
        + _booking("2026-10-05T18:00:00Z", "c3", "email", 900) + _booking("2026-10-20T18:00:00Z", "c1", "email", 900)
        + _booking("2026-10-21T18:00:00Z", "c4", "email", 900)
    )  # fmt: skip
    ledger = (
        "date,account,amount,description,counterparty\n"
        "2026-09-01,Expenses:Marketing:Email,-300,mailer,mail service\n"  # named after the email channel
        "2026-10-01,Expenses:Marketing,-200,listing fee,Sailo\n"  # its counterparty names Sailo
        "2026-10-02,Expenses:Marketing:Flyers,-50,print,printer\n"  # names no channel
        "2025-10-01,Expenses:Marketing:Email,-999,mailer,mail service\n"  # before the window
    )
    channels = [{"name": "Sailo", "kind": "ota", "status": "live", "commission": 0.15},
                {"name": "Newsletter", "kind": "email", "status": "live"}]  # fmt: skip
    entity = {"id": "q", "name": "Q", "events": "q.jsonl", "ledger": "ledger.csv", "channels": channels}
    ctx = context(write_portfolio(base_manifest(entities=[entity]), {"q.jsonl": events, "ledger.csv": ledger}))
    values = {k.removeprefix("attribution.q."): f.value for k, f in ctx.results("marketing").figures.items()
              if k.startswith("attribution.q.")}  # fmt: skip
    # sailo: 2 leads, 2 bookings (3,600), new customers c1 and c2; cost = 15% x 3,600 + 200 = 740; CAC 740 / 2
    assert {k: v for k, v in values.items() if k.startswith("sailo.")} == {
        "sailo.leads": 2, "sailo.bookings": 2, "sailo.revenue": D(3600), "sailo.customers": 2,
        "sailo.cost": D(740), "sailo.cac": D(370),
    }  # fmt: skip
    # email (the Newsletter channel, by kind): 3 leads, 3 bookings (2,700); only c3 is new (c1 came by Sailo, c4
    # first booked before the window); cost 300 (the account named Email); CAC 300 / 1
    assert {k: v for k, v in values.items() if k.startswith("email.")} == {
        "email.leads": 3, "email.bookings": 3, "email.revenue": D(2700), "email.customers": 1,
        "email.cost": D(300), "email.cac": D(300),
    }  # fmt: skip
    assert values["unattributed.leads"] == 1 and "unattributed.cost" not in values
    assert values["spend.unassigned"] == D(50)  # the flyers; the 999 is outside the 12 months
    assert not any(k.startswith("direct.") for k in values)  # nothing on direct in the window
    document = build_report(ctx, "cmo")
    [table] = [s for s in document.sections if s["id"] == "attribution-q"]
    assert table["rows"] == [
        ["email", 3, 3, D(2700), 1, D(300), D(300)],
        ["sailo", 2, 2, D(3600), 2, D(740), D(370)],
        ["(no channel)", 1, 0, D(0), 0, None, None],
    ]
    assert "$50.00 of marketing spend in these 12 months names no channel." in table["note"]


def test_attribution_says_what_is_missing_without_costs(write_portfolio: WritePortfolio) -> None:
    events = _booking("2026-10-05T18:00:00Z", "c1", "referral", 500)
    ctx = context(write_portfolio(base_manifest(entities=[{"id": "q", "name": "Q", "events": "q.jsonl"}]),
                                  {"q.jsonl": events}))  # fmt: skip
    document = build_report(ctx, "cmo")
    [table] = [s for s in document.sections if s["id"] == "attribution-q"]
    assert table["rows"] == [["referral", 0, 1, D(500), 1, None, None]]
    assert "No cost in the data for referral" in table["note"] and "no ledger" in table["note"]
    assert {
        "data": "marketing cost per channel (Expenses:Marketing:<channel> accounts or counterparties, or a "
        "channel's commission)",
        "needed_for": "customer acquisition cost (CAC) per channel",
    } in document.missing


def test_attribution_cites_each_channels_rows_with_queries_that_do_not_grow_with_the_channels(
    write_portfolio: WritePortfolio, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A query per channel of each entity cost entities x channels scans of the events: the provenance of every
    # channel is one pass now, so a portfolio with four times the channels asks the facts as many times.
    lead = '{{"ts": "2026-10-0{d}T18:00:00Z", "type": "lead", "customer": "l{d}"{channel}}}\n'

    def run(channels: list[str]) -> tuple[int, dict[str, tuple[str, ...]]]:
        events = "".join(lead.format(d=1 + i % 9, channel=f', "channel": "{c}"' if c else "")
                         for i, c in enumerate(channels))  # fmt: skip
        ledger = "date,account,amount,description,counterparty\n2026-10-01,Expenses:Marketing,-200,fee,Sailo\n"
        entity = {"id": "q", "name": "Q", "events": "q.jsonl", "ledger": "ledger.csv",
                  "channels": [{"name": "Sailo", "kind": "ota", "status": "live", "commission": 0.15}]}  # fmt: skip
        ctx = context(write_portfolio(base_manifest(entities=[entity]), {"q.jsonl": events, "ledger.csv": ledger}))
        asked: list[str] = []
        query = ctx.facts.query
        monkeypatch.setattr(ctx.facts, "query", lambda sql, params=None: (asked.append(sql), query(sql, params))[1])
        figures = ctx.results("marketing").figures
        return len(asked), {k: f.sources for k, f in figures.items() if k.endswith(".leads") or k.endswith(".cost")}

    few, sources = run([" Sailo ", "email", "", "sailo", "email"])
    many, _ = run([" Sailo ", "email", "", "sailo", "email", "seo", "ads", "tv", "radio", "print", "fair", "walk"])

    assert many == few
    assert sources["attribution.q.sailo.leads"] == ("q.jsonl:1,4",)  # " Sailo " and "sailo": one channel
    assert sources["attribution.q.email.leads"] == ("q.jsonl:2,5",)
    assert sources["attribution.q.unattributed.leads"] == ("q.jsonl:3",)
    assert sources["attribution.q.sailo.cost"] == ("q.jsonl:1,4", "portfolio.yaml:entities[0].channels", "ledger.csv:2")


def test_funnel_and_campaign_sources_are_each_entitys_events_read_in_one_pass_for_all_entities(
    write_portfolio: WritePortfolio, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A provenance query per entity cost entities x events on small tables (one row group: every query reads
    # every row); the event queries of the marketing analysis no longer grow with the entities.
    def run(count: int) -> tuple[int, dict[str, tuple[str, ...]]]:
        entities, files = [], {}
        for i in range(count):
            entities.append({"id": f"e{i}", "name": f"E{i}", "events": f"e{i}.jsonl", "contacts": f"e{i}.csv",
                             "unit_economics": {"price": 100, "variable_cost": 40, "capacity_per_month": 50}})  # fmt: skip
            files[f"e{i}.jsonl"] = (_booking("2026-10-05T18:00:00Z", f"c{i}", "email", 100)
                                    + _booking("2025-01-05T18:00:00Z", f"d{i}", "email", 100)  # before the window
                                    + '{"ts": "2026-10-06T18:00:00Z", "type": "lead", "customer": "x"}\n')  # fmt: skip
            files[f"e{i}.csv"] = HEADER + f"p{i}@example.com,P,web,true,2026-11-01,local\n"
        ctx = context(write_portfolio(base_manifest(entities=entities), files))
        asked: list[str] = []
        query = ctx.facts.query
        monkeypatch.setattr(ctx.facts, "query", lambda sql, params=None: (asked.append(sql), query(sql, params))[1])
        figures = ctx.results("marketing").figures
        wanted = ("funnel.e1.leads", "campaign.e1.capacity", "campaign.e1.history.bookings")
        return len([sql for sql in asked if "FROM ev" in sql]), {k: figures[k].sources for k in wanted}

    few, sources = run(2)
    many, _ = run(6)

    assert many == few
    assert sources == {
        "funnel.e1.leads": ("e1.jsonl:1,3",),  # the lead and the booking in the 12 months, not the older booking
        "campaign.e1.capacity": ("portfolio.yaml:entities[1].unit_economics", "e1.jsonl:1-2"),
        "campaign.e1.history.bookings": ("e1.jsonl:1",),
    }


def test_units_booked_and_marketing_spend_are_read_in_one_pass_for_all_entities(
    write_portfolio: WritePortfolio, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CFO's units booked asked the events for each entity's source rows twice (bookings, completions), and
    # channel attribution asked the ledger for each entity's marketing spend: queries that grew with entities.
    def run(count: int) -> tuple[int, dict[str, object]]:
        entities, files, ledger = [], {}, ["date,entity,account,amount,description,counterparty"]
        for i in range(count):
            entities.append({"id": f"e{i}", "name": f"E{i}", "events": f"e{i}.jsonl",
                             "unit_economics": {"price": 100, "variable_cost": 40, "capacity_per_month": 50}})  # fmt: skip
            files[f"e{i}.jsonl"] = (_booking("2026-10-05T18:00:00Z", f"c{i}", "email", 100, units=3)
                                    + '{"ts": "2026-10-06T18:00:00Z", "type": "completion", "customer": "x"}\n'
                                    + _booking("2026-10-07T18:00:00Z", f"d{i}", "email", 100))  # fmt: skip
            ledger += [f"2026-09-01,e{i},Income:Sales,500,sale,", f"2026-10-02,e{i},Expenses:Marketing,-50,ad,Email"]
        files["ledger.csv"] = "\n".join(ledger) + "\n"
        manifest = base_manifest(entities=entities)
        manifest["ledger"] = "ledger.csv"
        ctx = context(write_portfolio(manifest, files))
        asked: list[str] = []
        query = ctx.facts.query
        monkeypatch.setattr(ctx.facts, "query", lambda sql, params=None: (asked.append(sql), query(sql, params))[1])
        finance, marketing = ctx.results("finance").figures, ctx.results("marketing").figures
        found = {
            "booked": (finance["units.booked.e1.2026-10"].value, finance["units.booked.e1.2026-10"].sources),
            "completed": (finance["units.completed.e1.2026-10"].value,
                          finance["units.completed.e1.2026-10"].sources),
            "spend": (marketing["attribution.e1.email.cost"].value, marketing["attribution.e1.email.cost"].sources),
        }  # fmt: skip
        return len(asked), found

    few, found = run(2)
    many, _ = run(6)

    assert many == few
    assert found["booked"] == (4, ("e1.jsonl:1,3",))  # 3 units, then a booking without units counts 1
    assert found["completed"] == (1, ("e1.jsonl:2",))
    assert found["spend"][0] == Decimal(50) and "ledger.csv:5" in found["spend"][1]
