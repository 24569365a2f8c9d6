"""Handoff files: ``*.md`` with YAML front matter, ``*.yaml``, ``*.json`` (CONTRACT.md section 6)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from execintel.config.safeyaml import load_yaml, yaml_error_line, yaml_error_message
from execintel.errors import Problem, SourceError
from execintel.safefs import UnsafeFile, walk_folder
from execintel.sources.base import Source, read_text, register
from execintel.sources.values import JsonProblem, load_json, parse_date, parse_decimal

STATUSES = ("on-track", "at-risk", "blocked")
SUFFIXES = (".md", ".yaml", ".yml", ".json")
_KNOWN = {"project", "entity", "status", "updated", "summary", "financials", "risks", "blockers", "next_steps"}


def split_front_matter(text: str) -> tuple[str, str, int]:
    """(front matter, body, line where the body starts) of a Markdown file."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return "", text, 1
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() in ("---", "..."):
            return "".join(lines[1:i]), "".join(lines[i + 1 :]), i + 2
    return "", text, 1


@register
class Handoffs(Source):
    """A folder of project handoff files, one project per file."""

    kind = "handoffs"
    table = "handoffs"

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Yield one row per handoff file; each file is checked on its own."""
        folder = self.spec.path
        if folder is None or not folder.is_dir():
            raise self.fail("is not a folder of handoff files")
        try:
            if self.spec.confine is not None:
                self.spec.confine.check(folder)
            entries = walk_folder(folder, confine=self.spec.confine)
        except UnsafeFile as exc:
            raise self.fail(exc.reason) from None
        files: list[tuple[Path, str]] = []
        for path, why in entries:
            rel = f"{self.spec.display.rstrip('/')}/{path.relative_to(folder).as_posix()}"
            if why is not None:  # a subfolder not entered (a link out of the portfolio, unreadable)
                self.problem_at(rel, why, warning=False)
            elif path.suffix.lower() in SUFFIXES:
                files.append((path, rel))
        if not files:
            self.problem(f"holds no handoff files ({', '.join(SUFFIXES)})", warning=True)
        for file, rel in files:
            reader = _FileReader(self, file, rel)
            try:
                row = reader.row()
            except SourceError as exc:
                self._report.rows_rejected += 1
                self._report.problems.append(exc.problem)
                continue
            if row is not None:
                yield row


class _FileReader:
    """Reads one handoff file on behalf of the folder connector."""

    def __init__(self, owner: Handoffs, path: Path, display: str) -> None:
        self.owner = owner
        self.path = path
        self.display = display
        self.lines: dict[str, int] = {}  # top-level key -> line in the file (YAML and Markdown)

    def fail(self, message: str, line: int | None = None, key: str | None = None) -> SourceError:
        return SourceError(Problem(self.display, message, line=line, key=key))

    def fail_at(self, key: str, message: str) -> SourceError:
        """An error about one field, at the line of its key when known."""
        return self.fail(message, line=self.lines.get(key), key=key)

    def row(self) -> tuple[Any, ...] | None:
        text = read_text(self.path, self.display, confine=self.owner.spec.confine)  # a regular file, inside
        suffix = self.path.suffix.lower()
        notes = ""
        if suffix == ".json":
            try:
                data = load_json(text)
            except JsonProblem as exc:
                raise self.fail(exc.message, line=exc.line) from None
        elif suffix == ".md":
            front, notes, _ = split_front_matter(text)
            if not front:
                raise self.fail("has no YAML front matter (a block between --- lines at the top)", line=1)
            data = self._yaml(front, first_line=2)
        else:
            data = self._yaml(text, first_line=1)
        if not isinstance(data, dict):
            raise self.fail("must be a mapping with project, entity, status, updated, ...", line=1)
        return self._validate(data, notes.strip())

    def _yaml(self, text: str, first_line: int) -> Any:
        """Parse YAML that starts at ``first_line`` of the file, noting the line of each top-level key."""
        try:
            data, node = load_yaml(text)
        except yaml.MarkedYAMLError as exc:
            line = yaml_error_line(exc)
            raise self.fail(yaml_error_message(exc), line=None if line is None else line + first_line - 1) from None
        except yaml.YAMLError as exc:
            raise self.fail(f"invalid YAML: {exc}") from None
        if isinstance(node, yaml.MappingNode):
            for key_node, _ in node.value:
                self.lines.setdefault(str(key_node.value), key_node.start_mark.line + first_line)
        return data

    def _validate(self, data: dict[str, Any], notes: str) -> tuple[Any, ...]:
        fail = self.fail_at
        project = data.get("project")
        if not isinstance(project, str) or not project.strip():
            raise fail("project", "project is required")
        status = data.get("status")
        if status not in STATUSES:
            raise fail("status", f"status {status!r} must be one of {', '.join(STATUSES)}")
        updated_raw = data.get("updated")
        updated = parse_date(str(updated_raw)) if updated_raw is not None else None
        if updated is None:
            raise fail("updated", f"updated {updated_raw!r} must be a date like 2026-11-15")
        entity_raw = data.get("entity")
        entity: str | None = None
        if entity_raw is not None:
            if str(entity_raw) not in self.owner.spec.entities:
                raise fail("entity", f"unknown entity {entity_raw!r} (known: {', '.join(self.owner.spec.entities)})")
            entity = str(entity_raw)
        financials = data.get("financials") or {}
        if not isinstance(financials, dict):
            raise fail("financials", "financials must be a mapping of names to numbers")
        clean: dict[str, str] = {}
        for name, value in financials.items():
            number = None if isinstance(value, bool) else parse_decimal(str(value))
            if number is None:
                line = self.lines.get("financials")
                raise self.fail(f"{value!r} is not a number", line=line, key=f"financials.{name}")
            clean[str(name)] = str(number)
        lists: dict[str, list[str]] = {}
        for name in ("risks", "blockers", "next_steps"):
            value = data.get(name) or []
            if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
                raise fail(name, f"{name} must be a list of text items")
            lists[name] = [str(v) for v in value]
        for unknown in sorted({str(k) for k in data} - _KNOWN):
            self.owner.problem_at(
                self.display, f"key {unknown!r} is not a handoff field; ignored", self.lines.get(unknown), unknown
            )
        summary = data.get("summary")
        return (
            project.strip(), entity, status, updated, None if summary is None else str(summary),
            json.dumps(clean), json.dumps(lists["risks"]), json.dumps(lists["blockers"]),
            json.dumps(lists["next_steps"]), notes, self.display, 1,
        )  # fmt: skip
