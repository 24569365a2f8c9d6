"""Reading an audited repository never runs a program the repository (or the caller's git environment) names.

Each trap plants, in its own repository, one git setting, hook or attribute that makes plain git run a
program; the program only creates a marker file outside the portfolio. ``execintel sources`` and
``execintel run --dry-run --reports cto`` over all of them must leave no marker, and still read every
repository's commits and find the secret planted in each. The control test springs each trap with plain git,
so a trap that stopped working would show there rather than pass silently.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from conftest import GitRepo, base_manifest, cli
from git_helpers import fake_aws_key, git, source_rows
from helpers import load

HOOKS = (
    "applypatch-msg", "pre-applypatch", "post-applypatch", "pre-commit", "pre-merge-commit", "prepare-commit-msg",
    "commit-msg", "post-commit", "pre-rebase", "post-checkout", "post-merge", "pre-push", "pre-receive", "update",
    "proc-receive", "post-receive", "post-update", "reference-transaction", "push-to-checkout", "pre-auto-gc",
    "post-rewrite", "sendemail-validate", "fsmonitor-watchman", "post-index-change",
)  # fmt: skip
SIGNATURES = {
    "openpgp": "-----BEGIN PGP SIGNATURE-----\n\niQEzBAABCAAdFiEE\n=abcd\n-----END PGP SIGNATURE-----",
    "ssh": "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----",
    "x509": "-----BEGIN SIGNED MESSAGE-----\nMIAGCSqG\n-----END SIGNED MESSAGE-----",
}


@dataclass(frozen=True)
class Trap:
    """One way a repository can make git run a program: settings, files in ``.git``, committed files."""

    name: str
    config: dict[str, str] = field(default_factory=dict)  # ``{evil}`` is the program, ``{repo}`` the repository
    git_files: dict[str, str] = field(default_factory=dict)  # files under .git (hooks are made executable)
    attributes: str = ""  # a committed .gitattributes
    signed: str | None = None  # the HEAD commit carries a signature of this format
    control: tuple[str, ...] | None = None  # plain git command (in the repository) that springs the trap
    control_input: str | None = None
    control_setup: tuple[str, ...] = ()  # shell commands run in the repository before the control


FETCH = ("fetch", "-q", "origin")
CREDENTIAL = ("credential", "fill")
CREDENTIAL_INPUT = "protocol=https\nhost=example.invalid\n\n"
DIFF = ("diff", "HEAD~1", "HEAD")
NEW_FILE = ("echo new > fresh.txt",)
TRAPS = (
    Trap("fsmonitor", {"core.fsmonitor": "{evil}"}, control=("status", "--short")),
    Trap(
        "hooks", git_files={f"hooks/{hook}": "{evil_script}" for hook in HOOKS}, control=("checkout", "-q", "-b", "t")
    ),
    Trap(
        "hooksPath",
        {"core.hooksPath": "{repo}/.git/evilhooks"},
        git_files={"evilhooks/post-checkout": "{evil_script}", "evilhooks/reference-transaction": "{evil_script}"},
        control=("checkout", "-q", "-b", "t"),
    ),
    Trap("pager", {"core.pager": "{evil}"}),
    Trap("pager-cmd", {"pager.log": "{evil}", "pager.diff": "{evil}", "pager.ls-files": "{evil}"}),
    Trap(
        "sshCommand", {"core.sshCommand": "{evil}", "remote.origin.url": "ssh://example.invalid/x.git"}, control=FETCH
    ),
    Trap("gitProxy", {"core.gitProxy": "{evil}", "remote.origin.url": "git://example.invalid/x.git"}, control=FETCH),
    Trap("askPass", {"core.askPass": "{evil}"}, control=CREDENTIAL, control_input=CREDENTIAL_INPUT),
    Trap("credential", {"credential.helper": "{evil}"}, control=CREDENTIAL, control_input=CREDENTIAL_INPUT),
    Trap("editor", {"core.editor": "{evil}"}, control=("commit", "-q", "--allow-empty")),
    Trap("sequence-editor", {"sequence.editor": "{evil}"}, control=("rebase", "-q", "-i", "HEAD~1")),
    Trap("diff-external", {"diff.external": "{evil}"}, control=DIFF),
    Trap("diff-command", {"diff.evil.command": "{evil}"}, attributes="* diff=evil\n", control=DIFF),
    Trap("textconv", {"diff.evil.textconv": "{evil}"}, attributes="* diff=evil\n", control=("log", "-p", "-1")),
    Trap(
        "filter",
        {"filter.evil.clean": "{evil}", "filter.evil.smudge": "{evil}", "filter.evil.required": "false"},
        attributes="* filter=evil\n",
        control=("add", "fresh.txt"),
        control_setup=NEW_FILE,
    ),
    Trap(
        "filter-process",
        {"filter.evil.process": "{evil}"},
        attributes="* filter=evil\n",
        control=("add", "fresh.txt"),
        control_setup=NEW_FILE,
    ),
    Trap("merge-driver", {"merge.evil.driver": "{evil} %O %A %B"}, attributes="* merge=evil\n"),
    Trap("gpg", {"log.showSignature": "true", "gpg.program": "{evil}"}, signed="openpgp", control=("log", "-1")),
    Trap(
        "gpg-openpgp",
        {"log.showSignature": "true", "gpg.openpgp.program": "{evil}"},
        signed="openpgp",
        control=("log", "-1"),
    ),
    Trap(
        "gpg-ssh",
        {"log.showSignature": "true", "gpg.ssh.program": "{evil}", "gpg.ssh.allowedSignersFile": "{repo}/.git/signers"},
        git_files={"signers": "author@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA\n"},
        signed="ssh",
        control=("log", "-1"),
    ),
    Trap("gpg-x509", {"log.showSignature": "true", "gpg.x509.program": "{evil}"}, signed="x509", control=("log", "-1")),
    Trap("alias", {"alias.evil": "!{evil}", "alias.log": "!{evil}", "alias.ls-files": "!{evil}"}, control=("evil",)),
    Trap(
        "include",
        {"include.path": "{repo}/.git/evil.inc"},
        git_files={"evil.inc": "[core]\n\tfsmonitor = {evil}\n"},
        control=("status", "--short"),
    ),
    Trap(
        "includeIf",
        {"includeIf.gitdir:/.path": "{repo}/.git/evil.inc"},
        git_files={"evil.inc": "[diff]\n\texternal = {evil}\n[core]\n\tfsmonitor = {evil}\n"},
        control=("status", "--short"),
    ),
    Trap("uploadpack", {"remote.origin.url": "{repo}", "remote.origin.uploadpack": "{evil}"}, control=FETCH),
    Trap(
        "receivepack",
        {"remote.origin.url": "{repo}", "remote.origin.receivepack": "{evil}"},
        control=("push", "-q", "origin", "HEAD:refs/heads/pushed"),
    ),
    Trap("ext-transport", {"remote.origin.url": "ext::{evil}", "protocol.ext.allow": "always"}, control=FETCH),
    Trap("packObjectsHook", {"uploadpack.packObjectsHook": "{evil}", "remote.origin.url": "{repo}"}),
    Trap("alternateRefsCommand", {"core.alternateRefsCommand": "{evil}"}),
    Trap("submodule-update", {"submodule.evil.update": "!{evil}"}),
    Trap("difftool", {"diff.tool": "evil", "difftool.evil.cmd": "{evil}"}, control=("difftool", "-y", "HEAD~1")),
    Trap("interactive-diffFilter", {"interactive.diffFilter": "{evil}"}),
    Trap("trace2", {"trace2.eventTarget": "{marker}", "trace2.normalTarget": "{marker}"}),
    Trap(
        "info-attributes",
        {"diff.evil.textconv": "{evil}", "diff.evil.command": "{evil}", "filter.evil.clean": "{evil}"},
        git_files={"info/attributes": "* diff=evil filter=evil merge=evil\n"},
        control=("log", "-p", "-1"),
    ),
    Trap(
        "attributesFile",
        {"core.attributesFile": "{repo}/.git/evil.attributes", "diff.evil.textconv": "{evil}"},
        git_files={"evil.attributes": "* diff=evil\n"},
        control=("log", "-p", "-1"),
    ),
    Trap(
        "everything",
        {
            "core.fsmonitor": "{evil}",
            "core.pager": "{evil}",
            "diff.external": "{evil}",
            "diff.evil.textconv": "{evil}",
            "diff.evil.command": "{evil}",
            "filter.evil.clean": "{evil}",
            "filter.evil.smudge": "{evil}",
            "log.showSignature": "true",
            "gpg.program": "{evil}",
            "core.hooksPath": "{repo}/.git/evilhooks",
        },
        git_files={"evilhooks/post-index-change": "{evil_script}"},
        attributes="* diff=evil filter=evil\n",
        signed="openpgp",
        control=("log", "-p", "-1"),
    ),
)


def _evil(evil_dir: Path, name: str) -> Path:
    """An executable that creates ``markers/<name>`` (and, as a clean/smudge filter, passes its input on)."""
    script = evil_dir / "bin" / f"evil-{name}"
    script.parent.mkdir(parents=True, exist_ok=True)
    (evil_dir / "markers").mkdir(exist_ok=True)
    script.write_text(f'#!/bin/sh\necho "$0 $*" >> {evil_dir}/markers/{name}\ncat >/dev/null 2>&1 &\nexit 0\n')
    script.chmod(0o755)
    return script


def _signed_head(repo: Path, kind: str) -> None:
    """Replace HEAD by the same commit carrying a (bogus) signature of ``kind``: verifying it runs gpg.*.program."""
    raw = git(repo, "cat-file", "commit", "HEAD")
    header, message = raw.split("\n\n", 1)
    signature = SIGNATURES[kind].replace("\n", "\n ")
    body = f"{header}\ngpgsig {signature}\n\n{message}"
    sha = git(repo, "hash-object", "-t", "commit", "-w", "--stdin", stdin=body).strip()
    git(repo, "update-ref", "refs/heads/main", sha)


def plant(repo_dir: Path, trap: Trap, evil_dir: Path) -> str:
    """Make a repository holding ``trap``; return the fake key committed in its tracked ``app.py``."""
    key = fake_aws_key(trap.name)
    repo = GitRepo(repo_dir)
    files: dict[str, str | None] = {"app.py": "print('hello')\n", "notes.txt": "one\n"}
    if trap.attributes:
        files[".gitattributes"] = trap.attributes
    repo.commit("first", files)
    repo.commit("configure", {"app.py": f"print('hello')\nAWS_ACCESS_KEY_ID = '{key}'\n", "notes.txt": "two\n"})
    if trap.signed:
        _signed_head(repo_dir, trap.signed)
    evil = _evil(evil_dir, trap.name)
    values = {"evil": str(evil), "repo": str(repo_dir), "marker": str(evil_dir / "markers" / trap.name)}
    for name, content in trap.git_files.items():
        target = repo_dir / ".git" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        text = evil.read_text() if content == "{evil_script}" else content.format(**values)
        target.write_text(text)
        if content == "{evil_script}":
            target.chmod(0o755)
    for key_name, value in trap.config.items():
        git(repo_dir, "config", key_name, value.format(**values))
    return key


@pytest.fixture(scope="module")
def trapped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """A portfolio with one repository per trap: (manifest, folder of markers and programs, key per trap)."""
    root = tmp_path_factory.mktemp("traps")
    evil_dir = root / "evil"
    keys = {trap.name: plant(root / "portfolio" / "repos" / trap.name, trap, evil_dir) for trap in TRAPS}
    manifest = base_manifest(
        stakeholders=[{"id": "casey", "name": "CTO", "email": "cto@example.com", "roles": ["ceo", "cto"]}],
        entities=[{"id": "qosd", "name": "Q", "repos": [f"repos/{trap.name}" for trap in TRAPS]}],
    )
    path = root / "portfolio" / "portfolio.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    assert list((evil_dir / "markers").iterdir()) == []  # planting sprang nothing
    return path, evil_dir, keys


def _markers(evil_dir: Path) -> list[str]:
    return sorted(p.name for p in (evil_dir / "markers").iterdir())


def test_sources_runs_nothing_a_repository_names_and_reads_every_repository(
    trapped: tuple[Path, Path, dict[str, str]],
) -> None:
    manifest, evil_dir, _keys = trapped
    done = cli("sources", str(manifest), cwd=manifest.parent)
    assert _markers(evil_dir) == [], done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
    rows = source_rows(done.stdout)
    for trap in TRAPS:
        cells = rows[f"repos/{trap.name}"]
        assert (cells[3], cells[-1]) == ("2", "ok"), (trap.name, cells)


def test_cto_report_runs_nothing_a_repository_names_and_finds_each_planted_secret(
    trapped: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    manifest, evil_dir, _keys = trapped
    done = cli("run", "--dry-run", "--reports", "cto", "--out", "out", str(manifest), cwd=tmp_path)
    assert _markers(evil_dir) == [], done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
    [report] = (tmp_path / "out").glob("*/cto.json")
    findings = json.loads(report.read_text())["findings"]
    found = {f["file"] for f in findings if f["kind"] == "hardcoded-secret"}
    assert {f"repos/{trap.name}/app.py" for trap in TRAPS} <= found


def test_in_process_load_runs_nothing_and_keeps_each_repositorys_history(
    trapped: tuple[Path, Path, dict[str, str]],
) -> None:
    manifest, evil_dir, keys = trapped
    result = load(manifest)
    assert _markers(evil_dir) == []
    assert result.errors == []
    added = dict(
        result.facts.query("SELECT repo, text FROM repo_changes WHERE path = 'app.py' AND text LIKE 'AWS_ACCESS%'")
    )
    assert added == {f"repos/{trap.name}": f"AWS_ACCESS_KEY_ID = '{keys[trap.name]}'" for trap in TRAPS}


@pytest.mark.parametrize("trap", [t for t in TRAPS if t.control], ids=lambda t: t.name)
def test_each_trap_springs_under_plain_git(trap: Trap, tmp_path: Path) -> None:
    """Control: plain git in the same repository does run the planted program."""
    evil_dir = tmp_path / "evil"
    repo = tmp_path / "repo"
    plant(repo, trap, evil_dir)
    for command in trap.control_setup:
        subprocess.run(command, shell=True, cwd=repo, check=True)  # noqa: S602 - fixed test commands
    assert trap.control is not None
    git(repo, *trap.control, stdin=trap.control_input, check=False)
    assert trap.name in _markers(evil_dir)


CALLER_ENV: dict[str, Callable[[Path, Path], str]] = {
    "GIT_CONFIG_PARAMETERS": lambda evil, _other: f"'core.fsmonitor'='{evil}'",
    "GIT_CONFIG_COUNT": lambda _evil, _other: "2",
    "GIT_CONFIG_KEY_0": lambda _evil, _other: "core.fsmonitor",
    "GIT_CONFIG_VALUE_0": lambda evil, _other: str(evil),
    "GIT_CONFIG_KEY_1": lambda _evil, _other: "diff.external",
    "GIT_CONFIG_VALUE_1": lambda evil, _other: str(evil),
    "GIT_EXTERNAL_DIFF": lambda evil, _other: str(evil),
    "GIT_PAGER": lambda evil, _other: str(evil),
    "PAGER": lambda evil, _other: str(evil),
    "GIT_SSH_COMMAND": lambda evil, _other: str(evil),
    "GIT_ASKPASS": lambda evil, _other: str(evil),
    "GIT_EDITOR": lambda evil, _other: str(evil),
    "GIT_DIR": lambda _evil, other: str(other / ".git"),
    "GIT_WORK_TREE": lambda _evil, other: str(other),
    "GIT_INDEX_FILE": lambda _evil, other: str(other / ".git" / "index"),
    "GIT_OBJECT_DIRECTORY": lambda _evil, other: str(other / ".git" / "objects"),
    "GIT_CONFIG_GLOBAL": lambda evil, _other: str(evil.parent / "global.gitconfig"),
    "GIT_EXEC_PATH": lambda evil, _other: str(evil.parent),
    "GIT_TRACE": lambda evil, _other: str(evil.parent.parent / "markers" / "trace"),
}


def test_the_callers_git_environment_is_not_passed_to_git(
    write_portfolio: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIT_* variables of the caller (config, pager, external diff, another repository) reach no git command."""
    evil_dir = tmp_path / "evil"
    key = plant(tmp_path / "portfolio" / "repos" / "app", Trap("caller-env"), evil_dir)
    other = GitRepo(tmp_path / "other")
    other.commit("elsewhere", {"other.txt": "not this repository\n"})
    evil = evil_dir / "bin" / "evil-caller-env"
    (evil.parent / "global.gitconfig").write_text(f"[core]\n\tfsmonitor = {evil}\n[diff]\n\texternal = {evil}\n")
    for helper in ("git-log", "git-ls-files", "git-cat-file"):
        shutil.copy(evil, evil.parent / helper)
        (evil.parent / helper).chmod(stat.S_IRWXU)
    env = {name: make(evil, other.path) for name, make in CALLER_ENV.items()}
    subprocess.run(["git", "status"], cwd=tmp_path / "portfolio" / "repos" / "app", env={**os.environ, **env},
                   capture_output=True, check=False)  # fmt: skip
    assert _markers(evil_dir) != []  # control: plain git with this environment runs the program
    shutil.rmtree(evil_dir / "markers")
    (evil_dir / "markers").mkdir()

    manifest = write_portfolio(base_manifest(entities=[{"id": "qosd", "name": "Q", "repos": ["repos/app"]}]))
    done = cli("sources", str(manifest), cwd=tmp_path, env=env)
    assert _markers(evil_dir) == [], done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
    assert source_rows(done.stdout)["repos/app"][3] == "2"

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = load(manifest)
    assert _markers(evil_dir) == []
    assert result.errors == []
    assert result.facts.query("SELECT DISTINCT path FROM repo_files ORDER BY path") == [("app.py",), ("notes.txt",)]
    assert result.facts.query("SELECT text FROM repo_changes WHERE text LIKE 'AWS%'") == [
        (f"AWS_ACCESS_KEY_ID = '{key}'",)
    ]


@pytest.mark.parametrize("where", [".gitattributes", ".git/info/attributes"])
@pytest.mark.parametrize("rule", ["*.env -diff", "*.env binary", "*.env diff=hidden"])
def test_attributes_of_the_repository_never_hide_history_from_the_scan(
    write_portfolio: Callable[..., Path], tmp_path: Path, where: str, rule: str
) -> None:
    """A repository marking files as binary (or with a diff driver of its own) must not hide added lines."""
    repo = GitRepo(tmp_path / "portfolio" / "repos" / "app")
    key = fake_aws_key("hidden")
    if where == ".gitattributes":
        repo.commit("attributes", {".gitattributes": rule + "\n"})
    else:
        (repo.path / ".git" / "info").mkdir(exist_ok=True)
        (repo.path / ".git" / "info" / "attributes").write_text(rule + "\n")
    sha = repo.commit("secret", {"prod.env": f"AWS_ACCESS_KEY_ID={key}\n"})
    repo.commit("remove", {"prod.env": None})
    git(repo.path, "config", "diff.hidden.binary", "true")
    result = load(write_portfolio(base_manifest(entities=[{"id": "qosd", "name": "Q", "repos": ["repos/app"]}])))
    assert result.errors == []
    assert result.facts.query("SELECT sha, line, text FROM repo_changes WHERE path = 'prod.env' AND line = 1") == [
        (sha, 1, f"AWS_ACCESS_KEY_ID={key}")
    ]
