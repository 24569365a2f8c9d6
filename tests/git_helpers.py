"""Helpers shared by the git connector's tests: fake keys made at test time, the ``sources`` table, plain git."""

from __future__ import annotations

import os
import random
import string
import subprocess
from pathlib import Path

from conftest import GIT_ENV


def fake_aws_key(seed: str) -> str:
    """An AWS access key id shaped string, made at test time (never committed to this repository)."""
    rand = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    return "AK" + "IA" + "".join(rand.choice(string.ascii_uppercase + string.digits) for _ in range(16))


def source_rows(stdout: str) -> dict[str, list[str]]:
    """The cells of each row of the ``execintel sources`` table, by source path."""
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in stdout.splitlines() if line.startswith("│")]
    return {cells[1]: cells for cells in rows if len(cells) > 1}


def git(repo: Path, *args: str, stdin: str | None = None, check: bool = True) -> str:
    """Plain ``git -C REPO ARGS`` as a user runs it (no user or system configuration); its output."""
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=check,
        env={**os.environ, **GIT_ENV},
        timeout=60,
    )
    return done.stdout
