"""Cloud savings rules: each looks at one entity's spend on one kind of service and estimates a monthly saving.

The bill is by service, so the rules read spend patterns over the last complete months, not resource inventories;
each estimates its saving as a documented share of the spend it looks at (docs/reports/cto.md, "Cloud savings").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from execintel.analysis.context import Context
from execintel.analysis.model import add_months, last_complete_months

ZERO = Decimal(0)
# A service whose monthly spend moves by at most this much (max / min over the last 3 complete months) runs
# around the clock at a fixed size: nothing scales it down at night or when traffic drops.
FLAT_RATIO = Decimal("1.10")
# Spend growing by at least this fraction (last 3 complete months over the 3 before) is data piling up.
GROWTH = Decimal("0.05")
# Rules ignore services costing less than this a month (not worth an engineer's hour).
MIN_MONTHLY = Decimal("1")

Matcher = Callable[[str], bool]


def _matcher(pattern: str) -> Matcher:
    regex = re.compile(pattern, re.IGNORECASE)
    return lambda service: bool(regex.search(service))


# Service names as the three cost formats write them (own CSV, FOCUS ServiceName, Cost Explorer SERVICE).
IS_EC2 = _matcher(r"\bEC2\b|Elastic Compute Cloud")
IS_ALWAYS_ON = _matcher(
    r"\bEC2\b|Elastic Compute Cloud|\bRDS\b|Relational Database|ElastiCache|OpenSearch|Elasticsearch|Redshift|"
    r"Lightsail|DocumentDB|Neptune"
)
IS_S3 = _matcher(r"\bS3\b|Simple Storage Service")
IS_LOGS = _matcher(r"CloudWatch")
IS_DYNAMODB = _matcher(r"DynamoDB")
IS_NETWORK_ONLY = _matcher(r"\bVPC\b|Virtual Private Cloud|Elastic IP|NAT Gateway|Public IPv4")
IS_IDLE = _matcher(r"\bidle\b")
IS_COMPUTE = _matcher(
    r"\bEC2\b|Elastic Compute Cloud|\bRDS\b|Relational Database|Lambda|\bECS\b|\bEKS\b|Fargate|Lightsail|"
    r"Elastic Load Balancing|ElastiCache|OpenSearch|App Runner|Elastic Beanstalk"
)


@dataclass(frozen=True)
class Spend:
    """One entity's spend on one service, per month (``YYYY-MM`` -> amount)."""

    entity: str | None
    service: str
    months: dict[str, Decimal]

    def total(self, months: Sequence[str]) -> Decimal:
        """Sum over ``months`` (missing months count 0)."""
        return sum((self.months.get(m, ZERO) for m in months), ZERO)

    def average(self, months: Sequence[str]) -> Decimal:
        """Average over ``months`` (missing months count 0)."""
        return self.total(months) / len(months)

    def flat(self, months: Sequence[str]) -> bool:
        """Billed in every one of ``months`` with max/min within :data:`FLAT_RATIO`."""
        values = [self.months.get(m, ZERO) for m in months]
        return min(values) > 0 and max(values) <= min(values) * FLAT_RATIO

    def growth(self, recent: Sequence[str], before: Sequence[str]) -> Decimal | None:
        """(recent total - before total) / before total; None when nothing was billed before."""
        earlier = self.total(before)
        return None if earlier <= 0 else (self.total(recent) - earlier) / earlier


@dataclass(frozen=True)
class Saving:
    """A suggestion a rule makes for one entity's spend on one service."""

    rule: str
    spend: Spend
    amount: Decimal
    basis: str


@dataclass(frozen=True)
class Rule:
    """An optimisation rule: which spend it looks at, its condition and how it estimates the saving."""

    id: str
    title: str
    condition: str
    estimate: str
    recommendation: str
    check: Callable[[Spend, Context, list[Spend]], Saving | None]


def windows(ctx: Context) -> tuple[list[str], list[str]]:
    """(last 3 complete months, the 3 months before them)."""
    recent = list(ctx.complete_months(3))
    return recent, list(last_complete_months(add_months(ctx.as_of, -3), 3))


def _always_on(spend: Spend, ctx: Context, _all: list[Spend]) -> Saving | None:
    recent, _ = windows(ctx)
    if not IS_ALWAYS_ON(spend.service) or not spend.flat(recent) or spend.average(recent) < MIN_MONTHLY:
        return None
    amount = spend.average(recent) * Decimal("0.35")
    return Saving("always-on-compute", spend, amount, f"35% of the {spend.service} average over {', '.join(recent)}")


def _growing(spend: Spend, ctx: Context) -> tuple[list[str], list[str], Decimal] | None:
    """The windows and the growth of a spend that grew by at least GROWTH and costs at least MIN_MONTHLY."""
    recent, before = windows(ctx)
    growth = spend.growth(recent, before)
    if growth is None or growth < GROWTH or spend.average(recent) < MIN_MONTHLY:
        return None
    return recent, before, growth


def _s3_lifecycle(spend: Spend, ctx: Context, _all: list[Spend]) -> Saving | None:
    grown = _growing(spend, ctx) if IS_S3(spend.service) else None
    if grown is None:
        return None
    recent, before, growth = grown
    # Stored data only grows, so the bill of 3 months before the last complete month approximates what the data
    # now at least ~90 days old costs; tiering it (Standard-IA / Intelligent-Tiering) cuts its price by ~45%.
    old_month = before[-1]
    old = min(spend.months.get(old_month, ZERO), spend.average(recent))
    amount = old * Decimal("0.45")
    return Saving("s3-lifecycle", spend, amount, f"45% of the {spend.service} spend of {old_month} (data now over "
                  f"~90 days old); spend grew {growth * 100:.1f}% over the previous 3 months")  # fmt: skip


def _log_retention(spend: Spend, ctx: Context, _all: list[Spend]) -> Saving | None:
    grown = _growing(spend, ctx) if IS_LOGS(spend.service) else None
    if grown is None:
        return None
    recent, _before, growth = grown
    amount = spend.average(recent) * Decimal("0.25")
    return Saving("log-retention", spend, amount, f"25% of the {spend.service} average over {', '.join(recent)}; "
                  f"spend grew {growth * 100:.1f}% over the previous 3 months")  # fmt: skip


def _dynamodb_capacity(spend: Spend, ctx: Context, _all: list[Spend]) -> Saving | None:
    recent, _ = windows(ctx)
    if not IS_DYNAMODB(spend.service) or not spend.flat(recent) or spend.average(recent) < MIN_MONTHLY:
        return None
    amount = spend.average(recent) * Decimal("0.40")
    return Saving("dynamodb-capacity", spend, amount, f"40% of the {spend.service} average over {', '.join(recent)}")


def _idle_network(spend: Spend, ctx: Context, every: list[Spend]) -> Saving | None:
    recent, _ = windows(ctx)
    if not IS_NETWORK_ONLY(spend.service) and not IS_IDLE(spend.service):
        return None
    if spend.average(recent) <= 0:
        return None
    compute = any(
        s.entity == spend.entity and IS_COMPUTE(s.service) and s.total(recent) > 0 for s in every if s is not spend
    )
    if compute and not IS_IDLE(spend.service):
        return None
    why = "the service name says idle" if IS_IDLE(spend.service) else "no compute is billed to the same entity"
    return Saving("idle-network", spend, spend.average(recent), f"all of the {spend.service} average over "
                  f"{', '.join(recent)}: {why}")  # fmt: skip


RULES: tuple[Rule, ...] = (
    Rule(
        "always-on-compute",
        "Always-on compute could be reserved or scheduled",
        "an EC2, RDS, ElastiCache, OpenSearch, Redshift, Lightsail, DocumentDB or Neptune line billed in each of the "
        "last 3 complete months with max/min <= 1.10 (a fixed size running around the clock), >= 1 a month",
        "35% of its monthly average: a 1-year Savings Plan or reservation saves ~30-40%; a business-hours schedule "
        "for non-production saves more",
        "Buy a 1-year Savings Plan / reserved instance for what must run 24/7; stop non-production instances "
        "outside working hours (Instance Scheduler).",
        _always_on,
    ),
    Rule(
        "s3-lifecycle",
        "S3 storage keeps growing with no lifecycle rule",
        "S3 spend of the last 3 complete months at least 5% above the 3 months before (stored data piling up), "
        ">= 1 a month",
        "45% of the spend of the month 3 months before the last complete month (approximately what data now over "
        "~90 days old costs; Standard-IA / Intelligent-Tiering store it ~45% cheaper)",
        "Add a lifecycle rule: move objects older than 30-90 days to Intelligent-Tiering or Standard-IA, expire "
        "old versions and incomplete uploads, archive backups to Glacier.",
        _s3_lifecycle,
    ),
    Rule(
        "dynamodb-capacity",
        "DynamoDB spend is flat: capacity looks provisioned, not following traffic",
        "DynamoDB billed in each of the last 3 complete months with max/min <= 1.10, >= 1 a month",
        "40% of its monthly average (on-demand or auto scaling for a table provisioned above its traffic)",
        "Check the tables' consumed vs provisioned capacity; switch quiet tables to on-demand or enable auto scaling.",
        _dynamodb_capacity,
    ),
    Rule(
        "log-retention",
        "CloudWatch spend keeps growing: logs are probably kept forever",
        "CloudWatch spend of the last 3 complete months at least 5% above the 3 months before, >= 1 a month",
        "25% of its monthly average (log storage that a 30-90 day retention would expire)",
        "Set a retention period on every log group (30-90 days) and export what must be kept to S3.",
        _log_retention,
    ),
    Rule(
        "idle-network",
        "Network resources billed with nothing to serve",
        "VPC / Elastic IP / NAT gateway / public IPv4 spend of an entity with no compute billed in the last 3 "
        "complete months, or a service line named idle",
        "all of its monthly average",
        "Release unattached Elastic IPs and delete NAT gateways and VPC endpoints nothing uses.",
        _idle_network,
    ),
)
RULES_BY_ID = {rule.id: rule for rule in RULES}
