"""The portfolio's run history as the web app reads it: kept in memory and read again only when the store changed.

``Store.report_history`` reads every run and report of the portfolio (with their findings): about 70 ms for 500
runs, growing with the store. The history page, the report list and the latest-HTML routes all need it, on every
request. Every write to the runs and reports tables appends an audit entry in the same transaction, so the head of
the audit chain (``Store.identity()``, one small read) names a version of the history: while it stays the same, the
history read last is still the store's. Another process writing to the store (a CLI run, a schedule) moves the
head too, so nothing goes stale.
"""

from __future__ import annotations

import threading
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
        self._lock = threading.Lock()  # one re-read at a time; the others wait for it rather than read too

    def newest_first(self, portfolio: str) -> History:
        """Every run of ``portfolio``, newest first, with the reports it recorded (figures left out)."""
        with self._lock:
            # the head is read before the history: a write in between leaves a newer history under an older key,
            # which the next request reads again; never an older history under a newer key
            key = (portfolio, self.store.identity())
            if key != self._key:
                self._runs = self.store.report_history(portfolio)[::-1]
                self._key = key
            return self._runs
