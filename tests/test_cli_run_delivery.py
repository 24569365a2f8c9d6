"""``execintel run`` delivering, as a user runs it: a subprocess against real servers on loopback (SMTP from
aiosmtpd, SES and DynamoDB from moto), with the audit store as the record of what went out."""

from __future__ import annotations

import email
import email.policy
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import AWS_TEST_ENV, WritePortfolio, cli, delivery_manifest
from execintel.store import SqliteStore
from smtp_server import HostileSmtpServer, SmtpTestServer

QUICK = ("--no-pdf", "--reports", "ceo,daily")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A data folder of the test's own (the default store lives there)."""
    return {"EXECINTEL_DATA_DIR": str(tmp_path / "data")}


def _eml(folder: Path) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for p in sorted(folder.glob("*.eml"))]  # fmt: skip


def test_run_delivers_to_the_outbox_by_default_once_and_the_audit_trail_verifies(
    write_portfolio: WritePortfolio, tmp_path: Path, env: dict[str, str]
) -> None:
    manifest = write_portfolio(delivery_manifest(3))
    done = cli("run", str(manifest), *QUICK, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "6 sent" in done.stdout
    messages = _eml(tmp_path / "outbox")
    assert len(messages) == 6
    assert {m["To"].addresses[0].addr_spec for m in messages} == {f"p{i}@example.com" for i in range(3)}
    cfo = messages[0]
    assert cfo["From"] == "reports@example.com" and cfo.get_content_type() == "multipart/related"
    assert {p.get_content_type() for p in cfo.walk()} >= {"multipart/alternative", "text/plain", "text/html"}
    again = cli("run", str(manifest), *QUICK, cwd=tmp_path, env=env)
    assert (
        again.returncode == 0 and "All 6 deliveries of this ad-hoc run for 2026-11-15 already went out" in again.stdout
    )
    assert len(_eml(tmp_path / "outbox")) == 6
    # the audit summary of both runs spells its keys one way
    with SqliteStore(tmp_path / "data" / "execintel.db") as store:
        summaries = [dict(run.summary) for run in store.list_runs()]
    assert summaries[1] == {"sent": 6, "already_sent": 0, "suppressed": 0, "held": 0, "failed": 0, "unknown": 0,
                            "notice": None}  # fmt: skip
    assert summaries[0] == {"already_sent": 6}
    listed = cli("audit", "list", cwd=tmp_path, env=env)
    assert listed.returncode == 0 and listed.stdout.count("Test Holdings") == 2
    verified = cli("audit", "verify", cwd=tmp_path, env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # editing the record of what was sent is detected
    with sqlite3.connect(tmp_path / "data" / "execintel.db") as db:
        db.execute("UPDATE deliveries SET state = 'failed' WHERE rowid = (SELECT min(rowid) FROM deliveries)")
    tampered = cli("audit", "verify", cwd=tmp_path, env=env)
    assert tampered.returncode == 1


def test_a_pdf_goes_with_each_report_as_an_attachment(
    write_portfolio: WritePortfolio, tmp_path: Path, env: dict[str, str]
) -> None:
    manifest = write_portfolio(delivery_manifest(1))
    done = cli("run", str(manifest), "--pdf", "--reports", "ceo", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    [message] = _eml(tmp_path / "outbox")
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf" and attachment.get_filename() == "ceo.pdf"
    assert attachment.get_content().startswith(b"%PDF-")


def test_run_delivers_over_smtp_and_reports_a_refused_recipient_with_exit_1(
    write_portfolio: WritePortfolio, tmp_path: Path, env: dict[str, str], smtp_server_factory: Any
) -> None:
    server: SmtpTestServer = smtp_server_factory(refuse={"p2@example.com": 550})
    manifest = write_portfolio(delivery_manifest(3))
    done = cli("run", str(manifest), *QUICK, "--mailer", server.url(), cwd=tmp_path, env=env)
    assert done.returncode == 1
    assert "4 sent, 2 failed" in " ".join(done.stderr.split())
    assert "permanent" in done.stdout and "550" in done.stdout
    to = [m.recipients for m in server.messages]
    assert sorted(r[0] for r in to if r[0] != "audit@example.org") == sorted(
        ["p0@example.com", "p0@example.com", "p1@example.com", "p1@example.com"])  # fmt: skip
    assert ("audit@example.org",) in to  # the failure notice
    # the failed ones are tried again by the same command; what went out is not sent again
    server.refuse.clear()
    again = cli("run", str(manifest), *QUICK, "--mailer", server.url(), cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert "4 of 6 deliveries" in again.stdout
    assert sum(1 for m in server.messages if m.recipients[0] == "p2@example.com") == 2


def test_a_header_with_a_line_break_stops_the_run_before_anything_is_sent(
    write_portfolio: WritePortfolio, tmp_path: Path, env: dict[str, str]
) -> None:
    data = delivery_manifest(2)
    data["stakeholders"][1]["name"] = "Mallory\r\nBcc: victim@example.org"
    manifest = write_portfolio(data)
    done = cli("run", str(manifest), *QUICK, cwd=tmp_path, env=env)
    assert done.returncode == 2, done.stdout
    assert "To header" in done.stderr and "nothing was sent" in done.stderr.lower()
    assert "Traceback" not in done.stderr
    assert not list((tmp_path / "outbox").glob("*.eml")) if (tmp_path / "outbox").exists() else True


def test_a_bad_mailer_url_is_refused_before_any_work_naming_the_option_used(
    write_portfolio: WritePortfolio, tmp_path: Path
) -> None:
    manifest = write_portfolio(delivery_manifest(1))
    flag = cli("run", str(manifest), "--mailer", "carrier-pigeon://coop", cwd=tmp_path)
    assert flag.returncode == 2
    assert flag.stderr.startswith("--mailer: unknown mailer (mailer 'carrier-pigeon://coop'; allowed:")
    variable = cli("run", str(manifest), cwd=tmp_path, env={"EXECINTEL_MAILER": "carrier-pigeon://coop"})
    assert variable.returncode == 2 and variable.stderr.startswith("EXECINTEL_MAILER: unknown mailer")
    assert not (tmp_path / "out").exists()  # before any work


def test_a_schedule_sends_once_per_period_unless_forced(
    write_portfolio: WritePortfolio, tmp_path: Path, env: dict[str, str]
) -> None:
    data = delivery_manifest(2, schedules=[{"id": "morning", "cron": "0 7 * * *", "reports": ["daily"]}])
    manifest = write_portfolio(data)
    first = cli("run", str(manifest), "--schedule", "morning", "--no-pdf", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    second = cli("run", str(manifest), "--schedule", "morning", "--no-pdf", cwd=tmp_path, env=env)
    assert second.returncode == 0 and "already went out" in second.stdout
    assert len(_eml(tmp_path / "outbox")) == 2
    forced = cli("run", str(manifest), "--schedule", "morning", "--no-pdf", "--force", cwd=tmp_path, env=env)
    assert forced.returncode == 0, forced.stderr
    assert len(_eml(tmp_path / "outbox")) == 4
    runs = cli("audit", "list", cwd=tmp_path, env=env).stdout
    assert runs.count("ok (forced)") == 1 and runs.count("T07:00") == 3  # three runs of one period, one forced
    unknown = cli("run", str(manifest), "--schedule", "evening", cwd=tmp_path, env=env)
    assert unknown.returncode == 2 and "no schedule 'evening'" in unknown.stderr and "morning" in unknown.stderr


def test_two_runs_at_once_deliver_each_message_once(
    write_portfolio: WritePortfolio, tmp_path: Path, env: dict[str, str]
) -> None:
    manifest = write_portfolio(delivery_manifest(6, policies={"send_rate_per_second": 10}))
    command = [sys.executable, "-m", "execintel", "run", str(manifest), *QUICK]
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NO_COLOR": "1", **env}
    runs = [subprocess.Popen(command, cwd=tmp_path, env=base, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]  # fmt: skip
    outputs = [r.communicate(timeout=120) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outputs
    keys = [m["X-Execintel-Delivery"] for m in _eml(tmp_path / "outbox")]
    assert len(keys) == 12 and len(set(keys)) == 12
    said = " ".join(out + errs for out, errs in outputs)
    assert "already went out" in said or "Waiting for another run" in said


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for a child process that talks to the moto server (fake credentials, loopback endpoint)."""
    for name, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(name, value)
    return {**AWS_TEST_ENV, "AWS_ENDPOINT_URL": moto_endpoint}


def _ses_sent() -> list[Any]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def test_run_delivers_through_ses_to_a_verified_sender_and_refuses_an_unverified_one(
    write_portfolio: WritePortfolio, tmp_path: Path, env: dict[str, str], aws: dict[str, str]
) -> None:
    ses = boto3.client("sesv2", endpoint_url=aws["AWS_ENDPOINT_URL"], region_name="us-east-1")
    data = delivery_manifest(2, sender="reports@ses-verified.test")
    manifest = write_portfolio(data)
    refused = cli("run", str(manifest), *QUICK, "--mailer", "ses://us-east-1", cwd=tmp_path, env={**env, **aws})
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "reports@ses-verified.test" in refused.stderr and "verif" in refused.stderr
    before = len(_ses_sent())
    ses.create_email_identity(EmailIdentity="ses-verified.test")
    done = cli("run", str(manifest), *QUICK, "--mailer", "ses://us-east-1", cwd=tmp_path, env={**env, **aws})
    assert done.returncode == 0, done.stderr
    sent = _ses_sent()[before:]
    assert len(sent) == 4
    heads = [email.message_from_bytes(m.raw_data.encode() if isinstance(m.raw_data, str) else m.raw_data,
                                      policy=email.policy.default) for m in sent]  # fmt: skip
    assert {h["To"].addresses[0].addr_spec for h in heads} == {"p0@example.com", "p1@example.com"}
    assert all("audit@example.org" in m.destinations for m in sent)


def test_run_records_into_a_dynamodb_store(
    write_portfolio: WritePortfolio, tmp_path: Path, env: dict[str, str], aws: dict[str, str]
) -> None:
    table = f"execintel-{time.monotonic_ns()}"
    store = f"dynamodb://{table}"
    both = {**env, **aws}
    missing = cli("run", str(write_portfolio(delivery_manifest(1))), *QUICK, "--store", store, cwd=tmp_path,
                  env=both)  # fmt: skip
    assert missing.returncode == 2 and f"execintel store init --store {store}" in " ".join(missing.stderr.split())
    assert cli("store", "init", "--store", store, cwd=tmp_path, env=both).returncode == 0
    done = cli("run", str(write_portfolio(delivery_manifest(1))), *QUICK, "--store", store, cwd=tmp_path, env=both)
    assert done.returncode == 0, done.stderr
    verified = cli("audit", "verify", "--store", store, cwd=tmp_path, env=both)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    items = boto3.client("dynamodb", endpoint_url=aws["AWS_ENDPOINT_URL"], region_name="us-east-1").scan(
        TableName=table)["Items"]  # fmt: skip
    assert sum(1 for i in items if i["sk"]["S"] == "DELIVERY") == 2


def test_the_demo_is_delivered_to_the_outbox_by_default(tmp_path: Path, env: dict[str, str]) -> None:
    done = cli("run", "--no-pdf", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    messages = _eml(tmp_path / "outbox")
    # five role reports to their leads, and every report (the daily digest included) to the admin
    assert len(messages) == 14
    admin = [m for m in messages if m["To"].addresses[0].addr_spec == "admin@example.com"]
    assert len(admin) == 9
    cfo = next(m for m in messages if m["To"].addresses[0].addr_spec == "cfo@example.com")
    assert cfo["Subject"] == "CFO report - Demo Holdings - as of 2026-11-15"
    html = cfo.get_body(("html",)).get_content()  # type: ignore[union-attr]
    images = {p["Content-ID"].strip("<>") for p in cfo.walk() if p.get_content_type() == "image/png"}
    assert images and all(f"cid:{cid}" in html for cid in images)  # every chart inline, by Content-ID


def test_a_store_that_lost_its_history_stops_the_run_before_anything_is_sent(
    write_portfolio: WritePortfolio, tmp_path: Path, env: dict[str, str], smtp_server: SmtpTestServer
) -> None:
    manifest = write_portfolio(delivery_manifest(1))
    first = cli("run", str(manifest), *QUICK, "--mailer", smtp_server.url(), cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert len(smtp_server.messages) == 2  # the CEO report and the daily digest, the audit copy in each envelope
    (tmp_path / "data" / "execintel.db").unlink()  # the store is gone; its marker beside it says what it held
    again = cli("run", str(manifest), *QUICK, "--mailer", smtp_server.url(), cwd=tmp_path, env=env)
    message = " ".join(again.stderr.split())
    assert again.returncode == 2, again.stdout + again.stderr
    assert "has lost its history: it is empty, but it held" in message and "--new-store" in message
    assert "Traceback" not in again.stderr and len(smtp_server.messages) == 2  # nothing sent again
    # told to, the run accepts the new store: it knows nothing, so everything goes out again (and that is recorded)
    told = cli("run", str(manifest), *QUICK, "--mailer", smtp_server.url(), "--new-store", cwd=tmp_path, env=env)
    assert told.returncode == 0, told.stderr
    assert len(smtp_server.messages) == 4
    with SqliteStore(tmp_path / "data" / "execintel.db") as store:
        assert store.entries(limit=1)[0].kind == "store.accepted"


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder on a read-only file system (a tmpfs mounted read-only; root only)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a read-only file system needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)], check=False,
                             capture_output=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


@pytest.mark.parametrize("where", ["a-file", "read-only"])
def test_an_outbox_folder_that_cannot_take_messages_stops_the_run_before_any_work(
    write_portfolio: WritePortfolio, tmp_path: Path, env: dict[str, str], request: pytest.FixtureRequest, where: str
) -> None:
    if where == "a-file":
        outbox = tmp_path / "outbox.txt"
        outbox.write_text("not a folder")
        why = f"{outbox} is a file, not a folder"
    else:
        outbox = request.getfixturevalue("read_only_folder") / "outbox"
        why = "Read-only file system"
    manifest = write_portfolio(delivery_manifest(1))
    done = cli("run", str(manifest), *QUICK, "--mailer", f"outbox:{outbox}", cwd=tmp_path, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"--mailer: cannot use {outbox} as the outbox folder: {why}" in " ".join(done.stderr.split())
    assert "Internal error" not in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()  # no report was built


def _trickle(server: HostileSmtpServer, connection: Any) -> None:
    server.trickle(connection, b"220 " + b"z" * 200 + b"\r\n", 0.5)  # 100 s for a greeting


def test_a_run_against_a_server_that_never_finishes_ends_at_its_deadline(
    write_portfolio: WritePortfolio, tmp_path: Path, env: dict[str, str]
) -> None:
    manifest = write_portfolio(delivery_manifest(1, audit_mailbox=None))
    with HostileSmtpServer(_trickle) as server:
        done = cli("run", str(manifest), "--no-pdf", "--reports", "ceo", "--mailer", server.url(), cwd=tmp_path,
                   env={**env, "EXECINTEL_DELIVERY_DEADLINE": "3"})  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the run's time limit" in " ".join(done.stdout.split())  # not a hang: RFC 5321 alone allows 5 minutes
    with SqliteStore(tmp_path / "data" / "execintel.db") as store:
        [delivery] = store.deliveries()
    assert delivery.state == "failed" and delivery.permanent is False  # the next run tries again


def test_an_unconfirmed_message_is_reported_unknown_and_sent_again_only_when_asked(
    write_portfolio: WritePortfolio, tmp_path: Path, env: dict[str, str], smtp_server_factory: Any
) -> None:
    server: SmtpTestServer = smtp_server_factory(reply_delay=6.0)
    manifest = write_portfolio(delivery_manifest(1, audit_mailbox=None))
    url = f"{server.url()}?timeout=3"  # the server answers the final dot later than the client waits
    done = cli("run", str(manifest), "--no-pdf", "--reports", "ceo", "--mailer", url, cwd=tmp_path, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    said = " ".join((done.stdout + done.stderr).split())
    assert "1 unknown" in said and "may or may not have gone out" in said and "--resend-unknown" in said
    assert len(server.messages) == 1  # not retried: the server has it
    server.reply_delay = 0.0
    resent = cli("run", str(manifest), "--no-pdf", "--reports", "ceo", "--mailer", url, "--resend-unknown",
                 cwd=tmp_path, env=env)  # fmt: skip
    assert resent.returncode == 0, resent.stdout + resent.stderr
    first, second = (email.message_from_bytes(m.data, policy=email.policy.default) for m in server.messages)
    assert first["Message-ID"] == second["Message-ID"]  # a mail client shows the two copies as one message
