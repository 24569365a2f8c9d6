"""Beancount ledgers: read with beancount's parser, booking, plugins and checks, inside the portfolio folder."""

from __future__ import annotations

import gc
import os
import pickle
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import WritePortfolio, base_manifest, cli
from execintel.config import load_portfolio
from execintel.sources import load_sources
from execintel.sources.beancount import GC_THRESHOLDS
from helpers import load

LEDGER = """option "operating_currency" "USD"
2026-01-01 open Assets:Bank USD
2026-01-01 open Equity:Opening-Balances
2026-01-01 open Income:Charters
2026-01-01 open Expenses:Fuel

2026-01-01 * "Opening"
  Assets:Bank  5000 USD
  Equity:Opening-Balances

2026-02-01 * "Customer 7" "Charter deposit"
  service_date: 2026-03-01
  Assets:Bank  1800 USD
  Income:Charters

2026-02-03 * "Harbor Fuel" "Fuel"
  receipt: "R-9"
  Assets:Bank  -120.55 USD
  Expenses:Fuel
"""


def test_postings_become_cash_convention_rows(write_portfolio: WritePortfolio) -> None:
    entity = {"id": "qosd", "name": "Q", "ledger": "books.beancount"}
    result = load(write_portfolio(base_manifest(entities=[entity]), {"books.beancount": LEDGER}))
    [report] = result.reports
    assert report.spec.kind == "beancount" and report.errors == []
    rows = result.facts.query(
        "SELECT account, amount, counterparty, service_date, receipt, source_line FROM transactions ORDER BY date"
    )
    assert [(r[0], r[1]) for r in rows] == [
        ("Equity:Opening-Balances", Decimal(5000)),
        ("Income:Charters", Decimal(1800)),
        ("Expenses:Fuel", Decimal("-120.55")),
    ]
    assert rows[1][2] == "Customer 7" and str(rows[1][3]) == "2026-03-01"
    assert rows[2][4] == "R-9"
    assert all(isinstance(r[5], int) for r in rows)
    cash = result.facts.query("SELECT sum(amount) FROM transactions")[0][0]
    assert cash == Decimal("6679.45")  # what Assets:Bank holds


def test_bean_example_ledger_loads(write_portfolio: WritePortfolio, tmp_path: Path) -> None:
    generated = tmp_path / "example.beancount"
    subprocess.run(
        [Path(sys.executable).parent / "bean-example", "--seed", "3", "--date-begin", "2024-01-01",
         "--date-end", "2025-06-30", "--date-birth", "1990-05-05", "-o", str(generated)],
        check=True, capture_output=True,
    )  # fmt: skip
    entity = {"id": "me", "name": "Me", "ledger": "example.beancount"}
    path = write_portfolio(base_manifest(entities=[entity]), {"example.beancount": generated.read_text()})
    result = load(path)
    [report] = result.reports
    assert report.errors == []
    assert report.rows_loaded > 500
    # vacation hours and other non-USD commodities are counted in one warning, not silently dropped
    assert any("VACHR" in p.message for p in report.problems if p.severity == "warning")


# Hostile ledgers: includes that leave the folder, special files, and code run from the data ---------------------

SECRET_LEDGER = """2026-01-01 open Income:Secret
2026-03-01 * "Outside" "Secret income"
  Assets:Bank  424242 USD
  Income:Secret
"""


def _book(write_portfolio: WritePortfolio, text: str, files: dict[str, str | bytes] | None = None) -> Path:
    entity = {"id": "qosd", "name": "Q", "ledger": "books/main.beancount"}
    return write_portfolio(base_manifest(entities=[entity]), {"books/main.beancount": text, **(files or {})})


def _errors(path: Path, **flags: bool) -> tuple[list[str], list[str]]:
    """(error lines, accounts loaded) of a portfolio loaded in-process."""
    result = load_sources(load_portfolio(path, **flags))
    accounts = [row[0] for row in result.facts.query("SELECT DISTINCT account FROM transactions ORDER BY 1")]
    return [str(p) for p in result.errors], accounts


@pytest.mark.parametrize(
    "include",
    [
        'include "../../outside.beancount"',  # a plain relative path
        'include "../../*.beancount"',  # a glob in a folder outside
        'include "linked/*.beancount"',  # a glob through a symlinked folder
        'include "sub/inner.beancount"',  # an include of an include
    ],
)
def test_an_include_that_leads_outside_the_folder_is_refused(
    write_portfolio: WritePortfolio, tmp_path: Path, include: str
) -> None:
    (tmp_path / "outside.beancount").write_text(SECRET_LEDGER)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "secret.beancount").write_text(SECRET_LEDGER)
    inner = {"books/sub/inner.beancount": 'include "../../../outside.beancount"\n'}
    path = _book(write_portfolio, LEDGER + include + "\n", inner)
    (path.parent / "books" / "linked").symlink_to(tmp_path / "secrets", target_is_directory=True)
    errors, accounts = _errors(path)
    assert "Income:Secret" not in accounts  # before: beancount read the outside file and its 424242 USD
    refused = [e for e in errors if "leads outside the portfolio folder" in e]
    assert len(refused) == 1, errors
    line = refused[0]
    # the including file, its line and the directive
    main_line = LEDGER.count("\n") + 1
    including = "books/sub/inner.beancount:1" if "inner" in include else f"books/main.beancount:{main_line}"
    assert line.startswith(f"{including}: include "), line
    assert "pass --allow-outside" in line


def test_an_include_outside_the_folder_loads_with_allow_outside(
    write_portfolio: WritePortfolio, tmp_path: Path
) -> None:
    (tmp_path / "outside.beancount").write_text(SECRET_LEDGER)
    path = _book(write_portfolio, LEDGER + 'include "../../outside.beancount"\n')
    errors, accounts = _errors(path, allow_outside=True)
    assert errors == [] and "Income:Secret" in accounts


@pytest.mark.timeout(120)
def test_an_include_of_a_fifo_or_a_device_is_refused_without_blocking(write_portfolio: WritePortfolio) -> None:
    path = _book(write_portfolio, LEDGER + 'include "pipe.beancount"\ninclude "zero.beancount"\n')
    os.mkfifo(path.parent / "books" / "pipe.beancount")
    (path.parent / "books" / "zero.beancount").symlink_to("/dev/zero")
    done = cli("validate", str(path), "--allow-outside", cwd=path.parent, timeout=60)  # before: blocked on the FIFO
    assert done.returncode == 2, done.stderr
    assert 'include "pipe.beancount"' in done.stderr and "is a named pipe (FIFO), not a regular file" in done.stderr
    assert 'include "zero.beancount"' in done.stderr and "is a character device, not a regular file" in done.stderr


MARKER_PLUGIN = """
import pathlib
pathlib.Path({marker!r}).write_text("imported")
__plugins__ = ("run",)


def run(entries, options_map):
    pathlib.Path({marker!r}).write_text("ran")
    return entries, []
"""


def _plugin_portfolio(write_portfolio: WritePortfolio, tmp_path: Path, directives: str) -> tuple[Path, Path]:
    marker = tmp_path / "marker"
    files = {
        "books/ledgerplugin.py": MARKER_PLUGIN.format(marker=str(marker)),
        "cwdplugin.py": MARKER_PLUGIN.format(marker=str(marker)),
    }
    return _book(write_portfolio, directives + LEDGER, files), marker


@pytest.mark.parametrize(
    ("directives", "refused"),
    [
        # a .py file in the data folder, put on sys.path by the ledger itself
        ('option "insert_pythonpath" "TRUE"\nplugin "ledgerplugin"\n',
         ['books/main.beancount:1: option "insert_pythonpath"', 'books/main.beancount:2: plugin "ledgerplugin"']),
        # a module found on sys.path as it is (the working folder of `python -m execintel`)
        ('plugin "cwdplugin"\n', ['books/main.beancount:1: plugin "cwdplugin"']),
        # an installed module that is not part of beancount
        ('plugin "os"\n', ['books/main.beancount:1: plugin "os"']),
        # beancount's own plugin, but its configuration is Python that beancount evaluates
        ("plugin \"beancount.plugins.commodity_attr\" \"__import__('cwdplugin') and {}\"\n",
         ['books/main.beancount:1: plugin "beancount.plugins.commodity_attr"']),
    ],
)  # fmt: skip
def test_a_ledger_runs_no_plugin_code_without_allow_plugins(
    write_portfolio: WritePortfolio, tmp_path: Path, directives: str, refused: list[str]
) -> None:
    path, marker = _plugin_portfolio(write_portfolio, tmp_path, directives)
    done = cli("validate", ".", cwd=path.parent, timeout=120)
    assert not marker.exists(), marker.read_text()  # before: the plugin module was imported and run
    assert done.returncode == 2, done.stdout + done.stderr
    problems = done.stderr.splitlines()
    for start in refused:
        line = next((p for p in problems if p.startswith(start)), None)
        assert line is not None, f"{start!r} not in {done.stderr}"
        assert "pass --allow-plugins" in line
    allowed = cli("validate", ".", "--allow-plugins", cwd=path.parent, timeout=120)
    assert allowed.returncode == 0, allowed.stderr
    assert "1 source, 3 rows." in allowed.stdout
    assert marker.exists() == ("plugin" in directives and '"os"' not in directives)  # the opt-in runs it


def test_beancount_plugins_with_plain_configuration_run_without_the_flag(write_portfolio: WritePortfolio) -> None:
    text = 'plugin "beancount.plugins.auto_accounts"\nplugin "beancount.plugins.commodity_attr" "{\'name\': None}"\n'
    ledger = LEDGER.replace("2026-01-01 open Expenses:Fuel\n", "")  # auto_accounts opens it
    errors, accounts = _errors(_book(write_portfolio, text + ledger))
    assert errors == []
    assert accounts == ["Equity:Opening-Balances", "Expenses:Fuel", "Income:Charters"]


def test_a_pickle_cache_in_the_data_folder_is_never_loaded(write_portfolio: WritePortfolio, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str, str]]:
            return (open, (str(marker), "w"))

    path = _book(write_portfolio, LEDGER, {"books/.main.beancount.picklecache": pickle.dumps(Payload())})
    errors, accounts = _errors(path)
    assert errors == [] and len(accounts) == 3
    assert not marker.exists()  # before: beancount's loader unpickled the cache file it found beside the ledger


GC_PROBE = """
import gc
from collections import namedtuple

__plugins__ = ("run",)
Probe = namedtuple("Probe", "source message entry")


def run(entries, options_map):
    return entries, [Probe({"filename": "<gcprobe>", "lineno": 0}, f"collector threshold {gc.get_threshold()[0]}",
                           None)]
"""


def test_a_ledger_loads_with_rare_garbage_collections_then_restores_them(write_portfolio: WritePortfolio) -> None:
    # A plugin runs in the middle of the load: it reports the collector's young-generation threshold.
    directives = 'option "insert_pythonpath" "TRUE"\nplugin "gcprobe"\n'
    path = _book(write_portfolio, directives + LEDGER, {"books/gcprobe.py": GC_PROBE})
    before = gc.get_threshold()
    gc.freeze()  # as `execintel serve` does at start: its objects must stay out of collections after a load
    try:
        result = load_sources(load_portfolio(path, allow_plugins=True))
        after, frozen = gc.get_threshold(), gc.get_freeze_count()
    finally:
        gc.unfreeze()
    # before: 700, Python's default (a collection every 700 allocations: an eighth of a big ledger's parse and booking)
    assert [p.message for p in result.errors] == [f"collector threshold {GC_THRESHOLDS[0]}"]
    assert after == before  # as it was, for the rest of the run
    assert frozen > 0  # gc.unfreeze() would have put serve's frozen objects back into every full collection


@pytest.mark.parametrize(
    "command",
    [["sources", "."], ["explain", "cash.qosd", "."], ["run", ".", "--dry-run", "--reports", "cfo", "--no-pdf"]],
    ids=["sources", "explain", "run"],
)
def test_every_command_that_loads_ledgers_takes_allow_plugins(
    write_portfolio: WritePortfolio, tmp_path: Path, command: list[str]
) -> None:
    path, marker = _plugin_portfolio(write_portfolio, tmp_path, 'plugin "cwdplugin"\n')
    refused = cli(*command, cwd=path.parent, timeout=300)
    assert refused.returncode == 2 and not marker.exists(), refused.stdout + refused.stderr
    assert 'plugin "cwdplugin" is refused' in refused.stderr  # explain too: it says why its figure is missing
    allowed = cli(*command, "--allow-plugins", cwd=path.parent, timeout=300)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert marker.read_text() == "ran"
