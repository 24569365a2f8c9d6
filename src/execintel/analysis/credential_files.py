"""Credential files people commit by mistake, recognised by name and format: git and netrc credentials, cloud
CLI configs, package managers' tokens, database clients' saved connections, FTP/SFTP clients' saved passwords,
password hash files; and key stores recognised by name alone (their contents cannot be read).

``rules_for`` assembles every rule (these, ``secret_formats`` and the generic ones) for one file.
"""

from __future__ import annotations

import re

from execintel.analysis.secret_formats import FRAMEWORK_RULES, KEYED_RULES, PROVIDER_RULES
from execintel.analysis.secret_rules import GENERIC_RULES, Rule, file_names, pattern

# --- credential files, by name --------------------------------------------------------------------------------
_INI_VALUE = r"\s*[=:]\s*[\"']?(?P<value>[^\s\"'][^\"'\n]{0,511}?)[\"']?\s*$"
CREDENTIAL_FILE_RULES: tuple[Rule, ...] = (
    Rule(
        "Git credentials",
        pattern(r"[a-z][a-z0-9+.\-]{1,20}://[^\s:/@]{1,200}:(?P<value>[^\s@/]{1,512})@"),
        ("://",),
        files=file_names(r"\.?git-credentials"),
    ),
    Rule(
        "netrc password",
        pattern(r"(?:^|\s)(?:password|passwd)\s+(?P<value>\S{1,512})"),
        ("pass",),
        files=file_names(r"[._]?netrc"),
    ),
    Rule(
        "AWS credentials file",
        pattern(r"(?i)^\s*aws_(?:secret_access_key|session_token)" + _INI_VALUE),
        ("aws_",),
        files=file_names(r"\.aws/(?:credentials|config)|credentials"),
    ),
    Rule(
        "s3cmd credentials",
        pattern(r"^\s*(?:secret_key|access_token|gpg_passphrase|proxy_password)" + _INI_VALUE),
        ("secret_key", "access_token", "passphrase", "password"),
        files=file_names(r"\.?s3cfg"),
    ),
    Rule(
        "PyPI credentials (.pypirc)",
        pattern(r"^\s*password" + _INI_VALUE),
        ("password",),
        files=file_names(r"\.?pypirc"),
    ),
    Rule(
        "MySQL client password",
        pattern(r"^\s*password" + _INI_VALUE),
        ("password",),
        files=file_names(r"\.?my\.cnf|my\.ini|\.?mylogin\.cnf"),
    ),
    Rule(
        "PostgreSQL password file (.pgpass)",
        pattern(
            r"^[^:#\s]{1,255}:[^:\s]{1,10}:[^:\s]{1,255}:[^:\s]{1,255}:"
            r"(?P<value>\S{1,512})\s*$"
        ),
        files=file_names(r"\.?pgpass(?:\.conf)?"),
    ),
    Rule(
        "Composer auth.json token",
        pattern(
            r"\"(?:github\.com|gitlab\.com|bitbucket\.org|[\w.\-]{1,100}\.[a-z]{2,20})\"\s*:"
            r"\s*\"(?P<value>[A-Za-z0-9_\-]{20,256})\""
        ),
        files=file_names(r"auth\.json"),
    ),
    Rule(
        "Maven settings password",
        pattern(
            r"<(?P<tag>password|passphrase|privateKeyPassphrase)>(?P<value>[^<\s]{1,512})"
            r"</(?P=tag)>",
            re.I,
        ),
        ("pass",),
        files=file_names(r"settings(?:-security)?\.xml"),
    ),
    Rule(
        "NuGet feed password",
        pattern(r"<add\s+key\s*=\s*\"(?:ClearText)?Password\"\s+value\s*=\s*\"(?P<value>[^\"]{1,512})\"", re.I),
        ("password",),
        files=file_names(r"nuget\.config"),
    ),
    Rule(
        "FileZilla saved password",
        pattern(
            r"<Pass(?:\s+encoding=\"(?P<enc>base64|plain)\")?\s*>(?P<value>[^<\s]{1,512})"
            r"</Pass>"
        ),
        ("<pass",),
        files=file_names(r"sitemanager\.xml|recentservers\.xml|filezilla\.xml|[\w-]*filezilla[\w-]*\.xml"),
    ),
    Rule(
        "WinSCP saved password",
        pattern(r"(?i)^\s*(?:Proxy|Tunnel)?Password\s*=\s*(?P<value>[^\s]{4,1024})"),
        ("password",),
        files=file_names(r"winscp\.ini|winscp[\w.-]*\.ini"),
    ),
    Rule(
        "SFTP client config password",
        pattern(r"\"(?:password|pass|passphrase|private_key_pass)\"\s*:\s*\"(?P<value>[^\"]{1,512})\""),
        ("pass",),
        files=file_names(
            r"sftp-config\.json|\.ftpconfig|\.?sftp\.json|\.remote-sync\.json|\.?ftp[\w-]*\.json"
            r"|deployment-config\.json"
        ),
    ),
    Rule(
        "DBeaver saved connection password",
        pattern(r"\"password\"\s*:\s*\"(?P<value>[^\"]{1,512})\"|\bpassword=\"(?P<v2>[^\"]{1,512})\""),
        ("password",),
        files=file_names(r"credentials-config\.json|data-sources[\w-]*\.(?:json|xml)|dbeaver[\w-]*\.xml"),
    ),
    Rule(
        "Robo 3T saved password",
        pattern(r"\"(?:userPassword|sshUserPassword|sshPassphrase)\"\s*:\s*\"(?P<value>[^\"]{1,512})\""),
        ("password", "passphrase"),
        files=file_names(r"robomongo\.json|robo3t\.json|3t\.json"),
    ),
    Rule(
        "Password hash file",
        pattern(
            r"^[^:\s#]{1,255}:(?P<value>\$(?:apr1|1|2[aby]?|5|6|y|md5)\$[^:\s]{8,512}"
            r"|\{SHA\}[A-Za-z0-9+/=]{20,64}|[./0-9A-Za-z]{13})(?::|\s*$)"
        ),
        format=True,
        files=file_names(r"\.htpasswd|[\w.-]*passwd|shadow"),
    ),
    Rule(
        "Mail client password",
        pattern(r"(?i)(?:^|\s)(?:password|passwd|pass|passeval)\s+[\"']?(?P<value>[^\s\"']{4,512})"),
        ("pass",),
        files=file_names(r"\.?msmtprc|\.?fetchmailrc|\.?esmtprc|\.?mbsyncrc|\.?netrc-[\w-]+"),
    ),
)

# Files that hold credentials whatever is inside, reported by name when their content cannot be read (binary or
# encrypted): key stores, encrypted saved-password stores whose key is public.
BINARY_CREDENTIAL_FILES: tuple[tuple[re.Pattern[str], str], ...] = (
    (file_names(r"[^/]+\.(?:p12|pfx)"), "PKCS#12 key store"),
    (file_names(r"[^/]+\.(?:jks|keystore|bks)"), "Java key store"),
    (file_names(r"credentials-config\.json"), "DBeaver saved credentials (encrypted with a published key)"),
    (file_names(r"\.?mylogin\.cnf"), "MySQL login path file (obfuscated passwords)"),
    (
        file_names(r"\.?gcloud/(?:credentials\.db|access_tokens\.db|legacy_credentials/[^/]+/adc\.json)"),
        "gcloud credential store",
    ),
    (file_names(r"[^/]+\.kdbx?"), "KeePass database"),
    (file_names(r"secring\.(?:gpg|pgp|skr)"), "GnuPG secret key ring"),
)


ALL_RULES: tuple[Rule, ...] = CREDENTIAL_FILE_RULES + PROVIDER_RULES + KEYED_RULES + FRAMEWORK_RULES + GENERIC_RULES


def binary_credential_type(path: str) -> str | None:
    """The kind of credential file ``path`` is by its name alone (a key store), or None."""
    lower = path.lower()
    return next((kind for name, kind in BINARY_CREDENTIAL_FILES if name.search(lower)), None)


def rules_for(path: str, mode: str) -> tuple[Rule, ...]:
    """The rules that run on lines of ``path`` scanned in ``mode``."""
    lower = path.lower()
    return tuple(rule for rule in ALL_RULES if rule.applies_to(lower, mode))
