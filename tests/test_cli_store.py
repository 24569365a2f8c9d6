"""``execintel store``, ``audit`` and ``suppression`` as a user runs them: real subprocesses, exit codes, output."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
import yaml

from conftest import AWS_TEST_ENV, delivery_manifest
from execintel.store import Delivery, ReportRecord, RunRecord, SqliteStore

HOSTILE = "[bold]Acme[/bold] <script>alert(1)</script>"
T0 = datetime(2026, 11, 15, 9, 0, tzinfo=UTC)


def cli(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "execintel", *args], capture_output=True, text=True, env=env,
                          check=False, cwd=cwd)  # fmt: skip


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment whose default store is execintel.db in a data dir under tmp_path."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("EXECINTEL_", "AWS_"))}
    return {**clean, "EXECINTEL_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """The default store of ``env``, holding one run that delivered a report to two people; one bounced."""
    path = tmp_path / "data" / "execintel.db"
    with SqliteStore(path) as store:
        store.start_run(RunRecord("run-7", HOSTILE, "schedule:weekly-strategy", "weekly-strategy", "2026-W46", T0,
                                  mailer="ses", summary={"sent": 1, "failed": 1}))  # fmt: skip
        store.start_run(RunRecord("run-8", "Test Holdings", "cli:alice@laptop", None, "2026-11-16", T0, dry_run=True))
        store.record_report(ReportRecord("run-7", "cfo", "2026-W46", "0123456789ab" + "f" * 52, {"cash": 1.5}, T0))
        for key, recipient in (("d-1", "cfo@example.com"), ("d-2", "cto@example.com")):
            store.add_delivery(Delivery(key, HOSTILE, "weekly-strategy", "2026-W46", "cfo", recipient, 1, "rendered",
                                        "run-7"))  # fmt: skip
            store.transition(key, "sending", run_id="run-7", expect={"rendered"}, attempts=1)
        store.transition("d-1", "sent", run_id="run-7", expect={"sending"}, provider_id="0100-msg-abc")
        store.transition("d-2", "failed", run_id="run-7", expect={"sending"}, reason="550 [red]no such user[/red]",
                         permanent=True)  # fmt: skip
        store.finish_run("run-7", "ok", {"sent": 1, "failed": 1})
    return path


def test_audit_list_show_and_verify(db: Path, env: dict[str, str]) -> None:
    listed = cli("audit", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = [line for line in listed.stdout.splitlines() if "run-" in line]
    assert "run-8" in rows[0] and "(dry run)" in rows[0] and "unfinished" in rows[0]
    assert "run-7" in rows[1] and HOSTILE in rows[1] and "schedule:weekly-strategy" in rows[1] and " ok " in rows[1]
    newest = cli("audit", "list", "--limit", "1", env=env).stdout
    assert "run-8" in newest and "run-7" not in newest

    shown = cli("audit", "show", "run-7", env=env)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "schedule:weekly-strategy" in text and "2026-W46" in text and '{"failed": 1, "sent": 1}' in text
    assert "0123456789ab" in text and "0123456789abf" not in text  # the content hash, shortened
    sent = next(line for line in text.splitlines() if "cfo@example.com" in line and "0100-msg-abc" in line)
    assert " sent " in sent and " 1 " in sent
    failed = next(line for line in text.splitlines() if "cto@example.com" in line and " failed " in line)
    assert "550 [red]no such user[/red]" in failed  # data is shown as written, never as console markup
    changes = [line for line in text.splitlines() if "cto@example.com" in line]
    assert any(" (new) " in c and " rendered " in c for c in changes)
    assert any(" sending " in c and " failed " in c and "permanent True" in c for c in changes)

    verified = cli("audit", "verify", env=env)
    assert verified.returncode == 0
    assert verified.stdout.strip() == f"✓ 10 entries verified; the chain is intact (sqlite:///{db})"


def test_audit_verify_fails_on_a_tampered_store(db: Path, env: dict[str, str]) -> None:
    with sqlite3.connect(db) as raw:
        raw.execute("""UPDATE audit_log SET data = '{"status":"ok","summary":{"sent":2}}' WHERE seq = 10""")
        raw.execute("""UPDATE deliveries SET state = 'sent' WHERE "key" = 'd-2'""")
    raw.close()
    verified = cli("audit", "verify", env=env)
    assert verified.returncode == 1
    assert "✗ entry 10 (run.finished): hash does not match its content (edited)" in verified.stdout
    assert "✗ delivery 'd-2': state is 'sent' in the deliveries table but 'failed' in the audit log" in verified.stdout
    assert "2 problems in" in verified.stderr and "Traceback" not in verified.stderr


def test_audit_show_of_an_unknown_run_says_so(db: Path, env: dict[str, str]) -> None:
    shown = cli("audit", "show", "run-99", env=env)
    assert shown.returncode == 1
    message = " ".join(shown.stderr.split())  # the main CLI wraps long error lines
    assert f"Error: There is no run 'run-99' in sqlite:///{db}; list the runs with: execintel audit list" in message
    assert "Traceback" not in shown.stderr


def test_an_empty_store_has_no_runs(tmp_path: Path, env: dict[str, str]) -> None:
    url = f"sqlite:///{tmp_path}/elsewhere/audit.db"
    assert cli("store", "init", "--store", url, env=env).returncode == 0
    listed = cli("audit", "list", "--store", url, env=env)
    assert listed.returncode == 0 and listed.stdout.strip() == f"No runs yet in {url}."
    assert cli("audit", "verify", env={**env, "EXECINTEL_STORE": url}).stdout.strip() == (
        f"✓ 0 entries verified; the chain is intact ({url})"
    )
    assert not (tmp_path / "data").exists()  # the default store was never touched


@pytest.mark.parametrize(
    ("command", "variable"),
    [(("audit", "list"), False), (("audit", "verify"), True), (("audit", "show", "run-1"), False),
     (("suppression", "list"), True)],
)  # fmt: skip
def test_read_only_commands_never_create_a_store_at_a_mistyped_path(
    tmp_path: Path, env: dict[str, str], command: tuple[str, ...], variable: bool
) -> None:
    url = f"sqlite:///{tmp_path}/typo/audti.db"
    # from the environment, the message names the variable; from the option, the option
    done = cli(*command, env={**env, "EXECINTEL_STORE": url}) if variable else cli(*command, "--store", url, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    message = " ".join(done.stderr.split())
    source = "EXECINTEL_STORE" if variable else "--store"
    assert f"{source}: the store {url} does not exist (there is no file {tmp_path}/typo/audti.db)" in message
    assert "Traceback" not in done.stderr and "Internal error" not in done.stderr
    assert not (tmp_path / "typo").exists()  # not the file, not even its folder


def test_the_default_store_before_any_run_is_reported_not_created(tmp_path: Path, env: dict[str, str]) -> None:
    for command in (("audit", "list"), ("suppression", "list")):
        done = cli(*command, env=env)
        assert done.returncode == 0 and "No store yet" in done.stdout, done.stderr
    assert not (tmp_path / "data").exists()


def _random_bytes(db: Path) -> None:
    db.write_bytes(bytes(range(256)) * 64)


def _truncated(db: Path) -> None:
    with db.open("r+b") as file:
        file.truncate(db.stat().st_size // 3)


@pytest.mark.parametrize("damage", [_random_bytes, _truncated], ids=["random-bytes", "truncated"])
def test_a_damaged_store_file_is_named_with_exit_2_and_no_traceback(
    db: Path, env: dict[str, str], tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    with SqliteStore(db) as store:  # enough pages that a cut loses some
        for i in range(60):
            store.suppress(f"bounce-{i}@example.com", "hard bounce " * 20, source="test")
    damage(db)
    manifest = tmp_path / "portfolio" / "portfolio.yaml"
    manifest.parent.mkdir()
    manifest.write_text(yaml.safe_dump(delivery_manifest(1)), encoding="utf-8")
    for command in (("audit", "verify"), ("audit", "list"), ("run", str(manifest), "--no-pdf", "--reports", "ceo")):
        done = cli(*command, env=env, cwd=tmp_path)
        message = " ".join(done.stderr.split())
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert f"the store file {db} is damaged or is not an execintel store" in message, (command, message)
        assert "Traceback" not in done.stderr and "Internal error" not in done.stderr
    assert not (tmp_path / "outbox").exists()  # the run stopped before any work


def test_suppression_add_list_remove(env: dict[str, str], tmp_path: Path) -> None:
    added = cli("suppression", "add", "Casey@Example.com", "--reason", "asked to stop <b>now</b>", env=env)
    assert added.returncode == 0, added.stderr
    assert "casey@example.com is suppressed" in added.stdout
    listed = cli("suppression", "list", env=env)
    row = next(line for line in listed.stdout.splitlines() if "casey@example.com" in line)
    assert "asked to stop <b>now</b>" in row and "cli:" in row
    with SqliteStore(tmp_path / "data" / "execintel.db") as store:
        assert [e.kind for e in store.entries()] == ["suppression.added"]
    assert cli("suppression", "remove", "CASEY@example.com", env=env).returncode == 0
    again = cli("suppression", "remove", "casey@example.com", env=env)
    assert again.returncode == 1 and "was not on the suppression list; nothing changed" in again.stderr
    assert "is empty" in cli("suppression", "list", env=env).stdout


def test_suppression_add_refuses_an_address_that_is_not_one(env: dict[str, str], tmp_path: Path) -> None:
    refused = cli("suppression", "add", "not-an-address", env=env)
    assert refused.returncode == 2
    assert "ADDRESS: 'not-an-address' is not an email address like name@example.com" in refused.stderr
    assert not (tmp_path / "data").exists()


def test_a_bad_store_url_names_the_allowed_schemes(env: dict[str, str]) -> None:
    flag = cli("audit", "list", "--store", "postgres://db/audit", env=env)
    assert flag.returncode == 2
    expected = "--store: 'postgres://db/audit' is not a store URL; the scheme must be sqlite:// or dynamodb://"
    assert expected in flag.stderr
    variable = cli("suppression", "list", env={**env, "EXECINTEL_STORE": "audit.db"})
    assert variable.returncode == 2 and variable.stderr.startswith("EXECINTEL_STORE: 'audit.db' is not a store URL")


def test_store_init_creates_a_dynamodb_table(env: dict[str, str], moto_endpoint: str) -> None:
    aws = {**env, **AWS_TEST_ENV, "AWS_ENDPOINT_URL": moto_endpoint}
    table = f"execintel-cli-{uuid.uuid4().hex[:8]}"
    missing = cli("audit", "list", "--store", f"dynamodb://{table}", env=aws)
    assert missing.returncode == 2
    message = " ".join(missing.stderr.split())
    assert f"The DynamoDB table '{table}' does not exist; create it with: execintel store init --store " in message
    assert f"--store dynamodb://{table} " in message
    created = cli("store", "init", "--store", f"dynamodb://{table}", env=aws)
    assert created.returncode == 0 and f"the store is ready: dynamodb://{table}" in created.stdout
    client = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    assert client.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE"
    aws["EXECINTEL_STORE"] = f"dynamodb://{table}"
    assert cli("suppression", "add", "casey@example.com", env=aws).returncode == 0
    verified = cli("audit", "verify", env=aws)
    assert verified.stdout.strip() == f"✓ 1 entry verified; the chain is intact (dynamodb://{table})"
    client.delete_table(TableName=table)
