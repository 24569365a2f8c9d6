"""Security analysis (CTO): secrets in the audited repositories' files and history, and the stack declarations' gaps.

Secrets are found by detect-secrets (every plugin, its default filters), run over text already in the facts:
the tracked files of each repository (``repo_files``) and every line any commit added (``repo_changes``). Each
line is scanned with its file name, so detect-secrets' file-type rules apply. This module is the only one that
imports detect-secrets. Two things it does not cover are checked here: ``.env``-style files committed at all
(``env-file-committed``), and secret-looking assignments in such files, which detect-secrets reads as plain text
(it knows no dotenv file type): they are scanned as a config file (``KEY=value`` needs no quotes there), and an
assignment to a name like ``JWT_SECRET`` or ``API_TOKEN`` that still goes unflagged is reported by our own rule.

A finding never holds a secret: evidence names its type, at most its first 4 characters (only for secrets of 16
characters or more) and a short SHA-256 fingerprint (same length rule).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from detect_secrets.settings import default_settings, get_filters, get_plugins
from detect_secrets.util.code_snippet import get_code_snippet
from detect_secrets.util.inject import call_function_with_arguments

from execintel.analysis.context import Context
from execintel.analysis.model import SEVERITY_ORDER, Figure, Finding, Results
from execintel.config.models import Entity, StackItem

# detect-secrets types that name a provider's credential (high confidence): critical when in a tracked file.
_GENERIC_TYPES = {"Secret Keyword", "Base64 High Entropy String", "Hex High Entropy String", "Basic Auth Credentials"}
# Own rule for dotenv files: an assignment to a secret-sounding name with a literal value of 8+ characters.
_ENV_ASSIGNMENT = re.compile(
    r"^\s*(?:export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(?P<quote>['\"]?)(?P<value>[^'\"\s#]{8,})(?P=quote)\s*(?:#.*)?$"
)
_ENV_SECRET_NAME = re.compile(
    r"(SECRET|TOKEN|PASSWORD|PASSWD|PWD|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|SIGNING_?KEY|CREDENTIAL|JWT|SESSION_?KEY)",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"^(\$\{?.*\}?|<.*>|\{\{.*\}\}|(?i:changeme|change_me|replace_?me|your[-_].*|x{4,}|\*{4,}))$")
ENV_ASSIGNMENT_TYPE = "Secret assignment in an environment file"
# Templates meant to be committed: still reported (the contract's condition), at low severity.
_ENV_TEMPLATE_SUFFIXES = (".example", ".sample", ".template", ".dist", ".defaults")
# Stack components that expose an API (for no-rate-limit and the severity of unauthenticated-endpoint).
_API_COMPONENT = re.compile(r"api|apigateway|google-apps-script|appsync|graphql|function-url|lambda-url", re.I)
_ENDPOINT_COMPONENT = re.compile(r"api|lambda|function|google-apps-script|appsync|graphql|server|express|backend", re.I)
STALE_REPO_DAYS = 90
_INDIRECT_REFERENCE = ".is_indirect_reference"


# --- the detect-secrets adapter -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretHit:
    """One secret detect-secrets (or the dotenv rule) found on one line; ``value`` never leaves this module."""

    type: str
    value: str

    @property
    def digest(self) -> str:
        """SHA-256 of the secret (hex), used to compare occurrences without keeping the value around."""
        return hashlib.sha256(self.value.encode("utf-8")).hexdigest()

    def masked(self) -> str:
        """The type, at most the first 4 characters and a fingerprint: safe to print."""
        if len(self.value) >= 16:
            return f"{self.type} {self.value[:4]}… (SHA-256 {self.digest[:12]})"
        return f"{self.type} (value not shown: {len(self.value)} characters)"

    @property
    def generic(self) -> bool:
        """True for heuristic types (keyword, entropy, dotenv rule) as opposed to a named provider's key format."""
        return self.type in _GENERIC_TYPES or self.type == ENV_ASSIGNMENT_TYPE


def is_env_file(path: str) -> bool:
    """True for a ``.env``-style file: ``.env``, ``.env.*`` (``.env*``) or ``*.env``."""
    name = path.rsplit("/", 1)[-1]
    return name.startswith(".env") or name.endswith(".env")


def _is_env_template(path: str) -> bool:
    return path.rsplit("/", 1)[-1].lower().endswith(_ENV_TEMPLATE_SUFFIXES)


class SecretScanner:
    """detect-secrets with every plugin and its default filters, set up once, scanning lines of text.

    Use as a context manager: detect-secrets keeps its settings in process-wide state, which is restored on exit.
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str, str], list[SecretHit]] = {}
        self._settings: Any = None

    def __enter__(self) -> SecretScanner:
        self._settings = default_settings()
        settings = self._settings.__enter__()
        # We scan text from the facts, not files on disk: the "file exists" filter would drop everything.
        settings.disable_filters("detect_secrets.filters.common.is_invalid_file")
        self._plugins = get_plugins()
        filters = get_filters()
        self._file_filters = [f for f in filters if f.injectable_variables <= {"filename"}]
        line_only = [f for f in filters if "line" in f.injectable_variables and "secret" not in
                     f.injectable_variables and "context" not in f.injectable_variables]  # fmt: skip
        # The indirect-reference heuristic drops lines like ``secret = get_secret()``, aimed at keyword matches; a
        # provider's key format matched verbatim (``require("stripe")("sk_live_...")``) is the literal itself.
        self._heuristic_filters = [f for f in line_only if f.path.endswith(_INDIRECT_REFERENCE)]
        self._line_filters = [f for f in line_only if not f.path.endswith(_INDIRECT_REFERENCE)]
        self._secret_filters = [f for f in filters if "secret" in f.injectable_variables]
        self._context_filters = [f for f in filters if "context" in f.injectable_variables]
        return self

    def __exit__(self, *exc: object) -> None:
        self._settings.__exit__(*exc)

    @staticmethod
    def _call(function: Any, **kwargs: Any) -> Any:
        return call_function_with_arguments(function, **kwargs)

    def skips_file(self, path: str) -> bool:
        """True when detect-secrets' file filters leave the file out (lock files, images, ...)."""
        return any(self._call(f, filename=path) for f in self._file_filters)

    def scan(self, path: str, lines: Sequence[str]) -> Iterator[tuple[int, SecretHit]]:
        """(index into ``lines``, hit) for every secret in ``lines`` of file ``path`` (consecutive lines)."""
        if self.skips_file(path):
            return
        scan_as = f"{path}.cnf" if is_env_file(path) else path  # dotenv is KEY=value config
        for index, raw in enumerate(lines):
            line = raw.rstrip()
            previous = lines[index - 1].rstrip() if index else ""
            key = (scan_as, line, previous)
            hits = self._cache.get(key)
            if hits is None:
                hits = self._cache[key] = self._scan_line(scan_as, line, previous, is_env_file(path))
            for hit in hits:
                yield index, hit

    def _scan_line(self, filename: str, line: str, previous: str, env_file: bool) -> list[SecretHit]:
        if not line.strip():
            return []
        context = get_code_snippet([previous, line], 2)
        if any(self._call(f, filename=filename, line=line, context=context) for f in self._line_filters):
            return []
        found: dict[str, SecretHit] = {}
        indirect = any(self._call(f, line=line) for f in self._heuristic_filters)
        for plugin in self._plugins:
            args = {"filename": filename, "line": line, "line_number": 0, "context": context}
            for secret in plugin.analyze_line(**args):
                value = secret.secret_value
                if not value or (value in found and not found[value].generic):
                    continue
                checks = {"filename": filename, "secret": value, "plugin": plugin, "line": line, "context": context}
                if any(self._call(f, **checks) for f in self._secret_filters + self._context_filters):
                    continue
                hit = SecretHit(secret.type, value)
                if not (indirect and hit.generic):
                    found[value] = hit
        if env_file:  # a placeholder in a template is not a secret; our rule covers what detect-secrets missed
            found = {v: h for v, h in found.items() if not (h.generic and _PLACEHOLDER.match(v))}
            if not found:
                found.update((h.value, h) for h in env_assignment(line))
        return list(found.values())


def env_assignment(line: str) -> list[SecretHit]:
    """Our rule for dotenv lines: ``NAME=value`` with a secret-sounding name and a literal value (8+ chars)."""
    match = _ENV_ASSIGNMENT.match(line)
    if not match or not _ENV_SECRET_NAME.search(match["name"]) or _PLACEHOLDER.match(match["value"]):
        return []
    return [SecretHit(ENV_ASSIGNMENT_TYPE, match["value"])]


# --- scanning the facts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Occurrence:
    """Where a secret is: the repository, file, line and (for history) the commit that added it."""

    entity: str | None
    repo: str
    path: str
    line: int
    hit: SecretHit
    sha: str | None = None


def _tracked(ctx: Context) -> list[tuple[Any, ...]]:
    return ctx.query("SELECT entity, repo, path, content FROM repo_files WHERE content IS NOT NULL ORDER BY repo, path")


def _history_chunks(ctx: Context) -> Iterator[tuple[str | None, str, str, str, list[int], list[str]]]:
    """(entity, repo, sha, path, line numbers, texts) of each file each commit touched, added lines only."""
    rows = ctx.query(
        "SELECT entity, repo, sha, path, line, text FROM repo_changes WHERE line IS NOT NULL "
        "ORDER BY repo, sha, path, line"
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
        texts.append(text or "")
    if key is not None:
        yield (*key, numbers, texts)


def _scan_history(scanner: SecretScanner, ctx: Context) -> list[Occurrence]:
    found: list[Occurrence] = []
    for entity, repo, sha, path, numbers, texts in _history_chunks(ctx):
        # Lines are scanned in runs of consecutive numbers, so "previous line" context is a real previous line.
        start = 0
        for end in range(1, len(numbers) + 1):
            if end == len(numbers) or numbers[end] != numbers[end - 1] + 1:
                for index, hit in scanner.scan(path, texts[start:end]):
                    found.append(Occurrence(entity, repo, path, numbers[start + index], hit, sha))
                start = end
    return found


def _commit_times(ctx: Context) -> dict[tuple[str, str], dt.datetime]:
    return {(repo, sha): when for repo, sha, when in ctx.query("SELECT repo, sha, committed_at FROM repo_commits")}


def _adding_commits(ctx: Context, repo: str, path: str, text: str) -> list[str]:
    """Commits that added exactly ``text`` as a line of ``path``, newest first."""
    rows = ctx.query(
        "SELECT DISTINCT c.sha, m.committed_at FROM repo_changes c LEFT JOIN repo_commits m "
        "ON m.repo = c.repo AND m.sha = c.sha WHERE c.repo = ? AND c.path = ? AND c.line IS NOT NULL "
        "AND rtrim(c.text, chr(13)) = ? ORDER BY m.committed_at DESC NULLS LAST, c.sha",
        [repo, path, text],
    )
    return [sha for sha, _ in rows]


def _secret_findings(ctx: Context, results: Results) -> tuple[int, int]:
    """Add hardcoded-secret and secret-in-history findings; returns (files scanned, history lines scanned)."""
    tracked = _tracked(ctx)
    contents: dict[tuple[str, str], str] = {(repo, path): content for _e, repo, path, content in tracked}
    with SecretScanner() as scanner:
        current: list[tuple[Occurrence, str]] = []
        for entity, repo, path, content in tracked:
            lines = content.splitlines()
            current.extend(
                (Occurrence(entity, repo, path, index + 1, hit), lines[index].rstrip("\r"))
                for index, hit in scanner.scan(path, lines)
            )
        history = _scan_history(scanner, ctx)
        scanned = sum(1 for _e, _r, path, _c in tracked if not scanner.skips_file(path))

    seen: set[tuple[str, str, str, str | None]] = set()
    for occurrence, text in current:
        commits = _adding_commits(ctx, occurrence.repo, occurrence.path, text)
        sha = commits[0] if commits else None
        key = (occurrence.hit.digest, occurrence.repo, occurrence.path, sha)
        if key in seen:
            continue
        seen.add(key)
        results.find(_hardcoded(occurrence, sha))

    for occurrence in sorted(history, key=lambda o: (o.repo, o.path, o.sha or "", o.line)):
        content = contents.get((occurrence.repo, occurrence.path))
        if content is not None and occurrence.hit.value in content:
            continue  # still in the working tree: reported as hardcoded-secret with the commit that added it
        key = (occurrence.hit.digest, occurrence.repo, occurrence.path, occurrence.sha)
        if key in seen:
            continue
        seen.add(key)
        results.find(_in_history(occurrence, tracked=content is not None))
    return scanned, len(history)


def _hardcoded(occurrence: Occurrence, sha: str | None) -> Finding:
    hit = occurrence.hit
    place = f"{occurrence.repo}/{occurrence.path}"
    added = f"added by commit {sha[:12]}" if sha else "not committed yet (a working-tree change)"
    return Finding(
        kind="hardcoded-secret",
        severity="high" if hit.generic else "critical",
        title=f"{hit.type} hard-coded in {place}, line {occurrence.line}",
        entity=occurrence.entity,
        evidence=(f"{place}:{occurrence.line}: {hit.masked()}", added),
        file=place,
        line=occurrence.line,
        commit=sha,
        recommendation="Revoke and rotate the credential now, move it to a secret store or the deployment's "
        "environment, and remove it from the file (it stays in git history until the history is rewritten).",
    )


def _in_history(occurrence: Occurrence, *, tracked: bool) -> Finding:
    hit = occurrence.hit
    place = f"{occurrence.repo}/{occurrence.path}"
    now = "the file is still tracked but no longer holds it" if tracked else "the file is no longer tracked"
    sha = occurrence.sha or ""
    return Finding(
        kind="secret-in-history",
        severity="high",
        title=f"{hit.type} in git history of {place} (commit {sha[:12]}, line {occurrence.line})",
        entity=occurrence.entity,
        evidence=(f"{place}:{occurrence.line} as added by commit {sha}: {hit.masked()}", now),
        file=place,
        line=occurrence.line,
        commit=occurrence.sha,
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
            evidence=(f"{ref}: environments: {', '.join(item.environments)}",),
            recommendation="Add a staging environment that mirrors production and deploy there first.",
        )
    if item.deploy == "manual":
        yield Finding(
            kind="manual-deploy",
            severity="low",
            title=f"{label}: deployed by hand",
            entity=entity.id,
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


def analyze(ctx: Context) -> Results:
    """Secrets in files and history, committed environment files, stack gaps, and counts by severity."""
    results = Results()
    has_repos = bool(ctx.query("SELECT 1 FROM repo_commits LIMIT 1") or ctx.query("SELECT 1 FROM repo_files LIMIT 1"))
    has_stack = any(e.stack for e in ctx.manifest.entities)
    repo_sources = tuple(
        sorted({ctx.entity_key(e.id, "repos") for e in ctx.manifest.entities if e.repos})
    ) + ctx.provenance("FROM repo_commits")
    if has_repos:
        scanned, _lines = _secret_findings(ctx, results)
        _env_file_findings(ctx, results)
        _count_figures(ctx, results, scanned, repo_sources)
    _stack_findings(ctx, results)
    if has_repos or has_stack:
        stack_sources = tuple(ctx.entity_key(e.id, "stack") for e in ctx.manifest.entities if e.stack)
        results.add(
            Figure(
                "security.findings.total",
                len(results.findings),
                "count",
                "number of security findings of every severity (secrets in files and history, committed environment "
                "files, stack declarations)",
                (*repo_sources, *stack_sources),
                name="Security findings",
            )
        )
        for severity in SEVERITY_ORDER:
            count = sum(1 for f in results.findings if f.severity == severity)
            results.add(
                Figure(
                    f"security.findings.{severity}",
                    count,
                    "count",
                    f"number of security findings of severity {severity} (secrets in files and history, committed "
                    "environment files, stack declarations)",
                    (*repo_sources, *stack_sources),
                    name=f"Security findings: {severity}",
                )
            )
    return results


def by_severity(findings: Iterable[Finding]) -> list[Finding]:
    """Findings most severe first, then by entity, kind, file and line."""
    return sorted(
        findings,
        key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.entity or "", f.kind, f.file or "", f.line or 0),
    )
