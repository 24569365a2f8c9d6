"""The shared base of every connector: reading, batching, rejecting bad rows."""

from __future__ import annotations

import csv
import io
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from execintel.errors import Problem, SourceError
from execintel.facts import Facts, column_names

BATCH_ROWS = 100_000
MAX_PROBLEMS_PER_SOURCE = 1_000


@dataclass(frozen=True)
class SourceSpec:
    """One source named by the manifest, resolved to a connector kind."""

    kind: str
    location: str  # as written in the manifest
    display: str  # how messages name it (path relative to the manifest)
    key: str  # the manifest key path that names it
    path: Path | None = None  # absolute path; None for remote sources
    entity: str | None = None  # the entity that lists it; None for portfolio-wide sources
    entities: tuple[str, ...] = ()  # every entity id of the manifest
    currency: str = "USD"


@dataclass
class SourceReport:
    """What loading one source did: rows in, rows refused, problems, date range."""

    spec: SourceSpec
    table: str
    rows_loaded: int = 0
    rows_rejected: int = 0
    problems: list[Problem] = field(default_factory=list)
    date_range: tuple[str, str] | None = None

    @property
    def errors(self) -> list[Problem]:
        """Problems that fail validation (warnings excluded)."""
        return [p for p in self.problems if p.severity == "error"]


class Source(ABC):
    """A connector: reads one source and yields rows for one facts table.

    Subclasses implement :meth:`rows`, yielding tuples in the table's column
    order and calling :meth:`reject` for rows they cannot use. A problem that
    makes the whole source unreadable is raised with :meth:`fail`.
    """

    kind: ClassVar[str]
    table: ClassVar[str]

    def __init__(self, spec: SourceSpec, *, client: Any = None, settings: Any = None) -> None:
        self.spec = spec
        self.client = client
        self.settings = settings
        self._report = SourceReport(spec=spec, table=self.table)

    @abstractmethod
    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Yield the source's good rows in the table's column order."""

    def reject(self, message: str, line: int | None = None, key: str | None = None) -> None:
        """Record a row that cannot be loaded."""
        self._report.rows_rejected += 1
        self.problem(message, line=line, key=key)

    def problem(self, message: str, line: int | None = None, key: str | None = None, *, warning: bool = False) -> None:
        """Record a problem without counting a rejected row."""
        self.problem_at(self.spec.display, message, line, key, warning=warning)

    def problem_at(
        self, file: str, message: str, line: int | None = None, key: str | None = None, *, warning: bool = True
    ) -> None:
        """Record a problem in a file of this source (a folder source holds many files)."""
        problems = self._report.problems
        if len(problems) < MAX_PROBLEMS_PER_SOURCE:
            problems.append(Problem(file, message, line=line, key=key, severity="warning" if warning else "error"))
        elif len(problems) == MAX_PROBLEMS_PER_SOURCE:
            problems.append(Problem(self.spec.display, "more problems not shown"))

    def fail(self, message: str, line: int | None = None, key: str | None = None) -> SourceError:
        """An error that stops this source (the caller raises it)."""
        return SourceError(Problem(self.spec.display, message, line=line, key=key))

    def check_entity(self, value: str, line: int | None, key: str = "entity") -> str | None:
        """The row's entity id, defaulting to the listing entity; None (rejected) when unknown."""
        value = value.strip()
        if not value:
            if self.spec.entity is None:
                self.reject("entity is empty; a portfolio-wide source needs an entity id on every row", line, key)
                return None
            return self.spec.entity
        if value not in self.spec.entities:
            self.reject(f"unknown entity {value!r} (known: {', '.join(self.spec.entities)})", line, key)
            return None
        if self.spec.entity is not None and value != self.spec.entity:
            self.reject(f"entity {value!r} differs from {self.spec.entity!r}, which lists this file", line, key)
            return None
        return value

    def load(self, facts: Facts) -> SourceReport:
        """Read every row into ``facts`` in batches; return what happened."""
        report = self._report
        width = len(column_names(self.table))
        columns: list[list[Any]] = [[] for _ in range(width)]
        try:
            for row in self.rows():
                for column, value in zip(columns, row, strict=True):
                    column.append(value)
                if len(columns[0]) >= BATCH_ROWS:
                    report.rows_loaded += facts.append(self.table, columns)
                    columns = [[] for _ in range(width)]
            report.rows_loaded += facts.append(self.table, columns)
        except SourceError as exc:
            report.problems.append(exc.problem)
        if report.rows_loaded:
            report.date_range = facts.date_range(self.table, self.spec.display)
        return report

    # Helpers shared by file connectors -------------------------------------------------

    def read_text(self) -> str:
        """The source file as text; UTF-8 only, with clear errors for anything else."""
        assert self.spec.path is not None
        return read_text(self.spec.path, self.spec.display)

    def csv_rows(
        self, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> Iterator[tuple[int, Callable[[str], str]]]:
        """Yield (line, getter) for each data row of a CSV with the given columns."""
        text = self.read_text()
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise self.fail("is empty") from None
        except csv.Error as exc:
            raise self.fail(f"is not valid CSV: {exc}", line=1) from None
        missing = [c for c in required if c not in header]
        if missing:
            raise self.fail(
                f"header lacks required column(s) {', '.join(missing)}; found {', '.join(header) or 'nothing'}",
                line=1,
            )
        index = {name: header.index(name) for name in (*required, *optional) if name in header}
        width = len(header)
        line = 1
        try:
            for record in reader:
                line_start = line + 1
                line = reader.line_num
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue
                if len(record) != width:
                    self.reject(f"has {len(record)} fields, the header has {width}", line_start)
                    continue

                def get(name: str, _record: list[str] = record) -> str:
                    i = index.get(name)
                    return _record[i].strip() if i is not None else ""

                yield line_start, get
        except csv.Error as exc:
            raise self.fail(f"is not valid CSV: {exc}", line=reader.line_num) from None


def read_text(path: Path, display: str) -> str:
    """A text file's content; a :class:`SourceError` naming ``display`` when it is not UTF-8 text."""

    def fail(message: str, line: int | None = None) -> SourceError:
        return SourceError(Problem(display, message, line=line))

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise fail("file not found") from None
    except IsADirectoryError:
        raise fail("is a folder; a file is expected") from None
    except OSError as exc:
        raise fail(f"cannot be read: {exc.strerror}") from None
    if not raw.strip():
        raise fail("is empty")
    if b"\x00" in raw[:8192]:
        raise fail("is a binary file, not text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise fail(f"is not UTF-8 (byte 0x{raw[exc.start]:02x}); re-save it as UTF-8", line) from None


SOURCES: dict[str, type[Source]] = {}


def register(cls: type[Source]) -> type[Source]:
    """Class decorator adding a connector to the registry under its ``kind``."""
    SOURCES[cls.kind] = cls
    return cls
