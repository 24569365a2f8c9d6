"""The bundled demo portfolio: deterministic, valid, and reproducing the seeds' headline facts from its data."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from pathlib import Path

import pytest

from execintel.config import load_portfolio
from execintel.demo import demo_portfolio, generate_demo
from execintel.demo.cache import generator_hash
from execintel.facts import Facts
from execintel.pipeline import load_facts
from execintel.sources import LoadResult

AS_OF = "2026-11-15"
LAST_3 = ("2026-08-01", "2026-10-31")  # the last 3 complete months before as_of
# Built from parts so no secret scanner mistakes this test for a leak.
STRIPE_LIVE = re.compile("sk_" + "live_" + r"[A-Za-z0-9]{24}\b")
AWS_KEY_ID = re.compile("AK" + "IA" + r"[A-Z0-9]{16}\b")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9.-]+)")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly generated demo portfolio's manifest."""
    return generate_demo(tmp_path_factory.mktemp("demo") / "portfolio")


@pytest.fixture(scope="module")
def loaded(demo: Path) -> LoadResult:
    """The demo's facts, loaded the way every command loads them."""
    return load_facts(load_portfolio(demo))


@pytest.fixture(scope="module")
def facts(loaded: LoadResult) -> Facts:
    """The demo's facts database."""
    return loaded.facts


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def _head(repo: Path) -> str:
    ref = (repo / ".git" / "HEAD").read_text().split(":", 1)[1].strip()
    return (repo / ".git" / ref).read_text().strip()


def _one(facts: Facts, sql: str) -> object:
    return facts.query(sql)[0][0]


def test_generation_is_deterministic(demo: Path, tmp_path: Path) -> None:
    again = generate_demo(tmp_path / "again")
    assert _files(again.parent) == _files(demo.parent)
    repos = sorted(p for p in (demo.parent / "repos").iterdir())
    assert len(repos) == 4
    for repo in repos:
        assert _head(repo) == _head(again.parent / "repos" / repo.name)


def test_demo_validates_with_every_row_loaded(loaded: LoadResult) -> None:
    assert loaded.errors == []
    assert loaded.warnings == []
    assert all(report.rows_rejected == 0 for report in loaded.reports)
    kinds = {report.spec.kind for report in loaded.reports}
    assert {"ledger-csv", "beancount", "events-jsonl", "contacts-csv", "git", "costs-csv", "handoffs"} <= kinds


def test_demo_portfolio_is_cached_by_generator_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXECINTEL_CACHE_DIR", str(tmp_path))
    first = demo_portfolio()
    assert first == tmp_path / f"demo-{generator_hash()}" / "portfolio.yaml"
    assert demo_portfolio() == first
    assert [p.name for p in tmp_path.iterdir()] == [first.parent.name]  # no scratch folder left behind


def test_seven_active_entities_and_four_domains(loaded: LoadResult) -> None:
    active = [e for e in loaded.portfolio.manifest.entities if e.status == "active"]
    assert len(active) == 7
    assert len({d for e in active for d in e.domains}) == 4
    assert {e.id for e in active if not e.domains} == {"rental-3028", "yacht-delivery", "dc-clients"}


def test_seven_handoffs_in_three_formats(facts: Facts, demo: Path) -> None:
    assert _one(facts, "SELECT count(*) FROM handoffs") == 7
    statuses = {row[0] for row in facts.query("SELECT DISTINCT status FROM handoffs")}
    assert statuses == {"on-track", "at-risk", "blocked"}
    assert {p.suffix for p in (demo.parent / "handoffs").iterdir()} == {".md", ".yaml", ".json"}


def test_contacts_total_3676_with_noise(facts: Facts) -> None:
    assert _one(facts, "SELECT count(*) FROM contacts") == 3676
    assert _one(facts, "SELECT count(*) FROM contacts WHERE entity = 'qosd'") == 3200
    assert _one(facts, "SELECT count(*) FROM contacts WHERE NOT email_valid") > 0
    duplicates = _one(
        facts,
        """
        SELECT count(*) - count(DISTINCT email_key) FROM contacts WHERE email_valid""",
    )
    in_two_lists = _one(
        facts,
        """
        SELECT count(*) FROM (SELECT email_key FROM contacts WHERE email_valid
                              GROUP BY email_key HAVING count(DISTINCT entity) > 1)""",
    )
    assert duplicates > 0
    assert in_two_lists > 0
    assert _one(facts, f"SELECT count(*) FROM contacts WHERE last_engaged > DATE '{AS_OF}' - 90") > 0


def test_cloud_costs_between_50_and_84_a_month(facts: Facts) -> None:
    totals = dict(facts.query("SELECT month, sum(amount) FROM cloud_costs GROUP BY month ORDER BY month"))
    assert len(totals) == 24
    assert all(Decimal(50) <= total <= Decimal(84) for total in totals.values()), totals
    assert _one(facts, "SELECT count(*) FROM cloud_costs WHERE entity IS NULL") > 0
    ec2 = facts.query("SELECT amount FROM cloud_costs WHERE service = 'Amazon EC2' AND month = '2026-10'")
    assert Decimal(15) <= ec2[0][0] <= Decimal(19)


def test_qosd_break_even_is_six_charters(facts: Facts, loaded: LoadResult) -> None:
    economics = loaded.portfolio.manifest.entity("qosd").unit_economics
    assert economics is not None
    operating_3_months = _one(
        facts,
        f"""
        SELECT -sum(amount) FROM transactions
        WHERE entity = 'qosd' AND date BETWEEN '{LAST_3[0]}' AND '{LAST_3[1]}'
          AND account LIKE 'Expenses%' AND account NOT LIKE 'Expenses:COGS%'""",
    )
    assert isinstance(operating_3_months, Decimal)
    operating = operating_3_months / 3
    assert Decimal(5750) < operating <= Decimal(6900)
    assert math.ceil(operating / (economics.price - economics.variable_cost)) == 6


def test_runway_between_100_and_160_days(facts: Facts) -> None:
    cash = _one(facts, f"SELECT sum(amount) FROM transactions WHERE date <= '{AS_OF}'")
    burns = facts.query(f"""
        SELECT greatest(0, -sum(amount)) FROM transactions
        WHERE date BETWEEN '{LAST_3[0]}' AND '{LAST_3[1]}' AND split_part(account, ':', 1) NOT IN ('Equity', 'Liabilities')
        GROUP BY date_trunc('month', date)""")
    assert len(burns) == 3
    assert all(b > 0 for (b,) in burns)  # every month burns, so either reading of the formula agrees
    burn = sum(b for (b,) in burns) / 3
    assert isinstance(cash, Decimal)
    assert cash > 0
    assert 100 <= math.floor(cash / burn * 30) <= 160
    per_entity = facts.query(f"SELECT entity, sum(amount) FROM transactions WHERE date <= '{AS_OF}' GROUP BY entity")
    assert all(balance > 0 for _, balance in per_entity)


def test_quickdumpnow_funnel_is_broken(facts: Facts) -> None:
    leads = facts.query("""
        SELECT strftime(ts, '%Y-%m') AS month, count(*) FROM events
        WHERE entity = 'quickdumpnow' AND type = 'lead' AND ts < TIMESTAMP '2026-11-01 00:00:00'
        GROUP BY month""")
    assert len(leads) == 23
    assert all(count >= 30 for _, count in leads)
    bookings = _one(facts, "SELECT count(*) FROM events WHERE entity = 'quickdumpnow' AND type = 'booking'")
    assert isinstance(bookings, int)
    assert 1 <= bookings <= 6


def test_stripe_key_hardcoded_in_tracked_file(facts: Facts) -> None:
    rows = facts.query("SELECT repo, path, content FROM repo_files WHERE content IS NOT NULL")
    hits = [(repo, path) for repo, path, content in rows if STRIPE_LIVE.search(content)]
    assert hits == [("repos/jada-backend", "src/payments.js")]


def test_aws_key_only_in_history_of_deleted_repos_env(facts: Facts) -> None:
    files = facts.query("SELECT path, content FROM repo_files WHERE content IS NOT NULL")
    assert not [path for path, content in files if AWS_KEY_ID.search(content)]
    assert not [path for path, _ in files if path.endswith("repos.env")]
    added = facts.query("SELECT repo, path, text FROM repo_changes WHERE text IS NOT NULL")
    hits = {(repo, path) for repo, path, text in added if AWS_KEY_ID.search(text)}
    assert hits == {("repos/ops-tools", "repos.env")}
    secret = [t for _, p, t in added if p == "repos.env" and t.startswith("AWS_SECRET_ACCESS_KEY=")]
    assert len(secret) == 1
    assert len(secret[0].split("=", 1)[1]) == 40
    deleted = _one(facts, "SELECT count(*) FROM repo_changes WHERE path = 'repos.env' AND change = 'D'")
    assert deleted == 1


def test_jwt_secret_in_tracked_env_file(facts: Facts) -> None:
    rows = facts.query("SELECT repo, path, content FROM repo_files WHERE regexp_matches(path, '(^|/)\\.env')")
    secrets = [
        (repo, path)
        for repo, path, content in rows
        for line in content.splitlines()
        if line.startswith("JWT_SECRET=") and len(line.split("=", 1)[1]) >= 32
    ]
    assert secrets == [("repos/shipcaptaincrew", ".env.production")]


def test_manifest_carries_the_seed_gaps(loaded: LoadResult) -> None:
    manifest = loaded.portfolio.manifest
    assert all(not entity.pipeline for entity in manifest.entities)
    centaur = manifest.entity("dangerouscentaur")
    assert centaur.revenue_model == "none"
    assert centaur.ledger is None
    assert [item.auth for item in centaur.stack] == ["none"]
    qosd = manifest.entity("qosd")
    (stack,) = qosd.stack
    assert "cloudfront" in stack.components
    assert (stack.waf, stack.rate_limit, stack.deploy, stack.environments) == (False, False, "manual", ("production",))
    assert [line.holder for line in qosd.equity if line.agreement == "unsigned"] == ["Operations partner"]
    otas = [c for c in qosd.channels if c.kind == "ota"]
    assert [c.name for c in otas] == ["Sailo", "GetMyBoat", "Viator", "GetYourGuide"]
    assert all(c.status != "live" for c in otas)
    assert manifest.policies.debt_requires_board_approval
    assert [d.principal for e in manifest.entities for d in e.debts if not d.board_approved] == [Decimal(25000)]


def test_accounting_gaps_present(facts: Facts) -> None:
    qosd = "entity = 'qosd' AND account LIKE 'Expenses%'"
    assert _one(facts, f"SELECT count(*) FROM transactions WHERE {qosd} AND receipt = ''") > 0
    assert _one(facts, f"SELECT count(*) FROM transactions WHERE {qosd} AND account LIKE '%Uncategorized'") > 0
    assert _one(facts, f"SELECT min(amount) FROM transactions WHERE {qosd} AND date > DATE '{AS_OF}' - 365") < -2500
    deferred = _one(
        facts,
        f"""
        SELECT sum(amount) FROM transactions WHERE entity = 'qosd' AND account LIKE 'Income%'
          AND date <= '{AS_OF}' AND service_date > '{AS_OF}'""",
    )
    assert isinstance(deferred, Decimal)
    assert deferred > 0


def test_only_example_addresses(demo: Path, facts: Facts) -> None:
    domains = {
        match.lower() for content in _files(demo.parent).values() for match in EMAIL.findall(content.decode("utf-8"))
    }
    assert domains <= {"example.com", "example.org", "example"}
    authors = {row[0] for row in facts.query("SELECT DISTINCT author_email FROM repo_commits")}
    assert all(a.endswith("@example.com") for a in authors)
