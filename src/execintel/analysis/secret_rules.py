"""Our own secret rules: what a rule is, the building blocks of the patterns, the generic rules, the matcher.

Each rule is one regular expression whose group ``value`` is the secret, run over one line (or a window of a
long line). A rule can be limited to files by name (``.netrc``, ``WinSCP.ini``) and to file modes (unquoted
values only outside code), can require a literal on the line before its expression runs (``hints``, a cheap
substring test), and can take its value from the next line (a PEM header's body). Every expression runs in
time linear in the line: character classes and bounded repeats, no nested unbounded quantifiers.

Rules are *specific* (a named file kind, key format or framework setting: severity critical; see
``secret_formats`` and ``credential_files``) or *generic* (defined here: a secret-sounding name with a literal
value, a password in a URL or on a command line: severity high). Values people type (passwords, framework
secrets, generic assignments) go through the placeholder filter of ``secret_filters``; fixed formats (a
provider's key, a password hash) only through its documentation-example check.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

# File modes (see ``secrets.file_mode``): which rules apply where.
CODE, CONFIG, YAML, OTHER = "code", "config", "yaml", "other"
ALL_MODES = frozenset({CODE, CONFIG, YAML, OTHER})
TEXT_MODES = frozenset({CONFIG, YAML, OTHER})


@dataclass(frozen=True)
class Rule:
    """One detection: an expression with a ``value`` group, where it applies, and what it is called."""

    type: str
    pattern: re.Pattern[str]
    hints: tuple[str, ...] = ()  # lower-case literals, one of which must be on the line
    files: re.Pattern[str] | None = None  # applies only to paths (lower-cased) this matches
    generic: bool = False
    format: bool = False  # a fixed key format: only documentation examples are dropped, not placeholders
    next_line: bool = False  # the value is the start of the next line (a PEM header's body)
    previous: re.Pattern[str] | None = None  # the previous line must match this (its group ``key`` names the value)
    check: Callable[[str], bool] | None = None
    modes: frozenset[str] = ALL_MODES

    def applies_to(self, path: str, mode: str) -> bool:
        """True when the rule runs on lines of ``path`` (lower-cased) scanned in ``mode``."""
        return mode in self.modes and (self.files is None or bool(self.files.search(path)))


def pattern(text: str, flags: int = 0) -> re.Pattern[str]:
    """A compiled rule expression."""
    return re.compile(text, flags)


def file_names(text: str) -> re.Pattern[str]:
    """A path pattern anchored at a folder boundary: ``file_names(r"\\.netrc")`` matches ``a/.netrc``, ``.netrc``."""
    return re.compile(r"(?:^|/)(?:" + text + r")$")


def decodes_to_user_password(value: str) -> bool:
    """True when ``value`` is base64 of ``user:password`` (Docker and npm ``auth``)."""
    try:
        text = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    user, sep, password = text.partition(":")
    return bool(sep and user and password) and text.isprintable()


def decodes_to_text(value: str) -> bool:
    """True when ``value`` is base64 of printable text (FileZilla's ``encoding="base64"`` passwords)."""
    try:
        return base64.b64decode(value, validate=True).decode("utf-8").isprintable()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False


Q = r"""["'`]"""  # a quote
# A quoted literal with no space or quote inside; quotes may be backslash-escaped (JSON inside JSON, notebooks).
LIT = r"""\\?(?P<q>["'`])(?P<value>[^"'`\s\\]{4,512})\\?(?P=q)"""
UNQ = r"""(?P<value>[^\s"'`;,<>]{4,512})"""  # an unquoted value up to whitespace
# What may follow an unquoted value: the end, a comment, a closing bracket or quote (``-H "X-Token: abc"``).
END = r"""(?=\s*(?:$|[#;]|//|,\s*$|[)\]}]|["'`](?:\s|$|[,;)\]}])))"""
NAME_WORDS = (
    r"(?:secret|passw(?:or)?d|passwd|pwd|(?<![a-z])pw(?![a-z])|pass(?:phrase|code)?(?![a-z])|token|api[_.-]?key"
    r"|apikey|access[_.-]?key|private[_.-]?key|signing[_.-]?key|encryption[_.-]?key|master[_.-]?key|app[_.-]?key"
    r"|auth(?!or|ent|ori)|credential|jwt|session[_.-]?key|salt|cookie[_.-]?key)"
)
# A name containing a secret word (letters, digits, _ . -), or an upper-case name ending in _KEY.
KEY_NAME = (
    r"(?<![A-Za-z0-9_.\-])(?P<key>[A-Za-z0-9_.\-]{0,60}(?i:" + NAME_WORDS + r")[A-Za-z0-9_.\-]{0,60}"
    r"|[A-Z0-9_]{1,60}_KEY)"
)
KEY_HINTS = ("secret", "pass", "pwd", "pw", "token", "key", "auth", "credential", "jwt", "salt")
# Fewer words, for formats where a name is followed by its value with only a space between.
_STRONG_NAME = r"(?P<key>(?i:[\w.\-]{0,40}(?:passw(?:or)?d|passwd|secret|token|api[_\-]?key)[\w.\-]{0,40}))"
_ASSIGNED = "Secret assignment"

GENERIC_RULES: tuple[Rule, ...] = (
    # name = "literal" / name: 'literal' / "name": "literal" / name => 'literal' / name := "literal" (any file;
    # not a comparison: token == "call" is a parser, and detect-secrets' keyword plugin has password == "...")
    Rule(_ASSIGNED, pattern(KEY_NAME + r"[\\\"'\]]{0,3}\s*(?:=>|:=|=(?!=)|:)\s*" + LIT), KEY_HINTS, generic=True),
    # NAME=value, name: value, export NAME=value, ARG NAME=value, - NAME=value (not in code files)
    Rule(
        _ASSIGNED,
        pattern(r"(?:^|[\s;&|(])(?:export\s+|ENV\s+|ARG\s+|-\s+)?" + KEY_NAME + r"[\"'\]]{0,2}\s*[=:]\s*" + UNQ + END),
        KEY_HINTS,
        generic=True,
        modes=TEXT_MODES,
    ),
    # PGPASSWORD=x psql ..., docker run -e DB_PASSWORD=x ...: an upper-case shell variable set on a command line
    Rule(
        _ASSIGNED,
        pattern(
            r"(?:^|[\s;&|(])(?P<key>[A-Z][A-Z0-9_]{0,60}(?:PASS|PWD|SECRET|TOKEN|_KEY|AUTH|CREDENTIAL|APIKEY)"
            r"[A-Z0-9_]{0,60})=(?P<value>[^\s\"'`;|&<>()]{4,512})(?=[\s;|&)\"'`]|$)"
        ),
        ("pass", "pwd", "secret", "token", "key", "auth", "credential"),
        generic=True,
        modes=TEXT_MODES,
    ),
    # password "literal" (esmtprc, fetchmailrc and other "name value" formats)
    Rule(
        _ASSIGNED,
        pattern(r"(?<![\w.\-])" + _STRONG_NAME + r"\s+" + LIT + r"(?=\s|;|$)"),
        KEY_HINTS,
        generic=True,
        modes=TEXT_MODES,
    ),
    # Dockerfile ENV NAME value, csh setenv NAME value, fish set -gx NAME value
    Rule(
        _ASSIGNED,
        pattern(r"^\s*(?:ENV|setenv|set\s+-[gxU]{1,3})\s+" + KEY_NAME + r"\s+" + UNQ + END),
        KEY_HINTS,
        generic=True,
        modes=TEXT_MODES,
    ),
    # <password>literal</password>, <apiToken attr="x">literal</apiToken>
    Rule(
        "Secret in an XML element",
        pattern(
            r"<(?P<key>[\w:.\-]{0,40}(?i:pass(?:word)?|passwd|pwd|secret|token|api[_\-]?key|apikey|credential)"
            r"[\w.\-]{0,40})(?:\s[^<>]{0,200})?>(?P<value>[^<>\s]{4,512})</(?P=key)>"
        ),
        KEY_HINTS,
        generic=True,
    ),
    # <add key="ApiToken" value="literal"/>, <option name="password" value="literal"/>
    Rule(
        "Secret in XML settings",
        pattern(r"\b(?:name|key)\s*=\s*[\"']" + KEY_NAME + r"[\"']\s+value\s*=\s*" + LIT),
        KEY_HINTS,
        generic=True,
    ),
    # <string name="api_key">literal</string> (Android resources), <entry key="password">literal</entry>
    Rule(
        "Secret in XML settings",
        pattern(r"\b(?:name|key)\s*=\s*[\"']" + KEY_NAME + r"[\"'][^<>]{0,100}>(?P<value>[^<>\s]{4,512})</"),
        KEY_HINTS,
        generic=True,
    ),
    # {"name": "DB_PASSWORD", "value": "literal"} (ECS task definitions, Postman collections)
    Rule(
        "Secret in a name/value pair",
        pattern(r"[\"'](?:name|key)[\"']\s*:\s*[\"']" + KEY_NAME + r"[\"']\s*,\s*[\"']value[\"']\s*:\s*" + LIT),
        KEY_HINTS,
        generic=True,
    ),
    # - name: DB_PASSWORD / value: literal (Kubernetes env): the value's line, named by the line before it
    Rule(
        "Secret in a name/value pair",
        pattern(r"^\s*value:\s*[\"']?(?P<value>[^\s\"']{4,512})[\"']?\s*$"),
        ("value",),
        generic=True,
        previous=pattern(r"^\s*-?\s*name:\s*[\"']?" + KEY_NAME + r"[\"']?\s*$"),
        modes=TEXT_MODES,
    ),
    Rule(
        "Password in URL",
        pattern(r"[a-z][a-z0-9+.\-]{1,20}://[^\s:/@]{0,200}:(?P<value>[^\s@/,]{3,512})@"),
        ("://",),
        generic=True,
    ),
    Rule(
        "Secret in a URL query",
        pattern(
            r"[?&;](?P<key>(?i:password|passwd|pass|pwd|secret|token|api_?key|apikey|access_token|auth_token"
            r"|client_secret))=(?P<value>[^&\s\"'#;<>]{4,512})"
        ),
        ("pass", "pwd", "secret", "token", "key"),
        generic=True,
    ),
    Rule(
        "Database connection string password",
        # Server=db;User Id=sa;Password=x; (a ; before the password or right after it)
        pattern(
            r"(?i)(?:;\s*(?:password|pwd)\s*=\s*(?P<value>[^;\"'<>\s]{4,256})(?=\s*(?:;|\"|'|$))"
            r"|(?:^|[\"'\s])(?:password|pwd)\s*=\s*(?P<v2>[^;\"'<>\s]{4,256});)"
        ),
        ("password", "pwd"),
        generic=True,
    ),
    Rule(
        "Database DSN password",
        pattern(r"[\"'`][\w.\-]{1,64}:(?P<value>[^@\s\"'`/]{4,256})@(?:tcp|unix)\("),
        ("@tcp(", "@unix("),
        generic=True,
    ),
    Rule(
        "Secret on a command line",
        pattern(
            r"(?:^|\s)--(?P<key>password|passwd|pass|token|api-key|apikey|secret|auth-token|access-token"
            r"|client-secret)(?:=|\s+)[\"']?(?P<value>[^\s\"'`]{4,512})"
        ),
        ("--",),
        generic=True,
    ),
    Rule(
        "Password passed to a login call",
        pattern(
            r"\b(?:login|auth|authenticate|connect|sign_?in|signIn|set_password|HTTPBasicAuth|BasicAuth|basic_auth)"
            r"\s*(?:=\s*)?[(\[]\s*[\"'][^\"'\n]{1,100}[\"']\s*,\s*" + LIT
        ),
        ("login", "auth", "connect", "sign", "password"),
        generic=True,
    ),
    Rule(
        "Authorization header",
        pattern(
            r"(?i)authorization[\"']?\s*[:=]\s*[\"']?(?:Basic|Bearer|Token)\s+(?P<value>[A-Za-z0-9+/=._\-~]{12,2048})"
        ),
        ("authorization",),
        generic=True,
    ),
)


@dataclass(frozen=True)
class RuleHit:
    """A value one rule matched, with the key name it was assigned to when the rule knows it."""

    rule: Rule
    value: str
    key: str


def run_rules(  # noqa: PLR0917 - the line, its neighbours and the window are one call's input
    rules: Sequence[Rule],
    line: str,
    next_line: str = "",
    start: int = 0,
    end: int | None = None,
    previous_line: str = "",
) -> Iterator[RuleHit]:
    """Every match of ``rules`` on ``line[start:end]`` (the whole line by default), in rule order."""
    stop = len(line) if end is None else end
    lower = line[start:stop].lower()
    for rule in rules:
        if rule.hints and not any(h in lower for h in rule.hints):
            continue
        for match in rule.pattern.finditer(line, start, stop):
            if match.end() >= stop and stop < len(line):
                continue  # cut by the window's end: the next window, which overlaps this one, holds it whole
            groups = match.groupdict()
            key = groups.get("key") or ""
            if rule.previous is not None:
                before = rule.previous.match(previous_line)
                if before is None:
                    continue
                key = before["key"]
            value = next_line.strip()[:64] if rule.next_line else groups.get("value") or groups.get("v2") or ""
            if not value or (rule.check is not None and not rule.check(value)):
                continue
            if groups.get("enc") == "base64" and not decodes_to_text(value):
                continue
            yield RuleHit(rule, value, key)
