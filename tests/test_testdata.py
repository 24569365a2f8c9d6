"""The public sample data is kept byte-for-byte (checked against its README's SHA-256 list)."""

from __future__ import annotations

import hashlib
import re

from conftest import SHARED


def test_shared_testdata_is_byte_for_byte() -> None:
    readme = (SHARED / "README.md").read_text(encoding="utf-8")
    sums = re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, flags=re.MULTILINE)
    assert len(sums) == 32
    for digest, name in sums:
        assert hashlib.sha256((SHARED / name).read_bytes()).hexdigest() == digest, name
