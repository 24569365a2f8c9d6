"""The portfolio manifest as frozen, typed models (CONTRACT.md section 1)."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

# A number written as text must look like one in the docs: ASCII digits, no digit separators. pydantic's Decimal
# would read '1_000' as 1000 and '١٢٣' (Arabic-Indic digits) as 123.
_PLAIN_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")
_PLAIN_WHOLE = re.compile(r"[-+]?[0-9]+\Z")


def _plain_number(value: object) -> object:
    if isinstance(value, str) and not _PLAIN_NUMBER.match(value.strip()):
        raise ValueError(f"must be a number, not {value!r}")
    return value


def _plain_whole(value: object) -> object:
    if isinstance(value, str) and not _PLAIN_WHOLE.match(value.strip()):
        raise ValueError(f"must be a whole number, not {value!r}")
    return value


Number = Annotated[Decimal, BeforeValidator(_plain_number)]
Whole = Annotated[int, BeforeValidator(_plain_whole)]
ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
Id = Annotated[str, Field(pattern=ID_PATTERN, min_length=1, max_length=64)]
NonEmpty = Annotated[str, Field(min_length=1)]
Fraction = Annotated[Number, Field(ge=0, le=1)]
NonNegative = Annotated[Number, Field(ge=0)]

# RFC 5322 addr-spec (dot-atom local part or quoted string) with a dotted domain.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = rf"(?:{_ATOM}(?:\.{_ATOM})*|\"(?:[^\"\\\r\n]|\\.)*\")"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_RE = re.compile(rf"{_LOCAL}@{_LABEL}(?:\.{_LABEL})+")


def is_valid_email(address: str) -> bool:
    """True when ``address`` is an RFC 5322 addr-spec whose domain has a dot."""
    return len(address) <= 254 and EMAIL_RE.fullmatch(address) is not None


def _check_email(value: str) -> str:
    if not is_valid_email(value):
        raise ValueError(f"{value!r} is not an email address like name@example.com")
    return value


Email = Annotated[str, AfterValidator(_check_email)]

ROLES = ("ceo", "cto", "cfo", "cmo", "accounting", "admin")
REPORT_IDS = (
    "ceo", "cto", "cfo", "cmo", "accounting",
    "property", "delivery-ops", "billing-audit", "daily",
)  # fmt: skip


class Model(BaseModel):
    """Base of every manifest model: immutable, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class PortfolioInfo(Model):
    """The portfolio's name, currency, time zone and report date."""

    name: NonEmpty
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    timezone: str = "UTC"
    as_of: dt.date | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like America/Los_Angeles)") from None
        return value


class Stakeholder(Model):
    """A person who receives reports."""

    id: Id
    name: NonEmpty
    email: Email
    roles: tuple[NonEmpty, ...] = ()


class UnitEconomics(Model):
    """What one unit sells for and costs; enables break-even."""

    unit: NonEmpty = "unit"
    price: NonNegative
    variable_cost: NonNegative = Decimal(0)
    capacity_per_month: Annotated[Whole, Field(ge=0)] | None = None


class StackItem(Model):
    """One system of an entity, for the CTO inventory."""

    name: NonEmpty
    components: tuple[NonEmpty, ...] = ()
    environments: tuple[NonEmpty, ...] = ()
    deploy: Literal["manual", "ci"] | None = None
    auth: Literal["jwt", "magic-link", "oauth", "none"] | None = None
    waf: bool | None = None
    rate_limit: bool | None = None


class Channel(Model):
    """A marketing channel of an entity."""

    name: NonEmpty
    kind: Literal["ota", "email", "seo", "social", "paid", "referral", "direct"]
    status: Literal["live", "planned", "none"] = "planned"
    audience: Annotated[Whole, Field(ge=0)] | None = None
    commission: Fraction | None = None
    direct_booking_likelihood: Fraction | None = None


class EquityLine(Model):
    """An equity holding in an entity."""

    holder: NonEmpty
    percent: Annotated[Number, Field(gt=0, le=100)]
    agreement: Literal["signed", "unsigned"]


class Debt(Model):
    """Money an entity owes."""

    lender: NonEmpty
    principal: NonNegative
    board_approved: bool = False


class Opportunity(Model):
    """An open sales opportunity."""

    name: NonEmpty
    value: NonNegative
    stage: NonEmpty = "lead"


class Entity(Model):
    """One business of the portfolio and where its data lives."""

    id: Id
    name: NonEmpty
    kind: str = ""
    status: Literal["active", "paused", "planned"] = "active"
    domains: tuple[NonEmpty, ...] = ()
    revenue_model: Literal["per_unit", "subscription", "retainer", "rental", "none"] | None = None
    unit_economics: UnitEconomics | None = None
    ledger: NonEmpty | None = None
    events: NonEmpty | None = None
    contacts: NonEmpty | None = None
    repos: tuple[NonEmpty, ...] = ()
    stack: tuple[StackItem, ...] = ()
    channels: tuple[Channel, ...] = ()
    equity: tuple[EquityLine, ...] = ()
    debts: tuple[Debt, ...] = ()
    pipeline: tuple[Opportunity, ...] = ()


class ActionDays(Model):
    """Days from ``as_of`` to an action's due date, by the action's severity (info findings get no action)."""

    critical: Annotated[Whole, Field(ge=0)] = 2
    high: Annotated[Whole, Field(ge=0)] = 14
    medium: Annotated[Whole, Field(ge=0)] = 30
    low: Annotated[Whole, Field(ge=0)] = 90


class Policies(Model):
    """Financial and delivery rules the portfolio holds itself to."""

    min_runway_days: Annotated[Whole, Field(ge=0)] | None = None
    capitalize_above: NonNegative | None = None
    cash_review: Literal["daily", "weekly", "monthly"] | None = None
    debt_requires_board_approval: bool = False
    daily_send_limit: Annotated[Whole, Field(ge=1)] = 200
    send_rate_per_second: Annotated[Number, Field(gt=0)] | None = None
    action_days: ActionDays = ActionDays()
    max_source_age_days: Annotated[Whole, Field(ge=0)] = 7


class RetryPolicy(Model):
    """How often and how patiently a schedule retries a delivery that failed for a passing reason."""

    attempts: Annotated[Whole, Field(ge=1, le=20)] = 3
    initial_delay: Annotated[Number, Field(ge=0, le=3600)] = Decimal(2)
    max_delay: Annotated[Number, Field(ge=0, le=86400)] = Decimal(60)


DAILY_RETRY = RetryPolicy(attempts=3, initial_delay=Decimal(1), max_delay=Decimal(30))
WEEKLY_RETRY = RetryPolicy(attempts=5, initial_delay=Decimal(5), max_delay=Decimal(300))


class Schedule(Model):
    """When reports go out, and to whom."""

    id: Id
    cron: NonEmpty
    reports: tuple[NonEmpty, ...] = Field(min_length=1)
    to: tuple[Id, ...] | None = None
    retry: RetryPolicy | None = None

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from croniter import croniter  # noqa: PLC0415 - only manifests with schedules need it

        if len(value.split()) != 5:
            raise ValueError(f"cron {value!r} must have 5 fields: minute hour day month weekday")
        if not croniter.is_valid(value):
            raise ValueError(f"cron {value!r} is not a valid cron expression (minute hour day month weekday)")
        return value

    @property
    def retry_policy(self) -> RetryPolicy:
        """The schedule's retry policy: its own, else the default of its cadence (daily or less often)."""
        if self.retry is not None:
            return self.retry
        _minute, _hour, day, month, weekday = self.cron.split()
        return DAILY_RETRY if day == "*" and month == "*" and weekday == "*" else WEEKLY_RETRY


class Manifest(Model):
    """A whole ``portfolio.yaml``."""

    version: Literal[1]
    portfolio: PortfolioInfo
    sender: Email
    audit_mailbox: Email | None = None
    stakeholders: tuple[Stakeholder, ...] = Field(min_length=1)
    entities: tuple[Entity, ...] = Field(min_length=1)
    ledger: NonEmpty | None = None
    cloud_costs: NonEmpty | None = None
    handoffs: NonEmpty | None = None
    policies: Policies = Policies()
    schedules: tuple[Schedule, ...] = ()
    # finding kind or area (see execintel.config.areas) -> the stakeholder id who owns its actions
    owners: dict[str, Id] = Field(default_factory=dict)

    def entity(self, entity_id: str) -> Entity:
        """The entity with this id (KeyError when there is none)."""
        for entity in self.entities:
            if entity.id == entity_id:
                return entity
        raise KeyError(entity_id)

    @property
    def entity_ids(self) -> tuple[str, ...]:
        """Ids of all entities, in manifest order."""
        return tuple(e.id for e in self.entities)
