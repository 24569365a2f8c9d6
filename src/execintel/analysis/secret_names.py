"""The name a secret is assigned to on its line (``JWT_SECRET=...`` -> ``JWT_SECRET``), safe to show.

A secret finding names the variable, setting or key that holds the secret, so whoever rotates it knows what to
change. The name comes from the text just before the value (``NAME = "value"``, ``"name": "value"``,
``NAME: value``, ``config['NAME'] = ...``, ``<name>value</name>``, ``define('NAME', 'value')``, ``ENV NAME value``),
else from an assignment at the start of the line whose string literal holds the value
(``URL = "postgres://app:...@db"`` -> ``URL``). A password inside a URL or a DSN (``user:password@host``) is not
assigned to ``user``. A name that shares 5 characters in a row with the secret is never returned, so showing the
name can never show more of the secret than its first 4 characters (docs/security.md).
"""

from __future__ import annotations

import re

MAX_NAME = 60  # a longer name is not a variable name
_LINE_LIMIT = 8192  # lines longer than this (minified code, data) are not searched for a name
_NAME = r"[A-Za-z_$@][\w.\-$@]{0,120}"
_QUOTES = "\"'`"
# ``NAME``, ``obj.NAME``, ``obj['NAME']``, ``"NAME"`` at the end of the text before an assignment operator.
_NAME_AT_END = re.compile(rf"(?:^|(?<=[^\w.\-$@]))(?P<name>{_NAME})$")
_FLAG = re.compile(r"(?:^|\s)--?(?P<name>[A-Za-z][\w\-]{0,120})$")  # ``--password=...``
_OPERATOR = re.compile(r"(?P<op>:=|=>|\+?=|:)$")
_XML_ELEMENT = re.compile(r"<(?P<name>[A-Za-z_][\w.\-:]{0,120})(?:\s[^<>]*)?>$")
_DEFINE = re.compile(rf"\bdefine\(\s*[\"'](?P<name>{_NAME})[\"']\s*,\s*[\"']$")
_SHELL = re.compile(rf"^\s*(?:ENV|setenv|set\s+-[A-Za-z]+)\s+(?P<name>{_NAME})\s+[\"']?$")
# An assignment at the start of the line whose string literal the value sits in: ``URL = "postgres://u:``.
_LINE_ASSIGNMENT = re.compile(
    r"^\s*(?:(?:export|const|let|var|final|static|private|public|readonly|local|declare|set)\s+)*"
    rf"[\"']?(?P<name>{_NAME})[\"']?\s*(?::=|=|:)\s*[\"'`][^\"'`]*$"
)
# ``<add key="ApiToken" value="...">``, ``{"name": "API_TOKEN", "value": "..."}``: the pair's name.
_PAIR_NAME = re.compile(rf"[\"']?(?:key|name)[\"']?\s*[=:]\s*[\"'](?P<name>{_NAME})[\"']", re.IGNORECASE)
_YAML_PAIR_NAME = re.compile(rf"^\s*-?\s*name:\s*[\"']?(?P<name>{_NAME})[\"']?\s*$")
_UNINFORMATIVE = {"value", "val", "v", "data", "default"}


def _direct(before: str) -> str | None:
    """The name an operator right before the value assigns to, or None."""
    text = before
    quoted = bool(text) and text[-1] in _QUOTES
    if quoted:
        text = text[:-1]
    spaced = text != text.rstrip()
    text = text.rstrip()
    element = _XML_ELEMENT.search(text)
    if element and not quoted:
        return element["name"]
    define = _DEFINE.search(before)
    if define:
        return define["name"]
    operator = _OPERATOR.search(text)
    if operator is None:
        shell = _SHELL.match(before)
        return shell["name"] if shell else None
    if operator["op"] == ":" and not (quoted or spaced):
        return None  # ``user:password@host``: a URL or DSN, not an assignment
    text = text[: operator.start()].rstrip().rstrip(_QUOTES).rstrip("]").rstrip(_QUOTES).rstrip("[")
    match = _FLAG.search(text) or _NAME_AT_END.search(text)
    if match is None or text[: match.start()].endswith(("/", ":", "@")):
        return None
    return match["name"]


def _clean(name: str) -> str:
    """The last part of a dotted name, without sigils: ``process.env.JWT_SECRET`` -> ``JWT_SECRET``."""
    return name.rsplit(".", 1)[-1].lstrip("$@").strip("-")


def _shares_secret(name: str, secret: str) -> bool:
    """True when ``name`` holds 5 characters in a row of ``secret`` (case-insensitive)."""
    low, key = name.lower(), secret.lower()
    return any(key[i : i + 5] in low for i in range(max(0, len(key) - 4)))


def assigned_name(line: str, secret: str, previous: str = "") -> str | None:
    """The variable or key ``secret`` is assigned to on ``line`` (``previous`` is the line before), or None."""
    if not secret or len(line) > _LINE_LIMIT:
        return None
    at = line.find(secret)
    if at < 0:
        return None
    before = line[:at]
    name = _direct(before)
    if name is not None and _clean(name).lower() in _UNINFORMATIVE:
        pair = _PAIR_NAME.search(before)
        above = _YAML_PAIR_NAME.match(previous)
        name = pair["name"] if pair else above["name"] if above else None
    if name is None:
        whole = _LINE_ASSIGNMENT.match(before)
        name = whole["name"] if whole else None
    if name is None:
        return None
    name = _clean(name)
    if not name or len(name) > MAX_NAME or _shares_secret(name, secret):
        return None
    return name
