"""Beancount ledgers, read with beancount's parser, booking, plugins and checks (the only module importing beancount).

execintel drives the loading itself instead of calling ``beancount.loader.load_file``, which would open every
included file, run any plugin the ledger names and unpickle a cache file found beside the ledger:

- every file (the ledger and each ``include``, globs and includes of includes too) is read through
  :mod:`execintel.safefs`: inside the portfolio folder unless ``--allow-outside``, regular files only, capped;
  a refused include is an error naming the including file, its line and the directive;
- no code from the data runs unless the user passes ``--allow-plugins`` (see :mod:`.beanplugins`);
- no pickle cache is read or written, and ``option "documents"`` folders are not scanned.

Postings to ``Income`` and ``Expenses`` become transaction rows with the sign flipped to the cash convention of
the ledger CSV (positive = cash in). So do postings to ``Equity`` and ``Liabilities``, so that cash on hand (the
sum of all rows) equals the net change of the ``Assets`` accounts, as in a CSV ledger with an opening-balance
row. Postings to ``Assets`` accounts go to the ``asset_postings`` table instead (the CFO report splits cash on
hand into cash and bank accounts versus investments). Postings in another commodity than the portfolio currency
are converted at their cost or price when one is in that currency, otherwise skipped and counted in one warning.
"""

from __future__ import annotations

import datetime as dt
import gc
import importlib
import io
import os
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from execintel.facts import Facts
from execintel.safefs import MAX_DOCUMENT_BYTES, UnsafeFile, read_regular, size_text
from execintel.sources.base import Source, register
from execintel.sources.beanfiles import PYTHONPATH_OPTION, expand_include, refusals
from execintel.sources.values import fits_amount, parse_date, too_large

CASH_SIDE_ROOTS = ("Income", "Expenses", "Equity", "Liabilities")
MAX_LEDGER_FILES = 10_000
"""A ledger and everything it includes: more files than this is refused (a glob gone wrong)."""
_ENCRYPTED = (".gpg", ".asc")
GC_THRESHOLDS = (100_000, 50, 100)
"""Python's collector thresholds while a ledger loads (defaults 700, 10, 10): allocations between two young
collections, then young collections between two middle ones, middle ones between two full ones."""


class _Collections:
    """The collector's thresholds, raised while at least one ledger loads (the web app loads in job threads)."""

    lock = threading.Lock()
    loading = 0  # ledgers loading now, in any thread
    saved: tuple[int, ...] = ()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the block with Python's cyclic garbage collector waking up rarely, then restore its thresholds.

    Parsing and booking a ledger allocates millions of small objects (entries, postings, amounts, decimals) and
    keeps them: with the default thresholds the collector runs every 700 allocations and re-scans the growing
    heap again and again, about an eighth of beancount's parse and booking time on a 100,000-transaction ledger,
    for almost nothing to free (these objects hold no reference cycles; reference counting frees the rest).
    Collection stays on, just rarer, so garbage with cycles (a plugin's, say) is still freed. The thresholds are
    process-wide: the first ledger to start loading raises them and the last to finish restores them; objects
    frozen out of collection (as ``execintel serve`` does at start) stay frozen.
    """
    with _Collections.lock:
        if _Collections.loading == 0:
            _Collections.saved = gc.get_threshold()
            raised = (max(ours, theirs) for ours, theirs in zip(GC_THRESHOLDS, _Collections.saved, strict=False))
            gc.set_threshold(*raised)
        _Collections.loading += 1
    try:
        yield
    finally:
        with _Collections.lock:
            _Collections.loading -= 1
            if _Collections.loading == 0:
                gc.set_threshold(*_Collections.saved)


@dataclass
class _Parsed:
    """What parsing a ledger and its includes gave, before booking and plugins."""

    entries: list[Any] = field(default_factory=list)
    errors: list[Any] = field(default_factory=list)
    options: Any = None
    others: list[Any] = field(default_factory=list)  # the options of each included file
    directives: list[tuple[str, int, str, str | None]] = field(default_factory=list)  # (file, line, what, config)
    displays: dict[str, str] = field(default_factory=dict)  # parser file name -> name for messages


@register
class BeancountLedger(Source):
    """A ``.beancount`` file and everything it includes."""

    kind = "beancount"
    table = "transactions"
    _assets: list[tuple[Any, ...]]  # Assets postings of the last read, for ``asset_postings``

    def _display(self, filename: str | None, displays: dict[str, str]) -> str:
        if not filename:
            return self.spec.display
        if filename.startswith("<"):  # a plugin's or the loader's own name, such as <check_commodity>
            return filename
        return displays.get(filename) or self._display_of(Path(filename))

    def _display_of(self, path: Path) -> str:
        """A ledger file's name as users know it: relative to the manifest's folder, as written (links kept)."""
        relative = os.path.relpath(os.path.normpath(path), self.local_path().parent)
        return os.path.normpath(Path(self.spec.display).parent / relative)

    def _reject_at(self, file: str, message: str, line: int | None, key: str) -> None:
        """Reject a transaction of ``file`` (the ledger or a file it includes)."""
        self._report.rows_rejected += 1
        self.problem_at(file, message, line, key, warning=False)

    def _parse(self) -> _Parsed:
        """The ledger and every file it includes, parsed one by one from text read through :mod:`execintel.safefs`."""
        top = Path(os.path.normpath(self.local_path()))
        parsed = _Parsed()
        first = self.read_text().encode("utf-8")  # the same clear errors as other files: missing, binary, not UTF-8
        queue: list[tuple[Path, bytes]] = [(top, first)]
        seen = {self.local_path().resolve()}
        budget = MAX_DOCUMENT_BYTES - len(first)
        parsed.displays[str(top)] = self.spec.display
        while queue:
            path, raw = queue.pop(0)
            builder = _builder()
            _parse_into(builder, raw, str(path))
            entries, errors, options = builder.finalize()
            parsed.entries.extend(entries)
            parsed.errors.extend(errors)
            if parsed.options is None:
                parsed.options = options
            else:
                parsed.others.append(options)
            display = parsed.displays[str(path)]
            parsed.directives.extend((display, *directive) for directive in builder.directives)
            if options.get("insert_pythonpath"):
                line = builder.option_lines.get("insert_pythonpath", 0)
                parsed.directives.append((display, line, PYTHONPATH_OPTION, None))
            for line, pattern in builder.includes:
                for file, data in self._included(path, display, line, pattern, seen=seen, budget=budget):
                    budget -= len(data)
                    parsed.displays[str(file)] = self._display_of(file)
                    queue.append((file, data))
        return parsed

    def _included(
        self, including: Path, display: str, line: int, pattern: str, *, seen: set[Path], budget: int
    ) -> Iterator[tuple[Path, bytes]]:
        """The files one ``include`` names, each read through safefs; a refused one is an error at the include."""

        def refuse(message: str) -> None:
            self.problem_at(display, f'include "{pattern}": {message}', line, warning=False)

        def unsafe(shown: str, reason: str) -> str:
            if reason == "file not found":
                return f"{shown} does not exist"
            if reason.startswith("is ") and "over the" in reason:  # the size cap: of all the ledger's files
                return f"{shown} would take the ledger and its includes over {size_text(MAX_DOCUMENT_BYTES)}"
            return f"{shown} {reason}"

        try:
            matches = expand_include(including.parent, pattern, self.spec.confine, MAX_LEDGER_FILES, self._display_of)
        except UnsafeFile as exc:
            refuse(exc.reason)
            return
        if not matches:
            refuse("matches no file")
            return
        for match in matches:
            shown = self._display_of(match)
            if match.suffix in _ENCRYPTED:
                refuse(f"{shown} is encrypted; execintel does not decrypt ledgers (decrypt it first)")
                continue
            try:
                real = match.resolve() if self.spec.confine is None else self.spec.confine.check(match)
                if real in seen:
                    refuse(f"{shown} is already read; each file is read once")
                    continue
                if len(seen) >= MAX_LEDGER_FILES:
                    refuse(f"the ledger already includes {MAX_LEDGER_FILES:,} files, the most execintel reads")
                    return
                data = read_regular(match, confine=self.spec.confine, limit=max(budget, 0))
            except UnsafeFile as exc:
                refuse(unsafe(shown, exc.reason))
                continue
            if b"\x00" in data[:8192]:
                refuse(f"{shown} is a binary file, not text")
                continue
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad_line = data[: exc.start].count(b"\n") + 1
                refuse(f"{shown} is not UTF-8 (line {bad_line}); re-save it as UTF-8")
                continue
            seen.add(real)
            budget -= len(data)
            yield match, data

    def _load(self) -> tuple[list[Any], list[Any], dict[str, str]] | None:
        """Booked, transformed and checked entries with beancount's errors; None when a directive was refused."""
        from beancount import loader  # noqa: PLC0415 - heavy; only when a beancount ledger exists
        from beancount.core import data  # noqa: PLC0415
        from beancount.ops import validation  # noqa: PLC0415
        from beancount.parser import booking  # noqa: PLC0415

        parsed = self._parse()
        refused = False
        for file, line, message in refusals(parsed.directives, allow=self.spec.allow_plugins):
            self.problem_at(file, message, line or None, warning=False)
            refused = True
        if refused:
            self.problem("nothing was loaded from this ledger: it asks for plugin code that did not run")
            return None
        options = loader.aggregate_options_map(parsed.options, parsed.others)
        options["include"] = sorted(parsed.displays)
        options["documents"] = []  # document folders are not scanned: execintel reads no documents
        # Document entries only name files (beancount checks that they exist); execintel has no use for them.
        entries = sorted((e for e in parsed.entries if not isinstance(e, data.Document)), key=data.entry_sortkey)
        book: Any = booking.book  # beancount's functions are untyped
        entries, balance_errors = book(entries, options)
        saved_path = list(sys.path)
        try:
            if self.spec.allow_plugins:  # as beancount's loader does: the user trusts this ledger's code
                sys.path[0:0] = options.get("pythonpath", [])
            entries, errors = loader.run_transformations(entries, [*parsed.errors, *balance_errors], options, None)
        finally:
            sys.path[:] = saved_path
        validate: Any = validation.validate
        errors.extend(validate(entries, options, None, None))
        return entries, errors, parsed.displays

    def write(self, facts: Facts) -> None:
        """The cash-side rows into ``transactions``, then the Assets postings into ``asset_postings``."""
        super().write(facts)
        if self._assets:
            facts.append("asset_postings", list(zip(*self._assets, strict=True)))

    def _asset_posting(self, entity: str, date: dt.date, posting: Any, file: str, line: int | None) -> None:
        """Keep an Assets posting in the portfolio currency (at cost): the CFO report splits cash by account."""
        amount = _in_currency(posting, self.spec.currency)
        if amount is not None and fits_amount(amount):
            self._assets.append((entity, date, posting.account, str(amount), posting.cost is not None, file, line))

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Yield one row per cash-side posting of every transaction (Assets postings are kept for :meth:`write`)."""
        self._assets = []
        if self.spec.path is None:
            raise self.fail("is not a local file")
        with fewer_collections():
            yield from self._rows()

    def _rows(self) -> Iterator[tuple[Any, ...]]:
        from beancount.core import data  # noqa: PLC0415

        loaded = self._load()
        if loaded is None:
            return
        entries, errors, displays = loaded
        for error in errors:
            source = getattr(error, "source", None) or {}
            message = " ".join(str(getattr(error, "message", error)).split())
            file = self._display(source.get("filename"), displays) if source.get("filename") != "<load>" else None
            self.problem_at(file or self.spec.display, message, source.get("lineno") or None, warning=False)
        currency = self.spec.currency
        skipped: Counter[str] = Counter()
        for entry in entries:
            if not isinstance(entry, data.Transaction):
                continue
            meta = entry.meta or {}
            file = self._display(meta.get("filename"), displays)
            entity_meta = meta.get("entity")
            if entity_meta is not None:
                entity = self.check_entity(str(entity_meta), meta.get("lineno"), "entity")
            elif self.spec.entity is not None:
                entity = self.spec.entity
            else:
                self._reject_at(file, "transaction has no entity metadata and the file is not listed by an entity",
                                meta.get("lineno"), "entity")  # fmt: skip
                continue
            if entity is None:
                continue
            service_date = meta.get("service_date")
            if service_date is not None and not isinstance(service_date, dt.date):
                text = str(service_date)
                service_date = parse_date(text)
                if service_date is None:
                    self._reject_at(file, f"service_date {text!r} is not an ISO date like 2026-11-15",
                                    meta.get("lineno"), "service_date")  # fmt: skip
                    continue
            for posting in entry.postings:
                pmeta = posting.meta or {}
                if posting.account.startswith("Assets:") and posting.units is not None:
                    self._asset_posting(entity, entry.date, posting, file, pmeta.get("lineno", meta.get("lineno")))
                    continue
                if posting.account.split(":", 1)[0] not in CASH_SIDE_ROOTS or posting.units is None:
                    continue
                amount = _in_currency(posting, currency)
                if amount is None:
                    skipped[str(posting.units.currency)] += 1
                    continue
                if not fits_amount(amount):
                    line = pmeta.get("lineno", meta.get("lineno"))
                    self._reject_at(file, too_large("amount", amount), line, "amount")
                    continue
                # None without receipt metadata: the posting does not track receipts (an empty value is a missing one)
                receipt = pmeta.get("receipt", meta.get("receipt"))
                yield (
                    entity, entry.date, posting.account, str(-amount), entry.narration or "",
                    entry.payee or "", service_date if isinstance(service_date, dt.date) else None,
                    None if receipt is None else str(receipt), file, pmeta.get("lineno", meta.get("lineno")),
                )  # fmt: skip
        if skipped:
            listed = ", ".join(f"{n} in {c}" for c, n in sorted(skipped.items()))
            self.problem(f"postings not in {currency} and without a {currency} cost or price were skipped: {listed}",
                         warning=True)  # fmt: skip


def _builder() -> Any:
    """A beancount grammar builder that also notes the line of every include, plugin and option directive."""
    from beancount.parser import grammar  # noqa: PLC0415

    class Builder(grammar.Builder):
        def __init__(self) -> None:
            super().__init__()  # type: ignore[no-untyped-call]
            self.includes: list[tuple[int, str]] = []
            self.directives: list[tuple[int, str, str | None]] = []
            self.option_lines: dict[str, int] = {}

        def include(self, filename: str, lineno: int, include_filename: str) -> None:
            self.includes.append((lineno, include_filename))
            super().include(filename, lineno, include_filename)  # type: ignore[no-untyped-call]

        def plugin(self, filename: str, lineno: int, plugin_name: str, plugin_config: str | None) -> None:
            self.directives.append((lineno, plugin_name, plugin_config))
            super().plugin(filename, lineno, plugin_name, plugin_config)  # type: ignore[no-untyped-call]

        def option(self, filename: str, lineno: int, key: str, value: Any) -> None:
            self.option_lines.setdefault(key, lineno)
            super().option(filename, lineno, key, value)  # type: ignore[no-untyped-call]

    return Builder()


def _parse_into(builder: Any, raw: bytes, filename: str) -> None:
    """Run beancount's parser over ``raw`` (text already read and checked), reporting ``filename`` in metadata."""
    # The C parser beancount's parse_file drives, given the bytes instead of a file name it would open itself.
    parser: Any = importlib.import_module("beancount.parser._parser")
    parser.Parser(builder).parse(io.BytesIO(raw), filename=filename, lineno=1)


def _in_currency(posting: Any, currency: str) -> Decimal | None:
    units = posting.units
    if units.currency == currency:
        return Decimal(units.number)
    cost = posting.cost
    if cost is not None and getattr(cost, "currency", None) == currency and cost.number is not None:
        return Decimal(units.number) * Decimal(cost.number)
    price = posting.price
    if price is not None and price.currency == currency and price.number is not None:
        return Decimal(units.number) * Decimal(price.number)
    return None
