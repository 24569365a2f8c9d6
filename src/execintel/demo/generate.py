"""Write the whole demo portfolio into a folder, the same bytes and git SHAs on every machine."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from execintel.demo.cash import fund, write_beancount
from execintel.demo.charters import build_qosd
from execintel.demo.clients import build_clients, build_dangerouscentaur
from execintel.demo.common import Book, Event, write_jsonl, write_ledger_csv, write_text
from execintel.demo.contacts import build_contacts, write_contacts
from execintel.demo.costs import cost_lines, monthly_totals, write_costs
from execintel.demo.delivery import build_delivery
from execintel.demo.handoffs import write_handoffs
from execintel.demo.manifest import MANIFEST
from execintel.demo.rental import build_rental
from execintel.demo.repos import build_repos, make_secrets
from execintel.demo.ventures import build_jada, build_quickdumpnow

MANIFEST_NAME = "portfolio.yaml"
BEANCOUNT_ENTITIES = {"rental-3028": "3028 51st St Rental"}


def _aws_bills(totals: dict[str, Decimal]) -> dict[dt.date, Decimal]:
    return {dt.date(int(month[:4]), int(month[5:]), 1): amount for month, amount in totals.items()}


def generate_demo(target: Path) -> Path:
    """Write the demo portfolio into ``target`` (created if needed) and return its manifest's path."""
    target.mkdir(parents=True, exist_ok=True)
    data = target / "data"
    lines = cost_lines()
    write_costs(data / "aws-costs.csv", lines)
    books: dict[str, Book] = {}
    events: dict[str, list[Event]] = {}
    books["qosd"], events["qosd"] = build_qosd(_aws_bills(monthly_totals(lines)))
    books["jada"], events["jada"] = build_jada()
    books["quickdumpnow"], events["quickdumpnow"] = build_quickdumpnow()
    books["rental-3028"], events["rental-3028"] = build_rental()
    books["yacht-delivery"], events["yacht-delivery"] = build_delivery()
    books["dc-clients"], events["dc-clients"] = build_clients()
    events["dangerouscentaur"] = build_dangerouscentaur()
    fund(books)
    for entity, book in books.items():
        if entity in BEANCOUNT_ENTITIES:
            write_beancount(data / entity / "ledger.beancount", book, BEANCOUNT_ENTITIES[entity])
        else:
            write_ledger_csv(data / entity / "ledger.csv", book.rows)
    for entity, items in events.items():
        write_jsonl(data / entity / "events.jsonl", items)
    write_contacts(target, build_contacts())
    write_handoffs(target / "handoffs")
    build_repos(target / "repos", make_secrets())
    manifest = target / MANIFEST_NAME
    write_text(manifest, MANIFEST)
    return manifest
