"""Contact lists: 3,676 rows across four entities (the seeds' email database), with realistic noise.

Noise a CMO report should catch: syntactically invalid addresses (no dot in
the domain, a space, two @), addresses repeated with different case inside
one list, and addresses listed by two entities. Every address is at
example.com or example.org.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import NamedTuple

from execintel.config.models import is_valid_email
from execintel.demo.common import AS_OF, rng, write_csv

HEADER = ("email", "name", "source", "subscribed", "last_engaged", "segment")
_FIRST_NAMES = """
Alex Avery Blake Cameron Casey Charlie Dakota Drew Elliot Emerson Finley Gray Harper Hayden Jamie
Jesse Jordan Kai Kendall Lane Logan Marley Morgan Noel Parker Peyton Quinn Reese Riley Robin Rowan
Sage Sawyer Skyler Spencer Sydney Taylor Tatum Val Wren
"""
FIRST = tuple(_FIRST_NAMES.split())
_LAST_NAMES = """
Abbott Bishop Carver Dalton Ellis Fischer Garner Hale Ingram Jensen Keller Lowe Mercer Nash Ortiz
Pruitt Quintana Rhodes Salazar Tate Underwood Vance Walsh Yates Zimmer Barrow Coleman Delgado Foster
Hughes
"""
LAST = tuple(_LAST_NAMES.split())


class ListSpec(NamedTuple):
    """How one entity's contact list is made."""

    entity: str
    rows: int
    sources: tuple[str, ...]
    segments: tuple[str, ...]
    invalid: int  # syntactically invalid addresses
    case_duplicates: int  # repeats of an earlier row of the same list with different case
    shared_from: tuple[str, int] | None  # (entity, n): n addresses also on that entity's list


LISTS = (
    ListSpec(
        "qosd",
        3200,
        ("website", "charter", "event", "import"),
        ("corporate", "wedding", "tourist", "local", "celebration"),
        invalid=31,
        case_duplicates=24,
        shared_from=None,
    ),
    ListSpec(
        "jada",
        150,
        ("signup", "import"),
        ("subscriber", "trial", "lapsed"),
        invalid=3,
        case_duplicates=2,
        shared_from=("qosd", 6),
    ),
    ListSpec(
        "quickdumpnow",
        236,
        ("website", "referral", "phone"),
        ("residential", "commercial"),
        invalid=6,
        case_duplicates=3,
        shared_from=("qosd", 18),
    ),
    ListSpec(
        "dangerouscentaur",
        90,
        ("website", "referral"),
        ("client", "prospect", "newsletter"),
        invalid=2,
        case_duplicates=1,
        shared_from=("jada", 5),
    ),
)
TOTAL_ROWS = sum(spec.rows for spec in LISTS)  # 3,676


class _Addresses:
    """Unique, plausible example.com / example.org addresses."""

    def __init__(self, rand: random.Random) -> None:
        self.rand = rand
        self.seen: set[str] = set()

    def person(self) -> tuple[str, str]:
        """(address, name) of a new person."""
        rand = self.rand
        while True:
            first, last = rand.choice(FIRST), rand.choice(LAST)
            style = rand.randrange(4)
            local = (f"{first}.{last}", f"{first}{last[0]}", f"{first[0]}{last}", f"{first}_{last}")[style].lower()
            if rand.random() < 0.45:
                local += str(rand.randint(1, 99))
            domain = "example.com" if rand.random() < 0.7 else "example.org"
            address = f"{local}@{domain}"
            if address not in self.seen:
                self.seen.add(address)
                return address, f"{first} {last}"


def _invalid(address: str, rand: random.Random) -> str:
    local, domain = address.split("@")
    kind = rand.randrange(3)
    if kind == 0:
        return f"{local}@{domain.split('.')[0]}"  # no dot in the domain
    if kind == 1:
        return f"{local[:3]} {local[3:]}@{domain}"  # a space
    return f"{local}@@{domain}"


def _recase(address: str, rand: random.Random) -> str:
    local, domain = address.split("@")
    variant = local.capitalize() if rand.random() < 0.6 else local.upper()
    return f"{variant}@{domain}" if variant != local else f"{local}@{domain.upper()}"


def _engaged(rand: random.Random) -> str:
    if rand.random() < 0.12:
        return ""
    if rand.random() < 0.2:
        return (AS_OF - dt.timedelta(days=rand.randint(0, 89))).isoformat()
    return (AS_OF - dt.timedelta(days=rand.randint(90, 1400))).isoformat()


def build_contacts() -> dict[str, list[list[str]]]:
    """The rows of every entity's contacts CSV, by entity."""
    rand = rng("contacts")
    pool = _Addresses(rand)
    lists: dict[str, list[list[str]]] = {}
    for spec in LISTS:
        rows: list[list[str]] = []
        if spec.shared_from is not None:
            other, count = spec.shared_from
            for row in rand.sample([r for r in lists[other] if is_valid_email(r[0])], count):
                rows.append(
                    [row[0], row[1], rand.choice(spec.sources), "true", _engaged(rand), rand.choice(spec.segments)]
                )
        fresh = spec.rows - len(rows) - spec.case_duplicates
        for _ in range(fresh):
            address, name = pool.person()
            rows.append(
                [
                    address,
                    name,
                    rand.choice(spec.sources),
                    "true" if rand.random() < 0.82 else "false",
                    _engaged(rand),
                    rand.choice(spec.segments),
                ]
            )
        for index in rand.sample(range(len(rows) - fresh, len(rows)), spec.invalid):
            rows[index][0] = _invalid(rows[index][0], rand)
        for original in rand.sample([r for r in rows if is_valid_email(r[0])], spec.case_duplicates):
            position = rand.randint(rows.index(original) + 1, len(rows))
            copy = [
                _recase(original[0], rand),
                original[1],
                rand.choice(spec.sources),
                original[3],
                _engaged(rand),
                original[5],
            ]
            rows.insert(position, copy)
        lists[spec.entity] = rows
    return lists


def write_contacts(root: Path, lists: dict[str, list[list[str]]]) -> None:
    """Write ``data/<entity>/contacts.csv`` for every list."""
    for entity, rows in lists.items():
        write_csv(root / "data" / entity / "contacts.csv", HEADER, rows)
