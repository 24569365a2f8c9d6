"""One hostile repository does not sink the others: its problems are reported under its name, the rest load."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from conftest import GitRepo, base_manifest, cli
from git_helpers import fake_aws_key, source_rows
from helpers import load
from test_git_exec import Trap, plant


def test_hostile_repositories_are_reported_each_under_its_name_and_the_good_one_is_read(tmp_path: Path) -> None:
    root = tmp_path / "portfolio"
    evil_dir = tmp_path / "evil"
    good = GitRepo(root / "repos" / "good")
    key = fake_aws_key("good")
    good.commit("first", {"app.py": f"AWS_ACCESS_KEY_ID = '{key}'\n"})
    plant(root / "repos" / "trapped", Trap("fsmonitor", {"core.fsmonitor": "{evil}"}), evil_dir)
    outside = GitRepo(tmp_path / "outside")
    outside.commit("outside", {"x.txt": "x\n"})
    (root / "repos" / "escaping").mkdir()
    (root / "repos" / "escaping" / ".git").write_text(f"gitdir: {outside.path / '.git'}\n")
    stuck = GitRepo(root / "repos" / "stuck")
    stuck.commit("first", {"a.txt": "a\n"})
    (stuck.path / ".git" / "objects" / "pack").mkdir(exist_ok=True)
    os.mkfifo(stuck.path / ".git" / "objects" / "pack" / "pack-0.idx")
    (root / "repos" / "plain").mkdir()
    repos = ["repos/escaping", "repos/stuck", "repos/plain", "repos/trapped", "repos/good"]
    manifest = base_manifest(
        stakeholders=[{"id": "casey", "name": "CTO", "email": "cto@example.com", "roles": ["cto"]}],
        entities=[{"id": "qosd", "name": "Q", "repos": repos}],
    )
    path = root / "portfolio.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")

    done = cli("sources", "--keep-going", str(path), cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = source_rows(done.stdout)
    assert {repo: rows[repo][3] for repo in repos} == {
        "repos/escaping": "0", "repos/stuck": "0", "repos/plain": "0", "repos/trapped": "2", "repos/good": "1",
    }  # fmt: skip
    errors = done.stderr.replace("\n", " ")
    assert "repos/escaping: has .git (gitdir: " in errors
    assert "repos/stuck: has .git/objects/pack/pack-0.idx, which is a named pipe (FIFO)" in errors
    assert "repos/plain: is not a git repository (no .git at its top)" in errors
    assert "repos/good:" not in errors and "repos/trapped:" not in errors
    assert list((evil_dir / "markers").iterdir()) == []

    strict = cli("sources", str(path), cwd=tmp_path, timeout=300)
    assert strict.returncode == 2  # without --keep-going, a repository that cannot be read fails validation

    run = cli("run", "--dry-run", "--keep-going", "--reports", "cto", "--out", "out", str(path), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    [report] = (tmp_path / "out").glob("*/cto.json")
    files = {f["file"] for f in json.loads(report.read_text())["findings"] if f["kind"] == "hardcoded-secret"}
    assert {"repos/good/app.py", "repos/trapped/app.py"} <= files


def test_a_damaged_index_costs_the_tracked_files_only(tmp_path: Path) -> None:
    root = tmp_path / "portfolio"
    repo = GitRepo(root / "repos" / "app")
    sha = repo.commit("first", {"a.txt": "a\n"})
    (repo.path / ".git" / "index").write_bytes(b"DIRC" + b"\xff" * 64)
    path = root / "portfolio.yaml"
    manifest = base_manifest(entities=[{"id": "qosd", "name": "Q", "repos": ["repos/app"]}])
    path.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    result = load(path)
    assert result.errors == []
    [warning] = result.warnings
    assert warning.message.startswith("has an index git cannot read (git ls-files failed: ")
    assert warning.message.endswith("); its tracked files are not read")
    assert result.facts.query("SELECT sha FROM repo_commits") == [(sha,)]
    assert result.facts.query("SELECT text FROM repo_changes WHERE line = 1") == [("a",)]
