"""The commands of a deployment, in order, and running them: ``sam build`` (the worker's container image),
``sam deploy``, reading the stack's outputs, setting the table up as a store (``execintel store init``), syncing
the dashboard to its bucket and invalidating CloudFront's copy.

``sam build`` builds only the worker's image, with Docker, from the context folder ``execintel package`` wrote
(the template's ``Metadata``): it skips a function whose ``CodeUri`` is a zip (aws-sam-cli #2737), so the api and
sns functions keep ``api.zip`` as ``execintel package`` built it for Lambda (Linux x86_64 wheels for Python 3.12),
and its template points at that zip unchanged. ``sam deploy --resolve-image-repos`` pushes the image to an ECR
repository SAM manages; ``--resolve-s3`` uploads the zip to SAM's bucket. A command that fails stops the
deployment with its output shown.
"""

from __future__ import annotations

import itertools
import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from execintel.deployment.validate import DeployError

# The outputs of the stack that later commands need, written as placeholders until the stack exists.
NEEDED_OUTPUTS = ("TableName", "DashboardBucketName", "DistributionId")
INSTALL = {
    "sam": "install the AWS SAM CLI: https://docs.aws.amazon.com/serverless-application-model/latest/"
           "developerguide/install-sam-cli.html (or: pip install aws-sam-cli)",
    "aws": "install the AWS CLI: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html "
           "(or: pip install awscli)",
    "docker": "the worker function is a container image, which `sam build` builds with a Docker engine: install "
              "Docker (https://docs.docker.com/get-docker/) and start it",
}  # fmt: skip
TOOLS = ("sam", "aws", "docker")


def dashboard_folder() -> Path:
    """The dashboard's static files, as shipped with execintel."""
    return Path(str(resources.files("execintel.web").joinpath("static")))


@dataclass(frozen=True)
class Plan:
    """What to deploy, and where."""

    template: Path
    stack: str
    region: str
    parameters: Mapping[str, str]
    dashboard: Path = field(default_factory=dashboard_folder)


def built_template(plan: Plan) -> Path:
    """Where ``sam build`` writes the template ``sam deploy`` sends: beside the rendered one, in the build folder."""
    return plan.template.parent / ".aws-sam" / "build" / "template.yaml"


def build_command(plan: Plan) -> list[str]:
    """``sam build`` of the rendered template: the worker's image (Docker); the zip functions are left as they are."""
    return ["sam", "build", "--template-file", str(plan.template), "--build-dir", str(built_template(plan).parent)]


def deploy_command(plan: Plan) -> list[str]:
    """``sam deploy`` of the built template (the image pushed to an ECR repository SAM manages, the zip uploaded to
    SAM's managed bucket)."""
    overrides = [f"{key}={value}" for key, value in plan.parameters.items()]
    return ["sam", "deploy", "--template-file", str(built_template(plan)), "--stack-name", plan.stack,
            "--region", plan.region, "--capabilities", "CAPABILITY_IAM", "--resolve-s3", "--resolve-image-repos",
            "--no-confirm-changeset", "--no-fail-on-empty-changeset",
            *(["--parameter-overrides", *overrides] if overrides else [])]  # fmt: skip


def outputs_command(plan: Plan) -> list[str]:
    """Read the stack's outputs as JSON."""
    return ["aws", "cloudformation", "describe-stacks", "--stack-name", plan.stack, "--region", plan.region,
            "--query", "Stacks[0].Outputs", "--output", "json"]  # fmt: skip


def store_init_command(plan: Plan, outputs: Mapping[str, str]) -> list[str]:
    """Set the stack's table up as an execintel store (its identity; the functions refuse a table without one).

    Run by this very interpreter, so the execintel that deploys is the one that sets up; ``env`` passes the region
    in a way the printed command keeps."""
    return ["env", f"AWS_REGION={plan.region}", sys.executable, "-m", "execintel", "store", "init",
            "--store", f"dynamodb://{outputs['TableName']}"]  # fmt: skip


def sync_command(plan: Plan, outputs: Mapping[str, str]) -> list[str]:
    """Copy the dashboard's files to ``static/`` of its bucket, where its page asks for them as the local app
    serves them (``/static/app.js``), and remove the files an older version had."""
    bucket = outputs["DashboardBucketName"]
    return ["aws", "s3", "sync", f"{plan.dashboard}/", f"s3://{bucket}/static/", "--delete", "--region", plan.region]


def index_command(plan: Plan, outputs: Mapping[str, str]) -> list[str]:
    """Copy the dashboard's page to the bucket's root (the distribution's default root object), after the files
    it loads are in place."""
    bucket = outputs["DashboardBucketName"]
    return ["aws", "s3", "cp", f"{plan.dashboard}/index.html", f"s3://{bucket}/index.html", "--region", plan.region]


def invalidation_command(outputs: Mapping[str, str]) -> list[str]:
    """Make CloudFront fetch the new dashboard files (the API is never cached)."""
    return ["aws", "cloudfront", "create-invalidation", "--distribution-id", outputs["DistributionId"],
            "--paths", "/*"]  # fmt: skip


def placeholders() -> dict[str, str]:
    """The outputs as they appear in a dry run, before the stack exists."""
    return {name: f"<{name}>" for name in NEEDED_OUTPUTS}


def dry_run(plan: Plan) -> list[str]:
    """The commands a deployment runs, shell-quoted, one per line."""
    shown = placeholders()
    commands = [build_command(plan), deploy_command(plan), outputs_command(plan), store_init_command(plan, shown),
                sync_command(plan, shown), index_command(plan, shown), invalidation_command(shown)]  # fmt: skip
    return [shlex.join(c) for c in commands]


def require_tools(names: Sequence[str] = TOOLS) -> None:
    """Every command line tool the deployment runs is installed; a DeployError naming the first that is not."""
    for name in names:
        if shutil.which(name) is None:
            raise DeployError(f"The `{name}` command is not installed or not on PATH; {INSTALL[name]}")


def parse_outputs(text: str, stack: str) -> dict[str, str]:
    """The stack's outputs by key, from ``describe-stacks --query Stacks[0].Outputs``; the needed ones checked."""
    try:
        listed = json.loads(text)
        outputs = {str(o["OutputKey"]): str(o["OutputValue"]) for o in listed or []}
    except (ValueError, TypeError, KeyError) as exc:
        problem = f"The outputs of stack {stack!r} are not what execintel expects ({exc}): {text[:500]}"
        raise DeployError(problem) from None
    missing = [name for name in NEEDED_OUTPUTS if name not in outputs]
    if missing:
        raise DeployError(f"The stack {stack!r} has no output {', '.join(missing)}: was it deployed from "
                          "execintel's template?")  # fmt: skip
    return outputs


Echo = Callable[[str], None]


def _label(argv: list[str]) -> str:
    """A command's first words as a user knows it: ``sam deploy``, ``execintel store init`` (not env, a python path)."""
    words = argv
    if words[:1] == ["env"]:
        words = words[1:]
        while words and "=" in words[0]:  # the variables env sets
            words = words[1:]
    if words[1:2] == ["-m"]:
        words = words[2:]
    shown = list(itertools.takewhile(lambda word: not word.startswith("-"), words[:3]))  # up to the first option
    return shlex.join(shown)


def run_command(argv: list[str], echo: Echo, *, capture: bool = False) -> str:
    """Run one command (its output shown as it comes, or captured); a DeployError when it fails."""
    echo(f"$ {shlex.join(argv)}")
    try:
        done = subprocess.run(argv, capture_output=capture, text=True, check=False)  # noqa: S603 - our own argv
    except OSError as exc:
        raise DeployError(f"`{argv[0]}` could not be started: {exc.strerror or exc}") from None
    if done.returncode != 0:
        shown = f":\n{(done.stdout or '') + (done.stderr or '')}".rstrip() if capture else " (its output is above)"
        raise DeployError(f"`{_label(argv)}` failed with exit status {done.returncode}{shown}")
    return done.stdout or ""


def run_plan(plan: Plan, echo: Echo) -> dict[str, str]:
    """Deploy: the worker's image, the stack, its outputs, the store's set-up, the dashboard files and the
    invalidation; stop at the first failure."""
    require_tools()
    run_command(build_command(plan), echo)
    run_command(deploy_command(plan), echo)
    outputs = parse_outputs(run_command(outputs_command(plan), echo, capture=True), plan.stack)
    run_command(store_init_command(plan, outputs), echo)
    run_command(sync_command(plan, outputs), echo)
    run_command(index_command(plan, outputs), echo)
    run_command(invalidation_command(outputs), echo)
    return outputs
