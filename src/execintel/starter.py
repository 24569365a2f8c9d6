"""``execintel init``: a small, commented starter portfolio that validates."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from execintel.errors import ConfigError, Problem

STARTER_FILES = (
    "portfolio.yaml",
    "data/ledger.csv",
    "data/events.jsonl",
    "data/contacts.csv",
    "data/aws-costs.csv",
    "handoffs/website.md",
)


def write_starter(directory: Path, *, force: bool = False) -> list[Path]:
    """Write the starter portfolio into ``directory``; refuse to overwrite unless ``force``."""
    manifest = directory / "portfolio.yaml"
    if manifest.exists() and not force:
        raise ConfigError(Problem(str(manifest), "already exists; pass --force to overwrite the starter files"))
    if directory.exists() and not directory.is_dir():
        raise ConfigError(Problem(str(directory), "exists and is not a folder"))
    package = resources.files("execintel") / "starter_files"
    written = []
    for name in STARTER_FILES:
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((package / name.replace("/", "__")).read_bytes())
        written.append(target)
    return written
