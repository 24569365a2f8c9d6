"""Security analysis (CTO): secrets in the audited repositories' files and history, and the stack declarations' gaps.

Secrets are found by ``secrets.SecretScanner`` (detect-secrets with every plugin and its default filters, plus
our rules for credential files, shell exports and framework secrets), run over text already in the facts: the
tracked files of each repository (``repo_files``) and every line any commit added (``repo_changes``). Key stores
and other credential files whose contents cannot be read are recognised by name. ``.env``-style files committed
at all are reported too (``env-file-committed``).

A finding never holds a secret: evidence names its type, at most its first 4 characters (only for secrets of 16
characters or more) and a short SHA-256 fingerprint (same length rule).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from execintel.analysis.context import Context
from execintel.analysis.model import SEVERITY_ORDER, Figure, Finding, Results
from execintel.analysis.secret_names import assigned_name
from execintel.analysis.secrets import SecretHit, SecretScanner, file_mode, is_env_file
from execintel.config.models import Entity, StackItem

# Templates meant to be committed: still reported (the contract's condition), at low severity.
_ENV_TEMPLATE_SUFFIXES = (".example", ".sample", ".template", ".dist", ".defaults")
# Stack components that expose an API (for no-rate-limit and the severity of unauthenticated-endpoint).
_API_COMPONENT = re.compile(r"api|apigateway|google-apps-script|appsync|graphql|function-url|lambda-url", re.I)
_ENDPOINT_COMPONENT = re.compile(r"api|lambda|function|google-apps-script|appsync|graphql|server|express|backend", re.I)
STALE_REPO_DAYS = 90
# Security findings (a way in for an attacker) and delivery findings (how changes reach production: process, not
# security), counted and shown apart.
SECURITY_KINDS = (
    "hardcoded-secret",
    "secret-in-history",
    "env-file-committed",
    "unauthenticated-endpoint",
    "no-waf",
    "no-rate-limit",
)
DELIVERY_KINDS = ("no-staging", "manual-deploy")
_BATCH = 20_000  # history rows fetched at a time, so memory stays bounded on long histories


def _is_env_template(path: str) -> bool:
    return path.rsplit("/", 1)[-1].lower().endswith(_ENV_TEMPLATE_SUFFIXES)


def file_lines(content: str) -> list[str]:
    """The lines of a file as git numbers them (split on newline only, carriage returns dropped)."""
    return [line.removesuffix("\r") for line in content.split("\n")]


# --- scanning the facts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Occurrence:
    """Where a secret is: the repository, file, line (None for a file recognised by name) and commit (history)."""

    entity: str | None
    repo: str
    path: str
    line: int | None
    hit: SecretHit
    sha: str | None = None
    name: str | None = None  # the variable or key the secret is assigned to (``JWT_SECRET``), when there is one


@dataclass(frozen=True)
class TrackedFile:
    """A file of a repository's working tree: its text, or None when binary or too large to read."""

    entity: str | None
    repo: str
    path: str
    binary: bool
    content: str | None


def _tracked(ctx: Context) -> list[TrackedFile]:
    rows = ctx.query('SELECT entity, repo, path, "binary", content FROM repo_files ORDER BY repo, path')
    return [TrackedFile(e, r, p, bool(b), c) for e, r, p, b, c in rows]


def _stream(ctx: Context, sql: str) -> Iterator[tuple[Any, ...]]:
    """Rows of ``sql`` over the facts, fetched in batches (a repository's history can be large)."""
    cursor = ctx.facts.con.cursor()
    try:
        cursor.execute(sql)
        while batch := cursor.fetchmany(_BATCH):
            yield from batch
    finally:
        cursor.close()


def _history_chunks(ctx: Context) -> Iterator[tuple[str | None, str, str, str, list[int], list[str]]]:
    """(entity, repo, sha, path, line numbers, texts) of each file each commit touched, added lines only."""
    rows = _stream(
        ctx,
        "SELECT entity, repo, sha, path, line, text FROM repo_changes WHERE line IS NOT NULL "
        "ORDER BY repo, sha, path, line",
    )
    key: tuple[Any, ...] | None = None
    numbers: list[int] = []
    texts: list[str] = []
    for entity, repo, sha, path, line, text in rows:
        if (entity, repo, sha, path) != key:
            if key is not None:
                yield (*key, numbers, texts)
            key, numbers, texts = (entity, repo, sha, path), [], []
        numbers.append(int(line))
        texts.append((text or "").removesuffix("\r"))
    if key is not None:
        yield (*key, numbers, texts)


def _scan_history(scanner: SecretScanner, ctx: Context) -> list[Occurrence]:
    found: list[Occurrence] = []
    for entity, repo, sha, path, numbers, texts in _history_chunks(ctx):
        mode = file_mode(path, texts)  # one mode for all the lines this commit added to the file
        # Lines are scanned in runs of consecutive numbers, so "previous line" context is a real previous line.
        start = 0
        for end in range(1, len(numbers) + 1):
            if end == len(numbers) or numbers[end] != numbers[end - 1] + 1:
                for index, hit in scanner.scan(path, texts[start:end], mode):
                    at = start + index
                    name = assigned_name(texts[at], hit.value, texts[at - 1] if at > start else "")
                    found.append(Occurrence(entity, repo, path, numbers[at], hit, sha, name))
                start = end
    # Credential files known by name whose contents git shows as binary (key stores): every commit that wrote one.
    rows = ctx.query("SELECT DISTINCT entity, repo, sha, path FROM repo_changes WHERE line IS NULL AND change <> 'D'")
    for entity, repo, sha, path in rows:
        by_name = scanner.binary_credential(path)
        if by_name is not None:
            found.append(Occurrence(entity, repo, path, None, by_name, sha))
    return found


def _commit_times(ctx: Context) -> dict[tuple[str, str], dt.datetime]:
    return {(repo, sha): when for repo, sha, when in ctx.query("SELECT repo, sha, committed_at FROM repo_commits")}


def _writing_commits(ctx: Context, repo: str, path: str) -> list[str]:
    """Commits that wrote ``path`` (added or changed it), newest first."""
    rows = ctx.query(
        "SELECT DISTINCT c.sha, m.committed_at FROM repo_changes c LEFT JOIN repo_commits m "
        "ON m.repo = c.repo AND m.sha = c.sha WHERE c.repo = ? AND c.path = ? AND c.change <> 'D' "
        "ORDER BY m.committed_at DESC NULLS LAST, c.sha",
        [repo, path],
    )
    return [sha for sha, _ in rows]


def _adding_commits(ctx: Context, repo: str, path: str, text: str) -> list[str]:
    """Commits that added exactly ``text`` as a line of ``path``, newest first."""
    rows = ctx.query(
        "SELECT DISTINCT c.sha, m.committed_at FROM repo_changes c LEFT JOIN repo_commits m "
        "ON m.repo = c.repo AND m.sha = c.sha WHERE c.repo = ? AND c.path = ? AND c.line IS NOT NULL "
        "AND rtrim(c.text, chr(13)) = ? ORDER BY m.committed_at DESC NULLS LAST, c.sha",
        [repo, path, text],
    )
    return [sha for sha, _ in rows]


@dataclass(frozen=True)
class SecretAge:
    """The first commit that added a secret to a path, its date in the portfolio's zone, and the days to as_of."""

    sha: str
    day: dt.date
    days: int

    def describe(self) -> str:
        """``first committed 2026-01-02 (commit 1b6da43b82b2), 317 days before as_of``."""
        return f"first committed {self.day.isoformat()} (commit {self.sha[:12]}), {self.days} days before as_of"


@dataclass(frozen=True)
class SecretRow:
    """A secret finding with what the CTO report's table shows: the secret's label and its age."""

    finding: Finding
    label: str  # type and variable name: ``Secret Keyword JWT_SECRET``
    age: SecretAge | None  # None for a secret not committed yet


@dataclass
class SecurityResults(Results):
    """Figures and findings, plus the secret findings with their labels and ages (the CTO's secrets table)."""

    secrets: list[SecretRow] = field(default_factory=list)


def _secret_findings(ctx: Context, results: SecurityResults) -> int:
    """Add hardcoded-secret and secret-in-history findings; returns the number of tracked text files scanned."""
    tracked = _tracked(ctx)
    files = {(f.repo, f.path): f for f in tracked}
    with SecretScanner() as scanner:
        current: list[tuple[Occurrence, str | None]] = []
        for file in tracked:
            if file.content is None:
                by_name = scanner.binary_credential(file.path) if file.binary else None
                if by_name is not None:
                    current.append((Occurrence(file.entity, file.repo, file.path, None, by_name), None))
                continue  # binary, or over the git source's size cap: its history is still scanned
            lines = file_lines(file.content)
            current.extend(
                (
                    Occurrence(file.entity, file.repo, file.path, index + 1, hit,
                               name=assigned_name(lines[index], hit.value, lines[index - 1] if index else "")),
                    lines[index],
                )
                for index, hit in scanner.scan(file.path, lines)
            )  # fmt: skip
        history = _scan_history(scanner, ctx)
        scanned = sum(1 for f in tracked if f.content is not None and not scanner.skips_file(f.path))

    ages = _first_commits(ctx, history)
    seen: set[tuple[str, str, str, str | None]] = set()
    for occurrence, text in current:
        if text is None:
            commits = _writing_commits(ctx, occurrence.repo, occurrence.path)
        else:
            commits = _adding_commits(ctx, occurrence.repo, occurrence.path, text)
        sha = commits[0] if commits else None
        key = (occurrence.hit.digest, occurrence.repo, occurrence.path, sha)
        if key in seen:
            continue
        seen.add(key)
        age = ages.get((occurrence.repo, occurrence.path, occurrence.hit.digest)) or _age(ctx, occurrence.repo, sha)
        finding = results.find(_hardcoded(occurrence, sha, age))
        results.secrets.append(SecretRow(finding, secret_label(occurrence.hit, occurrence.name), age))

    in_tree = {(o.repo, o.path, o.hit.digest) for o, _text in current}
    for occurrence in sorted(history, key=lambda o: (o.repo, o.path, o.sha or "", o.line or 0)):
        now = files.get((occurrence.repo, occurrence.path))
        value = occurrence.hit.value
        if (occurrence.repo, occurrence.path, occurrence.hit.digest) in in_tree or (
            now is not None
            and (
                (now.content is not None and len(value) >= 8 and value in now.content)
                or (now.content is None and occurrence.line is None)
            )
        ):
            continue  # still in the working tree: reported as hardcoded-secret with the commit that added it
        key = (occurrence.hit.digest, occurrence.repo, occurrence.path, occurrence.sha)
        if key in seen:
            continue
        seen.add(key)
        age = ages.get((occurrence.repo, occurrence.path, occurrence.hit.digest)) or _age(
            ctx, occurrence.repo, occurrence.sha
        )
        finding = results.find(_in_history(occurrence, now, age))
        results.secrets.append(SecretRow(finding, secret_label(occurrence.hit, occurrence.name), age))
    return scanned


def _age(ctx: Context, repo: str, sha: str | None) -> SecretAge | None:
    """The age of a secret added by commit ``sha`` (None when uncommitted or the commit's date is unknown)."""
    if sha is None:
        return None
    rows = ctx.query("SELECT min(committed_at) FROM repo_commits WHERE repo = ? AND sha = ?", [repo, sha])
    when = rows[0][0] if rows else None
    if when is None:
        return None
    day = ctx.local_date(when)
    # A commit dated after as_of (a report for a past date over today's repository) is 0 days old.
    return SecretAge(sha, day, max(0, (ctx.as_of - day).days))


def _first_commits(ctx: Context, history: list[Occurrence]) -> dict[tuple[str, str, str], SecretAge]:
    """(repo, path, secret digest) -> the age from the earliest commit (committer date) that added it there."""
    times = _commit_times(ctx)
    first: dict[tuple[str, str, str], tuple[dt.datetime, str]] = {}
    for occurrence in history:
        when = times.get((occurrence.repo, occurrence.sha or ""))
        if when is None or occurrence.sha is None:
            continue
        key = (occurrence.repo, occurrence.path, occurrence.hit.digest)
        if key not in first or (when, occurrence.sha) < first[key]:
            first[key] = (when, occurrence.sha)
    out: dict[tuple[str, str, str], SecretAge] = {}
    for key, (when, sha) in first.items():
        day = ctx.local_date(when)
        out[key] = SecretAge(sha, day, max(0, (ctx.as_of - day).days))
    return out


def secret_label(hit: SecretHit, name: str | None) -> str:
    """The secret's type and, when known, the name it is assigned to: ``Secret Keyword JWT_SECRET``."""
    if name is None:
        return hit.type
    kind = hit.type.removesuffix(f" ({name})")  # our generic rules already name the key in the type
    return f"{kind} {name}"


def _hardcoded(occurrence: Occurrence, sha: str | None, age: SecretAge | None) -> Finding:
    hit = occurrence.hit
    place = f"{occurrence.repo}/{occurrence.path}"
    added = f"added by commit {sha[:12]}" if sha else "not committed yet (a working-tree change)"
    if age is not None:
        added += f"; {age.describe()}"
    label = secret_label(hit, occurrence.name)
    if occurrence.line is None:
        title, where = f"{label} committed as {place}", f"{place}: {hit.masked()}"
    else:
        title = f"{label} hard-coded in {place}, line {occurrence.line}"
        where = f"{place}:{occurrence.line}: {hit.masked()}"
    if occurrence.name is not None:
        where += f" assigned to {occurrence.name}"
    return Finding(
        kind="hardcoded-secret",
        severity="high" if hit.generic else "critical",
        title=title,
        entity=occurrence.entity,
        evidence=(where, added),
        file=place,
        line=occurrence.line,
        commit=sha,
        subject=f"{place} sha256:{hit.digest}",
        recommendation="Revoke and rotate the credential now, move it to a secret store or the deployment's "
        "environment, and remove it from the file (it stays in git history until the history is rewritten).",
    )


def _in_history(occurrence: Occurrence, file: TrackedFile | None, age: SecretAge | None) -> Finding:
    hit = occurrence.hit
    place = f"{occurrence.repo}/{occurrence.path}"
    if file is None:
        now = "the file is no longer tracked"
    elif file.content is None:
        now = (
            "the file is still tracked but its working-tree copy was not read (binary or over 1 MB): the secret "
            "may still be in it"
        )
    else:
        now = "the file is still tracked but no longer holds it"
    sha = occurrence.sha or ""
    at = f", line {occurrence.line}" if occurrence.line is not None else ""
    where = f"{place}:{occurrence.line}" if occurrence.line is not None else place
    named = f" assigned to {occurrence.name}" if occurrence.name is not None else ""
    return Finding(
        kind="secret-in-history",
        severity="high",
        title=f"{secret_label(hit, occurrence.name)} in git history of {place} (commit {sha[:12]}{at})",
        entity=occurrence.entity,
        evidence=(
            f"{where} as added by commit {sha}: {hit.masked()}{named}",
            now,
            *((age.describe(),) if age is not None else ()),
        ),
        file=place,
        line=occurrence.line,
        commit=occurrence.sha,
        subject=f"{place}@{occurrence.sha} sha256:{hit.digest}",
        recommendation="Anyone with a clone can read it: revoke and rotate the credential; rewriting history "
        "(git filter-repo) only helps once every clone is replaced.",
    )


def _env_file_commits(ctx: Context) -> dict[tuple[str, str], tuple[str | None, list[str]]]:
    """(repo, path) of every ``.env``-style file in any commit -> (entity, commits that wrote it, oldest first).

    The commits are those that added lines to the file; for a file that never had a line (empty), the commits
    whose diff touched it.
    """
    rows = ctx.query(
        "SELECT c.entity, c.repo, c.path, c.sha, c.line IS NULL AS file_row, min(m.committed_at) AS t "
        "FROM repo_changes c LEFT JOIN repo_commits m ON m.repo = c.repo AND m.sha = c.sha "
        "WHERE c.line IS NOT NULL OR c.change <> 'D' GROUP BY ALL ORDER BY c.repo, c.path, t NULLS LAST, c.sha"
    )
    with_lines: dict[tuple[str, str], tuple[str | None, list[str]]] = {}
    file_rows: dict[tuple[str, str], tuple[str | None, list[str]]] = {}
    for entity, repo, path, sha, file_row, _when in rows:
        if not is_env_file(path):
            continue
        commits = (file_rows if file_row else with_lines).setdefault((repo, path), (entity, []))[1]
        if sha not in commits:
            commits.append(sha)
    return {**{k: v for k, v in file_rows.items() if k not in with_lines}, **with_lines}


def _env_file_findings(ctx: Context, results: Results) -> None:
    files = _env_file_commits(ctx)
    tracked = {(repo, path): entity for entity, repo, path in ctx.query("SELECT entity, repo, path FROM repo_files")}
    for key, entity in tracked.items():
        if is_env_file(key[1]) and key not in files:
            files[key] = (entity, [])
    for (repo, path), (entity, commits) in sorted(files.items()):
        place = f"{repo}/{path}"
        template = _is_env_template(path)
        listed = ", ".join(c[:12] for c in commits) or "unknown (tracked, no diff read)"
        results.find(
            Finding(
                kind="env-file-committed",
                severity="low" if template else "high",
                title=f"Environment file {place} is committed to git" + (" (a template)" if template else ""),
                entity=entity,
                evidence=(
                    f"{place} written by {len(commits)} commit(s): {listed}",
                    f"{place}: " + ("still tracked" if (repo, path) in tracked else "no longer tracked (deleted)"),
                ),
                file=place,
                commit=commits[0] if commits else None,
                subject=place,
                recommendation=(
                    "Check the template holds placeholders only."
                    if template
                    else "Stop tracking the file (add it to .gitignore), rotate every value it held, and load "
                    "settings from the deployment's environment or a secret store."
                ),
            )
        )


# --- stack declarations ---------------------------------------------------------------------------------------


def _stack_findings(ctx: Context, results: Results) -> None:
    for entity in ctx.manifest.entities:
        for index, item in enumerate(entity.stack):
            for finding in stack_item_findings(ctx, entity, index, item):
                results.find(finding)


def has_api_component(item: StackItem) -> bool:
    """True when a component of the stack item exposes an API (name with "api", Apps Script, AppSync, ...)."""
    return any(_API_COMPONENT.search(c) for c in item.components)


def stack_item_findings(ctx: Context, entity: Entity, index: int, item: StackItem) -> Iterator[Finding]:
    """The contract's stack findings for one declared stack item."""
    ref = ctx.entity_key(entity.id, f"stack[{index}]")
    label = f"{entity.name} / {item.name}"
    components = ", ".join(item.components) or "none listed"
    if item.auth == "none":
        serves = any(_ENDPOINT_COMPONENT.search(c) for c in item.components)
        yield Finding(
            kind="unauthenticated-endpoint",
            severity="high" if serves else "low",
            title=f"{label}: endpoints accept calls with no authentication",
            entity=entity.id,
            subject=f"stack {item.name}",
            evidence=(f"{ref}: auth: none", f"components: {components}"),
            recommendation="Require a token (e.g. a signed JWT or an API key checked server-side) on every "
            "endpoint that reads or writes data; keep public only what is meant to be public.",
        )
    if "cloudfront" in {c.lower() for c in item.components} and item.waf is False:
        yield Finding(
            kind="no-waf",
            severity="high",
            title=f"{label}: CloudFront distribution without a web application firewall",
            entity=entity.id,
            subject=f"stack {item.name}",
            evidence=(f"{ref}: components include cloudfront, waf: false",),
            recommendation="Attach an AWS WAF web ACL with the managed core rule set and a rate-based rule.",
        )
    if has_api_component(item) and item.rate_limit is False:
        apis = ", ".join(c for c in item.components if _API_COMPONENT.search(c))
        yield Finding(
            kind="no-rate-limit",
            severity="medium",
            title=f"{label}: API without rate limiting",
            entity=entity.id,
            subject=f"stack {item.name}",
            evidence=(f"{ref}: rate_limit: false", f"API components: {apis}"),
            recommendation="Set throttling (API Gateway stage/usage-plan limits, or a WAF rate-based rule) and "
            "Lambda reserved concurrency, so abuse cannot run up cost or take the service down.",
        )
    if item.environments and "staging" not in {e.lower() for e in item.environments}:
        yield Finding(
            kind="no-staging",
            severity="medium",
            title=f"{label}: no staging environment; changes go straight to production",
            entity=entity.id,
            subject=f"stack {item.name}",
            evidence=(f"{ref}: environments: {', '.join(item.environments)}",),
            recommendation="Add a staging environment that mirrors production and deploy there first.",
        )
    if item.deploy == "manual":
        yield Finding(
            kind="manual-deploy",
            severity="low",
            title=f"{label}: deployed by hand",
            entity=entity.id,
            subject=f"stack {item.name}",
            evidence=(f"{ref}: deploy: manual",),
            recommendation="Deploy from CI on merge (tests, then the same scripted steps), with production "
            "credentials held by the pipeline rather than a laptop.",
        )


# --- the analysis ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepoActivity:
    """An audited repository's last commit and the days from it to ``as_of``."""

    entity: str | None
    repo: str
    last_commit: dt.date
    days: int


def repo_activity(ctx: Context) -> list[RepoActivity]:
    """Every audited repository with its newest commit date (committer date, UTC) and days before ``as_of``."""
    rows = ctx.query("SELECT entity, repo, max(committed_at) FROM repo_commits GROUP BY entity, repo ORDER BY repo")
    return [RepoActivity(e, r, last.date(), (ctx.as_of - last.date()).days) for e, r, last in rows if last]


def stale_repos(ctx: Context, days: int = STALE_REPO_DAYS) -> list[RepoActivity]:
    """Audited repositories whose newest commit is ``days`` or more before ``as_of``."""
    return [a for a in repo_activity(ctx) if a.days >= days]


def _count_figures(ctx: Context, results: Results, scanned_files: int, sources: tuple[str, ...]) -> None:
    repos = ctx.query(
        "SELECT count(DISTINCT repo) FROM (SELECT repo FROM repo_commits UNION SELECT repo FROM repo_files)"
    )
    commits = ctx.query("SELECT count(*) FROM (SELECT DISTINCT repo, sha FROM repo_commits)")
    stale = stale_repos(ctx)
    counts = (
        ("security.repos.scanned", int(repos[0][0]), "audited git repositories (entities[].repos) read",
         "Repositories scanned"),
        ("security.files.scanned", scanned_files, "tracked text files scanned for secrets (files detect-secrets' "
         "file filters skip, such as lock files and images, are not counted)", "Files scanned"),
        ("security.commits.scanned", int(commits[0][0]), "commits reachable from any ref whose added lines were "
         "scanned for secrets", "Commits scanned"),
        ("security.repos.stale", len(stale), f"audited repositories whose newest commit (any ref, committer date) is "
         f"{STALE_REPO_DAYS} days or more before as_of", f"Repositories with no commit in {STALE_REPO_DAYS} days"),
    )  # fmt: skip
    for fid, value, formula, name in counts:
        results.add(Figure(fid, value, "count", formula, sources, name=name))


def analyze(ctx: Context) -> SecurityResults:
    """Secrets in files and history, committed environment files, stack gaps, and counts by severity."""
    results = SecurityResults()
    has_repos = bool(ctx.query("SELECT 1 FROM repo_commits LIMIT 1") or ctx.query("SELECT 1 FROM repo_files LIMIT 1"))
    has_stack = any(e.stack for e in ctx.manifest.entities)
    repo_sources = tuple(
        sorted({ctx.entity_key(e.id, "repos") for e in ctx.manifest.entities if e.repos})
    ) + ctx.provenance("FROM repo_commits")
    if has_repos:
        scanned = _secret_findings(ctx, results)
        _env_file_findings(ctx, results)
        _count_figures(ctx, results, scanned, repo_sources)
    _stack_findings(ctx, results)
    if has_repos or has_stack:
        stack_sources = tuple(ctx.entity_key(e.id, "stack") for e in ctx.manifest.entities if e.stack)
        _severity_counts(results, "security", SECURITY_KINDS, (*repo_sources, *stack_sources))
    if has_stack:
        stack_sources = tuple(ctx.entity_key(e.id, "stack") for e in ctx.manifest.entities if e.stack)
        _severity_counts(results, "delivery", DELIVERY_KINDS, stack_sources)
    return results


def _severity_counts(results: Results, group: str, kinds: tuple[str, ...], sources: tuple[str, ...]) -> None:
    """``<group>.findings.total`` and ``<group>.findings.<severity>``: the findings of ``kinds`` only."""
    what = ", ".join(kinds)
    chosen = [f for f in results.findings if f.kind in kinds]
    results.add(Figure(f"{group}.findings.total", len(chosen), "count",
                       f"number of {group} findings of every severity (kinds {what})", sources,
                       name=f"{group.capitalize()} findings"))  # fmt: skip
    for severity in SEVERITY_ORDER:
        count = sum(1 for f in chosen if f.severity == severity)
        results.add(Figure(f"{group}.findings.{severity}", count, "count",
                           f"number of {group} findings of severity {severity} (kinds {what})", sources,
                           name=f"{group.capitalize()} findings: {severity}"))  # fmt: skip


def by_severity(findings: Iterable[Finding]) -> list[Finding]:
    """Findings most severe first, then by entity, kind, file and line."""
    return sorted(
        findings,
        key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.entity or "", f.kind, f.file or "", f.line or 0),
    )
