"""Read ``portfolio.yaml`` into a :class:`Portfolio`, collecting every problem."""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from execintel.config.areas import ROLE_OF_AREA, owner_keys
from execintel.config.models import REPORT_IDS, ROLES, Manifest
from execintel.config.safeyaml import StrictYamlLoader, load_yaml, yaml_error_line, yaml_error_message
from execintel.errors import ConfigError, Problem
from execintel.safefs import MAX_MANIFEST_BYTES, Confinement, UnsafeFile, read_regular

__all__ = [
    "DYNAMODB_PREFIX",
    "MANIFEST_NAME",
    "Portfolio",
    "StrictYamlLoader",
    "find_manifest",
    "key_path",
    "load_portfolio",
    "yaml_error_line",
    "yaml_error_message",
]

MANIFEST_NAME = "portfolio.yaml"
DYNAMODB_PREFIX = "dynamodb:"
TABLE_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{3,255}")

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Portfolio:
    """A validated manifest and the folder its relative paths start from."""

    manifest: Manifest
    path: Path
    allow_outside: bool = False
    allow_plugins: bool = False  # beancount ledgers may run plugin code from outside beancount

    @property
    def root(self) -> Path:
        """The manifest's folder."""
        return self.path.parent

    @property
    def confinement(self) -> Confinement:
        """The folder every file the portfolio names must really be in (unless ``allow_outside``)."""
        return Confinement.of(self.root, allow_outside=self.allow_outside)

    def resolve(self, relative: str) -> Path:
        """The absolute path of a manifest path (already checked at load time)."""
        return (self.root / relative).resolve()

    def display(self, path: Path) -> str:
        """A path as users should see it: relative to the manifest folder when inside it (as written, links kept)."""
        lexical = Path(os.path.normpath(self.root / path))
        for inside, root in ((lexical, self.root), (path.resolve(), self.root.resolve())):
            if inside.is_relative_to(root):
                return str(inside.relative_to(root))
        return str(path)

    def location(self, relative: str) -> Path:
        """A manifest path made absolute without following links: what the user wrote, for messages."""
        return Path(os.path.normpath(self.root / relative))


def key_path(loc: Loc) -> str:
    """Format a location tuple as ``entities[2].unit_economics.price``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_index(node: yaml.Node | None, loc: Loc = ()) -> Iterator[tuple[Loc, int]]:
    """Yield (key path, 1-based line) for every node of a composed YAML tree."""
    if node is None:
        return
    yield loc, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            yield (*loc, key), key_node.start_mark.line + 1
            yield from ((k, v) for k, v in _line_index(value_node, (*loc, key)) if k != (*loc, key))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _line_index(item, (*loc, i))


def _parse_yaml(path: Path, display: str) -> tuple[Any, dict[Loc, int]]:
    try:
        raw = read_regular(path, limit=MAX_MANIFEST_BYTES)  # named by the user: not confined, but capped
    except UnsafeFile as exc:
        raise ConfigError(Problem(display, exc.reason)) from None
    if b"\x00" in raw:
        raise ConfigError(Problem(display, "is a binary file, not YAML"))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad_line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(Problem(display, "is not UTF-8 text (save it as UTF-8)", line=bad_line)) from None
    try:
        data, node = load_yaml(text)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(Problem(display, yaml_error_message(exc), line=yaml_error_line(exc))) from None
    except yaml.YAMLError as exc:
        raise ConfigError(Problem(display, f"invalid YAML: {exc}")) from None
    if data is None:
        raise ConfigError(Problem(display, "is empty; start from `execintel init DIR`"))
    if not isinstance(data, dict):
        raise ConfigError(Problem(display, "must be a YAML mapping of keys (version, portfolio, ...)", line=1))
    return data, dict(_line_index(node))


def _unwrap(annotation: Any) -> Any:
    """Strip Optional/Annotated so a field's model or sequence type shows."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0] if len(args) == 1 else annotation
            if len(args) != 1:
                return annotation
        else:
            return annotation


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The manifest model found at a key path, for did-you-mean suggestions."""
    current: Any = Manifest
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            args = typing.get_args(current)
            if not args:
                return None
            current = args[0]
        elif isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            if field is None:
                return None
            current = field.annotation
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


_MESSAGES = {
    "missing": "is required",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "decimal_parsing": "must be a number",
    "decimal_type": "must be a number",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
    "model_type": "must be a mapping of keys",
    "model_attributes_type": "must be a mapping of keys",
    "dict_type": "must be a mapping of keys",
    "date_from_datetime_parsing": "must be a date like 2026-11-15",
    "date_parsing": "must be a date like 2026-11-15",
    "date_type": "must be a date like 2026-11-15",
    "too_short": "must not be empty",
    "string_too_short": "must not be empty",
}


def shown(value: Any) -> str:
    """A value as a message quotes it: ``'abc'``, ``12``, ``true``, ``a list``; long text is cut."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "an empty value"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    return str(value)


# Errors whose message names the wanted type or bound: the bad value is added (``..., not 'abc'``).
_QUOTE_INPUT = {*_MESSAGES, "greater_than_equal", "greater_than", "less_than_equal", "less_than"} - {
    "missing",
    "too_short",
    "string_too_short",
}


def _format_error(err: Any) -> tuple[Loc, str]:
    loc: Loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        known = sorted(model.model_fields) if model else []
        hint = difflib.get_close_matches(str(loc[-1]), known, n=1)
        suggestion = (
            f" (did you mean {hint[0]!r}?)" if hint else (f" (known keys: {', '.join(known)})" if known else "")
        )
        return loc, f"unknown key{suggestion}"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return loc, f"must be one of {expected}, not {shown(err.get('input'))}"
    if kind == "string_pattern_mismatch":
        if loc and loc[-1] == "id":
            return loc, f"{err.get('input')!r} must use only a-z, 0-9 and '-'"
        if loc and loc[-1] == "currency":
            return loc, f"{err.get('input')!r} must be a 3-letter ISO 4217 code like USD"
    if kind == "value_error":
        return loc, str(err.get("ctx", {}).get("error", err["msg"]))
    message = _MESSAGES.get(kind, err["msg"].replace("Input should be", "must be"))
    if kind in _QUOTE_INPUT and "input" in err:
        message += f", not {shown(err['input'])}"
    return loc, message


def _line_for(lines: dict[Loc, int], loc: Loc) -> int | None:
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


def _items(data: dict[str, Any], group: str) -> list[tuple[int, dict[str, Any]]]:
    value = data.get(group)
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def _strings(value: Any) -> list[tuple[int, str]]:
    return [(j, v) for j, v in enumerate(value) if isinstance(v, str)] if isinstance(value, list) else []


def _cross_checks(data: dict[str, Any]) -> Iterator[tuple[Loc, str]]:
    """Problems no single field can see: duplicate ids and dangling references.

    Works on the raw data so these problems are reported together with type errors.
    """
    for group in ("stakeholders", "entities", "schedules"):
        seen: dict[str, int] = {}
        for i, item in _items(data, group):
            ident = item.get("id")
            if not isinstance(ident, str):
                continue
            if ident in seen:
                yield (group, i, "id"), f"duplicate id {ident!r} (first used at {group}[{seen[ident]}])"
            seen.setdefault(ident, i)
    stakeholder_ids = {item.get("id") for _, item in _items(data, "stakeholders") if isinstance(item.get("id"), str)}
    known_roles = set(ROLES) | set(REPORT_IDS)
    for i, person in _items(data, "stakeholders"):
        for j, role in _strings(person.get("roles")):
            if role not in known_roles:
                hint = difflib.get_close_matches(role, sorted(known_roles), n=1)
                tail = f" (did you mean {hint[0]!r}?)" if hint else ""
                yield ("stakeholders", i, "roles", j), f"unknown role {role!r}{tail}"
    for i, schedule in _items(data, "schedules"):
        for j, report in _strings(schedule.get("reports")):
            if report not in REPORT_IDS:
                hint = difflib.get_close_matches(report, REPORT_IDS, n=1)
                tail = f" (did you mean {hint[0]!r}?)" if hint else f" (known: {', '.join(REPORT_IDS)})"
                yield ("schedules", i, "reports", j), f"unknown report {report!r}{tail}"
        for j, who in _strings(schedule.get("to")):
            if who not in stakeholder_ids:
                yield ("schedules", i, "to", j), f"no stakeholder has id {who!r}"
    yield from _owner_checks(data.get("owners"), stakeholder_ids)


def _owner_checks(owners: Any, stakeholder_ids: set[Any]) -> Iterator[tuple[Loc, str]]:
    """``owners``: each key a finding kind or an area, each value a stakeholder id (CONTRACT section 8)."""
    if not isinstance(owners, dict):
        return
    known = owner_keys()
    for key, who in owners.items():
        if str(key) not in known:
            hint = difflib.get_close_matches(str(key), known, n=1)
            tail = f" (did you mean {hint[0]!r}?)" if hint else f" (areas: {', '.join(sorted(ROLE_OF_AREA))})"
            yield ("owners", str(key)), f"{str(key)!r} is neither a finding kind nor an area{tail}"
        if isinstance(who, str) and who not in stakeholder_ids:
            yield ("owners", str(key)), f"no stakeholder has id {who!r}"


def _manifest_paths(data: dict[str, Any]) -> Iterator[tuple[Loc, str]]:
    """Every file path the manifest names, with its key path.

    Works on the raw data so path problems are reported together with type errors.
    """
    for key in ("ledger", "cloud_costs", "handoffs"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            yield (key,), value.strip()
    for i, entity in _items(data, "entities"):
        for key in ("ledger", "events", "contacts"):
            value = entity.get(key)
            text = value.strip() if isinstance(value, str) else ""
            if text and not (key == "events" and text.startswith(DYNAMODB_PREFIX)):
                yield ("entities", i, key), text
        for j, repo in _strings(entity.get("repos")):
            if repo.strip():
                yield ("entities", i, "repos", j), repo.strip()


def _path_checks(data: dict[str, Any], root: Path, allow_outside: bool) -> Iterator[tuple[Loc, str]]:
    base = root.resolve()
    for loc, value in _manifest_paths(data):
        candidate = Path(value)
        try:
            target = (base / candidate).resolve()
            exists = target.exists()
        except (OSError, ValueError) as exc:  # a NUL byte, a name too long for the file system
            yield loc, f"{value!r} is not a usable path ({getattr(exc, 'strerror', None) or exc})"
            continue
        if not allow_outside:
            if candidate.is_absolute():
                yield (
                    loc,
                    f"{value!r} is an absolute path; use a path inside the manifest's folder or pass --allow-outside",
                )
                continue
            if not target.is_relative_to(base):
                yield loc, f"{value!r} escapes the manifest's folder; move the data inside it or pass --allow-outside"
                continue
        if not exists:
            yield loc, f"{value!r} does not exist"
        elif loc[0] == "handoffs" and not target.is_dir():
            yield loc, f"{value!r} must be a folder of handoff files"
        elif "repos" in loc and not target.is_dir():
            yield loc, f"{value!r} must be a folder holding a git working tree"
        elif loc[0] != "handoffs" and "repos" not in loc and target.is_dir():
            yield loc, f"{value!r} is a folder; a file is expected here"


def _table_checks(data: dict[str, Any]) -> Iterator[tuple[Loc, str]]:
    """``dynamodb:TABLE`` names must be valid DynamoDB table names."""
    for i, entity in _items(data, "entities"):
        events = entity.get("events")
        if isinstance(events, str) and events.strip().startswith(DYNAMODB_PREFIX):
            table = events.strip()[len(DYNAMODB_PREFIX) :]
            if not table:
                yield ("entities", i, "events"), f"{events!r} names no table; write dynamodb:TABLE_NAME"
            elif not TABLE_NAME_RE.fullmatch(table):
                yield (
                    ("entities", i, "events"),
                    f"table name {table!r} must be 3-255 characters of A-Z, a-z, 0-9, '_', '-' and '.'",
                )


def find_manifest(path: Path) -> Path:
    """The manifest file for a path that is either the file or its folder."""
    return path / MANIFEST_NAME if path.is_dir() else path


def load_portfolio(path: Path | str, *, allow_outside: bool = False, allow_plugins: bool = False) -> Portfolio:
    """Parse and check a manifest; raise :class:`ConfigError` with every problem found."""
    manifest_path = find_manifest(Path(path)).absolute()
    display = str(Path(path) if not Path(path).is_dir() else Path(path) / MANIFEST_NAME)
    data, lines = _parse_yaml(manifest_path, display)
    problems: list[Problem] = []

    def add(loc: Loc, message: str) -> None:
        problems.append(Problem(display, message, line=_line_for(lines, loc), key=key_path(loc) or None))

    manifest: Manifest | None = None
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        failed = [tuple(e["loc"]) for e in errors if e["type"] != "too_short"]
        for err in errors:
            loc = tuple(err["loc"])
            # pydantic counts only valid items; an invalid item is not an empty list.
            if err["type"] == "too_short" and any(f[: len(loc)] == loc and f != loc for f in failed):
                continue
            add(*_format_error(err))
    for check in (_cross_checks(data), _path_checks(data, manifest_path.parent, allow_outside), _table_checks(data)):
        for loc, message in check:
            add(loc, message)
    if problems or manifest is None:
        problems.sort(key=lambda p: p.line or 0)
        raise ConfigError(problems)
    return Portfolio(manifest=manifest, path=manifest_path, allow_outside=allow_outside, allow_plugins=allow_plugins)
