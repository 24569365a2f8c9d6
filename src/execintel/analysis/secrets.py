"""The secret scanner: detect-secrets (every plugin, its default filters) and our rules, over lines of text.

This is the only module that imports detect-secrets. It scans text already in the facts (never files on disk),
one line at a time, each with its file name, and adds what detect-secrets alone misses:

- **file modes**: detect-secrets reads ``.yaml``, ``.ini``, ``.cfg``, ``.properties``... and any file that
  parses as ``key = value`` config through *transformers* that quote every value (so ``password = hunter2``
  needs no quotes and entropy checks see the value). Scanning line by line skips those transformers; here every
  ``key = value`` line of a config-mode file is also scanned in that quoted form (``file_mode`` decides the mode
  as detect-secrets would, plus dotenv files and files without a known extension that look like config);
- **our rules** (``secret_rules``): credential files by name and format, provider formats, shell exports,
  framework secrets, secret-sounding assignments;
- **placeholders** (``secret_filters``): heuristic detections that are templates or labels are dropped;
- **long lines** are scanned in overlapping windows, so the time grows linearly with the line's length
  (detect-secrets' expressions grow quadratically on some long lines) and memory stays bounded.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from detect_secrets.settings import default_settings, get_filters, get_plugins
from detect_secrets.util.code_snippet import get_code_snippet
from detect_secrets.util.filetype import FileType, determine_file_type
from detect_secrets.util.inject import call_function_with_arguments

from execintel.analysis.credential_files import binary_credential_type, rules_for
from execintel.analysis.secret_filters import is_documentation_example, key_before, not_a_secret
from execintel.analysis.secret_rules import CODE, CONFIG, OTHER, YAML, Rule, run_rules

# Lines longer than LONG_LINE characters are scanned in windows of WINDOW characters that overlap by OVERLAP, so a
# secret of up to OVERLAP characters is always whole in one window. Each window costs the same, so the scan is
# linear in the line's length.
LONG_LINE = 8192
WINDOW = 8192
OVERLAP = 1024
# detect-secrets' heuristic types (a name or an entropy, not a provider's format).
_GENERIC_TYPES = {"Secret Keyword", "Base64 High Entropy String", "Hex High Entropy String", "Basic Auth Credentials"}
_INDIRECT_REFERENCE = ".is_indirect_reference"
_CONFIG_TYPES = {FileType.CONFIG, FileType.INI, FileType.PROPERTIES, FileType.TOML}
_TEXT_TYPES = {FileType.OTHER, FileType.EXAMPLE}
# A config line (``key = value``, ``key: value``, ``[section]``), a comment or blank line; a quoted form of it.
_SECTION = re.compile(r"^\s*\[[^\]\n]{1,200}\]\s*$")
_KEY_VALUE = re.compile(r"^\s*(?:export\s+|-\s+)?[^\s=:#;\[\]\"'{}<>(][^=:\n]{0,200}?[=:]")
_SKIP_LINE = re.compile(r"^(?:\s*$|\s*[#;!]|\s*//|[ \t])")  # blank, comment, or a continuation (indented)
_ASSIGNMENT = re.compile(
    r"^\s*(?:export\s+|-\s+)?(?P<key>[^\s=:#;\[\]\"'{}<>(][^=:\n]{0,200}?)\s*[=:]\s*(?P<value>\S.{0,4000}?)\s*$"
)
_TRAILING_COMMENT = re.compile(r"\s+[#;].*$")
_CACHE_SIZE = 50_000
_CACHE_LINE = 1000  # longer lines are cached by digest, so the cache holds no long text
# Types that are the same thing under two names: one finding per line.
_PRIVATE_KEY_TYPES = {"Private Key", "Private key", "PuTTY private key"}
# Every word of detect-secrets' keyword denylist contains one of these (api_key, db_pass, passwd, pwd, secret,
# contraseña...), and its expressions ignore case: a line without any of them cannot match.
_KEYWORD_HINTS = ("key", "pass", "pwd", "secret", "contrase")


@dataclass(frozen=True)
class SecretHit:
    """One secret found on one line; ``value`` never leaves the security analysis."""

    type: str
    value: str
    generic: bool = False

    @property
    def digest(self) -> str:
        """SHA-256 of the secret (hex), used to compare occurrences without keeping the value around."""
        return hashlib.sha256(self.value.encode("utf-8")).hexdigest()

    def masked(self) -> str:
        """The type, at most the first 4 characters and a fingerprint: safe to print."""
        if not self.value:
            return f"{self.type} (a credential file; its contents are not shown)"
        if len(self.value) >= 16:
            return f"{self.type} {self.value[:4]}… (SHA-256 {self.digest[:12]})"
        return f"{self.type} (value not shown: {len(self.value)} characters)"


def is_env_file(path: str) -> bool:
    """True for a ``.env``-style file: ``.env``, ``.env.*`` (``.env*``) or ``*.env``."""
    name = path.rsplit("/", 1)[-1]
    return name.startswith(".env") or name.endswith(".env")


def looks_like_config(lines: Sequence[str]) -> bool:
    """True when every meaningful line (of the first 200) is ``key = value``, ``key: value`` or ``[section]``."""
    seen = 0
    for line in lines[:200]:
        head = line[:1000]
        if _SKIP_LINE.match(head):
            continue
        if not (_SECTION.match(head) or _KEY_VALUE.match(head)):
            return False
        seen += 1
    return seen > 0


def file_mode(path: str, lines: Sequence[str]) -> str:
    """How detect-secrets reads the file: ``code`` (by language), ``yaml``, ``config`` (key = value) or ``other``."""
    kind = determine_file_type(path)
    if kind == FileType.YAML:
        return YAML
    if kind in _CONFIG_TYPES or is_env_file(path):
        return CONFIG
    if kind in _TEXT_TYPES:
        return CONFIG if looks_like_config(lines) else OTHER
    return CODE


def quoted_form(line: str, mode: str) -> str | None:
    """A config line with its value quoted, as detect-secrets' transformers write it (``key = "value"``)."""
    if mode not in (CONFIG, YAML) or len(line) > LONG_LINE:
        return None
    match = _ASSIGNMENT.match(line)
    if not match:
        return None
    value = _TRAILING_COMMENT.sub("", match["value"])
    if len(value) >= 2 and value[0] in "'\"" and value[-1] == value[0]:
        value = value[1:-1]
    if not value:
        return None
    value = value.replace('"', '\\"')
    return f'{match["key"]}: "{value}"' if mode == YAML else f'{match["key"]} = "{value}"'


@dataclass(frozen=True)
class _Profile:
    """How the lines of one file are scanned: detect-secrets' file name, the mode, and our rules."""

    ds_name: str
    mode: str
    rules: tuple[Rule, ...]

    @property
    def next_line_rules(self) -> tuple[Rule, ...]:
        """The rules that read the line after the one they match."""
        return tuple(rule for rule in self.rules if rule.next_line)

    @property
    def previous_rules(self) -> tuple[Rule, ...]:
        """The rules that read the line before the one they match."""
        return tuple(rule for rule in self.rules if rule.previous is not None)


@dataclass(frozen=True)
class _Candidate:
    priority: int  # lower wins when two detections hold the same secret
    hit: SecretHit


def _windows(length: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each window of a long line, overlapping by OVERLAP."""
    start = 0
    while True:
        end = min(length, start + WINDOW)
        yield start, end
        if end == length:
            return
        start = end - OVERLAP


class SecretScanner:
    """detect-secrets with every plugin and its default filters plus our rules, set up once, scanning lines.

    Use as a context manager: detect-secrets keeps its settings in process-wide state, which is restored on exit.
    """

    def __init__(self) -> None:
        self._cache: OrderedDict[tuple[Any, ...], list[SecretHit]] = OrderedDict()
        self._settings: Any = None

    def __enter__(self) -> SecretScanner:
        self._settings = default_settings()
        settings = self._settings.__enter__()
        # We scan text from the facts, not files on disk: the "file exists" filter would drop everything.
        settings.disable_filters("detect_secrets.filters.common.is_invalid_file")
        self._plugins = get_plugins()
        self._long_plugins = [p for p in self._plugins if "Entropy" not in p.secret_type]
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

    @staticmethod
    def binary_credential(path: str) -> SecretHit | None:
        """A hit for a credential file recognised by name whose contents cannot be read (a key store)."""
        kind = binary_credential_type(path)
        return SecretHit(kind, "") if kind else None

    def scan(self, path: str, lines: Sequence[str], mode: str | None = None) -> Iterator[tuple[int, SecretHit]]:
        """(index into ``lines``, hit) for every secret in ``lines`` of file ``path`` (consecutive lines).

        ``mode`` is the file's mode (``file_mode``), decided from ``lines`` when not given.
        """
        if self.skips_file(path):
            return
        chosen = mode or file_mode(path, lines)
        ext = path.rsplit("/", 1)[-1]
        ext = ext[ext.rindex(".") :] if "." in ext[1:] else ""
        profile = _Profile(f"file{ext}", chosen, rules_for(path, chosen))
        for index, raw in enumerate(lines):
            line = raw.rstrip()
            if not line.strip():
                continue
            previous = lines[index - 1].rstrip() if index else ""
            following = lines[index + 1] if index + 1 < len(lines) else ""
            for hit in self._cached(profile, line, previous, following):
                yield index, hit

    def _cached(self, profile: _Profile, line: str, previous: str, following: str) -> list[SecretHit]:
        # A long line is keyed by its digest (the same minified bundle is often in the tree and in history).
        text: str | bytes = line if len(line) <= _CACHE_LINE else hashlib.blake2b(line.encode()).digest()
        # The neighbours matter only to allowlist pragmas and the rules that read them.
        short = len(line) <= LONG_LINE
        needs_next = short and any(rule.pattern.search(line) for rule in profile.next_line_rules)
        needs_previous = "pragma" in previous or (short and any(r.pattern.search(line) for r in profile.previous_rules))
        key = (profile, text, previous if needs_previous else "", following if needs_next else "")
        hits = self._cache.get(key)
        if hits is None:
            hits = self._cache[key] = self._scan_line(profile, line, previous, following)
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return hits

    def _scan_line(self, profile: _Profile, line: str, previous: str, following: str) -> list[SecretHit]:
        context = get_code_snippet([previous, line], 2)
        if any(self._call(f, filename=profile.ds_name, line=line, context=context) for f in self._line_filters):
            return []  # an allowlist pragma
        candidates: list[_Candidate] = []
        if len(line) <= LONG_LINE:
            candidates += self._detect(profile.ds_name, line, context)
            quoted = quoted_form(line, profile.mode)
            if quoted is not None:
                snippet = get_code_snippet([quoted], 1)
                candidates += self._detect(f"{profile.ds_name}.cnf", quoted, snippet)
            candidates += self._rules(profile, line, (previous, following), 0, len(line))
        else:
            for start, end in _windows(len(line)):
                window = line[start:end]
                snippet = get_code_snippet([window], 1)
                candidates += self._detect(
                    profile.ds_name, window, snippet, cut_left=start > 0, cut_right=end < len(line), long=True
                )
                candidates += self._rules(profile, line, ("", ""), start, end)
        return _deduplicate(candidates)

    def _detect(
        self,
        filename: str,
        text: str,
        context: Any,
        *,
        cut_left: bool = False,
        cut_right: bool = False,
        long: bool = False,
    ) -> list[_Candidate]:
        """detect-secrets' findings on ``text`` (a line, its quoted form, or a window of a long line).

        In a long line (minified code, an embedded data blob) every quoted string is a candidate for the entropy
        plugins: they find little there but noise and cost most of the time, so windows skip them.
        """
        out: list[_Candidate] = []
        indirect = any(self._call(f, line=text) for f in self._heuristic_filters)
        lower = text.lower()
        keyword = any(word in lower for word in _KEYWORD_HINTS)
        for plugin in self._long_plugins if long else self._plugins:
            if plugin.__class__.__name__ == "KeywordDetector" and not keyword:
                continue  # none of its words is on the line: its expressions cannot match
            args = {"filename": filename, "line": text, "line_number": 0, "context": context}
            for secret in plugin.analyze_line(**args):
                value = secret.secret_value
                if not value:
                    continue
                checks = {"filename": filename, "secret": value, "plugin": plugin, "line": text, "context": context}
                if any(self._call(f, **checks) for f in self._secret_filters + self._context_filters):
                    continue
                at = text.find(value)
                generic = secret.type in _GENERIC_TYPES
                if not generic:
                    value = _whole_token(text, at, value, secret.type)
                if (cut_left and at <= 0) or (cut_right and at + len(value) >= len(text)):
                    continue  # cut by the window's edge: the overlapping window next to it holds it whole
                named = secret.type == "Secret Keyword"
                if generic and (indirect or not_a_secret(value, key_before(text, at), named=named)):
                    continue
                if not generic and is_documentation_example(value):
                    continue
                # detect-secrets' named formats rank after ours (ours name AWS secret keys and key bodies better);
                # among its heuristics a keyword (a name says so) ranks before an entropy guess.
                priority = (40 if "Entropy" in secret.type else 30) if generic else 20
                out.append(_Candidate(priority, SecretHit(secret.type, value, generic)))
        return out

    @staticmethod
    def _rules(profile: _Profile, line: str, around: tuple[str, str], start: int, end: int) -> list[_Candidate]:
        """Our rules' findings on ``line[start:end]``; ``around`` is (previous line, next line)."""
        out: list[_Candidate] = []
        for found in run_rules(profile.rules, line, around[1], start, end, previous_line=around[0]):
            rule, value = found.rule, found.value
            if rule.format:
                if is_documentation_example(value):
                    continue
            else:
                at = line.find(value, start, end)
                if not_a_secret(value, found.key or key_before(line, max(at, 0)), named=bool(found.key)):
                    continue
            # A credential file's own rule names the secret best; our private-key rules keep the key's body (not
            # detect-secrets' "BEGIN RSA PRIVATE KEY"), so every key gets its own fingerprint.
            named = rule.files is not None or rule.type in _PRIVATE_KEY_TYPES
            priority = 50 if rule.generic else 0 if named else 10
            kind = f"{rule.type} ({found.key[:40]})" if found.key and rule.generic else rule.type
            out.append(_Candidate(priority, SecretHit(kind, value, rule.generic)))
        return out


_TOKEN_CHAR = re.compile(r"[A-Za-z0-9_\-=.]{1,2048}")


def _whole_token(text: str, at: int, value: str, kind: str) -> str:
    """The whole token a provider-format match starts: some detect-secrets plugins return only a capture group
    (``ghp`` for a GitHub token), which would give every token of that kind the same fingerprint."""
    if at < 0 or kind in _PRIVATE_KEY_TYPES:
        return value
    more = _TOKEN_CHAR.match(text, at + len(value))
    return (value + more[0]).rstrip(".") if more else value


def _deduplicate(candidates: list[_Candidate]) -> list[SecretHit]:
    """One hit per secret on a line: where two detections hold the same value (or one holds the other's), the
    most specific wins (our credential-file rule, then a provider format, then a heuristic)."""
    kept: list[SecretHit] = []
    for candidate in sorted(candidates, key=lambda c: c.priority):
        hit = candidate.hit
        same = any(
            hit.value in other.value
            or other.value in hit.value
            or (hit.type in _PRIVATE_KEY_TYPES and other.type in _PRIVATE_KEY_TYPES)
            for other in kept
        )
        if not same:
            kept.append(hit)
    return kept
