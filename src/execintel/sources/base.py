"""The shared base of every connector: reading, batching, rejecting bad rows.

Most connectors yield rows one by one (:meth:`Source.rows`). Large CSV files
go column by column instead (:class:`CsvSource`): whole columns are checked
at once, each distinct value once, and only the rows that look doubtful are
checked one by one, with the same messages a row-by-row check would give.
"""

from __future__ import annotations

import codecs
import csv
import io
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, TextIO

import pyarrow as pa
import pyarrow.compute as pc

from execintel.errors import Problem, SourceError
from execintel.facts import Facts
from execintel.safefs import MAX_DOCUMENT_BYTES, MAX_STREAM_BYTES, Confinement, UnsafeFile, open_regular, read_regular

BATCH_ROWS = 100_000
INSERT_ROWS = 500_000  # a column-wise source inserts this many checked rows at a time
MAX_PROBLEMS_PER_SOURCE = 1_000
MAX_CSV_LINE_CHARS = 1 << 20
"""Characters in one line of a CSV file; a longer line ends the source instead of being read into memory whole."""
_CHUNK_BYTES = 1 << 20
# A cell whose first or last character is outside printable ASCII may have spaces to strip.
_MAY_NEED_STRIP = r"^[^!-~]|[^!-~]$"

Rejection = tuple[int, str, str | None]  # line, message, key


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
    confine: Confinement | None = None  # the folder its files must really be in; None only in direct tests
    allow_plugins: bool = False  # a beancount ledger may run plugin code that is not beancount's (--allow-plugins)


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
    makes the whole source unreadable is raised with :meth:`fail`. Connectors
    of large files may override :meth:`write` instead (see :class:`CsvSource`).
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

    def entity_problem(self, value: str) -> tuple[str | None, str | None]:
        """``(entity id, None)`` for a row's stripped entity cell, or ``(None, why it is refused)``."""
        if not value:
            if self.spec.entity is None:
                return None, "entity is empty; a portfolio-wide source needs an entity id on every row"
            return self.spec.entity, None
        if value not in self.spec.entities:
            return None, f"unknown entity {value!r} (known: {', '.join(self.spec.entities)})"
        if self.spec.entity is not None and value != self.spec.entity:
            return None, f"entity {value!r} differs from {self.spec.entity!r}, which lists this file"
        return value, None

    def check_entity(self, value: str, line: int | None, key: str = "entity") -> str | None:
        """The row's entity id, defaulting to the listing entity; None (rejected) when unknown."""
        entity, why = self.entity_problem(value.strip())
        if why is not None:
            self.reject(why, line, key)
        return entity

    def load(self, facts: Facts) -> SourceReport:
        """Read every row into ``facts`` in batches; return what happened."""
        report = self._report
        try:
            self.write(facts)
        except SourceError as exc:
            report.problems.append(exc.problem)
        if report.rows_loaded:
            report.date_range = facts.date_range(self.table, self.spec.display)
        return report

    def write(self, facts: Facts) -> None:
        """Insert the rows of :meth:`rows` into ``facts``, :data:`BATCH_ROWS` at a time."""
        report = self._report
        batch: list[tuple[Any, ...]] = []
        for row in self.rows():
            batch.append(row)
            if len(batch) >= BATCH_ROWS:
                report.rows_loaded += facts.append(self.table, list(zip(*batch, strict=True)))
                batch = []
        if batch:
            report.rows_loaded += facts.append(self.table, list(zip(*batch, strict=True)))

    # Helpers shared by file connectors -------------------------------------------------

    def local_path(self) -> Path:
        """The source's file; a remote source (no path) fails."""
        if self.spec.path is None:
            raise self.fail("is not a local file")
        return self.spec.path

    def read_text(self, limit: int = MAX_DOCUMENT_BYTES) -> str:
        """The source file as text; UTF-8 only, with clear errors for anything else."""
        return read_text(self.local_path(), self.spec.display, confine=self.spec.confine, limit=limit)

    @contextmanager
    def open_text(self) -> Iterator[TextIO]:
        """The source file opened as UTF-8 text, checked first like :meth:`read_text` but never held whole."""
        path = self.local_path()
        check_text(path, self.spec.display, confine=self.spec.confine)
        try:
            with (
                _opened(path, self.spec.display, self.spec.confine, MAX_STREAM_BYTES) as raw,
                io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as handle,
            ):
                yield handle
        except UnsafeFile as exc:
            raise self.fail(exc.reason) from None
        except OSError as exc:
            raise self.fail(f"cannot be read: {exc.strerror}") from None

    def text_lines(self, limit: int) -> Iterator[tuple[int, str | None]]:
        """``(line number, text)`` of each line of the source file, read a chunk at a time (never held whole).

        Lines end at ``\\n`` (a ``\\r`` before it is dropped). A line longer than ``limit`` characters comes back
        as ``None`` and is skipped without being held, so memory stays bounded whatever the file holds.
        """
        with self.open_text() as handle:
            number = 0
            start = ""  # the beginning of a line that the previous chunk cut
            overlong = False  # inside a line already longer than the limit
            while chunk := handle.read(_CHUNK_BYTES):
                *complete, tail = chunk.split("\n")
                for part in complete:
                    number += 1
                    if overlong or len(start) + len(part) > limit:
                        yield number, None
                    else:
                        yield number, (start + part).removesuffix("\r")
                    start, overlong = "", False
                if not overlong:
                    if len(start) + len(tail) > limit:
                        start, overlong = "", True
                    else:
                        start += tail
            if start or overlong:
                yield number + 1, None if overlong else start.removesuffix("\r")

    def _csv_header(
        self, reader: Any, required: tuple[str, ...], optional: tuple[str, ...]
    ) -> tuple[dict[str, int], int]:
        """The index of each wanted column and the header's width; fails on a missing column."""
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise self.fail("is empty") from None
        except csv.Error as exc:
            raise self.fail(f"is not valid CSV: {exc}", line=getattr(exc, "line", 1)) from None
        missing = [c for c in required if c not in header]
        if missing:
            raise self.fail(
                f"header lacks required column(s) {', '.join(missing)}; found {', '.join(header) or 'nothing'}",
                line=1,
            )
        return {name: header.index(name) for name in (*required, *optional) if name in header}, len(header)

    def csv_rows(
        self, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> Iterator[tuple[int, Callable[[str], str]]]:
        """Yield (line, getter) for each data row of a CSV with the given columns."""
        with self.open_text() as handle:
            reader = csv.reader(capped_lines(handle, MAX_CSV_LINE_CHARS))
            index, width = self._csv_header(reader, required, optional)
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
                raise self.fail(f"is not valid CSV: {exc}", line=getattr(exc, "line", reader.line_num)) from None

    def csv_batches(self, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> Iterator[CsvBatch]:
        """Yield the data rows of a CSV with the given columns, up to :data:`BATCH_ROWS` at a time.

        Blank lines are skipped; rows with the wrong number of fields are listed
        in the batch's ``rejections`` (the caller records them, in line order
        with its own). A CSV error ends the source: the rows before it are
        yielded in a last batch whose ``error`` is set, and are not to be loaded.
        """
        with self.open_text() as handle:
            reader = csv.reader(capped_lines(handle, MAX_CSV_LINE_CHARS))
            index, width = self._csv_header(reader, required, optional)
            cells: list[str] = []
            lines: list[int] = []
            rejections: list[Rejection] = []
            extend, add_line = cells.extend, lines.append
            previous = 1  # the line the previous record ended on
            try:
                for record in reader:
                    # A flat list of cells rather than a list per row: far fewer objects for the GC to track.
                    if len(record) == width and (width > 1 or record[0].strip()):
                        extend(record)
                        add_line(previous + 1)
                        if len(lines) >= BATCH_ROWS:
                            yield CsvBatch(index, width, cells, lines, rejections)
                            cells, lines, rejections = [], [], []
                            extend, add_line = cells.extend, lines.append
                    elif record and not (len(record) == 1 and not record[0].strip()):
                        rejections.append((previous + 1, f"has {len(record)} fields, the header has {width}", None))
                    previous = reader.line_num
            except csv.Error as exc:
                error = self.fail(f"is not valid CSV: {exc}", line=getattr(exc, "line", reader.line_num))
                yield CsvBatch(index, width, cells, lines, rejections, error)
                return
            if lines or rejections:
                yield CsvBatch(index, width, cells, lines, rejections)


@dataclass
class CsvBatch:
    """Data rows of a CSV file held as one flat list of cells, read out column by column."""

    index: dict[str, int]  # wanted column name -> position in the header
    width: int  # fields per row
    cells: list[str]  # row after row, ``width`` cells each, as read (not stripped)
    lines: list[int]  # the line each row starts on
    rejections: list[Rejection]  # rows refused while reading
    error: SourceError | None = None  # a CSV error that ends the source after these rows
    _columns: dict[str, tuple[list[str], pa.Array]] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.lines)

    def has(self, name: str) -> bool:
        """Whether the header has this column."""
        return name in self.index

    def _column(self, name: str) -> tuple[list[str], pa.Array]:
        cached = self._columns.get(name)
        if cached is not None:
            return cached
        position = self.index.get(name)
        if position is None:
            texts = [""] * len(self.lines)
            array = pa.array(texts, type=pa.string())
        else:
            texts = self.cells[position :: self.width]
            array = pa.array(texts, type=pa.string())
            # Python's str.strip() decides, but only runs on a column where some cell has an edge to strip.
            if len(texts) and _may_need_strip(array):
                texts = [text.strip() for text in texts]
                array = pa.array(texts, type=pa.string())
        self._columns[name] = (texts, array)
        return texts, array

    def texts(self, name: str) -> list[str]:
        """One column's cells, stripped ("" in every row when the header lacks the column)."""
        return self._column(name)[0]

    def array(self, name: str) -> pa.Array:
        """One column's stripped cells as an Arrow string array."""
        return self._column(name)[1]

    def getter(self, row: int) -> Callable[[str], str]:
        """A function giving one row's stripped cell by column name ("" for a missing column)."""
        start = row * self.width

        def get(name: str) -> str:
            position = self.index.get(name)
            return self.cells[start + position].strip() if position is not None else ""

        return get


class LineTooLong(csv.Error):
    """A CSV line over :data:`MAX_CSV_LINE_CHARS`: the reader stops there, as at any CSV error."""

    def __init__(self, line: int, limit: int) -> None:
        super().__init__(f"line {line:,} is longer than {limit:,} characters")
        self.line = line


def capped_lines(handle: TextIO, limit: int) -> Iterator[str]:
    """The lines of ``handle`` for :func:`csv.reader`, each read at most ``limit`` characters at a time.

    Iterating the file itself would read a line of any length into memory before the CSV module could refuse
    it; here a longer line raises :class:`LineTooLong` once ``limit + 1`` characters of it are read.
    """
    for number, text in enumerate(iter(partial(handle.readline, limit + 1), ""), start=1):
        if len(text) > limit:
            raise LineTooLong(number, limit)
        yield text


@cache
def _arrow_trims_python_whitespace() -> bool:
    """Whether Arrow's ``utf8_trim_whitespace`` trims every character Python's ``str.strip`` does."""
    spaces = [chr(code) for code in range(0x3001) if chr(code).isspace()]  # U+3000 is the last one
    trimmed = pc.utf8_trim_whitespace(pa.array([f"{space}x{space}" for space in spaces], type=pa.string()))
    return bool(pc.all(pc.equal(trimmed, "x")).as_py())


def _may_need_strip(array: pa.Array) -> bool:
    """False only when no value of ``array`` starts or ends with whitespace."""
    if _arrow_trims_python_whitespace():
        return pc.all(pc.equal(pc.utf8_trim_whitespace(array), array)).as_py() is False
    return bool(pc.any(pc.match_substring_regex(array, _MAY_NEED_STRIP)).as_py())


def distinct_misses(array: pa.Array, accept: Callable[[str], bool]) -> pa.Array | None:
    """Rows whose value ``accept`` refuses, asking once per distinct value; None when it accepts them all."""
    refused = [value for value in pc.unique(array).to_pylist() if not accept(value)]
    return pc.is_in(array, value_set=pa.array(refused, type=array.type)) if refused else None


def pattern_misses(array: pa.Array, pattern: str) -> pa.Array | None:
    """Rows whose value does not match a (RE2) regular expression; None when all match."""
    matches = pc.match_substring_regex(array, pattern)
    return None if pc.all(matches).as_py() is not False else pc.invert(matches)


def mapped(array: pa.Array, mapping: Callable[[str], Any], type: pa.DataType) -> pa.Array:
    """``mapping`` applied to each value, computed once per distinct value (for low-cardinality columns)."""
    distinct = pc.unique(array)
    values = pa.array([mapping(value) for value in distinct.to_pylist()], type=type)
    return pc.take(values, pc.index_in(array, value_set=distinct))


class CsvSource(Source):
    """A CSV connector that checks whole columns at once, and only doubtful rows one at a time.

    Subclasses name their CSV columns and implement :meth:`columns` (the
    batch as Arrow arrays named like the facts table's columns, plus masks of
    the rows a whole-column check could not accept) and :meth:`check_row`
    (the row-by-row check of one doubtful row, the same rules and messages as
    a plain row connector). A doubtful row the row check accepts is loaded
    with the values it returns.
    """

    required: ClassVar[tuple[str, ...]] = ()
    optional: ClassVar[tuple[str, ...]] = ()

    def csv_columns(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The CSV columns this source needs and the ones it reads when present."""
        return self.required, self.optional

    @abstractmethod
    def columns(self, batch: CsvBatch) -> tuple[dict[str, pa.Array], list[pa.Array | None]]:
        """The batch's facts columns (text is cast by the database) and masks of doubtful rows."""

    @abstractmethod
    def check_row(self, get: Callable[[str], str], line: int) -> dict[str, Any] | tuple[str, str | None]:
        """For one doubtful row: the facts values to load instead, or ``(message, key)`` to refuse it."""

    def constants(self) -> dict[str, Any]:
        """Facts columns with the same value on every row (the source file)."""
        return {"source_file": self.spec.display}

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Not used: a CSV source writes whole columns (see :meth:`write`)."""
        raise NotImplementedError(f"{type(self).__name__} loads column by column; call load()")

    def write(self, facts: Facts) -> None:
        """Check the CSV batch by batch; insert the good rows a few batches at a time."""
        required, optional = self.csv_columns()
        pending: list[pa.Table] = []
        for batch in self.csv_batches(required, optional):
            rejections = list(batch.rejections)
            table = self._checked(batch, rejections) if len(batch) else None
            rejections.sort(key=lambda rejection: rejection[0])
            for line, message, key in rejections:
                self.reject(message, line, key)
            if batch.error is not None:  # the rows of the batch the error ends are not loaded
                self._insert(facts, pending)
                raise batch.error
            if table is not None and table.num_rows:
                pending.append(table)
                # One insert of several batches: DuckDB spreads a multi-chunk insert over its threads.
                if sum(t.num_rows for t in pending) >= INSERT_ROWS:
                    self._insert(facts, pending)
                    pending = []
        self._insert(facts, pending)

    def _insert(self, facts: Facts, tables: list[pa.Table]) -> None:
        if tables:
            table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
            self._report.rows_loaded += facts.append_arrow(self.table, table, self.constants())

    def _checked(self, batch: CsvBatch, rejections: list[Rejection]) -> pa.Table:
        """The batch as an Arrow table of good rows; refused rows are added to ``rejections``."""
        arrays, masks = self.columns(batch)
        arrays["source_line"] = pa.array(batch.lines, type=pa.int32())
        doubtful = [mask for mask in masks if mask is not None]
        if not doubtful:
            return pa.table(arrays)
        combined = doubtful[0]
        for mask in doubtful[1:]:
            combined = pc.or_(combined, mask)
        keep = [True] * len(batch)
        patches: dict[str, dict[int, Any]] = {}
        for row in pc.indices_nonzero(combined).to_pylist():
            line = batch.lines[row]
            outcome = self.check_row(batch.getter(row), line)
            if isinstance(outcome, tuple):
                rejections.append((line, outcome[0], outcome[1]))
                keep[row] = False
            else:
                for name, value in outcome.items():
                    patches.setdefault(name, {})[row] = value
        for name, values in patches.items():
            arrays[name] = _patch(arrays[name], values)
        table = pa.table(arrays)
        return table if all(keep) else table.filter(pa.array(keep, type=pa.bool_()))


def _patch(array: pa.Array, values: Mapping[int, Any]) -> pa.Array:
    """``array`` with the values at some positions replaced."""
    mask = [False] * len(array)
    for position in values:
        mask[position] = True
    replacements = pa.array([values[p] for p in sorted(values)], type=array.type)
    return pc.replace_with_mask(array, pa.array(mask, type=pa.bool_()), replacements)


def _opened(path: Path, display: str, confine: Confinement | None, limit: int) -> BinaryIO:
    """``path`` opened through :func:`execintel.safefs.open_regular`; a :class:`SourceError` naming ``display``."""
    try:
        return open_regular(path, confine=confine, limit=limit)
    except UnsafeFile as exc:
        raise SourceError(Problem(display, exc.reason)) from None


def check_text(path: Path, display: str, *, confine: Confinement | None = None) -> None:
    """Raise a :class:`SourceError` naming ``display`` unless the file is non-empty UTF-8 text.

    Reads the file in chunks, so a large file is never held whole.
    """

    def fail(message: str) -> SourceError:
        return SourceError(Problem(display, message))

    decoder = codecs.getincrementaldecoder("utf-8")()
    blank = True
    lines = 0  # line breaks before the current chunk, to name the line of a bad byte
    try:
        with _opened(path, display, confine, MAX_STREAM_BYTES) as handle:
            first = True
            while chunk := handle.read(_CHUNK_BYTES):
                if first and b"\x00" in chunk[:8192]:
                    raise fail("is a binary file, not text")
                first = False
                blank = blank and not chunk.strip()
                decoder.decode(chunk)
                lines += chunk.count(b"\n")
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        data = bytes(exc.object)  # the decoder's pending bytes and the chunk it failed in
        line = lines + data[: exc.start].count(b"\n") + 1  # pending bytes are part of one character: no "\n"
        bad = f" (byte 0x{data[exc.start]:02x})" if exc.start < len(data) else " (it ends inside a character)"
        raise SourceError(Problem(display, f"is not UTF-8{bad}; re-save it as UTF-8", line=line)) from None
    except UnsafeFile as exc:
        raise fail(exc.reason) from None
    except OSError as exc:
        raise fail(f"cannot be read: {exc.strerror}") from None
    if blank:
        raise fail("is empty")


def read_text(path: Path, display: str, *, confine: Confinement | None = None, limit: int = MAX_DOCUMENT_BYTES) -> str:
    """A text file's content; a :class:`SourceError` naming ``display`` when it is not UTF-8 text.

    The file must be a regular file of at most ``limit`` bytes, inside ``confine`` (see :mod:`execintel.safefs`).
    """

    def fail(message: str, line: int | None = None) -> SourceError:
        return SourceError(Problem(display, message, line=line))

    try:
        raw = read_regular(path, confine=confine, limit=limit)
    except UnsafeFile as exc:
        raise fail(exc.reason) from None
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
