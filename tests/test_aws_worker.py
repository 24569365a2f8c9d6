"""The worker and sns Lambdas end to end against the moto server: the demo's weekly schedule delivered once per
stakeholder and report through SES, audited in DynamoDB, uploaded to S3, not sent again when the same event comes
twice; an SES bounce through the sns handler suppresses the address on the next run."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aws_helpers import EVENTS, SES_SAMPLES, aws_client, lambda_env, parsed, ses_sent
from execintel.aws import sns, worker
from execintel.aws.events import ScheduleEvent, parse_event
from execintel.aws.reports import fetch_previous
from execintel.config.settings import Settings
from execintel.delivery.compose import DELIVERY_HEADER
from execintel.delivery.plan import period_of, plan, schedule_tick
from execintel.demo import demo_portfolio
from execintel.store import RunRecord, open_store

TABLE = "execintel-worker-test"
BUCKET = "execintel-reports-test"
SCHEDULE = "weekly-strategy"
TICK = "2026-11-16T15:00:00Z"  # Monday 07:00 in Los Angeles: a tick of the weekly schedule


def scheduler_event(schedule: str, time: str = TICK, *, detail_as_text: bool = False) -> dict[str, Any]:
    """What the SAM template's EventBridge Scheduler schedule sends the worker."""
    detail: Any = {"schedule": schedule}
    return {"detail-type": "Scheduled Event", "source": "execintel.scheduler", "time": time,
            "detail": json.dumps(detail) if detail_as_text else detail}  # fmt: skip


@pytest.fixture(scope="module")
def aws(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The worker's environment over the demo portfolio; each test module is one fresh Lambda instance."""
    tmp = tmp_path_factory.mktemp("aws-worker")
    with lambda_env(moto_endpoint, tmp, TABLE, EXECINTEL_PORTFOLIO=str(demo_portfolio().parent),
                    EXECINTEL_REPORTS_BUCKET=BUCKET, EXECINTEL_PDF="false") as env:  # fmt: skip
        aws_client("s3", moto_endpoint).create_bucket(Bucket=BUCKET)
        worker.reset()
        sns.reset()
        yield env
        worker.reset()
        sns.reset()


def expected() -> dict[str, str]:
    """Delivery key -> recipient of the weekly schedule's tick, from the manifest (one per stakeholder and role)."""
    from execintel.config import load_portfolio

    manifest = load_portfolio(demo_portfolio()).manifest
    [schedule] = [s for s in manifest.schedules if s.id == SCHEDULE]
    tick = schedule_tick(schedule, manifest.portfolio.timezone, dt.datetime.fromisoformat(TICK))
    planned, _ = plan(manifest, list(schedule.reports), schedule=schedule, period=period_of(tick))
    return {p.key: p.recipient for p in planned}


def test_the_demo_weekly_schedule_on_the_emulator_goes_out_once_and_a_bounce_suppresses_its_address(
    aws: dict[str, str], tmp_path: Path
) -> None:
    # One test, so that one worker of pytest-xdist makes the demo's run (the costly part) once, in this order.
    before = len(ses_sent())
    answer = worker.handler(scheduler_event(SCHEDULE), None)
    messages = ses_sent()[before:]
    assert answer["status"] == "ok", answer
    answer_has_one_message_per_stakeholder_and_report(answer, messages)
    run_is_audited_in_dynamodb_and_its_files_are_in_the_bucket(aws, answer["run_id"])
    a_new_instance_gets_the_previous_reports_from_the_bucket(aws, answer["run_id"], tmp_path / "fresh-out")
    same_event_again_sends_nothing_more()
    bounce_through_the_sns_handler_suppresses_the_address_on_the_next_run(messages)


def answer_has_one_message_per_stakeholder_and_report(answer: dict[str, Any], messages: list[Any]) -> None:
    """SES got exactly one message per planned delivery key, to that key's recipient."""
    wanted = expected()
    assert len(wanted) == 10  # five reports; each to its role and to the admin
    keys = [parsed(m)[DELIVERY_HEADER] for m in messages]
    assert sorted(keys) == sorted(wanted)  # each exactly once
    assert {parsed(m)[DELIVERY_HEADER]: parsed(m)["To"].addresses[0].addr_spec for m in messages} == wanted
    assert answer["deliveries"] == {"sent": 10}


def run_is_audited_in_dynamodb_and_its_files_are_in_the_bucket(aws: dict[str, str], run_id: str) -> None:
    """The run, its period (the event's tick) and its deliveries are in the table; its reports in the bucket."""
    store = open_store(None, Settings(), mode="read")
    try:
        run = store.get_run(run_id)
        assert run is not None and run.status == "ok" and run.schedule_id == SCHEDULE
        assert run.period == "2026-11-16T07:00"  # the period of the event's time, in the portfolio's time zone
        assert {d.key for d in store.deliveries(run_id=run_id) if d.state == "sent"} == set(expected())
        assert store.verify().ok
    finally:
        store.close()
    keys = {o["Key"] for o in aws_client("s3", aws["AWS_ENDPOINT_URL"]).list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert {f"runs/{run_id}/{r}.html" for r in ("ceo", "cto", "cfo", "cmo", "accounting")} <= keys


def a_new_instance_gets_the_previous_reports_from_the_bucket(aws: dict[str, str], run_id: str, out: Path) -> None:
    """An empty /tmp: the run's earlier JSON comes back from the bucket, and the run service accepts it (sha256)."""
    from execintel.config import load_portfolio
    from execintel.pipeline import previous_documents

    name = load_portfolio(demo_portfolio()).manifest.portfolio.name
    s3 = aws_client("s3", aws["AWS_ENDPOINT_URL"])
    with open_store(None, Settings(), mode="read") as store:
        fetched = fetch_previous(s3, BUCKET, store.report_history(name), ["ceo", "daily"], out)
        assert fetched == [f"runs/{run_id}/ceo.json"]  # no run built the daily digest: nothing to fetch
        assert fetch_previous(s3, BUCKET, store.report_history(name), ["ceo"], out) == []  # here already
        previous = previous_documents(store, name, out, exclude="this-run")("ceo")
    assert previous is not None and previous["report"] == "ceo"


def same_event_again_sends_nothing_more() -> None:
    """Lambda's retry, or EventBridge's second delivery, of the same event (detail as JSON text this time)."""
    before = len(ses_sent())
    worker.reset()  # on a fresh instance: an empty /tmp, so no store marker and no earlier files
    again = worker.handler(scheduler_event(SCHEDULE, detail_as_text=True), None)
    assert again["status"] == "nothing-to-do"
    assert len(ses_sent()) == before


def bounce_through_the_sns_handler_suppresses_the_address_on_the_next_run(messages: list[Any]) -> None:
    """An SES permanent bounce of the CFO's message, with SNS's test message beside it in the same event."""
    cfo = next(m for m in messages if parsed(m)["To"].addresses[0].addr_spec == "cfo@example.com")
    note = json.loads((SES_SAMPLES / "bounce-1.json").read_text())
    note["bounce"]["bouncedRecipients"] = [{**note["bounce"]["bouncedRecipients"][0], "emailAddress":
                                            "cfo@example.com"}]  # fmt: skip
    note["bounce"]["bounceType"] = "Permanent"
    note["mail"]["messageId"] = cfo.id
    event = json.loads((EVENTS / "snsEvent.json").read_text())
    record = copy.deepcopy(event["Records"][0])
    record["Sns"]["Message"] = json.dumps(note)
    event["Records"] = [record, event["Records"][0]]  # the bounce, then SNS's "Hello from SNS!"
    answer = sns.handler(event, None)
    assert answer["status"] == "ok"
    assert (answer["notifications"], answer["malformed"], answer["suppressed"], answer["deliveries_failed"]) == (
        1, 1, 1, 1)  # fmt: skip
    # the bounce failed the CFO's delivery, so the next run of the same tick has that one to do: it is suppressed
    before = len(ses_sent())
    nxt = worker.handler(scheduler_event(SCHEDULE), None)
    assert nxt["status"] == "ok" and nxt["deliveries"] == {"suppressed": 1}
    assert ses_sent()[before:] == []


def test_the_sns_sample_event_answers_cleanly(aws: dict[str, str]) -> None:
    answer = sns.handler(json.loads((EVENTS / "snsEvent.json").read_text()), None)
    assert answer == {"status": "ok", "records": 1, "notifications": 0, "malformed": 1, "suppressed": 0,
                      "deliveries_failed": 0, "events": 0}  # fmt: skip


def test_the_scheduled_rule_sample_of_an_unknown_schedule_is_ignored(aws: dict[str, str]) -> None:
    answer = worker.handler(json.loads((EVENTS / "scheduledEvent.json").read_text()), None)
    assert answer["status"] == "ignored" and "demoschedule" in answer["reason"]


@pytest.mark.parametrize("event", [None, [], {"job": "x"}, {"detail-type": "Other"},
                                   {"detail-type": "Scheduled Event", "source": "execintel.scheduler", "time": TICK,
                                    "detail": "{not json"},
                                   {"detail-type": "Scheduled Event", "source": "execintel.scheduler",
                                    "time": "yesterday", "detail": {"schedule": SCHEDULE}}])  # fmt: skip
def test_a_malformed_event_is_ignored_not_retried(aws: dict[str, str], event: Any) -> None:
    before = len(ses_sent())
    answer = worker.handler(event, None)
    assert answer["status"] == "ignored" and answer["reason"]
    assert len(ses_sent()) == before


def test_a_classic_rule_event_names_its_schedule_after_the_execintel_prefix() -> None:
    event = json.loads((EVENTS / "scheduledEvent.json").read_text())
    event["resources"] = [f"arn:aws:events:us-east-1:123456789012:rule/execintel-{SCHEDULE}"]
    parsed_event = parse_event(event)
    assert isinstance(parsed_event, ScheduleEvent) and parsed_event.schedule == SCHEDULE
    assert parsed_event.time == dt.datetime(2020, 9, 30, 15, 58, 34, tzinfo=dt.UTC)
    text = parse_event(scheduler_event(SCHEDULE, detail_as_text=True))
    assert isinstance(text, ScheduleEvent) and text.schedule == SCHEDULE


def test_a_new_instance_opens_a_table_with_history_without_a_marker(aws: dict[str, str], tmp_path: Path) -> None:
    # each Lambda instance starts with an empty /tmp: the store's history guard has no marker to compare
    warm = Settings(data_dir=tmp_path / "warm")
    with open_store(None, warm) as store:
        store.suppress("someone@example.org", "a test entry", source="test")
        assert store.identity()[1] > 0
    for data_dir in ("fresh", "warm"):  # a new instance, then the one that wrote its marker
        with open_store(None, Settings(data_dir=tmp_path / data_dir)) as store:
            assert store.identity()[1] > 0 and store.history_problem is None


def test_a_retried_job_whose_run_was_stopped_mid_way_is_recorded_interrupted_and_sends_nothing(
    aws: dict[str, str],
) -> None:
    # Lambda retries an invocation that timed out: its run id is in the store, unfinished, older than any invocation
    run_id = "20261116T150000Z-dead"
    store = open_store(None, Settings())
    try:
        store.start_run(RunRecord(run_id=run_id, portfolio="Demo", trigger="web:cfo@example.com", schedule_id=None,
                                  period="2026-11-15", started=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)))  # fmt: skip
    finally:
        store.close()
    before = len(ses_sent())
    answer = worker.handler({"job": {"run_id": run_id, "report": "cfo", "subject": "cfo@example.com"}}, None)
    assert answer["status"] == "ignored" and run_id in answer["reason"]
    assert len(ses_sent()) == before
    store = open_store(None, Settings(), mode="read")
    try:
        run = store.get_run(run_id)
        assert run is not None and run.status == "interrupted" and "stopped" in run.summary["error"]
    finally:
        store.close()


@pytest.mark.parametrize(
    "case",
    [({"sender": "reports@unverified.test"}, "unverified.test", True),  # refused by SES: after the run started
     ({"entities": [{"id": "qosd", "name": "Q", "ledger": "ledger.csv"}]}, "ledger.csv:2", False)],  # before it
)  # fmt: skip
def test_a_job_that_cannot_run_answers_failed_with_the_reason_and_its_run_says_why(
    aws: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: tuple[dict[str, Any], str, bool]
) -> None:  # fmt: skip
    change, said, recorded = case
    from web_helpers import web_manifest, write_web_portfolio

    portfolio = write_web_portfolio(tmp_path / "portfolio", web_manifest(**change))
    (portfolio.parent / "ledger.csv").write_text("date,account,amount\n2026-10-01,Income:Sales,lots\n")
    monkeypatch.setenv("EXECINTEL_PORTFOLIO", str(portfolio.parent))
    run_id = "20261116T150000Z-0bad" + ("1" if recorded else "2")
    worker.reset()  # an instance of a function deployed with this portfolio
    try:
        answer = worker.handler({"job": {"run_id": run_id, "report": "cfo", "subject": "cfo@example.com"}}, None)
    finally:
        worker.reset()
    assert answer["status"] == "failed" and said in answer["reason"]  # answered, not raised: no retries
    with open_store(None, Settings(), mode="read") as store:
        run = store.get_run(run_id)
    assert run is not None and run.status == "failed" and said in run.summary["error"]  # what the dashboard shows


def test_an_upload_that_fails_is_logged_not_raised_after_the_mail_went_out(
    aws: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from web_helpers import write_web_portfolio

    monkeypatch.setenv("EXECINTEL_PORTFOLIO", str(write_web_portfolio(tmp_path / "portfolio").parent))
    monkeypatch.setenv("EXECINTEL_REPORTS_BUCKET", "execintel-no-such-bucket")
    run_id = "20261116T150000Z-0b0e"
    before = len(ses_sent())
    worker.reset()
    try:
        with caplog.at_level(logging.ERROR, logger="execintel.aws"):
            answer = worker.handler({"job": {"run_id": run_id, "report": "cfo", "subject": "cfo@example.com"}}, None)
    finally:
        worker.reset()
    assert answer["status"] == "ok" and answer["uploaded"] == 0  # answered: a retry could neither send nor upload
    assert "worker.upload_failed" in caplog.text and "execintel-no-such-bucket" in caplog.text
    sent = answer["deliveries"]["sent"]  # the admin, and the CFO unless an earlier test's bounce suppressed them
    assert sent >= 1 and len(ses_sent()) == before + sent
