"""``execintel deploy`` and the SAM template: cron translation, rendering, cfn-lint, the commands and their order."""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
import sys
import zipfile
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from croniter import croniter

from conftest import AWS_TEST_ENV, WritePortfolio, base_manifest, cli
from execintel.config import Manifest, Settings
from execintel.deployment import CronTranslationError, render_template, to_eventbridge
from execintel.deployment.template import load_template
from execintel.deployment.validate import LINT, DeployError, check_context
from execintel.packaging import IMAGE_DIR, build_image_context
from execintel.packaging.image import DOCKERFILE
from execintel.pipeline import open_portfolio
from execintel.store import open_store
from execintel.web.http import APP_CSP

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "deploy" / "template.yaml"
STATIC = ROOT / "src" / "execintel" / "web" / "static"

# Schedules of several shapes, in a zone other than the demo's: the rendering cfn-lint checks besides the demo's.
MULTI_SCHEDULES = [
    {"id": "daily-ops", "cron": "0 7 * * *", "reports": ["daily"]},
    {"id": "weekday-cash", "cron": "30 6 * * 1-5", "reports": ["cfo"], "retry": {"attempts": 7}},
    {"id": "month-end", "cron": "0 18 L * *", "reports": ["accounting"]},
    {"id": "second-monday", "cron": "0 9 * * mon#2", "reports": ["ceo"]},
    {"id": "quarterly", "cron": "0 8 1 jan,apr,jul,oct *", "reports": ["ceo", "cfo"]},
]


def multi_manifest() -> dict[str, Any]:
    """A manifest with the schedules above, in Berlin, whose entities read events from two DynamoDB tables."""
    manifest = base_manifest(schedules=MULTI_SCHEDULES, entities=[
        {"id": "qosd", "name": "Queen of San Diego", "events": "dynamodb:qosd-events"},
        {"id": "shop", "name": "Shop", "events": "dynamodb:shop-events"},
    ])  # fmt: skip
    manifest["portfolio"]["timezone"] = "Europe/Berlin"
    return manifest


# --- cron translation ------------------------------------------------------------------------------------------------

CASES = [
    ("0 7 * * *", "cron(0 7 * * ? *)"),
    ("0 7 * * MON", "cron(0 7 ? * MON *)"),
    ("0 8 1 * *", "cron(0 8 1 * ? *)"),
    ("*/15 9-17 * * 1-5", "cron(0/15 9-17 ? * MON-FRI *)"),
    ("0 7 * * 0", "cron(0 7 ? * SUN *)"),  # croniter's Sunday is 0 (or 7), EventBridge's is 1: names avoid both
    ("0 7 * * 7", "cron(0 7 ? * SUN *)"),
    ("0 7 * * 5-7", "cron(0 7 ? * SUN,FRI,SAT *)"),
    ("0 7 * * 6-2", "cron(0 7 ? * SUN-TUE,SAT *)"),
    ("0 7 * * sun-sat", "cron(0 7 * * ? *)"),
    ("0 7 L * *", "cron(0 7 L * ? *)"),
    ("0 7 15W * *", "cron(0 7 15W * ? *)"),
    ("0 7 */2 * *", "cron(0 7 1/2 * ? *)"),
    ("10-50/10 * * * *", "cron(10/10 * * * ? *)"),
    ("15,45 6,18 * * *", "cron(15,45 6,18 * * ? *)"),
    ("0 9 * * mon#2", "cron(0 9 ? * 2#2 *)"),  # the nth weekday by number, as AWS documents it
    ("0 9 * * 0#1", "cron(0 9 ? * 1#1 *)"),
    ("0 8 1 jan,apr,jul,oct *", "cron(0 8 1 1/3 ? *)"),  # every third month from January
    ("0 8 1 1-3 *", "cron(0 8 1 1-3 ? *)"),
]


def _back_to_croniter(expression: str) -> str:
    """An EventBridge expression (of the forms the translation writes) in croniter's dialect, to compare times."""
    minute, hour, dom, month, dow, _year = expression.removeprefix("cron(").removesuffix(")").split()
    highs = {0: 59, 1: 23, 2: 31, 3: 12}
    fields = [minute, hour, dom, month]
    for i, field in enumerate(fields):
        if "/" in field:
            start, step = field.split("/")
            fields[i] = f"{start}-{highs[i]}/{step}"
    fields[2] = "*" if fields[2] == "?" else fields[2]
    if "#" in dow:
        day, nth = dow.split("#")
        dow = f"{int(day) - 1}#{nth}"  # EventBridge counts weekdays from 1 (Sunday), croniter from 0
    return " ".join([*fields, "*" if dow == "?" else dow.lower()])


@pytest.mark.parametrize(("cron", "expected"), CASES)
def test_cron_translates_to_eventbridge_and_fires_at_the_same_times(cron: str, expected: str) -> None:
    """Each manifest cron becomes the EventBridge expression that fires at the same 40 next times."""
    translated = to_eventbridge(cron)
    assert translated == expected
    zone = zoneinfo.ZoneInfo("America/Los_Angeles")
    start = dt.datetime(2026, 3, 1, tzinfo=zone)  # across a daylight-saving change
    ours, theirs = croniter(cron, start), croniter(_back_to_croniter(translated), start)
    assert [ours.get_next(dt.datetime) for _ in range(40)] == [theirs.get_next(dt.datetime) for _ in range(40)]


@pytest.mark.parametrize(
    ("cron", "why"),
    [
        ("0 7 1 * MON", "restricts both the day of month and the day of week"),
        ("0 7 1,L * *", "mixes 'L' with other values"),
        ("0 7 * * L5", "no last weekday"),
        ("0 7 * * mon#1,mon#3", "several nth weekdays"),
        ("0 7 * *", "must have 5 fields"),
    ],
)
def test_untranslatable_cron_is_refused_with_the_reason(cron: str, why: str) -> None:
    """A cron EventBridge cannot express is refused, saying why, never translated into other times."""
    with pytest.raises(CronTranslationError, match=why):
        to_eventbridge(cron)


# --- the template ----------------------------------------------------------------------------------------------------


def _lint(path: Path) -> None:
    import subprocess

    done = subprocess.run([sys.executable, "-c", LINT, str(path)], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_committed_template_is_the_demo_rendering_and_lints_clean() -> None:
    """deploy/template.yaml is exactly what the demo portfolio renders today (no drift), and cfn-lint passes."""
    fresh = render_template(open_portfolio(None).manifest, where="portfolio.yaml", code_prefix="../build/")
    assert COMMITTED.read_text(encoding="utf-8") == fresh, (
        "deploy/template.yaml is stale: execintel deploy --template-only --out deploy/template.yaml"
    )
    _lint(COMMITTED)


def test_template_has_no_circular_dependency_after_the_sam_transform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What CloudFormation really gets (the template after SAM's transform, as sam deploy sends it) lints clean:
    cfn-lint alone checks the SAM resources by schema, so a dependency circle through the resources SAM generates
    (routes inside the API definition) would only show here."""
    pytest.importorskip("samtranslator")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the transform resolves the region's ARN partition
    from cfnlint.decode import decode
    from samtranslator.translator.transform import transform

    template, problems = decode(str(COMMITTED))
    assert not problems
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        # what sam build and sam deploy do: the image pushed to ECR, the zip uploaded to S3
        if resource["Properties"].get("PackageType") == "Image":
            resource["Properties"]["ImageUri"] = "111122223333.dkr.ecr.us-east-1.amazonaws.com/worker:python3.12"
        else:
            resource["Properties"]["CodeUri"] = "s3://sam-managed-bucket/code.zip"

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    transformed = transform(template, {"AWS::Region": "us-east-1"}, NoManagedPolicies())
    out = tmp_path / "transformed.json"
    out.write_text(json.dumps(transformed, default=str), encoding="utf-8")
    _lint(out)


def test_template_only_renders_every_schedule_in_the_portfolio_zone(
    write_portfolio: WritePortfolio, tmp_path: Path
) -> None:
    """--template-only writes a template with one schedule per manifest schedule, in the portfolio's time zone,
    delivering the contract's event to the worker."""
    path = write_portfolio(multi_manifest())
    out = tmp_path / "stack" / "template.yaml"
    done = cli("deploy", str(path), "--template-only", "--out", str(out), "--build", str(tmp_path / "build"),
               cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    template = load_template(out.read_text(encoding="utf-8"))
    schedules = {
        k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == "AWS::Scheduler::Schedule"
    }
    assert sorted(schedules) == ["ScheduleDailyOps", "ScheduleMonthEnd", "ScheduleQuarterly", "ScheduleSecondMonday",
                                 "ScheduleWeekdayCash"]  # fmt: skip
    cash = schedules["ScheduleWeekdayCash"]
    assert cash["ScheduleExpression"] == "cron(30 6 ? * MON-FRI *)"
    assert {p["ScheduleExpressionTimezone"] for p in schedules.values()} == {"Europe/Berlin"}
    assert {p["FlexibleTimeWindow"]["Mode"] for p in schedules.values()} == {"OFF"}
    assert cash["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 7
    assert cash["Target"]["Arn"] == {"Fn::GetAtt": ["WorkerFunction", "Arn"]}
    assert cash["Target"]["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert json.loads(cash["Target"]["Input"]) == {
        "detail-type": "Scheduled Event", "source": "execintel.scheduler", "time": "<aws.scheduler.scheduled-time>",
        "detail": {"schedule": "weekday-cash"},
    }  # fmt: skip
    # the worker may scan the manifest's event tables, and no others
    worker = {st["Sid"]: st for st in template["Resources"]["WorkerFunction"]["Properties"]["Policies"][0]["Statement"]}
    assert worker["ReadEventTables"]["Action"] == "dynamodb:Scan"
    assert [r["Fn::Sub"].rsplit(":", 1)[1] for r in worker["ReadEventTables"]["Resource"]] == [
        "table/qosd-events", "table/shop-events"]  # fmt: skip
    # SAM reads CodeUri from the template's folder: the zips of --build, wherever the template was written
    assert template["Resources"]["ApiFunction"]["Properties"]["CodeUri"] == "../build/api.zip"
    # cfn-lint checks this rendering in test_deploy_checks_lints_then_runs_the_commands_in_order (once: it is slow)


def test_schedule_ids_that_read_alike_get_their_own_resources() -> None:
    """Schedule ids that make the same CloudFormation name ("a-1b" and "a1b") still get one schedule each."""
    schedules = [{"id": "a-1b", "cron": "0 7 * * *", "reports": ["ceo"]}, {"id": "a1b", "cron": "0 8 * * *",
                 "reports": ["ceo"]}]  # fmt: skip
    manifest = Manifest.model_validate(base_manifest(schedules=schedules))
    resources = load_template(render_template(manifest, where="portfolio.yaml", code_prefix=""))["Resources"]
    inputs = {k: json.loads(v["Properties"]["Target"]["Input"])["detail"]["schedule"]
              for k, v in resources.items() if v["Type"] == "AWS::Scheduler::Schedule"}  # fmt: skip
    assert inputs == {"ScheduleA1b": "a-1b", "ScheduleA1b2": "a1b"}


def test_untranslatable_schedules_are_named_and_nothing_is_written(
    write_portfolio: WritePortfolio, tmp_path: Path
) -> None:
    """Every schedule EventBridge cannot run is named with its key and cron (exit 2, no traceback, no file)."""
    schedules = [*MULTI_SCHEDULES[:1], {"id": "first-or-monday", "cron": "0 7 1 * MON", "reports": ["ceo"]},
                 {"id": "last-friday", "cron": "0 7 * * L5", "reports": ["ceo"]}]  # fmt: skip
    path = write_portfolio(base_manifest(schedules=schedules))
    out = tmp_path / "template.yaml"
    done = cli("deploy", str(path), "--template-only", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "schedules[1].cron: schedule 'first-or-monday': cron '0 7 1 * MON' cannot be deployed" in done.stderr
    assert "schedules[2].cron: schedule 'last-friday'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_least_privilege_and_environment_of_the_functions() -> None:
    """The api may invoke only the worker and read only runs/* of the reports bucket; no function is granted
    a "*" resource; the environment carries the contract's variables."""
    resources = load_template(COMMITTED.read_text(encoding="utf-8"))["Resources"]
    api = resources["ApiFunction"]["Properties"]
    statements = {s["Sid"]: s for s in api["Policies"][0]["Statement"]}
    assert statements["StartRuns"]["Resource"] == "WorkerFunction.Arn"  # !GetAtt, read as its plain value
    assert statements["ReadReports"] == {"Sid": "ReadReports", "Effect": "Allow", "Action": "s3:GetObject",
                                         "Resource": "${ReportsBucket.Arn}/runs/*"}  # fmt: skip
    for sid in ("SendSignInLinks",):  # SES v2 SendEmail with raw content is authorised as ses:SendRawEmail
        assert statements[sid]["Action"] == ["ses:SendEmail", "ses:SendRawEmail"]
        assert statements[sid]["Condition"] == {"StringEquals": {"ses:FromAddress": "SenderAddress"}}
    for name in ("ApiFunction", "WorkerFunction", "SnsFunction"):
        for statement in resources[name]["Properties"]["Policies"][0]["Statement"]:
            assert "*" not in json.dumps(statement["Resource"]).replace("/*", ""), (name, statement)
    assert set(api["Environment"]["Variables"]) == {
        "EXECINTEL_PORTFOLIO", "EXECINTEL_STORE", "EXECINTEL_MAILER", "EXECINTEL_BASE_URL",
        "EXECINTEL_JWT_SECRET_ARN", "EXECINTEL_WORKER_FUNCTION", "EXECINTEL_REPORTS_BUCKET",
    }  # fmt: skip
    worker = resources["WorkerFunction"]["Properties"]
    assert set(worker["Environment"]["Variables"]) == {
        "EXECINTEL_PORTFOLIO", "EXECINTEL_STORE", "EXECINTEL_MAILER", "EXECINTEL_DATA_DIR", "EXECINTEL_OUT",
        "EXECINTEL_REPORTS_BUCKET",
    }  # fmt: skip
    assert worker["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"] == "DeadLetterQueue.Arn"
    table = resources["Table"]["Properties"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]  # execintel.store.dynamodb's key
    assert table["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}


def test_the_worker_is_a_container_image_built_from_the_package_context() -> None:
    """The worker (332 MB of code, over Lambda's 250 MB zip limit) is an image SAM builds from the context folder
    execintel package writes; it has no zip code, handler or runtime (SAM refuses an image function with them,
    Globals included), while the api and sns functions stay python3.12 zips; everything is x86_64."""
    template = load_template(COMMITTED.read_text(encoding="utf-8"))
    worker = template["Resources"]["WorkerFunction"]
    assert worker["Properties"]["PackageType"] == "Image"
    assert not {"CodeUri", "Handler", "Runtime", "Layers"} & set(worker["Properties"])
    assert "Runtime" not in template["Globals"]["Function"]
    assert template["Globals"]["Function"]["Architectures"] == ["x86_64"]
    metadata = worker["Metadata"]
    assert metadata["Dockerfile"] == DOCKERFILE and metadata["DockerTag"]
    # relative to the template's folder: deploy/../build/worker-image, where `execintel package --out build` writes
    assert (COMMITTED.parent / metadata["DockerContext"]).resolve() == (ROOT / "build" / IMAGE_DIR).resolve()
    for name in ("ApiFunction", "SnsFunction"):
        properties = template["Resources"][name]["Properties"]
        assert (properties["Runtime"], properties["CodeUri"]) == ("python3.12", "../build/api.zip")


def test_buckets_are_private_and_only_the_distribution_reads_the_dashboard() -> None:
    """Both buckets block every kind of public access and refuse plain HTTP; the dashboard's files can be read by
    this stack's CloudFront distribution only (Origin Access Control)."""
    resources = load_template(COMMITTED.read_text(encoding="utf-8"))["Resources"]
    for bucket in ("DashboardBucket", "ReportsBucket"):
        block = resources[bucket]["Properties"]["PublicAccessBlockConfiguration"]
        assert block == {"BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
                         "RestrictPublicBuckets": True}  # fmt: skip
    [allow, tls] = resources["DashboardBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"} and allow["Action"] == "s3:GetObject"
    assert allow["Condition"]["StringEquals"]["AWS:SourceArn"].endswith(":distribution/${Distribution}")
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": False}}
    origin = resources["Distribution"]["Properties"]["DistributionConfig"]["Origins"][0]
    assert origin["OriginAccessControlId"] == "DashboardOriginAccessControl.Id"


def test_dashboard_gets_the_security_headers_the_local_app_sends() -> None:
    """The dashboard's files come from S3, which sends no security headers: CloudFront adds the ones execintel
    serve sends (the same Content-Security-Policy, no framing, same-origin referrer, HSTS)."""
    resources = load_template(COMMITTED.read_text(encoding="utf-8"))["Resources"]
    config = resources["DashboardHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert config["ContentSecurityPolicy"]["ContentSecurityPolicy"] == APP_CSP
    assert config["FrameOptions"]["FrameOption"] == "DENY"
    assert config["ReferrerPolicy"]["ReferrerPolicy"] == "same-origin"
    assert config["StrictTransportSecurity"]["AccessControlMaxAgeSec"] == 31536000
    behaviour = resources["Distribution"]["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]
    assert behaviour["ResponseHeadersPolicyId"] == "DashboardHeaders"


# --- the commands ----------------------------------------------------------------------------------------------------


def test_dry_run_prints_exactly_the_commands_and_does_nothing(tmp_path: Path) -> None:
    """--dry-run prints the commands, shell-quoted, outputs as placeholders: sam build (the worker's image) first,
    then sam deploy of the template it built, pushing the image to SAM's ECR repository; it writes and runs
    nothing."""
    done = cli("deploy", "--dry-run", "--stack", "acme-reports", "--region", "eu-west-1",
               "--parameter", "AlarmEmail=ops@example.com", "--parameter", "WebAclArn=arn:aws:wafv2:us-east-1:111122223333:global/webacl/x/1",
               cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    sender = open_portfolio(None).manifest.sender
    static = Path(str(__import__("execintel.web", fromlist=["x"]).__file__)).parent / "static"
    assert done.stdout.splitlines() == [
        "sam build --template-file build/template.yaml --build-dir build/.aws-sam/build",
        "sam deploy --template-file build/.aws-sam/build/template.yaml --stack-name acme-reports --region eu-west-1 "
        "--capabilities CAPABILITY_IAM --resolve-s3 --resolve-image-repos --no-confirm-changeset "
        "--no-fail-on-empty-changeset "
        f"--parameter-overrides SenderAddress={sender} AlarmEmail=ops@example.com "
        "WebAclArn=arn:aws:wafv2:us-east-1:111122223333:global/webacl/x/1",
        "aws cloudformation describe-stacks --stack-name acme-reports --region eu-west-1 "
        "--query 'Stacks[0].Outputs' --output json",
        f"env AWS_REGION=eu-west-1 {shlex.quote(sys.executable)} -m execintel store init --store 'dynamodb://<TableName>'",
        f"aws s3 sync {shlex.quote(f'{static}/')} 's3://<DashboardBucketName>/static/' --delete --region eu-west-1",
        f"aws s3 cp {shlex.quote(f'{static}/index.html')} 's3://<DashboardBucketName>/index.html' --region eu-west-1",
        "aws cloudfront create-invalidation --distribution-id '<DistributionId>' --paths '/*'",
    ]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--parameter", "Nope=1"], "'Nope' is not a parameter of the template"),
        (["--parameter", "WebAclArn"], "'WebAclArn' is not KEY=VALUE"),
        (["--stack", "9lives"], "'9lives' is not a stack name"),
        (["--parameter", "AlarmEmail=ops team@example.com"], "the value holds a space"),
    ],
)
def test_bad_options_are_named(tmp_path: Path, args: list[str], message: str) -> None:
    """A bad option is a sentence naming it and its value, exit 2, no traceback."""
    done = cli("deploy", "--dry-run", "--region", "eu-west-1", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


FAKE = """#!/bin/sh
printf '%s\\n' "$(basename "$0") $*" >> "$FAKE_LOG"
case "$(basename "$0") $1 $2" in
  "$FAKE_FAIL"*) echo "boom from $(basename "$0") $1" >&2; exit 3;;
esac
if [ "$1 $2" = "cloudformation describe-stacks" ]; then
  printf '[{"OutputKey":"DashboardBucketName","OutputValue":"dash-bucket"},
{"OutputKey":"DistributionId","OutputValue":"E2EXAMPLE"},
{"OutputKey":"TableName","OutputValue":"%s"},
{"OutputKey":"DashboardUrl","OutputValue":"https://d111.cloudfront.net"}]' "${FAKE_TABLE:-acme-Table-X1}"
fi
"""


def _stub_zip(path: Path, manifest: Path, files: dict[str, str] | None = None) -> None:
    """A tiny stand-in for a built zip: an execintel package whose api handler imports, and the manifest."""
    stub = {"execintel/__init__.py": "", "execintel/aws/__init__.py": "",
            "execintel/aws/api.py": "def handler(event, context):\n    return {}\n", **(files or {})}  # fmt: skip
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in stub.items():
            archive.writestr(name, text)
        archive.writestr("portfolio/portfolio.yaml", manifest.read_bytes())


# a launcher that cannot find its interpreter, as a pyenv shim without a version selected
BROKEN_SHIM = "#!/bin/sh\necho 'pyenv: python3.12: command not found' >&2\nexit 127\n"


TOOLS = ("sam", "aws", "docker")


def _fake_tools(tmp_path: Path, tools: tuple[str, ...] = TOOLS, *, shim: bool = False) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in tools:
        (folder / name).write_text(FAKE, encoding="utf-8")
        (folder / name).chmod(0o755)
    if shim:
        (folder / "python3.12").write_text(BROKEN_SHIM, encoding="utf-8")
        (folder / "python3.12").chmod(0o755)
    else:  # the import check runs the Lambda's Python; the stub imports on this one just as well
        (folder / "python3.12").symlink_to(sys.executable)
    return folder


def _deploy(tmp_path: Path, portfolio: Path, *args: str, fail: str = "-", tools: tuple[str, ...] = TOOLS,
            stale: bool = False, extra: dict[str, str] | None = None, endpoint: str = "http://127.0.0.1:9",
            shim: bool = False, table: str = "acme-Table-X1",
            spoil: Callable[[Path], None] | None = None) -> tuple[Any, list[str]]:  # fmt: skip
    build = tmp_path / "build"
    build.mkdir(exist_ok=True)
    other = tmp_path / "other" / portfolio.name
    other.parent.mkdir(exist_ok=True)
    other.write_text(portfolio.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    _stub_zip(build / "api.zip", other if stale else portfolio, extra)
    context = build_image_context(build, portfolio.parent)  # the real one: it takes a second, no pip
    if spoil is not None:
        spoil(context.path)
    log = tmp_path / "calls.log"
    env = {
        "PATH": f"{_fake_tools(tmp_path, tools, shim=shim)}:/usr/bin:/bin",
        "FAKE_LOG": str(log),
        "FAKE_FAIL": fail,
        "FAKE_TABLE": table,
        **AWS_TEST_ENV,
        "AWS_ENDPOINT_URL": endpoint,
    }  # fmt: skip - a store in moto, never AWS
    done = cli("deploy", str(portfolio), "--build", str(build), "--stack", "acme", "--region", "us-east-1", *args,
               cwd=tmp_path, env=env)  # fmt: skip
    calls = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return done, [" ".join(c.split()[:3]) for c in calls]


@pytest.fixture
def portfolio(write_portfolio: WritePortfolio) -> Path:
    """A portfolio with schedules of several shapes, in Berlin, reading events from DynamoDB tables."""
    return write_portfolio(multi_manifest())


def test_deploy_checks_lints_then_runs_the_commands_in_order(
    tmp_path: Path, portfolio: Path, moto_endpoint: str
) -> None:
    """A deployment checks the build, renders and lints BUILD/template.yaml (cfn-lint passes on this rendering of
    several schedules), then runs sam deploy, reads the outputs, sets the stack's table up as a store, syncs the
    dashboard to the bucket the stack made and invalidates the distribution it made."""
    done, calls = _deploy(tmp_path, portfolio, endpoint=moto_endpoint)
    assert done.returncode == 0, done.stderr
    assert calls == ["sam build --template-file", "sam deploy --template-file", "aws cloudformation describe-stacks",
                     "aws s3 sync", "aws s3 cp", "aws cloudfront create-invalidation"]  # fmt: skip
    log = (tmp_path / "calls.log").read_text(encoding="utf-8")
    built = f"{tmp_path}/build/.aws-sam/build"
    assert f"sam build --template-file {tmp_path}/build/template.yaml --build-dir {built}\n" in log
    # sam deploy sends what sam build wrote (the image's URI in it), pushing the image to SAM's ECR repository
    assert f"--template-file {built}/template.yaml --stack-name acme --region us-east-1" in log
    assert "--resolve-s3 --resolve-image-repos" in log
    assert "SenderAddress=reports@example.com" in log
    # the page asks for /static/app.js as the local app serves it; the page itself is the root object
    assert f"{STATIC}/ s3://dash-bucket/static/ --delete" in log
    assert f"{STATIC}/index.html s3://dash-bucket/index.html" in log
    assert "--distribution-id E2EXAMPLE --paths /*" in log
    assert "https://d111.cloudfront.net" in done.stdout
    # the functions refuse a table that is not set up as a store: the deployment set it up (here in moto)
    settings = Settings(aws_endpoint_url=moto_endpoint, aws_region="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")  # fmt: skip
    opened = open_store("dynamodb://acme-Table-X1", settings, mode="read")
    try:
        assert opened.identity()[0] is not None
    finally:
        opened.close()
    rendered = load_template((tmp_path / "build" / "template.yaml").read_text(encoding="utf-8"))
    # sam build reads the worker's context beside the template, in the build folder
    assert rendered["Resources"]["WorkerFunction"]["Metadata"]["DockerContext"] == "worker-image"
    assert rendered["Resources"]["ApiFunction"]["Properties"]["CodeUri"] == "api.zip"
    assert "Linting" in done.stderr  # and cfn-lint found nothing (else the deployment stops before sam)
    assert len([r for r in rendered["Resources"].values() if r["Type"] == "AWS::Scheduler::Schedule"]) == 5


@pytest.mark.parametrize("case", [("sam build", 1, "boom from sam build"),
                                  ("sam deploy", 2, "boom from sam deploy"),
                                  ("execintel store init", 3, "names no valid DynamoDB table"),
                                  ("aws s3 sync", 4, "boom from aws s3")], ids=lambda case: case[0])  # fmt: skip
def test_deploy_stops_at_the_first_failing_command(
    tmp_path: Path, portfolio: Path, moto_endpoint: str, case: tuple[str, int, str]
) -> None:
    """The first command that fails stops the deployment: its output is shown, nothing after it runs, exit 1."""
    fail, ran, said = case
    done, calls = _deploy(tmp_path, portfolio, "--no-lint", fail=fail, endpoint=moto_endpoint,
                          table="x" if fail.startswith("execintel") else "acme-Table-X1")  # fmt: skip
    assert done.returncode == 1
    assert len(calls) == ran  # the fake sam and aws calls: none after the failure
    assert said in done.stdout + done.stderr
    assert f"`{fail}` failed with exit status" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tools": ("aws", "docker")}, "The `sam` command is not installed or not on PATH; install the AWS SAM CLI"),
        (
            {"tools": ("sam", "aws")},
            "The `docker` command is not installed or not on PATH; the worker function is a container image, which "
            "`sam build` builds with a Docker engine",
        ),
        (
            {"spoil": lambda c: (c / "portfolio" / "portfolio.yaml").write_text("version: 1\n")},
            "worker-image was built from another version of",
        ),
        ({"stale": True}, "was built from another version of"),
        ({"extra": {"execintel/broken.py": "def f(:\n"}}, "api.zip/execintel/broken.py does not compile"),
        (
            {"extra": {"execintel/aws/api.py": "import nowhere_to_be_found\n"}},
            "ModuleNotFoundError: No module named 'nowhere_to_be_found'\nError: execintel.aws.api does not import",
        ),
        ({"shim": True}, "pyenv: python3.12: command not found\nError: "),  # the launcher's own words, then ours
        (  # it imports, but a broken configuration would make every request a 503: refused as well
            {
                "extra": {
                    "execintel/aws/api.py": "import types\n_instance = types.SimpleNamespace(error="
                    "'RuntimeError: no job queue in this build')\ndef handler(event, context):\n    return {}\n"
                }
            },
            "the handler would answer 503: RuntimeError: no job queue in this build",
        ),
    ],
)
def test_deploy_refuses_a_bad_build_or_missing_tool_before_any_command(
    tmp_path: Path, portfolio: Path, options: dict[str, Any], message: str
) -> None:
    """A build that does not compile, import or match the manifest, or a missing CLI, stops before AWS is touched."""
    done, calls = _deploy(tmp_path, portfolio, "--no-lint", **options)
    assert done.returncode == 1
    assert message in done.stderr
    assert calls == []
    assert "Internal error" not in done.stderr
    assert "execintel/deployment/" not in done.stderr  # the import's own error is shown, never a trace of deploy


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda c: (c / "constraints.txt").unlink(), "lacks constraints.txt, which its Dockerfile copies"),
        (lambda c: (c / "Dockerfile").unlink(), "holds no Dockerfile"),
        (
            lambda c: (c / "portfolio" / "repos.env").write_text("AWS_SECRET_ACCESS_KEY=x\n"),
            "holds settings files (repos.env), which may hold credentials and never go into an image",
        ),
        (
            lambda c: (c / "src" / "execintel" / "broken.py").write_text("def f(:\n"),
            "worker-image/src/execintel/broken.py does not compile",
        ),
    ],
    ids=["copy-source", "dockerfile", "settings", "compile"],
)
def test_an_image_context_sam_build_would_build_wrong_is_refused(
    tmp_path: Path, portfolio: Path, spoil: Callable[[Path], None], message: str
) -> None:
    """An image context that misses a file its Dockerfile copies, holds a settings file or a module that does not
    compile is refused with what is wrong and the command that builds it again (the CLI shows it as the stale case
    above shows it)."""
    context = build_image_context(tmp_path, portfolio.parent).path
    check_context(context, portfolio)  # as built: accepted
    spoil(context)
    with pytest.raises(DeployError, match=re.escape(message)) as raised:
        check_context(context, portfolio)
    assert f"execintel package --portfolio {portfolio.parent} --out {tmp_path}" in str(raised.value)


def test_deploy_without_a_build_says_how_to_make_one(tmp_path: Path, portfolio: Path) -> None:
    """No api.zip/worker-image: the --build folder is named with the command that builds them."""
    done = cli("deploy", str(portfolio), "--build", "nowhere", "--region", "us-east-1", cwd=tmp_path)
    assert done.returncode == 2
    assert "--build: 'nowhere' holds no api.zip and no worker-image/; build them first: execintel package" in (
        done.stderr
    )
