"""Security analysis: secrets in files and history (a public leak repository and hand-made ones), stack gaps."""

from __future__ import annotations

import hashlib
import random
import string
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from conftest import GitRepo, WritePortfolio, base_manifest
from execintel.analysis import security
from execintel.analysis.context import Context
from execintel.analysis.model import Finding, Results
from execintel.demo import demo_portfolio
from execintel.demo.repos import make_secrets
from execintel.reports import Document, build_report, dumps
from helpers import context, gitleaks_repo

# SHA-256 of the one AWS key id of the gitleaks test repository (tests/data/shared/secrets/gitleaks-small.md).
GITLEAKS_KEY_SHA256 = "a833f87ec2d3eac383f36705e94cb9e080ef98a3c7f199f85ffd9290cf964716"
HEAD = "53cd7a3c6eb4937f413e3c25e4a9f39289afa69e"


def _fake(length: int, alphabet: str = string.ascii_letters + string.digits, seed: str = "") -> str:
    """A random string (fake secrets are made at run time so this file holds no secret-shaped text)."""
    rand = random.Random(seed or str(length))  # noqa: S311 - not for cryptography
    return "".join(rand.choice(alphabet) for _ in range(length))


def _aws_key_id(seed: str = "aws") -> str:
    return "AK" + "IA" + _fake(16, string.ascii_uppercase + string.digits, seed)


def _stripe_key(seed: str = "stripe") -> str:
    return "sk_" + "live_" + _fake(24, seed=seed)


def _entity(*repos: str, **extra: Any) -> dict[str, Any]:
    return {"id": "qosd", "name": "Queen of San Diego", "repos": list(repos), **extra}


def _kinds(results: Results, *kinds: str) -> list[Finding]:
    return [f for f in results.findings if f.kind in kinds]


def _output(results: Results) -> str:
    """Everything the analysis writes out: findings and figures as JSON."""
    return dumps({"findings": [f.to_json() for f in results.findings],
                  "figures": {k: f.to_json() for k, f in results.figures.items()}})  # fmt: skip


# --- the public leak repository ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gitleaks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Context, str]:
    """The analysis context of a portfolio auditing the gitleaks repository, and the leaked key itself."""
    root = tmp_path_factory.mktemp("gitleaks")
    repo = gitleaks_repo(root)
    (root / "portfolio.yaml").write_text(yaml.safe_dump(base_manifest(entities=[_entity("small")])), encoding="utf-8")
    line = (repo / "api" / "ignoreGlobal.go").read_text().splitlines()[19]
    key = line[line.index("AKIA") : line.index("AKIA") + 20]
    assert hashlib.sha256(key.encode()).hexdigest() == GITLEAKS_KEY_SHA256
    return context(root / "portfolio.yaml"), key


def test_every_listed_leak_of_the_public_repository_is_found(gitleaks: tuple[Context, str]) -> None:
    ctx, _key = gitleaks
    results = security.analyze(ctx)
    found = {(f.kind, f.file, f.line, f.commit) for f in _kinds(results, "hardcoded-secret", "secret-in-history")}
    # gitleaks-small.md: main.go:20 (1b6da43b, removed since), foo/foo.go:9 (491504d5, branch foo only),
    # api/ignoreCommit.go:20 and api/ignoreGlobal.go:20 (in HEAD 53cd7a3c, still in the working tree).
    assert found == {
        ("secret-in-history", "small/main.go", 20, "1b6da43b82b22e4eaa10bcf8ee591e91abbfc587"),
        ("secret-in-history", "small/foo/foo.go", 9, "491504d5a31946ce75e22554cc34203d8e5ff3ca"),
        ("hardcoded-secret", "small/api/ignoreCommit.go", 20, HEAD),
        ("hardcoded-secret", "small/api/ignoreGlobal.go", 20, HEAD),
    }
    assert {f.severity for f in _kinds(results, "hardcoded-secret")} == {"critical"}  # a provider key format
    assert results.figures["security.commits.scanned"].value == 9  # all refs, not only the 7 on main
    assert results.figures["security.repos.scanned"].value == 1
    assert results.figures["security.findings.critical"].value == 2
    assert results.figures["security.findings.high"].value == 2


def test_no_output_contains_the_leaked_key(gitleaks: tuple[Context, str]) -> None:
    ctx, key = gitleaks
    results = security.analyze(ctx)
    document = build_report(ctx, "cto")
    for text in (_output(results), document.dumps()):
        assert key not in text and key[4:12] not in text
        assert "AKIA…" in text  # the type's prefix (first 4 characters) is all that is shown


# --- hand-made repositories -------------------------------------------------------------------------------------


def test_secret_removed_later_is_reported_from_history_only(
    write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo]
) -> None:
    repo = make_repo("repos/app")
    key = _stripe_key()
    added = repo.commit("billing", {"billing.js": f'const stripe = require("stripe");\nconst key = "{key}";\n'})
    removed = repo.commit("use env", {"billing.js": 'const stripe = require("stripe");\nconst key = process.env.K;\n'})
    ctx = context(write_portfolio(base_manifest(entities=[_entity("repos/app")])), as_of="2026-11-15")
    results = security.analyze(ctx)
    [finding] = _kinds(results, "hardcoded-secret", "secret-in-history")
    assert (finding.kind, finding.file, finding.line, finding.commit) == (
        "secret-in-history", "repos/app/billing.js", 2, added,
    )  # fmt: skip
    assert removed != added
    assert "Stripe" in finding.title and key not in _output(results)


def test_secret_still_in_the_tree_names_the_commit_that_added_its_line(
    write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo]
) -> None:
    repo = make_repo("repos/app")
    password = _fake(14, seed="db")
    repo.commit("readme", {"README.md": "# app\n"})
    added = repo.commit("db", {"db.py": f'import os\nURL = "postgres://app:{password}@db.example.com/app"\n'})
    repo.commit("more", {"README.md": "# app\n\nRun it.\n"})
    ctx = context(write_portfolio(base_manifest(entities=[_entity("repos/app")])), as_of="2026-11-15")
    results = security.analyze(ctx)
    [finding] = _kinds(results, "hardcoded-secret", "secret-in-history")
    assert (finding.kind, finding.file, finding.line, finding.commit) == (
        "hardcoded-secret",
        "repos/app/db.py",
        2,
        added,
    )
    # a password in a URL: shorter than 16 characters, so not even a prefix or fingerprint is shown
    assert "Basic Auth" in finding.title and password not in _output(results) and password[:4] not in _output(results)


def test_two_tokens_of_one_provider_in_one_file_are_two_findings(
    write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo]
) -> None:
    # detect-secrets returns only "ghp" (a capture group) for a GitHub token: every token had the same fingerprint,
    # and two in one file were taken for one
    first, second = ("gh" + "p_" + _fake(36, seed=s) for s in ("one", "two"))
    repo = make_repo("repos/app")
    repo.commit("ci", {"ci.py": f'READ = "{first}"\nWRITE = "{second}"\n'})
    results = security.analyze(context(write_portfolio(base_manifest(entities=[_entity("repos/app")]))))
    findings = _kinds(results, "hardcoded-secret")
    # each names the variable that holds it, so whoever rotates it knows what to change
    assert [(f.line, f.title.split(" hard-coded")[0]) for f in findings] == [
        (1, "GitHub Token READ"), (2, "GitHub Token WRITE"),
    ]  # fmt: skip
    prints = {f.evidence[0].rsplit("SHA-256 ", 1)[-1] for f in findings}
    assert len(prints) == 2 and first not in _output(results) and second[4:12] not in _output(results)


def test_committed_env_file_is_reported_with_its_commits_and_secrets(
    write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo]
) -> None:
    repo = make_repo("repos/app")
    jwt_secret, token = _fake(40, seed="jwt"), _fake(32, seed="tok")
    first = repo.commit("env", {".env.production": f"TABLE=crew\nJWT_SECRET={jwt_secret}\n", "app.py": "x = 1\n"})
    second = repo.commit("token", {".env.production": f"TABLE=crew\nJWT_SECRET={jwt_secret}\nAPI_TOKEN={token}\n"})
    gone = repo.commit("drop", {"ops/deploy.env": f"DEPLOY_TOKEN={_fake(30, seed='d')}\n"})
    repo.commit("drop", {"ops/deploy.env": None})
    ctx = context(write_portfolio(base_manifest(entities=[_entity("repos/app")])), as_of="2026-11-15")
    results = security.analyze(ctx)
    env = {f.file: f for f in _kinds(results, "env-file-committed")}
    assert set(env) == {"repos/app/.env.production", "repos/app/ops/deploy.env"}
    assert env["repos/app/.env.production"].commit == first
    assert second[:12] in env["repos/app/.env.production"].evidence[0]
    assert (env["repos/app/ops/deploy.env"].commit, env["repos/app/ops/deploy.env"].severity) == (gone, "high")
    assert env["repos/app/ops/deploy.env"].evidence[1].endswith("no longer tracked (deleted)")
    secrets = {(f.kind, f.file, f.line, f.commit) for f in _kinds(results, "hardcoded-secret", "secret-in-history")}
    assert secrets == {
        ("hardcoded-secret", "repos/app/.env.production", 2, first),  # JWT_SECRET (detect-secrets' keyword rule)
        ("hardcoded-secret", "repos/app/.env.production", 3, second),  # API_TOKEN (our dotenv rule)
        ("secret-in-history", "repos/app/ops/deploy.env", 1, gone),
    }
    assert jwt_secret not in _output(results) and token not in _output(results)


def test_env_template_is_reported_at_low_severity_and_placeholders_are_not_secrets(
    write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo]
) -> None:
    repo = make_repo("repos/app")
    repo.commit("template", {".env.example": "JWT_SECRET=changeme\nAPI_TOKEN=${API_TOKEN}\nDB_PASSWORD=\n"})
    ctx = context(write_portfolio(base_manifest(entities=[_entity("repos/app")])), as_of="2026-11-15")
    results = security.analyze(ctx)
    assert [(f.kind, f.severity) for f in results.findings] == [("env-file-committed", "low")]


def test_clean_repository_has_no_findings(write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo]) -> None:
    repo = make_repo("repos/app")
    repo.commit("app", {"app.py": "import os\n\nSECRET = os.environ['SECRET']\n", "README.md": "# app\n"})
    repo.commit("lock", {"package-lock.json": '{"integrity": "sha512-' + _fake(80, seed="lock") + '"}\n'})
    ctx = context(write_portfolio(base_manifest(entities=[_entity("repos/app")])), as_of="2026-11-15")
    results = security.analyze(ctx)
    assert results.findings == []
    assert results.figures["security.findings.total"].value == 0
    assert results.figures["security.files.scanned"].value == 2  # the lock file is skipped by detect-secrets
    assert results.figures["security.commits.scanned"].value == 2
    assert results.figures["security.repos.stale"].value == 1  # last commit 2026-01-02, 317 days before as_of


# --- stack declarations -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"components": ["aws-lambda", "api-gateway", "cloudfront"], "environments": ["production"],
          "deploy": "manual", "auth": "jwt", "waf": False, "rate_limit": False},
         {("no-waf", "high"), ("no-rate-limit", "medium"), ("no-staging", "medium"), ("manual-deploy", "low")}),
        ({"components": ["google-apps-script"], "auth": "none"}, {("unauthenticated-endpoint", "high")}),
        ({"components": ["single-page-app", "s3"], "auth": "none"}, {("unauthenticated-endpoint", "low")}),
        ({"components": ["cloudfront", "graphql"], "environments": ["production", "staging"], "deploy": "ci",
          "auth": "oauth", "waf": True, "rate_limit": True}, set()),
        ({"components": ["cloudfront", "s3"], "waf": None, "rate_limit": False}, set()),  # undeclared WAF, no API
    ],
)  # fmt: skip
def test_stack_declarations_map_to_findings(
    write_portfolio: WritePortfolio, item: dict[str, Any], expected: set[tuple[str, str]]
) -> None:
    stack = [{"name": "app", **{k: v for k, v in item.items() if v is not None}}]
    ctx = context(write_portfolio(base_manifest(entities=[_entity(stack=stack)])), as_of="2026-11-15")
    results = security.analyze(ctx)
    assert {(f.kind, f.severity) for f in results.findings} == expected
    assert all(f.evidence[0].startswith("portfolio.yaml:entities[0].stack[0]") for f in results.findings)
    assert "security.repos.scanned" not in results.figures  # no repositories: no scan figures
    # no-staging and manual-deploy are delivery (process) findings, counted apart from the security ones
    delivery = {(kind, severity) for kind, severity in expected if kind in ("no-staging", "manual-deploy")}
    assert results.figures["security.findings.total"].value == len(expected - delivery)
    assert results.figures["delivery.findings.total"].value == len(delivery)


def test_nothing_to_audit_gives_no_figures(write_portfolio: WritePortfolio) -> None:
    ctx = context(write_portfolio(base_manifest()), as_of="2026-11-15")
    results = security.analyze(ctx)
    assert results.figures == {} and results.findings == []
    document = build_report(ctx, "cto")
    assert {m["data"] for m in document.missing} >= {
        "git repositories to audit (entities[].repos)",
        "stack declarations (entities[].stack)",
        "cloud costs (cloud_costs in the manifest)",
    }


# --- the demo ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_cto() -> Document:
    """The CTO report of the bundled demo portfolio."""
    return build_report(context(demo_portfolio()), "cto")


def test_demo_shows_the_six_security_gaps_of_the_seeds(demo_cto: Document) -> None:
    places = {(f.kind, f.file or f.entity) for f in demo_cto.findings}
    assert ("hardcoded-secret", "repos/jada-backend/src/payments.js") in places  # hard-coded Stripe key
    assert ("secret-in-history", "repos/ops-tools/repos.env") in places  # repos.env in git history
    assert ("env-file-committed", "repos/ops-tools/repos.env") in places
    assert ("unauthenticated-endpoint", "dangerouscentaur") in places  # Apps Script with no auth
    assert ("no-waf", "qosd") in places  # CloudFront without WAF
    assert ("no-rate-limit", "qosd") in places  # API Gateway / Lambda without rate limiting
    assert ("hardcoded-secret", "repos/shipcaptaincrew/.env.production") in places  # plaintext JWT_SECRET
    assert ("env-file-committed", "repos/shipcaptaincrew/.env.production") in places
    assert {("no-staging", "qosd"), ("manual-deploy", "qosd")} <= places
    stripe = next(f for f in demo_cto.findings if f.file == "repos/jada-backend/src/payments.js")
    assert (stripe.severity, stripe.line) == ("critical", 2) and "Stripe" in stripe.title
    text = demo_cto.dumps()
    assert not any(secret in text or secret[4:12] in text for secret in make_secrets())  # the planted secrets


def test_demo_report_lays_out_inventory_bottlenecks_and_blockers(demo_cto: Document) -> None:
    sections = {s["id"]: s for s in demo_cto.sections}
    inventory = {row[1]: row for row in sections["inventory"]["rows"]}
    assert set(inventory) == {"jada-backend", "shipcaptaincrew", "quickdumpnow-site", "gas-microservice"}
    assert inventory["shipcaptaincrew"][-1] == "repos/shipcaptaincrew, repos/ops-tools"
    stale = {row[1]: row[3] for row in sections["stale-repos"]["rows"]}
    # newest commits: gas 2026-02-03, ops-tools 2026-04-02, jada 2026-06-02; shipcaptaincrew 2026-10-02 is recent
    assert stale == {"repos/gas-microservice": 285, "repos/ops-tools": 227, "repos/jada-backend": 166}
    blocked = {row[0] for row in sections["blockers"]["rows"]}
    assert {"exec-reports", "quickdumpnow-booking-funnel", "shipcaptaincrew"} <= blocked
    severities = [demo_cto.findings[i].severity for i in sections["security-findings"]["findings"]]
    assert severities == sorted(severities, key=["critical", "high", "medium", "low", "info"].index)


# --- what the CTO reads: the variable to rotate, how long it has been exposed, security apart from delivery --------


def test_secret_findings_name_the_variable_and_carry_their_age(
    write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo]
) -> None:
    repo = make_repo("repos/app")
    jwt, token = _fake(40, seed="age-jwt"), _fake(32, seed="age-token")
    first = repo.commit("env", {"deploy/app.env": f"JWT_SECRET={jwt}\n"})  # 2026-01-01T12:00Z
    moved = repo.commit("export", {"deploy/app.env": f"# app\nexport JWT_SECRET={jwt}\n"})  # 2026-01-02
    gone = repo.commit("token", {"config.py": f'API_TOKEN = "{token}"\n'})  # 2026-01-03
    repo.commit("drop", {"config.py": None})
    ctx = context(write_portfolio(base_manifest(entities=[_entity("repos/app")])), as_of="2026-11-15")
    results = security.analyze(ctx)
    [live] = _kinds(results, "hardcoded-secret")
    # the line as it is now was added by the second commit; the secret itself by the first, 2026-01-01:
    # 2026-11-15 - 2026-01-01 = 318 days (Jan 30 + Feb 28 + Mar 31 + Apr 30 + May 31 + Jun 30 + Jul 31 + Aug 31
    # + Sep 30 + Oct 31 + 15 days of Nov = 318)
    assert (live.file, live.line, live.commit) == ("repos/app/deploy/app.env", 2, moved)
    assert " JWT_SECRET hard-coded in repos/app/deploy/app.env, line 2" in live.title
    assert f"first committed 2026-01-01 (commit {first[:12]}), 318 days before as_of" in live.evidence[1]
    [old] = _kinds(results, "secret-in-history")
    # API_TOKEN was added on 2026-01-03, 316 days before as_of, and removed since
    assert " API_TOKEN in git history of repos/app/config.py" in old.title and old.commit == gone
    assert f"first committed 2026-01-03 (commit {gone[:12]}), 316 days before as_of" in old.evidence
    # the CTO report's table of secrets to rotate: variable, place, commit and days exposed, in every format
    document = build_report(ctx, "cto")
    [table] = [s for s in document.sections if s["id"] == "secrets"]
    assert [[r[1].split()[-1], *r[2:]] for r in table["rows"]] == [
        ["JWT_SECRET", "in the files", "repos/app/deploy/app.env:2", moved[:12], 318],
        ["API_TOKEN", "history only", "repos/app/config.py:1", gone[:12], 316],
    ]
    text = document.dumps()
    assert jwt[:5] not in text and token[:5] not in text  # the names never carry the secrets along


def test_security_and_delivery_findings_are_counted_and_shown_apart(write_portfolio: WritePortfolio) -> None:
    stack = [{"name": "app", "components": ["aws-lambda", "api-gateway", "cloudfront"], "environments": ["production"],
              "deploy": "manual", "auth": "jwt", "waf": False, "rate_limit": False}]  # fmt: skip
    ctx = context(write_portfolio(base_manifest(entities=[_entity(stack=stack)])), as_of="2026-11-15")
    document = build_report(ctx, "cto")
    sections = {s["id"]: s for s in document.sections}

    def kinds(section: str) -> list[str]:
        return sorted(document.findings[i].kind for i in sections[section]["findings"])

    # no-waf (high) and no-rate-limit (medium) are security; no-staging (medium) and manual-deploy (low) delivery
    assert kinds("security-findings") == ["no-rate-limit", "no-waf"]
    assert kinds("delivery-findings") == ["manual-deploy", "no-staging"]
    assert sections["delivery-findings"]["title"] == "Delivery findings (process, not security)"
    figures = document.figures
    assert (figures["security.findings.total"].value, figures["security.findings.high"].value) == (2, 1)
    assert (figures["delivery.findings.total"].value, figures["delivery.findings.medium"].value) == (2, 1)
    assert "delivery.findings.total" in sections["delivery-counts"]["figures"]
    assert "no staging and manual deploys are delivery findings" in sections["security-counts"]["note"]
