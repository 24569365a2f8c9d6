"""Synthetic portfolios of any size, written to the input contract (CONTRACT.md).

``make_portfolio(target, entities=10, ledger_rows=1_000_000, ...)`` writes a
``portfolio.yaml`` with its ledger CSV (one portfolio-wide file, or one per
entity), an events JSONL file and a contacts CSV per entity. Every row is
valid, so the portfolio loads with zero errors; the data still has the rough
edges real exports have: quoted descriptions with commas, quotes and line
breaks, extra event attributes, contacts with invalid or duplicate
addresses (which the contract counts, not refuses).

The same arguments and seed always give byte-identical files.

Command line::

    .venv/bin/python benchmarks/synth.py benchmarks/.data/small --entities 3 --ledger-rows 500
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

Layout = Literal["portfolio", "entity"]
AS_OF = dt.date(2026, 11, 15)
DAYS = 730  # two years of history before AS_OF
COMPLETE_MARKER = ".synth.json"
# Bumped whenever the same arguments write different files: a cached portfolio of an older generator is rewritten.
# 2: ledger rows in date order.
GENERATOR = 2

# (account, sign, low, high, needs a receipt): signs follow the cash convention.
_ACCOUNTS: tuple[tuple[str, int, int, int, bool], ...] = (
    ("Income:Sales", 1, 20, 4_000, False),
    ("Income:Charters", 1, 800, 2_500, False),
    ("Income:Subscriptions", 1, 10, 300, False),
    ("Expenses:COGS:Materials", -1, 5, 900, True),
    ("Expenses:COGS:Crew", -1, 100, 700, True),
    ("Expenses:Rent", -1, 1_000, 3_000, True),
    ("Expenses:Software", -1, 5, 400, True),
    ("Expenses:Marketing", -1, 20, 1_500, True),
    ("Expenses:Uncategorized", -1, 1, 200, True),
    ("Assets:Equipment", -1, 500, 6_000, True),
    ("Liabilities:Loan", 1, 1_000, 20_000, False),
)
_ACCOUNT_WEIGHTS = (30, 8, 20, 12, 6, 1, 6, 5, 2, 1, 1)
_COUNTERPARTIES = ("Harbor Supply", "Crew Co", "Acme Software", "City Utilities", "Blue Ads", "Walk-in", "")
_DESCRIPTIONS = ("Sale", "Charter", "Monthly plan", "Supplies", "Crew wages", "Rent", "SaaS seat", "Ad spend")
_ODD_DESCRIPTIONS = ("Refund, partial", 'Said "thanks", paid cash', "Two-line\nnote from the bank", "Café crème")
_EVENT_TYPES = ("lead", "signup", "booking", "cancellation", "completion", "login", "nps", "churn", "page_view")
_EVENT_WEIGHTS = (15, 10, 20, 3, 15, 25, 5, 2, 5)
_CHANNELS = ("direct", "ota", "email", "seo", "social", "paid", "referral")
_SEGMENTS = ("corporate", "family", "tourist", "local", "smb")
_SOURCES = ("web", "import", "event", "referral")
_DOMAINS = ("example.com", "example.org", "mail.example.net", "corp.example.io")


@dataclass(frozen=True)
class Portfolio:
    """What :func:`make_portfolio` wrote: the manifest and the row counts per kind."""

    manifest: Path
    entities: int
    ledger_rows: int
    events: int
    contacts: int
    seed: int
    layout: Layout

    @property
    def rows(self) -> int:
        """Every data row written (the opening balances are among the ledger rows)."""
        return self.ledger_rows + self.events + self.contacts


def _split(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal counts."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _entity_ids(count: int) -> list[str]:
    return [f"e{i:03d}" for i in range(1, count + 1)]


def _ledger_rows(rng: random.Random, entity_ids: list[str], counts: list[int]) -> Iterator[list[str]]:
    """Ledger rows (entity first) of several entities, interleaved, in date order; opening balances lead.

    In date order as bank exports and ledgers are: a window of dates is then a run of lines, and its provenance
    a few line ranges (rows in random date order cut every window into thousands of ranges, a cost and an output
    size no real ledger has).
    """
    start = AS_OF - dt.timedelta(days=DAYS)
    for entity, count in zip(entity_ids, counts, strict=True):
        if count:
            yield [start.isoformat(), entity, "Equity:Opening-Balances", "250000.00", "Opening balance", "", "", ""]
    remaining = [max(0, c - 1) for c in counts]
    dates = [(start + dt.timedelta(days=d)).isoformat() for d in range(1, DAYS + 1)]
    choices, randrange, random_ = rng.choices, rng.randrange, rng.random
    order = [i for i, left in enumerate(remaining) for _ in range(left)]
    rng.shuffle(order)
    accounts = choices(_ACCOUNTS, weights=_ACCOUNT_WEIGHTS, k=len(order))
    days = [randrange(DAYS) for _ in order]
    chronological = sorted(range(len(order)), key=days.__getitem__)  # stable: same-day rows keep their draw order
    for row in chronological:
        i, (account, sign, low, high, needs_receipt), day = order[row], accounts[row], days[row]
        cents = randrange(low * 100, high * 100)
        amount = f"{'-' if sign < 0 else ''}{cents // 100}.{cents % 100:02d}"
        roll = random_()
        description = (
            _ODD_DESCRIPTIONS[randrange(len(_ODD_DESCRIPTIONS))]
            if roll < 0.001
            else _DESCRIPTIONS[randrange(len(_DESCRIPTIONS))]
        )
        service = ""
        if sign > 0 and account.startswith("Income") and roll > 0.9:
            service = dates[min(DAYS - 1, day + 30)]
        receipt = f"R-{randrange(1_000_000):06d}" if needs_receipt and roll > 0.05 else ""
        counterparty = _COUNTERPARTIES[randrange(len(_COUNTERPARTIES))]
        yield [dates[day], entity_ids[i], account, amount, description, counterparty, service, receipt]


def _write_ledger(path: Path, rows: Iterator[list[str]], with_entity: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        header = ["date", "entity", "account", "amount", "description", "counterparty", "service_date", "receipt"]
        writer.writerow(header if with_entity else header[:1] + header[2:])
        if with_entity:
            writer.writerows(rows)
        else:
            writer.writerows(row[:1] + row[2:] for row in rows)


def _write_events(path: Path, rng: random.Random, entity: str, count: int) -> None:
    start = dt.datetime.combine(AS_OF - dt.timedelta(days=DAYS), dt.time(), tzinfo=dt.UTC)
    span = DAYS * 86_400
    randrange, random_ = rng.randrange, rng.random
    kinds = rng.choices(_EVENT_TYPES, weights=_EVENT_WEIGHTS, k=count)
    dumps = json.dumps
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        lines: list[str] = []
        for kind in kinds:
            ts = (start + dt.timedelta(seconds=randrange(span))).strftime("%Y-%m-%dT%H:%M:%SZ")
            item: dict[str, Any] = {"ts": ts, "entity": entity, "type": kind, "customer": f"c-{randrange(50_000)}"}
            if kind in ("booking", "cancellation", "completion"):
                item["amount"] = randrange(50, 3_000) if random_() < 0.5 else round(randrange(5_000, 300_000) / 100, 2)
                item["units"] = 1 + randrange(3)
            if kind == "nps":
                item["score"] = randrange(11)
            item["channel"] = _CHANNELS[randrange(len(_CHANNELS))]
            item["segment"] = _SEGMENTS[randrange(len(_SEGMENTS))]
            if random_() < 0.05:
                item["job"] = f"J-{randrange(10_000)}"
            lines.append(dumps(item))
            if len(lines) >= 10_000:
                handle.write("\n".join(lines) + "\n")
                lines.clear()
        if lines:
            handle.write("\n".join(lines) + "\n")


def _write_contacts(path: Path, rng: random.Random, entity_index: int, count: int) -> None:
    randrange, random_ = rng.randrange, rng.random
    start = AS_OF - dt.timedelta(days=DAYS)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["email", "name", "source", "subscribed", "last_engaged", "segment"])
        recent: list[str] = []
        for n in range(count):
            roll = random_()
            if roll < 0.01 and recent:
                email = recent[randrange(len(recent))].upper()  # a case-insensitive duplicate
            elif roll < 0.015:
                email = f"broken{entity_index}-{n}@localhost"  # kept, but not a valid address
            else:
                email = f"person{entity_index}.{n}@{_DOMAINS[randrange(len(_DOMAINS))]}"
                if len(recent) < 1_000:
                    recent.append(email)
            engaged = "" if roll > 0.7 else (start + dt.timedelta(days=randrange(DAYS))).isoformat()
            writer.writerow([
                email, f"Person {entity_index}-{n}", _SOURCES[randrange(len(_SOURCES))],
                "true" if roll < 0.6 else "false", engaged, _SEGMENTS[randrange(len(_SEGMENTS))],
            ])  # fmt: skip


def _manifest(entity_ids: list[str], layout: Layout, counts: dict[str, list[int]]) -> dict[str, Any]:
    entities: list[dict[str, Any]] = []
    for i, ident in enumerate(entity_ids):
        entity: dict[str, Any] = {
            "id": ident,
            "name": f"Synthetic Business {i + 1}",
            "kind": "synthetic",
            "status": "active",
            "domains": [f"{ident}.example.com"],
            "revenue_model": "per_unit",
            "unit_economics": {"unit": "order", "price": 120, "variable_cost": 45, "capacity_per_month": 900},
        }
        if layout == "entity" and counts["ledger"][i]:
            entity["ledger"] = f"data/{ident}/ledger.csv"
        if counts["events"][i]:
            entity["events"] = f"data/{ident}/events.jsonl"
        if counts["contacts"][i]:
            entity["contacts"] = f"data/{ident}/contacts.csv"
        entities.append(entity)
    manifest: dict[str, Any] = {
        "version": 1,
        "portfolio": {"name": "Synthetic Holdings", "currency": "USD", "timezone": "UTC", "as_of": AS_OF},
        "sender": "reports@example.com",
        "stakeholders": [{"id": "ceo", "name": "Casey Rivera", "email": "ceo@example.com", "roles": ["ceo"]}],
        "entities": entities,
    }
    if layout == "portfolio" and sum(counts["ledger"]):
        manifest["ledger"] = "data/ledger.csv"
    return manifest


def make_portfolio(
    target: Path | str,
    *,
    entities: int = 10,
    ledger_rows: int = 1_000_000,
    events: int = 200_000,
    contacts: int = 100_000,
    seed: int = 2026,
    layout: Layout = "portfolio",
) -> Portfolio:
    """Write a contract-conformant synthetic portfolio into ``target``; return what was written.

    ``layout="portfolio"`` writes one portfolio-wide ledger with an ``entity``
    column; ``"entity"`` writes one ledger per entity. Rows are spread evenly
    over the entities; each entity's ledger starts with an opening balance.
    """
    if entities < 1:
        raise ValueError("a portfolio needs at least one entity")
    root = Path(target)
    root.mkdir(parents=True, exist_ok=True)
    (root / COMPLETE_MARKER).unlink(missing_ok=True)
    rng = random.Random(seed)
    ids = _entity_ids(entities)
    counts = {
        "ledger": _split(ledger_rows, entities),
        "events": _split(events, entities),
        "contacts": _split(contacts, entities),
    }
    if layout == "portfolio":
        if ledger_rows:
            _write_ledger(root / "data" / "ledger.csv", _ledger_rows(rng, ids, counts["ledger"]), with_entity=True)
    else:
        for ident, count in zip(ids, counts["ledger"], strict=True):
            if count:
                rows = _ledger_rows(rng, [ident], [count])
                _write_ledger(root / "data" / ident / "ledger.csv", rows, with_entity=False)
    for i, ident in enumerate(ids):
        if counts["events"][i]:
            _write_events(root / "data" / ident / "events.jsonl", rng, ident, counts["events"][i])
        if counts["contacts"][i]:
            _write_contacts(root / "data" / ident / "contacts.csv", rng, i + 1, counts["contacts"][i])
    manifest = root / "portfolio.yaml"
    manifest.write_text(yaml.safe_dump(_manifest(ids, layout, counts), sort_keys=False), encoding="utf-8")
    written = Portfolio(manifest, entities, ledger_rows, events, contacts, seed, layout)
    # Written last: a folder with this marker holds a complete portfolio made with these arguments.
    (root / COMPLETE_MARKER).write_text(json.dumps(_description(written), sort_keys=True), encoding="utf-8")
    return written


def _description(portfolio: Portfolio) -> dict[str, Any]:
    """What the completion marker records: the arguments and the generator's version."""
    return {"generator": GENERATOR, **{k: v for k, v in asdict(portfolio).items() if k != "manifest"}}


def cached_portfolio(
    target: Path | str,
    *,
    entities: int = 10,
    ledger_rows: int = 1_000_000,
    events: int = 200_000,
    contacts: int = 100_000,
    seed: int = 2026,
    layout: Layout = "portfolio",
) -> tuple[Portfolio, bool]:
    """The portfolio in ``target`` if it was made with these arguments, else a new one; and whether it was reused."""
    root = Path(target)
    wanted = Portfolio(root / "portfolio.yaml", entities, ledger_rows, events, contacts, seed, layout)
    marker = root / COMPLETE_MARKER
    try:
        if json.loads(marker.read_text(encoding="utf-8")) == _description(wanted):
            return wanted, True
    except (OSError, ValueError):
        pass
    made = make_portfolio(
        root, entities=entities, ledger_rows=ledger_rows, events=events, contacts=contacts, seed=seed, layout=layout
    )
    return made, False


def main(argv: list[str] | None = None) -> None:
    """Write a synthetic portfolio from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("target", type=Path, help="folder to write portfolio.yaml and data/ into")
    parser.add_argument("--entities", type=int, default=10)
    parser.add_argument("--ledger-rows", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--layout", choices=("portfolio", "entity"), default="portfolio")
    args = parser.parse_args(argv)
    made = make_portfolio(
        args.target,
        entities=args.entities,
        ledger_rows=args.ledger_rows,
        events=args.events,
        contacts=args.contacts,
        seed=args.seed,
        layout=args.layout,
    )
    print(f"wrote {made.manifest} ({made.rows:,} rows)")


if __name__ == "__main__":
    main()
