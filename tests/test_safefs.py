"""Files a portfolio names are read only from inside its folder, only when regular, and never past a cap.

Each case is one way a hostile data folder could make a run read what it should not or hang: a symlink out of
the folder, a FIFO (blocks forever on open), a device (``/dev/zero`` reads without end), a file over its cap or
one that grows while it is read. They are run through the real CLI with a time limit, so a hang fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from conftest import WritePortfolio, base_manifest
from execintel.config import Portfolio, load_portfolio
from execintel.safefs import Confinement, UnsafeFile, open_regular, read_regular
from execintel.sources import load_sources, plan_sources

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
    assert "portfolio.yaml' is not a file or a folder (a FIFO" in done.stderr
    # the reader itself refuses it too, for callers that do not go through the command line
    from execintel.config.load import load_portfolio
    from execintel.errors import ConfigError

    with pytest.raises(ConfigError, match=r"is a named pipe \(FIFO\)"):
        load_portfolio(fifo)


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


# Every kind of source refuses a symlink out of the folder, a FIFO and a device ----------------------------------

SAMPLES: dict[str, tuple[str, str, str]] = {
    # kind: (manifest key, file name, content)
    "ledger-csv": ("ledger", "data.csv", "date,entity,account,amount\n2026-10-01,qosd,Income:Secret,424242\n"),
    "beancount": ("ledger", "data.beancount", '2026-01-01 open Income:Secret\n2026-01-01 open Assets:B\n'
                  '2026-02-01 * "x"\n  entity: "qosd"\n  Assets:B  424242 USD\n  Income:Secret\n'),
    "events-jsonl": ("events", "data.jsonl", '{"ts": "2026-10-01", "type": "secret", "amount": 424242}\n'),
    "contacts-csv": ("contacts", "data.csv", "email\nsecret-424242@example.com\n"),
    "costs-csv": ("cloud_costs", "data.csv", "month,service,amount\n2026-10,Secret,424242\n"),
    "costs-focus": ("cloud_costs", "data.csv", "BilledCost,ServiceName,ChargePeriodStart\n424242,Secret,2026-10-01\n"),
    "costs-ce": ("cloud_costs", "data.json", '{"ResultsByTime": [{"TimePeriod": {"Start": "2026-10-01"}, '
                 '"Total": {"UnblendedCost": {"Amount": "424242"}}}]}'),
    "handoffs": ("handoffs", "data.md", "---\nproject: Secret 424242\nstatus: on-track\nupdated: 2026-10-01\n---\n"),
}  # fmt: skip


def _sample_portfolio(root: Path, kind: str) -> tuple[Path, Path]:
    """A portfolio whose one source of ``kind`` names ``root/<name>`` (for handoffs, a file in ``handoffs/``)."""
    key, name, _content = SAMPLES[kind]
    root.mkdir(parents=True, exist_ok=True)
    target = root / "handoffs" / name if kind == "handoffs" else root / name
    target.parent.mkdir(exist_ok=True)
    location = "handoffs" if kind == "handoffs" else name
    entity: dict[str, object] = {"id": "qosd", "name": "Q"}
    manifest = base_manifest(entities=[entity])
    if key in ("events", "contacts") or (key == "ledger" and kind == "ledger-csv"):
        entity[key] = location
    else:
        manifest[key] = location
    (root / "portfolio.yaml").write_text(yaml.safe_dump(manifest), encoding="utf-8")
    return root / "portfolio.yaml", target


def _load_confined(manifest: Path, kind: str) -> tuple[list[str], int]:
    """Load with the manifest's own path checks lifted (as if a file were swapped after them), confinement on."""
    portfolio = load_portfolio(manifest, allow_outside=True)
    confined = Portfolio(portfolio.manifest, portfolio.path)  # allow_outside False: each source confines itself
    specs = plan_sources(confined)
    if kind == "costs-focus":  # a FIFO or a refused file has no header to tell FOCUS apart: name the kind
        specs = [replace(spec, kind="costs-focus") for spec in specs]
    result = load_sources(confined, specs=specs)
    rows = sum(report.rows_loaded for report in result.reports)
    return [str(problem) for problem in result.errors], rows


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_every_source_kind_refuses_a_symlink_out_of_the_folder(kind: str, tmp_path: Path) -> None:
    _key, name, content = SAMPLES[kind]
    secret = tmp_path / "elsewhere" / name
    secret.parent.mkdir()
    secret.write_text(content, encoding="utf-8")
    manifest, target = _sample_portfolio(tmp_path / "portfolio", kind)
    target.symlink_to(secret)
    errors, rows = _load_confined(manifest, kind)
    assert rows == 0
    assert any("leads outside the portfolio folder" in e for e in errors), errors
    assert not any("424242" in e for e in errors)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("special", ["fifo", "device"])
@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_every_source_kind_refuses_a_fifo_or_a_device_without_blocking(kind: str, special: str, tmp_path: Path) -> None:
    manifest, target = _sample_portfolio(tmp_path / "portfolio", kind)
    if special == "fifo":
        os.mkfifo(target)  # opening it for reading would block until a writer comes
        expected = "is a named pipe (FIFO), not a regular file"
    else:
        target.symlink_to("/dev/zero")  # reads without end
        expected = "is a character device, not a regular file"
    result = load_sources(load_portfolio(manifest, allow_outside=True))  # outside allowed, devices still not
    assert sum(report.rows_loaded for report in result.reports) == 0
    refused = [e for e in result.errors if expected in str(e)]
    assert refused and all(e.file.endswith(target.name) for e in refused), [str(e) for e in result.errors]


# Handoff folders: the folder is walked without following links out of it --------------------------------------

HANDOFF = "---\nproject: {name}\nstatus: on-track\nupdated: 2026-10-01\n---\n"


def _handoffs(write_portfolio: WritePortfolio, files: dict[str, str | bytes] | None = None) -> Path:
    manifest = write_portfolio(
        base_manifest(handoffs="handoffs"), {"handoffs/ok.md": HANDOFF.format(name="Ok"), **(files or {})}
    )
    return manifest


def _projects(manifest: Path, **flags: bool) -> tuple[list[str], list[str]]:
    result = load_sources(load_portfolio(manifest, **flags))
    projects = [row[0] for row in result.facts.query("SELECT project FROM handoffs ORDER BY project")]
    return projects, [str(p) for p in result.errors]


def test_a_handoff_file_symlinked_out_of_the_folder_is_not_read(
    write_portfolio: WritePortfolio, tmp_path: Path
) -> None:
    (tmp_path / "secret.md").write_text(HANDOFF.format(name="Secret"))
    manifest = _handoffs(write_portfolio)
    (manifest.parent / "handoffs" / "escape.md").symlink_to(tmp_path / "secret.md")
    projects, errors = _projects(manifest)
    assert projects == ["Ok"]  # before: the outside file was read as a handoff
    [error] = errors
    assert error.startswith("handoffs/escape.md: leads outside the portfolio folder through a symbolic link")
    assert _projects(manifest, allow_outside=True) == (["Ok", "Secret"], [])


def test_a_handoff_subfolder_symlinked_out_of_the_folder_is_not_entered(
    write_portfolio: WritePortfolio, tmp_path: Path
) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.md").write_text(HANDOFF.format(name="Secret"))
    manifest = _handoffs(write_portfolio)
    (manifest.parent / "handoffs" / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    projects, errors = _projects(manifest)
    assert projects == ["Ok"]  # before: rglob went through the link
    [error] = errors
    assert error.startswith("handoffs/linked: leads outside the portfolio folder through a symbolic link")


def test_handoff_links_inside_the_folder_are_followed_once_and_loops_end(write_portfolio: WritePortfolio) -> None:
    manifest = _handoffs(write_portfolio, {"notes/shared.md": HANDOFF.format(name="Shared")})
    folder = manifest.parent / "handoffs"
    (folder / "shared").symlink_to(manifest.parent / "notes", target_is_directory=True)
    (folder / "loop").symlink_to(folder, target_is_directory=True)  # a link back up: walked once
    (folder / "again").symlink_to(folder, target_is_directory=True)
    projects, errors = _projects(manifest)
    assert (projects, errors) == (["Ok", "Shared"], [])


@pytest.mark.timeout(60)
def test_a_fifo_or_device_named_like_a_handoff_is_reported_not_read(write_portfolio: WritePortfolio) -> None:
    manifest = _handoffs(write_portfolio)
    os.mkfifo(manifest.parent / "handoffs" / "pipe.md")
    (manifest.parent / "handoffs" / "zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(manifest.parent / "handoffs" / "other.txt")  # not a handoff name: not looked at
    projects, errors = _projects(manifest, allow_outside=True)
    assert projects == ["Ok"]
    assert errors == [  # before: skipped without a word
        "handoffs/pipe.md: is a named pipe (FIFO), not a regular file; execintel reads only regular files",
        "handoffs/zero.yaml: is a character device, not a regular file; execintel reads only regular files",
    ]
