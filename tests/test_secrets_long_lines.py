"""A huge single line (a minified bundle, a JSON asset list) is scanned in time linear in its length, and a key in
its middle is still found, in a tracked file and in history.

detect-secrets' expressions grow quadratically on some long lines (a JSON list of URLs takes minutes per
megabyte, hours for a few); the scan reads such lines in overlapping windows. The time is measured in
``benchmarks/bench_secrets.py``; here a generous timeout only guards against a scan that never ends.
"""

from __future__ import annotations

import os
import random
import string
from collections.abc import Callable

import pytest

from conftest import GitRepo, WritePortfolio, base_manifest
from execintel.analysis import security
from execintel.analysis.secrets import OVERLAP, WINDOW, SecretScanner
from helpers import context, load
from secret_corpus import Fake, generate

# The history-only line's size in MB, up to the 1 MB the git source keeps of a line (benchmarks/bench_secrets.py
# measures the scanner alone on longer lines).
LONG_MB = float(os.environ.get("EXECINTEL_TEST_LONG_LINE_MB", "0.95"))


def asset_list(size: int, seed: str) -> str:
    """A minified JSON list of asset URLs, ``size`` characters long (quadratic for detect-secrets alone)."""
    rand = random.Random(seed)  # noqa: S311 - test data
    parts: list[str] = []
    total = 0
    while total < size:
        name = "".join(rand.choice(string.ascii_lowercase + string.digits) for _ in range(12))
        parts.append(f'"https://cdn.example.com/assets/{name}.js"')
        total += len(parts[-1]) + 1
    return "[" + ",".join(parts) + "]"


def minified(size: int) -> str:
    """Minified JavaScript, ``size`` characters on one line."""
    chunk = "function(e,t){var n=e.secret||t.key;return n?{id:n.id,url:'/api/v1/'+n.id}:null},"
    return "!" + (chunk * (size // len(chunk) + 1))[:size]


def _plant(line: str, at: int, text: str) -> str:
    return line[:at] + text + line[at:]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_key_in_a_huge_line_is_found_in_the_tree_and_in_history(
    write_portfolio: WritePortfolio, make_repo: Callable[[str], GitRepo]
) -> None:
    fake = Fake("long")
    stripe, aws, github = (generate(kind, fake)[0] for kind in ("stripe", "akid", "ghp"))
    tracked = _plant(minified(900_000), 450_000, f";var k='{stripe}';")  # under the git source's 1 MB cap
    big = _plant(minified(3_000_000), 1_500_000, f',"{aws}",')  # over it: never loaded, said so
    size = min(int(LONG_MB * 1_000_000), 1_000_000)  # the longest line the git source keeps is 1 MB
    blob = _plant(asset_list(size, "blob"), size // 2, f',"{github}",')
    repo = make_repo("repos/web")
    added = repo.commit("build", {"dist/app.min.js": tracked + "\n", "dist/vendor.js": big + "\n",
                                  "data/assets.json": blob + "\n"})  # fmt: skip
    repo.commit("drop the asset list", {"data/assets.json": None})
    path = write_portfolio(base_manifest(entities=[{"id": "web", "name": "Web", "repos": ["repos/web"]}]))
    warnings = [str(p) for p in load(path).warnings]
    results = security.analyze(context(path))
    found = {(f.kind, f.file, f.line, f.commit, f.title.split(" ")[0]) for f in results.findings if f.line}
    assert found == {
        ("hardcoded-secret", "repos/web/dist/app.min.js", 1, added, "Stripe"),
        ("secret-in-history", "repos/web/data/assets.json", 1, added, "GitHub"),
    }
    # the 3 MB file is neither read nor scanned, and the user is told which file that is
    assert any("dist/vendor.js" in w and "1 MB" in w for w in warnings), warnings
    assert not any(aws[:8] in str(f.evidence) for f in results.findings)


def test_a_secret_across_a_window_boundary_is_found_once() -> None:
    """Every position of a secret relative to the window edges: found whole, once, never a cut-off piece."""
    fake = Fake("edges")
    with SecretScanner() as scanner:
        # around the start of the second window and around the end of the first
        for offset in [*range(WINDOW - OVERLAP - 60, WINDOW - OVERLAP + 20, 7), *range(WINDOW - 60, WINDOW + 20, 7)]:
            token = generate("ghp", fake)[0]
            line = _plant(minified(3 * WINDOW), offset, f'"{token}"')
            hits = [hit for _, hit in scanner.scan("dist/app.js", [line])]
            assert [(h.type, h.value == token) for h in hits] == [("GitHub Token", True)], offset
