"""Our own secret rules, for what detect-secrets misses: credential files, shell exports, framework keys, formats.

Each rule is one regular expression whose group ``value`` is the secret, run over one line (or a window of a
long line). A rule can be limited to files by name (``.netrc``, ``WinSCP.ini``), can require a literal on the
line before its expression runs (``hints``, a cheap substring test), and can take its value from the next line
(a PEM header's body). Every expression is written to run in time linear in the line: character classes and
bounded repeats, no nested unbounded quantifiers.

Rules are *specific* (a named file kind, key format or framework setting: severity critical) or *generic* (a
secret-sounding name with a literal value: severity high). Values people type (passwords, framework secrets,
generic assignments) go through the placeholder filter of ``secret_filters``; fixed formats (a provider's key,
a password hash) only through its documentation-example check.
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
    check: Callable[[str], bool] | None = None
    modes: frozenset[str] = ALL_MODES

    def applies_to(self, path: str, mode: str) -> bool:
        """True when the rule runs on lines of ``path`` (lower-cased) scanned in ``mode``."""
        return mode in self.modes and (self.files is None or bool(self.files.search(path)))


def _re(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags)


def _files(pattern: str) -> re.Pattern[str]:
    """A path pattern anchored at a folder boundary: ``_files(r"\\.netrc")`` matches ``a/.netrc`` and ``.netrc``."""
    return re.compile(r"(?:^|/)(?:" + pattern + r")$")


def _decodes_to_user_password(value: str) -> bool:
    """True when ``value`` is base64 of ``user:password`` (Docker and npm ``auth``)."""
    try:
        text = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    user, sep, password = text.partition(":")
    return bool(sep and user and password) and text.isprintable()


def _decodes_to_text(value: str) -> bool:
    """True when ``value`` is base64 of printable text (FileZilla's ``encoding="base64"`` passwords)."""
    try:
        return base64.b64decode(value, validate=True).decode("utf-8").isprintable()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False


_Q = r"""["'`]"""  # a quote
_LIT = r"""(?P<q>["'`])(?P<value>[^"'`\s]{4,512})(?P=q)"""  # a quoted literal with no space or quote inside
_UNQ = r"""(?P<value>[^\s"'`;,<>]{4,512})"""  # an unquoted value up to whitespace
_END = r"""(?=\s*(?:$|[#;]|//|,\s*$|\)|\]|}))"""  # what may follow an unquoted value: end, comment, closer
_NAME_WORDS = (
    r"(?:secret|passw(?:or)?d|passwd|pwd|pass(?:phrase|code)?(?![a-z])|token|api[_.-]?key|apikey|access[_.-]?key"
    r"|private[_.-]?key|signing[_.-]?key|encryption[_.-]?key|master[_.-]?key|app[_.-]?key|auth(?!or|ent|ori)"
    r"|credential|jwt|session[_.-]?key|salt|cookie[_.-]?key)"
)
# A name containing a secret word (letters, digits, _ . -), or an upper-case name ending in _KEY.
_KEY_NAME = (
    r"(?<![A-Za-z0-9_.\-])(?P<key>[A-Za-z0-9_.\-]{0,60}(?i:" + _NAME_WORDS + r")[A-Za-z0-9_.\-]{0,60}"
    r"|[A-Z0-9_]{1,60}_KEY)"
)
_KEY_HINTS = ("secret", "pass", "pwd", "token", "key", "auth", "credential", "jwt", "salt")

# --- provider key formats detect-secrets has no plugin for (high confidence, any file) -------------------------
PROVIDER_RULES: tuple[Rule, ...] = tuple(
    Rule(name, _re(r"(?<![A-Za-z0-9_\-])(?P<value>" + pattern + r")(?![A-Za-z0-9_\-])"), hints, format=True)
    for name, pattern, hints in (
        ("Google API key", r"AIza[0-9A-Za-z_\-]{35}", ("aiza",)),
        ("Google OAuth client secret", r"GOCSPX-[0-9A-Za-z_\-]{28}", ("gocspx-",)),
        ("Google OAuth refresh token", r"1//0[0-9A-Za-z_\-]{40,200}", ("1//0",)),
        ("GitHub fine-grained token", r"github_pat_[0-9A-Za-z_]{60,90}", ("github_pat_",)),
        ("GitLab token", r"glpat-[0-9A-Za-z_\-]{20}", ("glpat-",)),
        ("Slack app token", r"xapp-\d-[A-Z0-9]{9,12}-\d{10,14}-[a-f0-9]{40,70}", ("xapp-",)),
        ("Shopify access token", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}", ("shpat_", "shpca_", "shppa_", "shpss_")),
        ("DigitalOcean token", r"do[opr]_v1_[a-f0-9]{64}", ("_v1_",)),
        ("Heroku API key", r"HRKU-[0-9A-Za-z_\-]{30,70}", ("hrku-",)),
        ("Postman API key", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}", ("pmak-",)),
        ("Anthropic API key", r"sk-ant-(?:api|admin)\d\d-[0-9A-Za-z_\-]{80,100}", ("sk-ant-",)),
        (
            "OpenAI API key",
            r"sk-(?:proj|svcacct|admin)-[0-9A-Za-z_\-]{40,200}",
            ("sk-proj-", "sk-svcacct-", "sk-admin-"),
        ),
        ("Hugging Face token", r"hf_[A-Za-z]{34}", ("hf_",)),
        ("HashiCorp Vault token", r"hv[sb]\.[0-9A-Za-z_\-]{24,200}", ("hvs.", "hvb.")),
        ("Doppler token", r"dp\.(?:pt|st|sa|ct|scim|audit)\.[0-9A-Za-z]{40,44}", ("dp.",)),
        ("Linear API key", r"lin_api_[0-9A-Za-z]{40}", ("lin_api_",)),
        ("Databricks token", r"dapi[a-f0-9]{32}(?:-\d)?", ("dapi",)),
        ("Grafana token", r"gl(?:c|sa)_[0-9A-Za-z_+/=\-]{32,200}", ("glc_", "glsa_")),
        ("Mailgun API key", r"key-[0-9a-f]{32}", ("key-",)),
        ("Mapbox secret token", r"sk\.eyJ[0-9A-Za-z_\-]{20,200}\.[0-9A-Za-z_\-]{20,40}", ("sk.eyj",)),
        ("Age secret key", r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}", ("age-secret-key-1",)),
        ("Pulumi access token", r"pul-[a-f0-9]{40}", ("pul-",)),
        ("Atlassian API token", r"ATATT3[0-9A-Za-z_\-=]{180,200}", ("atatt3",)),
        ("Sentry auth token", r"sntry[su]_[0-9A-Za-z_=+/\-]{40,200}", ("sntry",)),
        ("New Relic key", r"NRAK-[A-Z0-9]{27}", ("nrak-",)),
        ("Dropbox token", r"sl\.[0-9A-Za-z_\-]{130,160}", ("sl.",)),
    )
)

# --- formats tied to a key name, any file ---------------------------------------------------------------------
KEYED_RULES: tuple[Rule, ...] = (
    Rule(
        "AWS secret access key",
        _re(
            r"(?i)(?:aws_?secret_?(?:access_?)?key|secret_?access_?key)[\"'\]]{0,2}\s*"
            r"(?:=>|:=|[=:]|\s)\s*[\"'`]?(?P<value>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
        ("secret",),
        format=True,
    ),
    Rule(
        "AWS session token",
        _re(
            r"(?i)aws_?session_?token[\"'\]]{0,2}\s*(?:=>|:=|[=:]|\s)\s*[\"'`]?"
            r"(?P<value>[A-Za-z0-9/+=]{100,1200})"
        ),
        ("session",),
        format=True,
    ),
    Rule(
        "Azure shared access key",
        _re(r"(?i)(?:SharedAccessKey|AccountKey)\s*=\s*(?P<value>[A-Za-z0-9+/]{40,100}=*)"),
        ("sharedaccesskey", "accountkey"),
        format=True,
    ),
    Rule(
        "npm registry credentials",
        _re(
            r"(?:^\s*|:)(?:_authToken|_auth|_password|npmAuthToken|npmAuthIdent)[\"']?"
            r"\s*[=:]\s*[\"']?(?P<value>[^\s\"'#;]{8,512})"
        ),
        ("_auth", "_password", "npmauth"),
    ),
    Rule(
        "Docker registry auth",
        _re(r"\"auth\"\s*:\s*\"(?P<value>[A-Za-z0-9+/=]{8,2048})\""),
        ('"auth"',),
        format=True,
        check=_decodes_to_user_password,
    ),
    Rule(
        "RubyGems API key",
        _re(r":?rubygems_api_key:?\s*[\"']?(?P<value>(?:rubygems_)?[0-9a-f]{32,48})"),
        ("rubygems_api_key",),
        format=True,
    ),
    Rule(
        "Redis password",
        _re(r"(?i)(?:^|\s|--)(?:requirepass|masterauth)\s+[\"']?(?P<value>[^\s\"']{4,256})"),
        ("requirepass", "masterauth"),
    ),
    Rule("MongoDB shell password", _re(r"\.auth\(\s*" + _Q + r"[^\"'`]{1,100}" + _Q + r"\s*,\s*" + _LIT), (".auth(",)),
    Rule(
        "Database password on a command line",
        _re(
            r"(?:^|[\s;&|(\"'`])(?:mysql|mysqldump|mysqladmin|mariadb)\b"
            r"[^\n]{0,300}?\s(?:-p|--password=)(?P<value>[^\s\"'`;]{4,256})"
        ),
        ("mysql", "mariadb"),
    ),
    Rule("sshpass password", _re(r"\bsshpass\s+-p\s*[\"']?(?P<value>[^\s\"']{4,256})"), ("sshpass",)),
    Rule(
        "curl user password",
        _re(
            r"\bcurl\b[^\n]{0,300}?\s(?:-u|--user)\s*[\"']?[^\s:\"']{1,100}:"
            r"(?P<value>[^\s\"']{4,256})"
        ),
        ("curl",),
    ),
    Rule(
        "Database user password (SQL)",
        _re(
            r"(?i)\b(?:IDENTIFIED\s+BY|WITH\s+(?:LOGIN\s+)?(?:ENCRYPTED\s+)?PASSWORD"
            r"|SET\s+PASSWORD\s+FOR\s+\S{1,200}\s*=)\s*(?:PASSWORD\s*\(\s*)?" + _LIT
        ),
        ("identified", "password"),
    ),
    Rule(
        "Database connection string password",
        _re(
            r"(?i)(?:^|[;\"'\s])(?:password|pwd)\s*=\s*"
            r"(?P<value>[^;\"'<>\s]{4,256})(?=\s*(?:;|\"|'|$))"
        ),
        ("password", "pwd"),
        generic=True,
    ),
    Rule(
        "Kubernetes client key",
        _re(r"client-key-data:\s*(?P<value>[A-Za-z0-9+/=]{20,8192})"),
        ("client-key-data",),
        format=True,
    ),
    Rule(
        "Private key",
        _re(
            r"-----BEGIN (?:[A-Z0-9]{1,10} ){0,3}PRIVATE KEY(?: BLOCK)?-----(?:\\[rn]|\s){0,8}"
            r"(?P<value>[A-Za-z0-9+/=]{16,64})"
        ),
        ("private key",),
        format=True,
    ),
    Rule(
        "Private key",
        _re(r"-----BEGIN (?:[A-Z0-9]{1,10} ){0,3}PRIVATE KEY(?: BLOCK)?-----\s*$"),
        ("private key",),
        format=True,
        next_line=True,
    ),
    Rule(
        "PuTTY private key",
        _re(r"^(?P<value>PuTTY-User-Key-File-\d{1,2}:\s{0,4}[\w@.\-]{1,40})"),
        ("putty",),
        format=True,
    ),
    Rule(
        "Password in URL",
        _re(r"[a-z][a-z0-9+.\-]{1,20}://[^\s:/@]{0,200}:(?P<value>[^\s@/]{3,512})@"),
        ("://",),
        generic=True,
    ),
)

# --- framework secrets ----------------------------------------------------------------------------------------
_WP_NAMES = r"(?:AUTH|SECURE_AUTH|LOGGED_IN|NONCE)_(?:KEY|SALT)"
FRAMEWORK_RULES: tuple[Rule, ...] = (
    Rule(
        "WordPress key or salt",
        _re(
            r"define\s*\(\s*[\"']" + _WP_NAMES + r"[\"']\s*,\s*(?P<q>[\"'])"
            r"(?P<value>[^\"'\n]{8,256}?)(?P=q)\s*\)"
        ),
        ("define",),
        format=True,  # salts hold any character, spaces included
    ),
    Rule(
        "WordPress database password",
        _re(
            r"define\s*\(\s*[\"']DB_PASSWORD[\"']\s*,\s*(?P<q>[\"'])"
            r"(?P<value>[^\"'\n]{1,256}?)(?P=q)\s*\)"
        ),
        ("db_password",),
    ),
    Rule(
        "Secret constant (PHP define)",
        _re(
            r"define\s*\(\s*[\"'](?P<key>\w{0,40}(?:PASSWORD|SECRET|TOKEN|_KEY|SALT)"
            r"\w{0,40})[\"']\s*,\s*(?P<q>[\"'])(?P<value>[^\"'\n]{4,256}?)(?P=q)\s*\)"
        ),
        ("define",),
        generic=True,
    ),
    Rule(
        "Laravel APP_KEY",
        _re(r"APP_KEY\s*[=:]\s*[\"']?base64:(?P<value>[A-Za-z0-9+/]{40,64}=*)"),
        ("app_key",),
        format=True,
    ),
    Rule(
        "Rails secret_key_base",
        _re(r"secret_key_base[\"']?\s*[:=]>?\s*[\"']?(?P<value>[0-9a-f]{64,256})"),
        ("secret_key_base",),
        format=True,
    ),
    Rule(
        "Rails master key",
        _re(r"^\s*(?P<value>[0-9a-f]{32})\s*$"),
        format=True,
        files=_files(r"master\.key|credentials/[\w-]+\.key"),
    ),
    Rule(
        "Django SECRET_KEY",
        _re(r"^\s*SECRET_KEY\s*=\s*(?P<q>[\"'])(?P<value>[^\"'\n]{20,256}?)(?P=q)"),
        ("secret_key",),
        files=_files(r"(?:[\w-]*settings[\w-]*|settings/[\w-]+)\.py"),
    ),
    Rule(
        "Django SECRET_KEY",
        _re(r"(?P<q>[\"'])(?P<value>django-insecure-[^\"'\n]{20,200}?)(?P=q)"),
        ("django-insecure",),
    ),
    Rule(
        "Flask SECRET_KEY",
        _re(
            r"\bapp\.(?:secret_key|config\s*\[\s*[\"']SECRET_KEY[\"']\s*\])\s*=\s*(?P<q>[\"'])"
            r"(?P<value>[^\"'\n]{8,256}?)(?P=q)"
        ),
        ("app.",),
    ),
    Rule("Symfony APP_SECRET", _re(r"\bAPP_SECRET\s*[=:]\s*[\"']?(?P<value>[^\s\"'#]{8,256})"), ("app_secret",)),
    Rule(
        "Express session secret",
        _re(r"\b(?:session|cookieSession)\s*\(\s*\{[^}]{0,300}?\bsecret\s*:\s*" + _LIT),
        ("session",),
    ),
    Rule("Express cookie secret", _re(r"\bcookieParser\s*\(\s*" + _LIT), ("cookieparser",)),
    Rule("Koa signing keys", _re(r"\bapp\.keys\s*=\s*\[\s*" + _LIT), ("app.keys",)),
    Rule(
        "Cookie session keys",
        _re(r"\bcookieSession\s*\(\s*\{[^}]{0,300}?\bkeys\s*:\s*\[\s*" + _LIT),
        ("cookiesession",),
    ),
    Rule("JWT signing secret", _re(r"\bjwt\.(?:sign|verify)\s*\([^,()]{1,200},\s*" + _LIT), ("jwt.",)),
)

# --- credential files, by name --------------------------------------------------------------------------------
_INI_VALUE = r"\s*[=:]\s*[\"']?(?P<value>[^\s\"'][^\"'\n]{0,511}?)[\"']?\s*$"
CREDENTIAL_FILE_RULES: tuple[Rule, ...] = (
    Rule(
        "Git credentials",
        _re(r"[a-z][a-z0-9+.\-]{1,20}://[^\s:/@]{1,200}:(?P<value>[^\s@/]{1,512})@"),
        ("://",),
        files=_files(r"\.?git-credentials"),
    ),
    Rule(
        "netrc password",
        _re(r"(?:^|\s)(?:password|passwd)\s+(?P<value>\S{1,512})"),
        ("pass",),
        files=_files(r"[._]?netrc"),
    ),
    Rule(
        "AWS credentials file",
        _re(r"(?i)^\s*aws_(?:secret_access_key|session_token)" + _INI_VALUE),
        ("aws_",),
        files=_files(r"\.aws/(?:credentials|config)|credentials"),
    ),
    Rule(
        "s3cmd credentials",
        _re(r"^\s*(?:secret_key|access_token|gpg_passphrase|proxy_password)" + _INI_VALUE),
        ("secret_key", "access_token", "passphrase", "password"),
        files=_files(r"\.?s3cfg"),
    ),
    Rule("PyPI credentials (.pypirc)", _re(r"^\s*password" + _INI_VALUE), ("password",), files=_files(r"\.?pypirc")),
    Rule(
        "MySQL client password",
        _re(r"^\s*password" + _INI_VALUE),
        ("password",),
        files=_files(r"\.?my\.cnf|my\.ini|\.?mylogin\.cnf"),
    ),
    Rule(
        "PostgreSQL password file (.pgpass)",
        _re(
            r"^[^:#\s]{1,255}:[^:\s]{1,10}:[^:\s]{1,255}:[^:\s]{1,255}:"
            r"(?P<value>\S{1,512})\s*$"
        ),
        files=_files(r"\.?pgpass(?:\.conf)?"),
    ),
    Rule(
        "Composer auth.json token",
        _re(
            r"\"(?:github\.com|gitlab\.com|bitbucket\.org|[\w.\-]{1,100}\.[a-z]{2,20})\"\s*:"
            r"\s*\"(?P<value>[A-Za-z0-9_\-]{20,256})\""
        ),
        files=_files(r"auth\.json"),
    ),
    Rule(
        "Maven settings password",
        _re(
            r"<(?P<tag>password|passphrase|privateKeyPassphrase)>(?P<value>[^<\s]{1,512})"
            r"</(?P=tag)>",
            re.I,
        ),
        ("pass",),
        files=_files(r"settings(?:-security)?\.xml"),
    ),
    Rule(
        "NuGet feed password",
        _re(r"<add\s+key\s*=\s*\"(?:ClearText)?Password\"\s+value\s*=\s*\"(?P<value>[^\"]{1,512})\"", re.I),
        ("password",),
        files=_files(r"nuget\.config"),
    ),
    Rule(
        "FileZilla saved password",
        _re(
            r"<Pass(?:\s+encoding=\"(?P<enc>base64|plain)\")?\s*>(?P<value>[^<\s]{1,512})"
            r"</Pass>"
        ),
        ("<pass",),
        files=_files(r"sitemanager\.xml|recentservers\.xml|filezilla\.xml|[\w-]*filezilla[\w-]*\.xml"),
    ),
    Rule(
        "WinSCP saved password",
        _re(r"(?i)^\s*(?:Proxy|Tunnel)?Password\s*=\s*(?P<value>[^\s]{4,1024})"),
        ("password",),
        files=_files(r"winscp\.ini|winscp[\w.-]*\.ini"),
    ),
    Rule(
        "SFTP client config password",
        _re(r"\"(?:password|pass|passphrase|private_key_pass)\"\s*:\s*\"(?P<value>[^\"]{1,512})\""),
        ("pass",),
        files=_files(
            r"sftp-config\.json|\.ftpconfig|\.?sftp\.json|\.remote-sync\.json|\.?ftp[\w-]*\.json"
            r"|deployment-config\.json"
        ),
    ),
    Rule(
        "DBeaver saved connection password",
        _re(r"\"password\"\s*:\s*\"(?P<value>[^\"]{1,512})\"|\bpassword=\"(?P<v2>[^\"]{1,512})\""),
        ("password",),
        files=_files(r"credentials-config\.json|data-sources[\w-]*\.(?:json|xml)|dbeaver[\w-]*\.xml"),
    ),
    Rule(
        "Robo 3T saved password",
        _re(r"\"(?:userPassword|sshUserPassword|sshPassphrase)\"\s*:\s*\"(?P<value>[^\"]{1,512})\""),
        ("password", "passphrase"),
        files=_files(r"robomongo\.json|robo3t\.json|3t\.json"),
    ),
    Rule(
        "Password hash file",
        _re(
            r"^[^:\s#]{1,255}:(?P<value>\$(?:apr1|1|2[aby]?|5|6|y|md5)\$[^:\s]{8,512}"
            r"|\{SHA\}[A-Za-z0-9+/=]{20,64}|[./0-9A-Za-z]{13})(?::|\s*$)"
        ),
        format=True,
        files=_files(r"\.htpasswd|[\w.-]*passwd|shadow"),
    ),
)

# --- generic: a secret-sounding name with a literal value -----------------------------------------------------
GENERIC_RULES: tuple[Rule, ...] = (
    # name = "literal" / name: 'literal' / "name": "literal" / name => 'literal' / name := "literal" (any file)
    Rule("Secret assignment", _re(_KEY_NAME + r"[\"'\]]{0,2}\s*(?:=>|:=|==?|:)\s*" + _LIT), _KEY_HINTS, generic=True),
    # NAME=value, name: value, export NAME=value, ARG NAME=value, - NAME=value (not in code files)
    Rule(
        "Secret assignment",
        _re(r"(?:^|[\s;&|(])(?:export\s+|ENV\s+|ARG\s+|-\s+)?" + _KEY_NAME + r"[\"'\]]{0,2}\s*[=:]\s*" + _UNQ + _END),
        _KEY_HINTS,
        generic=True,
        modes=TEXT_MODES,
    ),
    # password "literal" alone on a line (esmtprc, fetchmailrc and other "name value" formats)
    Rule(
        "Secret assignment",
        _re(
            r"^\s*(?P<key>(?i:[\w.\-]{0,40}(?:passw(?:or)?d|passwd|secret|token|api[_\-]?key)"
            r"[\w.\-]{0,40}))\s+" + _LIT + r"\s*;?\s*$"
        ),
        _KEY_HINTS,
        generic=True,
        modes=TEXT_MODES,
    ),
    # Dockerfile ENV NAME value, csh setenv NAME value, fish set -gx NAME value
    Rule(
        "Secret assignment",
        _re(r"^\s*(?:ENV|setenv|set\s+-[gxU]{1,3})\s+" + _KEY_NAME + r"\s+" + _UNQ + _END),
        _KEY_HINTS,
        generic=True,
    ),
)

ALL_RULES: tuple[Rule, ...] = CREDENTIAL_FILE_RULES + PROVIDER_RULES + KEYED_RULES + FRAMEWORK_RULES + GENERIC_RULES

# Files that hold credentials whatever is inside, reported by name when their content cannot be read (binary or
# encrypted): key stores, encrypted saved-password stores whose key is public.
BINARY_CREDENTIAL_FILES: tuple[tuple[re.Pattern[str], str], ...] = (
    (_files(r"[^/]+\.(?:p12|pfx)"), "PKCS#12 key store"),
    (_files(r"[^/]+\.(?:jks|keystore|bks)"), "Java key store"),
    (_files(r"credentials-config\.json"), "DBeaver saved credentials (encrypted with a published key)"),
    (_files(r"\.?mylogin\.cnf"), "MySQL login path file (obfuscated passwords)"),
    (
        _files(r"\.?gcloud/(?:credentials\.db|access_tokens\.db|legacy_credentials/[^/]+/adc\.json)"),
        "gcloud credential store",
    ),
    (_files(r"[^/]+\.kdbx?"), "KeePass database"),
)


def binary_credential_type(path: str) -> str | None:
    """The kind of credential file ``path`` is by its name alone (a key store), or None."""
    lower = path.lower()
    return next((kind for pattern, kind in BINARY_CREDENTIAL_FILES if pattern.search(lower)), None)


def rules_for(path: str, mode: str) -> tuple[Rule, ...]:
    """The rules that run on lines of ``path`` scanned in ``mode``."""
    lower = path.lower()
    return tuple(rule for rule in ALL_RULES if rule.applies_to(lower, mode))


@dataclass(frozen=True)
class RuleHit:
    """A value one rule matched, with the key name it was assigned to when the rule knows it."""

    rule: Rule
    value: str
    key: str


def run_rules(
    rules: Sequence[Rule], line: str, next_line: str = "", start: int = 0, end: int | None = None
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
            value = next_line.strip()[:64] if rule.next_line else groups.get("value") or groups.get("v2") or ""
            if not value or (rule.check is not None and not rule.check(value)):
                continue
            if groups.get("enc") == "base64" and not _decodes_to_text(value):
                continue
            yield RuleHit(rule, value, groups.get("key") or "")
