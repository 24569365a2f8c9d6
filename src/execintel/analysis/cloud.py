"""Cloud cost analysis (CTO): spend by month and service, the trend, and savings each with the rule behind it.

All figures read the ``costs`` view (cloud cost rows whose month is on or before the month of ``as_of``).
"The last 3 complete months" are the three calendar months before the month of ``as_of``; a month with no cost
rows counts as 0. Savings come from :data:`RULES`: each looks at one entity's spend on one kind of service over
the last complete months (the bill is by service, so the rules read spend patterns, not resource inventories)
and estimates a monthly saving as a documented share of that spend.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from execintel.analysis.context import Context
from execintel.analysis.model import Figure, Finding, Results, add_months, last_complete_months

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


def _windows(ctx: Context) -> tuple[list[str], list[str]]:
    """(last 3 complete months, the 3 months before them)."""
    recent = list(ctx.complete_months(3))
    return recent, list(last_complete_months(add_months(ctx.as_of, -3), 3))


def _always_on(spend: Spend, ctx: Context, _all: list[Spend]) -> Saving | None:
    recent, _ = _windows(ctx)
    if not IS_ALWAYS_ON(spend.service) or not spend.flat(recent) or spend.average(recent) < MIN_MONTHLY:
        return None
    amount = spend.average(recent) * Decimal("0.35")
    return Saving("always-on-compute", spend, amount, f"35% of the {spend.service} average over {', '.join(recent)}")


def _s3_lifecycle(spend: Spend, ctx: Context, _all: list[Spend]) -> Saving | None:
    recent, before = _windows(ctx)
    growth = spend.growth(recent, before)
    if not IS_S3(spend.service) or growth is None or growth < GROWTH or spend.average(recent) < MIN_MONTHLY:
        return None
    # Stored data only grows, so the bill of 3 months before the last complete month approximates what the data
    # now at least ~90 days old costs; tiering it (Standard-IA / Intelligent-Tiering) cuts its price by ~45%.
    old_month = before[-1]
    old = min(spend.months.get(old_month, ZERO), spend.average(recent))
    amount = old * Decimal("0.45")
    return Saving("s3-lifecycle", spend, amount, f"45% of the {spend.service} spend of {old_month} (data now over "
                  f"~90 days old); spend grew {growth * 100:.1f}% over the previous 3 months")  # fmt: skip


def _log_retention(spend: Spend, ctx: Context, _all: list[Spend]) -> Saving | None:
    recent, before = _windows(ctx)
    growth = spend.growth(recent, before)
    if not IS_LOGS(spend.service) or growth is None or growth < GROWTH or spend.average(recent) < MIN_MONTHLY:
        return None
    amount = spend.average(recent) * Decimal("0.25")
    return Saving("log-retention", spend, amount, f"25% of the {spend.service} average over {', '.join(recent)}; "
                  f"spend grew {growth * 100:.1f}% over the previous 3 months")  # fmt: skip


def _dynamodb_capacity(spend: Spend, ctx: Context, _all: list[Spend]) -> Saving | None:
    recent, _ = _windows(ctx)
    if not IS_DYNAMODB(spend.service) or not spend.flat(recent) or spend.average(recent) < MIN_MONTHLY:
        return None
    amount = spend.average(recent) * Decimal("0.40")
    return Saving("dynamodb-capacity", spend, amount, f"40% of the {spend.service} average over {', '.join(recent)}")


def _idle_network(spend: Spend, ctx: Context, every: list[Spend]) -> Saving | None:
    recent, _ = _windows(ctx)
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


def _cents(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01")))


def slug(service: str) -> str:
    """A figure-id-safe name of a service: ``Amazon EC2`` -> ``amazon-ec2``."""
    return re.sub(r"[^a-z0-9]+", "-", service.lower()).strip("-") or "unknown"


def spends(ctx: Context) -> list[Spend]:
    """Every (entity, service) spend by month, from the ``costs`` view (shared rows have entity None)."""
    rows = ctx.query(
        "SELECT nullif(entity, ''), service, month, sum(amount) FROM costs GROUP BY ALL ORDER BY 1 NULLS LAST, 2, 3"
    )
    out: dict[tuple[str | None, str], dict[str, Decimal]] = {}
    for entity, service, month, amount in rows:
        out.setdefault((entity, service), {})[month] = amount
    return [Spend(entity, service, months) for (entity, service), months in out.items()]


def service_months(ctx: Context) -> dict[str, dict[str, Decimal]]:
    """Spend per service per month (all entities and shared rows together), services by name."""
    rows = ctx.query("SELECT service, month, sum(amount) FROM costs GROUP BY ALL ORDER BY 1, 2")
    out: dict[str, dict[str, Decimal]] = {}
    for service, month, amount in rows:
        out.setdefault(service, {})[month] = amount
    return out


def savings(ctx: Context) -> list[Saving]:
    """Every rule's suggestions, largest saving first."""
    every = spends(ctx)
    found = [s for spend in every for rule in RULES if (s := rule.check(spend, ctx, every)) is not None]
    return sorted(found, key=lambda s: (-s.amount, s.rule, s.spend.entity or "", s.spend.service))


def _month_figures(ctx: Context, results: Results) -> None:
    for month, total in ctx.query("SELECT month, sum(amount) FROM costs GROUP BY month ORDER BY month"):
        results.add(
            Figure(
                f"cloud.spend.month.{month}",
                total,
                ctx.currency,
                f"sum of cloud cost amounts billed for {month}",
                ctx.provenance("FROM costs WHERE month = ?", [month]),
                name=f"Cloud spend {month}",
            )
        )


def _average_figures(ctx: Context, results: Results) -> None:
    recent, before = _windows(ctx)
    months = ", ".join(recent)
    per_month = dict(ctx.query("SELECT month, sum(amount) FROM costs WHERE month IN (?, ?, ?) GROUP BY month", recent))
    if per_month:
        results.add(
            Figure(
                "cloud.spend.monthly",
                sum(per_month.values(), ZERO) / 3,
                ctx.currency,
                f"(sum of cloud cost amounts over {months}) / 3; a month with no rows counts 0",
                ctx.provenance("FROM costs WHERE month IN (?, ?, ?)", recent),
                name="Cloud spend per month (average of the last 3 complete months)",
            )
        )
    earlier = dict(ctx.query("SELECT month, sum(amount) FROM costs WHERE month IN (?, ?, ?) GROUP BY month", before))
    if earlier:
        results.add(
            Figure(
                "cloud.spend.monthly.previous",
                sum(earlier.values(), ZERO) / 3,
                ctx.currency,
                f"(sum of cloud cost amounts over {', '.join(before)}) / 3; a month with no rows counts 0",
                ctx.provenance("FROM costs WHERE month IN (?, ?, ?)", before),
                name="Cloud spend per month, the 3 months before",
            )
        )
    previous_total = sum(earlier.values(), ZERO)
    if per_month and previous_total > 0:
        results.add(
            Figure(
                "cloud.spend.trend",
                sum(per_month.values(), ZERO) / previous_total - 1,
                "ratio",
                f"(sum over {months}) / (sum over {', '.join(before)}) - 1: change of the last 3 complete months' "
                "spend over the 3 months before",
                ctx.provenance("FROM costs WHERE month IN (?, ?, ?, ?, ?, ?)", [*before, *recent]),
                name="Cloud spend trend (last 3 months vs the 3 before)",
            )
        )
    for (service,) in ctx.query("SELECT DISTINCT service FROM costs WHERE month IN (?, ?, ?) ORDER BY 1", recent):
        fid = f"cloud.spend.service.{slug(service)}.monthly"
        if fid in results.figures:  # two spellings with one slug: keep the figure per slug exact
            continue
        same = [s for (s,) in ctx.query("SELECT DISTINCT service FROM costs") if slug(s) == slug(service)]
        marks = ", ".join("?" * len(same))
        amount = ctx.query(f"SELECT sum(amount) FROM costs WHERE month IN (?, ?, ?) AND service IN ({marks})",
                          [*recent, *same])[0][0]  # fmt: skip
        results.add(
            Figure(
                fid,
                amount / 3,
                ctx.currency,
                f"(sum of {' / '.join(same)} cost amounts over {months}) / 3",
                ctx.provenance(f"FROM costs WHERE month IN (?, ?, ?) AND service IN ({marks})", [*recent, *same]),
                name=f"{service} per month (average of the last 3 complete months)",
            )
        )


def _saving_findings(ctx: Context, results: Results) -> None:
    recent, before = _windows(ctx)
    found = savings(ctx)
    months = [*before, *recent]
    refs: list[str] = []
    for saving in found:
        rule = RULES_BY_ID[saving.rule]
        spend = saving.spend
        who = spend.entity or "shared"
        where, who_param = ("entity = ?", [spend.entity]) if spend.entity else ("coalesce(entity, '') = ''", [])
        sources = ctx.provenance(
            f"FROM costs WHERE service = ? AND {where} AND month IN (?, ?, ?, ?, ?, ?)",
            [spend.service, *who_param, *months],
        )
        refs.extend(sources)
        results.find(
            Finding(
                kind="cloud-savings",
                severity="low" if saving.amount >= 5 else "info",
                title=f"{rule.title}: {spend.service} ({who})",
                entity=spend.entity,
                evidence=(
                    f"rule {rule.id}: {rule.condition}",
                    f"estimate: {saving.basis}",
                    *(f"{spend.service} {m}: {_cents(spend.months.get(m, ZERO))} {ctx.currency}" for m in months),
                    *(f"source: {s}" for s in sources),
                ),
                amount=saving.amount,
                subject=f"{rule.id} {spend.service}",
                recommendation=rule.recommendation,
            )
        )
    if found or results.figures.get("cloud.spend.monthly") is not None:
        results.add(
            Figure(
                "cloud.savings.monthly",
                sum((s.amount for s in found), ZERO),
                ctx.currency,
                "sum of the estimated monthly savings of the cloud-savings findings (rules: "
                + ", ".join(r.id for r in RULES)
                + ")",
                tuple(dict.fromkeys(refs)),
                name="Estimated cloud savings per month",
            )
        )


def analyze(ctx: Context) -> Results:
    """Cloud spend by month and service, the 3-month average and trend, and savings suggestions."""
    results = Results()
    if not ctx.query("SELECT 1 FROM costs LIMIT 1"):
        return results
    _month_figures(ctx, results)
    _average_figures(ctx, results)
    _saving_findings(ctx, results)
    return results
