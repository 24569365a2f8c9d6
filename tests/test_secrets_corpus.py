"""The CTO secret scan on a generated leak corpus: every planted secret found, no finding on a clean file, and no
output of a full CTO run showing more than the first 4 characters of any planted secret.

The corpus (``secret_corpus``) plants fake secrets, made at run time, in realistic files of every kind the scan
covers (credential files, private keys, shell exports, framework secrets, config files, code, ``.env`` files),
each once still tracked (``live/``) and once in history only (``old/``), next to clean look-alike files.
"""

from __future__ import annotations

import html
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml

from conftest import base_manifest, dry_run
from execintel.analysis import security
from execintel.analysis.model import Results
from helpers import context
from secret_corpus import Corpus, Fake, Plant, Score, build_repository, generate, make_corpus, score
from secret_corpus_files import KEYS

REPO = "repos/corpus"
PREFIX = f"{REPO}/"
# More corpora with other secrets in the slow test: EXECINTEL_TEST_TRIALS of them (make test runs a few).
TRIALS = int(os.environ.get("EXECINTEL_TEST_TRIALS", "3"))


def _portfolio(root: Path, seed: str) -> tuple[Path, Corpus]:
    corpus = build_repository(root / REPO, make_corpus(seed))
    cto = {"id": "casey", "name": "Casey", "email": "cto@example.com", "roles": ["cto"]}
    manifest = base_manifest(stakeholders=[cto], entities=[{"id": "shop", "name": "Shop", "repos": [REPO]}])
    (root / "portfolio.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    return root / "portfolio.yaml", corpus


@pytest.fixture(scope="module")
def corpus_portfolio(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Corpus]:
    """A portfolio auditing one repository that holds the corpus."""
    return _portfolio(tmp_path_factory.mktemp("corpus") / "portfolio", "test-corpus")


@pytest.fixture(scope="module")
def results(corpus_portfolio: tuple[Path, Corpus]) -> Results:
    """The security analysis of the corpus portfolio."""
    return security.analyze(context(corpus_portfolio[0]))


def _score(results: Results, corpus: Corpus) -> Score:
    return score(corpus, {(f.kind, f.file, f.line) for f in results.findings if f.file}, PREFIX)


def _labels(plants: list[Plant]) -> list[str]:
    return [f"{p.path}:{p.line} ({p.label})" for p in plants]


def test_every_secret_in_a_tracked_file_is_a_hardcoded_secret(
    results: Results, corpus_portfolio: tuple[Path, Corpus]
) -> None:
    corpus = corpus_portfolio[1]
    missed = [p for p in _score(results, corpus).missed if p.path.startswith("live/")]
    assert _labels(missed) == []
    live = [f for f in results.findings if f.kind == "hardcoded-secret" and f.file and f.file.startswith(PREFIX)]
    assert {f.commit for f in live} == {corpus.added}  # the commit that added each line


def test_every_secret_removed_from_the_tree_is_a_secret_in_history(
    results: Results, corpus_portfolio: tuple[Path, Corpus]
) -> None:
    corpus = corpus_portfolio[1]
    missed = [p for p in _score(results, corpus).missed if p.path.startswith("old/")]
    assert _labels(missed) == []
    history = [f for f in results.findings if f.kind == "secret-in-history"]
    assert {f.commit for f in history} == {corpus.added}


def test_every_committed_env_file_is_reported(results: Results, corpus_portfolio: tuple[Path, Corpus]) -> None:
    found = _score(results, corpus_portfolio[1])
    assert found.env_found == found.env_expected == 10


def test_clean_files_have_no_secret_findings(results: Results) -> None:
    clean = [(f.kind, f.file, f.line, f.severity) for f in results.findings if f.file and "/clean/" in f.file]
    # the .env template is still a committed environment file (the contract's condition), at low severity
    assert clean == [("env-file-committed", f"{PREFIX}clean/app/.env.example", None, "low")]


def test_no_finding_on_a_line_without_a_planted_secret(results: Results, corpus_portfolio: tuple[Path, Corpus]) -> None:
    assert _score(results, corpus_portfolio[1]).extra == []
    # one finding per planted secret: two detections of one value are one finding
    lines = Counter((f.file, f.line) for f in results.findings if f.kind != "env-file-committed")
    planted = Counter((PREFIX + p.path, p.line) for p in corpus_portfolio[1].plants)
    assert lines == planted


def test_private_keys_and_key_stores_are_critical(results: Results, corpus_portfolio: tuple[Path, Corpus]) -> None:
    keys = {PREFIX + f.path for f in corpus_portfolio[1].live if f.label in _key_labels()}
    severities = {f.file: f.severity for f in results.findings if f.file in keys}
    assert set(severities) == keys and set(severities.values()) == {"critical"}
    store = next(f for f in results.findings if f.file == f"{PREFIX}live/certs/client.p12")
    assert (store.line, store.title) == (None, f"PKCS#12 key store committed as {PREFIX}live/certs/client.p12")


def _key_labels() -> set[str]:
    from secret_corpus_files import LEAKS

    return {t.label for t in LEAKS if t.group == KEYS}


# --- nothing shows a secret --------------------------------------------------------------------------------------


def _fixed_prefix(kind: str) -> int:
    """How many leading characters every secret of this kind shares (``sk_live_``): those are not secret."""
    values = [generate(kind, Fake(seed))[1] for seed in ("a", "b", "c")]
    return next((i for i, chars in enumerate(zip(*values, strict=False)) if len(set(chars)) > 1), min(map(len, values)))


def _shown_parts(plants: list[Plant]) -> tuple[dict[str, Plant], dict[str, Plant]]:
    """What no output may hold: each secret's first 5 characters (its first random one past a fixed prefix such as
    ``sk_live_``), and every 8 characters in a row that include a random one."""
    heads: dict[str, Plant] = {}
    windows: dict[str, Plant] = {}
    for plant in plants:
        secret, fixed = plant.secret, _fixed_prefix(plant.kind)
        heads[secret[: max(5, fixed + 1)]] = plant
        for start in range(max(0, fixed - 7), len(secret) - 7):
            windows[secret[start : start + 8]] = plant
    return heads, windows


def _leaks(text: str, heads: dict[str, Plant], windows: dict[str, Plant]) -> list[tuple[str, str]]:
    """(label, shown part) of every secret ``text`` shows more of than its first 4 characters."""
    found = [(plant.label, head) for head, plant in heads.items() if head in text]
    found += [(windows[part].label, part) for i in range(len(text) - 7) if (part := text[i : i + 8]) in windows]
    return found


def _texts(folder: Path) -> dict[str, str]:
    """Every file the run wrote, as text (PDF through pdftotext, HTML also unescaped)."""
    texts: dict[str, str] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".pdf":
            texts[str(path)] = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                                              check=True).stdout  # fmt: skip
            continue
        raw = path.read_bytes().decode("utf-8", "replace")
        texts[str(path)] = raw + "\n" + html.unescape(raw) + "\n" + raw.replace('\\"', '"').replace("\\\\", "\\")
    return texts


def test_no_output_of_a_cto_run_shows_more_than_4_characters_of_a_secret(
    corpus_portfolio: tuple[Path, Corpus], tmp_path: Path
) -> None:
    manifest, corpus = corpus_portfolio
    run = dry_run(tmp_path / "run", str(manifest), "--reports", "cto")
    texts = _texts(tmp_path / "run")
    texts["console"] = run.done.stdout + run.done.stderr
    assert {p.suffix for p in run.run_dir.iterdir()} >= {".json", ".html", ".txt", ".pdf"}
    assert len(run.documents["cto"]["findings"]) > len(corpus.plants)  # the secrets are all in the report
    heads, windows = _shown_parts([p for p in corpus.plants if p.secret])
    assert {name: leaks for name, text in texts.items() if (leaks := _leaks(text, heads, windows))} == {}


# --- more corpora --------------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("seed", [f"trial-{n}" for n in range(TRIALS)])
def test_other_corpora(tmp_path: Path, seed: str) -> None:
    manifest, corpus = _portfolio(tmp_path / "portfolio", seed)
    found = _score(security.analyze(context(manifest)), corpus)
    assert (_labels(found.missed), found.extra) == ([], [])
