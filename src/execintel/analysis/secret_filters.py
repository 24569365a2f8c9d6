"""What is not a secret: placeholders, templates, references, labels and field names that merely mention one.

Heuristic detections (a secret-sounding name with a literal value, a high-entropy string, a password in a URL)
go through :func:`not_a_secret` before they become findings; named formats (an AWS key, a ``.netrc`` password)
only through :func:`is_documentation_example`. Every check here is a bounded regular expression or a set
lookup on one value and its key name: no backtracking over a whole line.
"""

from __future__ import annotations

import re


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Values that stand for "fill this in" (compared lower-cased, without surrounding punctuation).
_PLACEHOLDER_WORDS = _words(
    """
    null none nil undefined true false yes no on off empty blank default string value values redacted removed
    hidden masked omitted secret secrets password passwords passwd pass pwd token tokens key keys apikey api_key
    changeme change_me change-me changeit change_it change-it changethis change_this change-this replaceme
    replace_me replace-me example examples sample test testing tests dummy fake mock placeholder todo tbd fixme
    foo bar baz foobar qux xyz abcd abcdef notasecret not_a_secret not-a-secret nosecret insecure unset unknown
    required optional n/a na private mysecret my_secret my-secret mypassword my_password my-password
    mysecretpassword foobared str bytes int integer bool boolean float dict list object number char varchar
    binary any
    """
)
# Templating and references to values kept elsewhere: ${VAR}, $VAR, {{ x }}, <%= x %>, %(x)s, %VAR%, #{x},
# @VAR@, __VAR__, <value>, [value], {value}, %env(X)%.
_TEMPLATE = re.compile(
    r"""\$\{[^}]{0,200}\}|^\$[A-Za-z_(]|\{\{.{0,200}?\}\}|<%.{0,200}?%>|%\([\w.\-]{1,80}\)[sdr]|^%[\w.\-()]{1,80}%$
    |\#\{[^}]{0,200}\}|^@[\w.\-]{1,80}@$|^__[A-Za-z0-9_]{1,80}__$|^<[^<>]{0,200}>$|^\[[^\[\]]{0,200}\]$|^\{[^{}]{0,200}\}$
    |^\((?:[^()]{0,200})\)$""",
    re.VERBOSE,
)
# Phrasings of "put yours here".
_PHRASE = re.compile(
    r"^(?:your|my|enter|insert|put|replace|paste|fill|generate)[-_ .]?[a-z_\-. ]{0,40}"
    r"(?:key|secret|token|pass|password|passwd|pwd|here|value|phrase)[a-z_\-. ]{0,20}$"
    r"|(?:^|[-_ .])(?:here|goes[-_ .]?here|placeholder|example|sample|dummy|redacted)$"
    r"|^(?:change|replace)[-_ .]?(?:me|this|it|later)\b"
    r"|^x{3,}|^(?:\*|\.|-|_|#|=|0|1|\?|•)+$|^(.)\1{3,}$",
    re.IGNORECASE,
)
# Documentation example values (AWS's AKIAIOSFODNN7EXAMPLE, "sk_test_xxxx...", WordPress's sample phrase).
_EXAMPLE = re.compile(
    r"EXAMPLE|SAMPLE|PLACEHOLDER|DUMMY|x{8,}|X{8,}|0{12,}|\*{4,}|(?i:your[-_]?(?:key|token|secret)|unique phrase)"
)
# A template around the whole value, in a fixed format's place (``${TOKEN}``, ``{{ key }}``, ``<key>``).
_WRAPPED = re.compile(r"^(?:\$\{[^}]{0,200}\}|\{\{.{0,200}\}\}|<[^<>]{0,200}>|%[\w.]{1,80}%)$")
# An environment variable's name used as a value (``password: DB_PASSWORD``).
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
# A reference to a variable or setting (``var.db_password``, ``settings.api_key``), not a literal.
_SEGMENT = r"(?:[a-z_][a-z0-9_]{0,60}|[A-Z_][A-Z0-9_]{0,60}|[a-z]{1,20}(?:[A-Z][a-z0-9]{1,20}){1,6})"
_REFERENCE = re.compile(r"^[a-z_][a-z0-9_]{1,60}(?:\." + _SEGMENT + r"){1,8}$")
_NON_ASCII_LETTER = re.compile(r"[^\W\d_a-zA-Z]")
_SEQUENCES = ("abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz", "0123456789abcdefghijklmnopqrstuvwxyz",
              "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz0123456789", "0123456789abcdef")  # fmt: skip
_URL = re.compile(r"^[a-z][a-z0-9+.\-]{1,20}://[^\s:@/]*(?::\d+)?(?:[/?#]\S*)?$", re.I)
_PATH = re.compile(r"^(?:/|\./|\.\./|~/|[A-Za-z]:\\)[\w.\-/\\ ]*$")
# Code rather than a literal: a call, an index, an attribute chain on a well-known reader.
_CODE = re.compile(
    r"^[\w.$:]+[(\[].{0,200}[)\]]$|\b(?:os\.environ|getenv|process\.env|ENV\[|env\(|Deno\.env|System\.getenv)"
)
# Words of a name: camelCase humps, ALLCAPS runs, digit runs.
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_SEPARATORS = re.compile(r"[._\-/:]")
# Name words that make a secret-sounding name about something else (PASSWORD_RESET_URL, password_field, ...).
_QUALIFIERS = _words(
    """
    reset forgot forgotten field fields label labels hint hints policy policies length len min max minimum maximum
    url urls uri uris path paths route routes endpoint endpoints page pages regex regexp pattern patterns prompt
    confirm confirmation change changed expiry expires expire expiration expired rule rules strength validator
    validators validation valid invalid input inputs placeholder column columns col attr attrs attribute attributes
    name names type types kind form forms template templates message messages msg msgs error errors text title id
    ids hash hashed hasher hashers digest file files filename filepath dir directory header headers param params
    parameter parameters prefix suffix format formats enabled enable disabled disable required mode method methods
    count timeout ttl rotation arn ref refs location manager class algorithm algorithms algo encoding charset
    partition sort primary foreign cache version size chars alphabet rounds iterations lifetime age window
    limit limits attempts retries history complexity generator mask masked visible visibility show toggle icon
    button link modal dialog screen view views controller handler handlers helper helpers util utils schema property
    prop props description desc doc docs help info question questions reminder recovery checksum sha sha1 sha256
    sha512 md5 integrity commit revision rev etag uuid guid bits strategy scheme schemes protocol
    """
)
# Names of non-secrets that carry a secret-looking value (checksums, commits, public identifiers).
_NON_SECRET_NAMES = frozenset(
    {"checksum", "sha", "sha1", "sha256", "sha512", "md5", "integrity", "commit", "revision", "rev", "etag",
     "uuid", "guid", "hash", "digest", "fingerprint", "version", "id"}
)  # fmt: skip
# A key name that is nothing but a secret word (``password:``): a Title-case single word under it is a label
# (``password: "Passwort"`` in a translation file).
# Words that make a name secret-sounding, and words that make any name public (a publishable or site key).
_SECRET_WORDS = frozenset(
    {"secret", "secrets", "password", "passwd", "pwd", "pw", "pass", "passphrase", "passcode", "token", "key",
     "apikey", "auth", "credential", "credentials", "jwt", "salt"}
)  # fmt: skip
_PUBLIC = frozenset({"public", "publishable", "pub", "site"})
# Secret words that end a run-together name (dbpassword, clientsecret, accesstoken).
_SECRET_ENDINGS = ("password", "passwd", "secret", "token", "apikey", "credential", "credentials", "passphrase")
_BARE_SECRET_NAMES = frozenset({"password", "passwort", "passwd", "secret", "token", "pass", "pwd", "key"})
_TITLE_WORD = re.compile(r"^[^\W\d_][^\W\d_A-Z]{2,30}$")
_LETTER = re.compile(r"[A-Za-z]")
_KEY_BEFORE = re.compile(r"([A-Za-z_$@][\w.\-$@]{0,120})$")
_KEY_TRIM = " \t\"'`=:>,([{@;!]"


def name_words(name: str) -> list[str]:
    """The lower-cased words of an identifier: ``PASSWORD_RESET_URL``/``passwordResetUrl`` -> password reset url."""
    return [w.lower() for part in _SEPARATORS.split(name) for w in _WORD.findall(part)]


def key_before(text: str, start: int) -> str:
    """The name assigned the value that starts at ``start`` (``app.config['SECRET_KEY'] = '...'`` -> SECRET_KEY)."""
    before = text[max(0, start - 200) : start].rstrip(_KEY_TRIM).rstrip("]").rstrip(_KEY_TRIM)
    match = _KEY_BEFORE.search(before)
    return match[1].rsplit(".", 1)[-1].lstrip("$@") if match else ""


def is_identifier_like(value: str) -> bool:
    """True for names made of words (``ModelBackend``, ``password_field``, ``django.contrib.auth``), not random."""
    parts = [p for p in _SEPARATORS.split(value) if p]
    words = [w for p in parts for w in _WORD.findall(p)]
    if len(words) < 2 or sum(len(w) for w in words) != sum(len(p) for p in parts):
        return False  # one word, or characters outside words (symbols)
    return all(w.isalpha() and (len(w) >= 3 or w.isupper()) for w in words)


def is_documentation_example(value: str) -> bool:
    """True for the example values documentation uses (``AKIAIOSFODNN7EXAMPLE``, ``xxxxxxxx``)."""
    return bool(_EXAMPLE.search(value)) or bool(_WRAPPED.match(value))


def has_secret_word(name: str) -> bool:
    """True when a name holds a secret word as a word (``db_password``, ``accessToken``, ``mysqlpassword``), not
    as part of another one (``tokenizer``, ``secretary``, ``passenger``)."""
    return any(w in _SECRET_WORDS or w.endswith(_SECRET_ENDINGS) for w in name_words(name))


def _is_sequential(value: str) -> bool:
    """True for a run of an alphabet (``abcdef...XYZ0123456789``), detect-secrets' sequential-string filter."""
    return len(value) >= 8 and any(value.lower() in run for run in _SEQUENCES)


def _is_word_with_secret(value: str) -> bool:
    """True for letters only that spell a secret word in (``goodpasswd``, ``wrongpassword``, ``anypass``)."""
    return value.isalpha() and any(word in value.lower() for word in ("pass", "secret", "token", "pwd"))


def not_a_secret(value: str, key: str = "", *, named: bool = False) -> bool:
    """True when a heuristic detection is a placeholder, a template, a reference or a label, not a secret.

    ``named``: the detection rests on the value's name (a keyword rule), so the name must hold a secret word.
    """
    if named and key and not has_secret_word(key):
        return True
    text = value.strip()
    shape = text.strip("'\"`;,()[]{}") or text  # the value without the brackets and quotes around it
    bare = shape.lower()
    if len(text) < 4 or not _LETTER.search(text) or any(c.isspace() for c in text):
        return True  # too short to be a credential, no letter at all, or prose
    if bare in _PLACEHOLDER_WORDS or _TEMPLATE.search(text) or _PHRASE.search(bare) or _EXAMPLE.search(text):
        return True
    if _ENV_NAME.match(shape) or _URL.match(shape) or _PATH.match(shape) or _CODE.search(text):
        return True
    if _REFERENCE.match(shape) or _NON_ASCII_LETTER.search(text):
        return True  # a variable's name, or a word of a natural language (a label in a translation file)
    if is_identifier_like(shape) or _is_sequential(shape) or _is_word_with_secret(shape):
        return True
    return bool(key) and key_is_not_secret(key, text)


def key_is_not_secret(key: str, value: str = "") -> bool:
    """True when the name says the value is not a secret: ``password_field``, ``SECRET_NAME``, ``sha256``."""
    words = name_words(key)
    if not words:
        return False
    if "".join(words) in _NON_SECRET_NAMES or any(w in _PUBLIC for w in words):
        return True
    # A qualifier after the secret word: PASSWORD_RESET_URL, password_field, secret_name (but not hash_salt).
    # A bare KEY is the one secret word a qualifier comes before: PARTITION_KEY, cache_key.
    secret_at = [i for i, w in enumerate(words) if w in _SECRET_WORDS and w != "key"]
    after = words[secret_at[0] + 1 :] if secret_at else words
    if any(w in _QUALIFIERS for w in after):
        return True
    squashed = re.sub(r"[^a-z0-9]", "", value.lower())
    if len(squashed) >= 4 and squashed in "".join(words):
        return True  # the value is (part of) its own name: password_field = "password"
    return "".join(words) in _BARE_SECRET_NAMES and bool(_TITLE_WORD.match(value))
