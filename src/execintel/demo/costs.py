"""The demo's AWS bill: 24 complete months in the contract's own cost CSV (month,service,amount,entity).

The bill grows from about $53 to about $77 a month and carries roughly $25 a
month of avoidable spend, so the CTO report has something true to find:

- ``Amazon EC2`` (jada): one t3.small running around the clock for the legacy
  backend (~$15 compute + $3 storage); a business-hours schedule or a
  reservation saves ~$10-12.
- ``Amazon VPC (idle public IPv4 address)`` (jada): an Elastic IP left attached to nothing (~$3.70),
  billed under the usage type AWS gives it.
- ``Amazon S3`` (qosd): photo and backup storage growing ~24 GB a month with no
  lifecycle rule (~$4.50 -> ~$17); tiering old objects saves ~$6-8.
- ``Amazon DynamoDB`` (qosd): a provisioned-capacity audit table that is
  almost never read (~$4.50 of idle capacity); on-demand saves ~$4.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from execintel.demo.common import money, month_end, months, rng, write_csv

FIRST_MONTH = dt.date(2024, 11, 1)
LAST_MONTH = dt.date(2026, 10, 1)  # November 2026 is not complete on as_of, so it is not billed yet
EC2_HOURLY = Decimal("0.0208")  # t3.small on demand, us-west-2
EBS_MONTHLY = Decimal("3.00")  # 30 GB gp3 and its snapshots
PUBLIC_IP_HOURLY = Decimal("0.005")
DYNAMO_PROVISIONED_HOURLY = Decimal("0.00624")  # 8 WCU + 8 RCU, nearly idle
S3_GB_MONTH = Decimal("0.023")
SUMMER = {5: 0.4, 6: 0.8, 7: 1.0, 8: 1.0, 9: 0.6, 10: 0.3}  # charter season drives qosd traffic

CostLine = tuple[str, str, Decimal, str]  # month, service, amount, entity ("" = shared)


def cost_lines() -> list[CostLine]:
    """Every line of the bill, month by month, services in a fixed order."""
    rand = rng("costs")
    lines: list[CostLine] = []
    for index, first in enumerate(months(FIRST_MONTH, LAST_MONTH)):
        month = f"{first:%Y-%m}"
        hours = Decimal(month_end(first).day * 24)
        season = SUMMER.get(first.month, 0.0)

        def add(service: str, amount: Decimal | float, entity: str = "", _month: str = month) -> None:
            lines.append((_month, service, money(amount), entity))

        add("Amazon EC2", EC2_HOURLY * hours + EBS_MONTHLY, "jada")
        add("Amazon VPC (idle public IPv4 address)", PUBLIC_IP_HOURLY * hours, "jada")  # as the bill names it
        add("AWS Lambda", 3.4 + 0.07 * index + 1.2 * season + rand.uniform(-0.25, 0.25), "qosd")
        add("Amazon API Gateway", 3.8 + 0.09 * index + 1.5 * season + rand.uniform(-0.3, 0.3), "qosd")
        add(
            "Amazon DynamoDB",
            DYNAMO_PROVISIONED_HOURLY * hours + Decimal(str(round(rand.uniform(1.0, 1.6), 2))),
            "qosd",
        )
        stored_gb = Decimal(180 + 24 * index)
        add("Amazon S3", stored_gb * S3_GB_MONTH + Decimal(str(round(rand.uniform(0.3, 0.6), 2))), "qosd")
        add("Amazon S3", rand.uniform(0.08, 0.16), "quickdumpnow")
        add("Amazon CloudFront", 7.2 + 2.2 * season + rand.uniform(-0.4, 0.4), "qosd")
        add("Amazon SES", 1.0 + (1.45 if first >= dt.date(2026, 3, 1) else 0) + rand.uniform(0, 0.3))
        add("Amazon Route 53", 2.0 + rand.uniform(0.35, 0.6))
        add("Amazon CloudWatch", 2.5 + 0.12 * index + rand.uniform(-0.2, 0.2), "qosd")
        add("AWS Secrets Manager", 0.80)
    return lines


def monthly_totals(lines: list[CostLine]) -> dict[str, Decimal]:
    """The bill's total per ``YYYY-MM``."""
    totals: dict[str, Decimal] = {}
    for month, _service, amount, _entity in lines:
        totals[month] = totals.get(month, Decimal(0)) + amount
    return totals


def write_costs(path: Path, lines: list[CostLine]) -> None:
    """Write ``data/aws-costs.csv``."""
    write_csv(path, ("month", "service", "amount", "entity"), ([m, s, f"{a:.2f}", e] for m, s, a, e in lines))
