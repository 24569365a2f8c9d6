"""Cloud cost analysis (CTO): spend by month, service and entity, the trend, what the data covers, and savings.

All figures read the ``costs`` view (cloud cost rows whose month is on or before the month of ``as_of`` and whose
charge period, when the source gives one, starts before ``as_of`` ends). "The last 3 complete months" are the three
calendar months before the month of ``as_of``; a month with no cost rows counts as 0, as CONTRACT section 7 defines
the average. Because a month the export does not reach also counts 0, the analysis says how many of those months
the data covers (``cloud.coverage.months``, a ``cloud-costs-partial`` finding). Savings come from
:data:`~execintel.analysis.cloud_rules.RULES`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from execintel.analysis.cloud_rules import RULES, RULES_BY_ID, Saving, Spend, windows
from execintel.analysis.context import Context
from execintel.analysis.model import Figure, Finding, Results
from execintel.formatting import money

ZERO = Decimal(0)
SHARED = "shared"  # how cost rows without an entity are named in figure ids and tables


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


def entity_months(ctx: Context) -> dict[str | None, dict[str, Decimal]]:
    """Spend per entity per month (None: shared rows, those without an entity), entities in manifest order."""
    rows = ctx.query("SELECT nullif(entity, ''), month, sum(amount) FROM costs GROUP BY ALL ORDER BY 2")
    order = {e: i for i, e in enumerate(ctx.entities)}
    out: dict[str | None, dict[str, Decimal]] = {}
    for entity, month, amount in sorted(rows, key=lambda r: (r[0] is None, order.get(r[0], len(order)), r[0] or "")):
        out.setdefault(entity, {})[month] = amount
    return out


@dataclass(frozen=True)
class Coverage:
    """The months the cost data spans: from its first billed month to its last (a gap inside counts as billed 0)."""

    first: str
    last: str

    def covered(self, months: list[str]) -> list[str]:
        """The ``months`` within the span."""
        return [m for m in months if self.first <= m <= self.last]


def coverage(ctx: Context) -> Coverage | None:
    """The span of the whole cost export (rows after ``as_of`` too: they show the export reaches that far)."""
    [(first, last)] = ctx.query("SELECT min(month), max(month) FROM cloud_costs")
    return None if first is None else Coverage(first, last)


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
    recent, before = windows(ctx)
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
    span = coverage(ctx)
    whole = span is not None and len(span.covered([*before, *recent])) == 6
    # A window the export only partly reaches would count its missing months as 0 and fake a trend.
    if per_month and previous_total > 0 and whole:
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
    recent, before = windows(ctx)
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
                title=f"{rule.title}: {spend.service} ({who}), about {money(saving.amount, ctx.currency)} a month",
                entity=spend.entity,
                subject=f"{rule.id}|{spend.service}",
                evidence=(
                    f"rule {rule.id}: {rule.condition}",
                    f"estimate: {saving.basis}",
                    *(f"{spend.service} {m}: {_cents(spend.months.get(m, ZERO))} {ctx.currency}" for m in months),
                    *(f"source: {s}" for s in sources),
                ),
                amount=saving.amount,
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


def _entity_figures(ctx: Context, results: Results) -> None:
    """``cloud.spend.entity.<e>.monthly`` for each entity billed in the last 3 complete months, and the shared rows
    (no entity) apart as ``cloud.spend.shared.monthly``; together they make up ``cloud.spend.monthly``."""
    if "cloud.spend.monthly" not in results.figures:
        return
    recent, _ = windows(ctx)
    months = ", ".join(recent)
    for entity, per_month in entity_months(ctx).items():
        if not any(m in per_month for m in recent):
            continue
        total = sum((per_month.get(m, ZERO) for m in recent), ZERO)
        if entity is None:
            fid, name, where, params = (f"cloud.spend.{SHARED}.monthly", "Shared cloud spend per month (no entity)",
                                        "coalesce(entity, '') = ''", [])  # fmt: skip
            whose = "shared cost rows (empty entity)"
        else:
            label = ctx.entities[entity].name if entity in ctx.entities else entity
            fid, name, where, params = (f"cloud.spend.entity.{entity}.monthly", f"Cloud spend per month, {label}",
                                        "entity = ?", [entity])  # fmt: skip
            whose = f"cost rows of entity {entity}"
        results.add(
            Figure(
                fid,
                total / 3,
                ctx.currency,
                f"(sum of the amounts of {whose} over {months}) / 3; a month with no rows counts 0",
                ctx.provenance(f"FROM costs WHERE {where} AND month IN (?, ?, ?)", [*params, *recent]),
                name=name,
                entity=entity,
            )
        )


def _coverage(ctx: Context, results: Results) -> None:
    """How many of the last 3 complete months the cost data covers; a finding when not all of them."""
    span = coverage(ctx)
    if span is None:
        return
    recent, _ = windows(ctx)
    covered = span.covered(recent)
    sources = ctx.provenance("FROM cloud_costs")
    results.add(
        Figure(
            "cloud.coverage.months",
            len(covered),
            "count",
            f"number of the last 3 complete months ({', '.join(recent)}) within the months the cost data spans "
            f"(its first billed month {span.first} to its last {span.last}); a month inside the span with no rows "
            "counts as billed 0",
            sources,
            name="Months of the 3-month cloud average the cost data covers",
        )
    )
    if len(covered) == len(recent):
        return
    average = results.figures.get("cloud.spend.monthly")
    billed = ", ".join(covered) if covered else "none of them"
    evidence = [
        f"the cost data spans {span.first} to {span.last}: it covers {len(covered)} of {', '.join(recent)} ({billed})",
    ]
    if average is not None and covered:
        total = sum((v for v in _window_totals(ctx, covered)), ZERO)
        evidence.append(
            f"cloud.spend.monthly = {money(Decimal(str(average.value)), ctx.currency)}: the contract's average "
            f"over 3 months, counting the {3 - len(covered)} month(s) the data does not reach as 0; the "
            f"{len(covered)} month(s) billed average {money(total / len(covered), ctx.currency)}"
        )
    results.find(
        Finding(
            kind="cloud-costs-partial",
            severity="medium",
            title=f"Cloud cost data covers {len(covered)} of the 3 months behind the monthly cloud spend",
            evidence=(*evidence, *(f"source: {s}" for s in sources)),
            recommendation="Export at least the last 6 complete months (FOCUS export or Cost Explorer with a "
            "6-month period) so the 3-month average, the trend and the savings rules see whole windows.",
            subject="cloud_costs",
        )
    )


def _window_totals(ctx: Context, months: list[str]) -> list[Decimal]:
    marks = ", ".join("?" * len(months))
    return [total for (total,) in ctx.query(f"SELECT sum(amount) FROM costs WHERE month IN ({marks}) GROUP BY month",
                                            months)]  # fmt: skip


def analyze(ctx: Context) -> Results:
    """Cloud spend by month, service and entity, the 3-month average and trend, coverage, savings suggestions."""
    results = Results()
    if not ctx.query("SELECT 1 FROM costs LIMIT 1"):
        return results
    _month_figures(ctx, results)
    _average_figures(ctx, results)
    _entity_figures(ctx, results)
    _coverage(ctx, results)
    _saving_findings(ctx, results)
    return results
