"""The portfolio's run history as the web app reads it: kept in memory and read again only when the store changed.

``Store.report_history`` reads every run and report of the portfolio (with their findings): about 70 ms for 500
runs, growing with the store. The history page, the report list and the latest-HTML routes all need it, on every
request. Every write to the runs and reports tables appends an audit entry in the same transaction, so the head of
the audit chain (``Store.identity()``, one small read) names a version of the history: while it stays the same, the
history read last is still the store's. Another process writing to the store (a CLI run, a schedule) moves the
head too, so nothing goes stale.

The copy kept leaves the reports' findings out (no route shows them): less memory, and fewer objects for each full
garbage collection to walk, which stops every request while it runs (for 5,000 runs, 25,000 objects instead of
35,000, and a full collection of 53 ms instead of 78 ms on the benchmark machine).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from execintel.store import ReportRecord, RunRecord, Store

History = list[tuple["RunRecord", list["ReportRecord"]]]


class HistoryCache:
    """``store.report_history(portfolio)``, newest run first, re-read only when the audit chain's head moved."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._key: tuple[str, tuple[str | None, int, str]] | None = None
        self._runs: History = []
        self._answers: dict[tuple[object, ...], bytes] = {}  # answers made from this version of the history
        self._lock = threading.Lock()  # one re-read at a time; the others wait for it rather than read too

    def newest_first(self, portfolio: str) -> History:
        """Every run of ``portfolio``, newest first, with the reports it recorded (figures and findings left out)."""
        with self._lock:
            # the head is read before the history: a write in between leaves a newer history under an older key,
            # which the next request reads again; never an older history under a newer key
            key = (portfolio, self.store.identity())
            if key != self._key:
                history = self.store.report_history(portfolio)
                self._runs = [(run, [replace(r, findings=None) for r in reports]) for run, reports in reversed(history)]
                self._key = key
                self._answers = {}
            return self._runs

    def answer(self, portfolio: str, key: tuple[object, ...], make: Callable[[History], bytes]) -> bytes:
        """``make(history)``, made once per version of the history and ``key`` (the readers' reports, the limit):
        the history page of many readers is serialised once, not on every request."""
        runs = self.newest_first(portfolio)
        with self._lock:
            found = self._answers.get(key) if self._runs is runs else None
        if found is not None:
            return found
        made = make(runs)
        with self._lock:
            if self._runs is runs:  # still the current version: keep it (a few role sets and limits at most)
                if len(self._answers) >= 64:
                    self._answers.clear()
                self._answers[key] = made
        return made
