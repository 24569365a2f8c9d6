"""Four small git repositories holding the seeds' security gaps, built with the git CLI so every SHA is reproducible.

- ``jada-backend``: a Stripe-style live secret key hard-coded in a tracked file;
- ``ops-tools``: ``repos.env`` with AWS keys committed, then deleted (history only);
- ``shipcaptaincrew``: ``.env.production`` with a plaintext ``JWT_SECRET``, still tracked;
- ``gas-microservice``: a Google Apps Script web app open to anonymous callers.

Secret values are drawn from the seeded generator at generation time and
their prefixes are split below, so this source holds no secret-shaped text.
"""

from __future__ import annotations

import os
import shutil
import string
import subprocess
from pathlib import Path
from typing import NamedTuple

from execintel.demo import repo_files as files
from execintel.demo.common import alnum, rng, write_text
from execintel.errors import ExecintelError

FOUNDER = ("Founder", "founder@example.com")
CONTRACTOR = ("Contract developer", "contractor@example.com")
GIT_OPTIONS = ("-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false")


class Commit(NamedTuple):
    """One commit: when, by whom, why, and the files it writes (None deletes)."""

    when: str  # ISO 8601 with offset; author and committer date
    author: tuple[str, str]
    message: str
    changes: dict[str, str | None]


class Secrets(NamedTuple):
    """The fake secrets planted in the repositories."""

    stripe_key: str
    aws_key_id: str
    aws_secret: str
    jwt_secret: str


def make_secrets() -> Secrets:
    """Fake secrets with the shapes scanners look for, from the seeded generator."""
    rand = rng("secrets")
    return Secrets(
        stripe_key="sk_" + "live_" + alnum(rand, 24),
        aws_key_id="AK" + "IA" + alnum(rand, 16, string.ascii_uppercase + string.digits),
        aws_secret=alnum(rand, 40, string.ascii_letters + string.digits + "/+"),
        jwt_secret=alnum(rand, 48),
    )


def history(secrets: Secrets) -> dict[str, list[Commit]]:
    """Every repository's commits, oldest first."""
    return {
        "jada-backend": [
            Commit(
                "2025-02-11T10:20:00-08:00",
                CONTRACTOR,
                "Import legacy JADA backend",
                {
                    "package.json": files.JADA_PACKAGE,
                    "server.js": files.JADA_SERVER,
                    "README.md": files.JADA_README,
                    ".gitignore": "node_modules/\n",
                },
            ),
            Commit(
                "2025-04-03T16:05:00-07:00",
                CONTRACTOR,
                "Add Stripe billing",
                {
                    "src/payments.js": files.JADA_PAYMENTS.replace("@KEY@", secrets.stripe_key),
                    "server.js": files.JADA_SERVER_BILLING,
                },
            ),
            Commit(
                "2025-09-15T09:40:00-07:00",
                CONTRACTOR,
                "Add account routes",
                {"src/routes/accounts.js": files.JADA_ACCOUNTS},
            ),
            Commit(
                "2026-06-02T14:10:00-07:00",
                CONTRACTOR,
                "Bump express",
                {"package.json": files.JADA_PACKAGE.replace("4.18.2", "4.19.2")},
            ),
        ],
        "ops-tools": [
            Commit(
                "2026-03-05T21:12:00-08:00",
                FOUNDER,
                "Executive report sender",
                {
                    "send_exec_reports.py": files.SEND_REPORTS,
                    "README.md": files.OPS_README,
                    "repos.env": files.REPOS_ENV.replace("@KEY_ID@", secrets.aws_key_id).replace(
                        "@SECRET@", secrets.aws_secret
                    ),
                },
            ),
            Commit(
                "2026-03-19T20:30:00-07:00",
                FOUNDER,
                "Weekly strategy cohort",
                {"send_exec_reports_2.py": files.SEND_REPORTS_2},
            ),
            Commit(
                "2026-04-02T08:55:00-07:00",
                FOUNDER,
                "Stop tracking repos.env",
                {"repos.env": None, ".gitignore": "repos.env\n__pycache__/\n"},
            ),
        ],
        "shipcaptaincrew": [
            Commit(
                "2025-01-20T11:00:00-08:00",
                FOUNDER,
                "ShipCaptainCrew: crew schedule API and frontend",
                {
                    "lambda_function.py": files.LAMBDA_V1,
                    "frontend/index.html": files.FRONTEND_V1,
                    "deploy.sh": files.DEPLOY_SH,
                    "README.md": files.SCC_README,
                },
            ),
            Commit(
                "2025-05-08T19:45:00-07:00",
                FOUNDER,
                "Magic-link login with JWT",
                {
                    "lambda_function.py": files.LAMBDA_V2,
                    ".env.production": files.ENV_PRODUCTION.replace("@JWT@", secrets.jwt_secret),
                },
            ),
            Commit(
                "2026-03-10T13:30:00-08:00", CONTRACTOR, "Report endpoints", {"lambda_function.py": files.LAMBDA_V3}
            ),
            Commit(
                "2026-10-02T10:05:00-07:00", FOUNDER, "Reports dashboard", {"frontend/index.html": files.FRONTEND_V2}
            ),
        ],
        "gas-microservice": [
            Commit(
                "2025-06-14T15:25:00-07:00",
                CONTRACTOR,
                "Contact form web app",
                {"Code.gs": files.GAS_CODE_V1, "appsscript.json": files.GAS_MANIFEST, "README.md": files.GAS_README},
            ),
            Commit("2026-02-03T11:50:00-08:00", CONTRACTOR, "Newsletter sign-up", {"Code.gs": files.GAS_CODE_V2}),
        ],
    }


def _git_env() -> dict[str, str]:
    """The environment minus any GIT_* variable, with user and system configuration switched off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"})
    return env


def _run(repo: Path, args: list[str], env: dict[str, str]) -> None:
    try:
        subprocess.run(["git", *GIT_OPTIONS, "-C", str(repo), *args], env=env, check=True, capture_output=True)  # noqa: S603, S607
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode("utf-8", "replace").strip()
        raise ExecintelError(f"building the demo repository {repo.name} failed: git {args[0]}: {detail}") from None


def build_repos(folder: Path, secrets: Secrets) -> None:
    """Create every demo repository under ``folder`` with fixed authors and dates."""
    if shutil.which("git") is None:
        raise ExecintelError("the demo portfolio needs the git command to build its repositories; install git")
    base = _git_env()
    for name, commits in history(secrets).items():
        repo = folder / name
        repo.mkdir(parents=True)
        _run(repo, ["init", "-q"], base)
        for commit in commits:
            for path, content in commit.changes.items():
                target = repo / path
                if content is None:
                    target.unlink()
                else:
                    write_text(target, content)
            author, email = commit.author
            env = {
                **base,
                "GIT_AUTHOR_NAME": author,
                "GIT_AUTHOR_EMAIL": email,
                "GIT_AUTHOR_DATE": commit.when,
                "GIT_COMMITTER_NAME": author,
                "GIT_COMMITTER_EMAIL": email,
                "GIT_COMMITTER_DATE": commit.when,
            }
            _run(repo, ["add", "-A"], env)
            _run(repo, ["commit", "-q", "--no-verify", "-m", commit.message], env)
