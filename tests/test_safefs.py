"""Files a portfolio names are read only from inside its folder, only when regular, and never past a cap.

Each case is one way a hostile data folder could make a run read what it should not or hang: a symlink out of
the folder, a FIFO (blocks forever on open), a device (``/dev/zero`` reads without end), a file over its cap or
one that grows while it is read. They are run through the real CLI with a time limit, so a hang fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import WritePortfolio, base_manifest
from execintel.safefs import Confinement, UnsafeFile, open_regular, read_regular

LEDGER = "date,account,amount,receipt\n2026-10-01,Equity:Opening-Balances,1000,\n"
SECRET = "date,account,amount,receipt\n2026-10-01,Income:Secret-Outside,424242,\n"


def _validate(manifest: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(manifest.parent), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "execintel", "sources", str(manifest), *args],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


def _entity_ledger(path: str) -> dict[str, object]:
    return base_manifest(entities=[{"id": "qosd", "name": "Queen of San Diego", "ledger": path}])


def test_a_ledger_symlinked_out_of_the_portfolio_is_refused(write_portfolio: WritePortfolio, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "ledger.csv"
    outside.parent.mkdir()
    outside.write_text(SECRET)
    manifest = write_portfolio(_entity_ledger("data/ledger.csv"))
    (manifest.parent / "data").mkdir()
    (manifest.parent / "data" / "ledger.csv").symlink_to(outside)
    done = _validate(manifest)
    assert done.returncode == 2
    assert "escapes the manifest's folder" in done.stderr or "outside the portfolio folder" in done.stderr
    assert "424242" not in done.stdout + done.stderr
    # the user can allow it explicitly
    allowed = _validate(manifest, "--allow-outside")
    assert allowed.returncode == 0, allowed.stderr


def test_a_folder_symlinked_out_of_the_portfolio_is_refused(write_portfolio: WritePortfolio, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "ledger.csv").write_text(SECRET)
    manifest = write_portfolio(_entity_ledger("data/ledger.csv"))
    (manifest.parent / "data").symlink_to(outside, target_is_directory=True)
    done = _validate(manifest)
    assert done.returncode == 2
    assert "entities[0].ledger" in done.stderr


@pytest.mark.timeout(60)
def test_a_fifo_named_as_a_ledger_is_refused_without_blocking(write_portfolio: WritePortfolio) -> None:
    manifest = write_portfolio(_entity_ledger("ledger.csv"))
    os.mkfifo(manifest.parent / "ledger.csv")
    done = _validate(manifest)  # before: blocked forever in open()
    assert done.returncode == 2
    assert "ledger.csv: is a named pipe (FIFO), not a regular file" in done.stderr


@pytest.mark.timeout(60)
def test_a_device_named_as_a_ledger_is_refused_even_when_outside_files_are_allowed(
    write_portfolio: WritePortfolio,
) -> None:
    manifest = write_portfolio(_entity_ledger("ledger.csv"))
    (manifest.parent / "ledger.csv").symlink_to("/dev/zero")
    done = _validate(manifest, "--allow-outside")  # before: read /dev/zero until memory ran out
    assert done.returncode == 2
    assert "ledger.csv: is a character device, not a regular file" in done.stderr


@pytest.mark.timeout(60)
def test_a_fifo_as_the_manifest_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "portfolio.yaml"
    os.mkfifo(fifo)
    done = _validate(fifo)
    assert done.returncode == 2
    assert "is a named pipe (FIFO)" in done.stderr


def test_a_manifest_over_its_cap_is_refused_before_it_is_read(tmp_path: Path) -> None:
    manifest = tmp_path / "portfolio.yaml"
    with manifest.open("wb") as handle:
        handle.truncate(5 << 20)  # sparse: 5 MB of NULs on no disk
    done = _validate(manifest)
    assert done.returncode == 2
    assert "is 5 MB, over the 4 MB execintel reads from a file of this kind" in done.stderr


def test_a_file_that_grows_while_read_stops_at_its_cap(tmp_path: Path) -> None:
    path = tmp_path / "growing.txt"
    path.write_bytes(b"x" * 100)
    with open_regular(path, limit=150) as handle:
        assert handle.read(50) == b"x" * 50
        with path.open("ab") as more:
            more.write(b"y" * 200)
        with pytest.raises(UnsafeFile, match="grew past 150 bytes"):
            handle.read()


def test_confinement_follows_every_link_and_allows_inside_links(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "real.txt").write_text("inside")
    (root / "link.txt").symlink_to(root / "a" / "real.txt")
    (tmp_path / "secret.txt").write_text("outside")
    (root / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (root / "loop").symlink_to(root / "loop")
    confine = Confinement.of(root)
    assert read_regular(root / "link.txt", confine=confine) == b"inside"
    with pytest.raises(UnsafeFile, match="outside the portfolio folder through a symbolic link"):
        read_regular(root / "escape.txt", confine=confine)
    with pytest.raises(UnsafeFile, match=r"cannot be resolved|not found|cannot be read"):
        read_regular(root / "loop", confine=confine)
    assert read_regular(root / "escape.txt", confine=Confinement.of(root, allow_outside=True)) == b"outside"
