"""``execintel deploy``: check the build, render the SAM template for the portfolio and deploy it (docs/aws.md)."""

from __future__ import annotations

import os
import re
import sys
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from execintel.cli.common import AllowOutside, PathArg, PortfolioOpt, _open, _settings
from execintel.cli.console import err, out
from execintel.errors import ConfigError, Problem

STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")


def _parameters(given: list[str], sender: str) -> dict[str, str]:
    """The template's parameter overrides: the manifest's sender, then each ``--parameter KEY=VALUE``."""
    from execintel.deployment import template_parameters  # noqa: PLC0415

    known = template_parameters()
    chosen = {"SenderAddress": sender}
    for item in given:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(Problem("--parameter", f"{item!r} is not KEY=VALUE (e.g. WebAclArn=arn:aws:...)"))
        if key not in known:
            raise ConfigError(Problem("--parameter", f"{key!r} is not a parameter of the template; it has "
                                                     f"{', '.join(sorted(known))}"))  # fmt: skip
        if re.search(r'[\s"\'\\]', value):  # sam deploy would cut the value at a space, and no parameter takes one
            raise ConfigError(Problem("--parameter", f"{item!r}: the value holds a space, quote or backslash, which "
                                                     "no parameter of the template takes"))  # fmt: skip
        chosen[key] = value
    return chosen


def _relative_prefix(build: Path, template: Path) -> str:
    """The build folder as the template at ``template`` reaches it (SAM reads the api's CodeUri and the worker's
    DockerContext from there)."""
    relative = os.path.relpath(build.resolve(), template.resolve().parent)
    return "" if relative == "." else f"{Path(relative).as_posix()}/"


def _write(path: Path, text: str, option: str) -> None:
    from execintel.deployment.service import write_atomically  # noqa: PLC0415

    if path.is_dir():
        raise ConfigError(Problem(option, f"{str(path)!r} is a folder; give a file name such as template.yaml"))
    try:
        write_atomically(path, text)  # never a half-written template
    except OSError as exc:
        raise ConfigError(Problem(option, f"{str(path)!r} cannot be written: {exc.strerror or exc}")) from None


def deploy(
    ctx: typer.Context,
    path: PathArg = None,
    portfolio: PortfolioOpt = None,
    allow_outside: AllowOutside = False,
    stack: Annotated[str, typer.Option("--stack", help="The CloudFormation stack name.")] = "execintel",
    region: Annotated[
        str | None, typer.Option("--region", help="AWS region (default: AWS_REGION, then AWS_DEFAULT_REGION).",
                                 show_default=False),
    ] = None,
    build: Annotated[Path, typer.Option("--build", help="Folder of api.zip and worker-image/ (execintel package).")] = (
        Path("build")
    ),
    parameter: Annotated[
        list[str] | None,
        typer.Option("--parameter", help="A template parameter, KEY=VALUE (repeatable), e.g. WebAclArn=arn:...",
                     show_default=False),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the commands; run, check and write nothing.")] = (
        False
    ),
    template_only: Annotated[
        bool, typer.Option("--template-only", help="Only render the template (to --out, else standard output).")
    ] = False,
    out_file: Annotated[Path | None, typer.Option("--out", help="With --template-only: the file to write.")] = None,
    no_lint: Annotated[bool, typer.Option("--no-lint", help="Skip cfn-lint (not recommended).")] = False,
    python: Annotated[
        str | None, typer.Option("--python", help="The Python 3.12 that imports the api package before deploying "
                                 "(default: python3.12 on PATH).", show_default=False),
    ] = None,
) -> None:  # fmt: skip
    """Deploy the portfolio to AWS with SAM: check the build, render and lint the template, build the worker's image
    (Docker), deploy the stack, sync the dashboard and invalidate CloudFront (docs/aws.md)."""
    from execintel.deployment import DeployError  # noqa: PLC0415

    try:
        _deploy(ctx, path, portfolio, allow_outside=allow_outside, stack=stack, region=region, build=build,
                parameter=parameter, dry_run=dry_run, template_only=template_only, out_file=out_file,
                no_lint=no_lint, python=python)  # fmt: skip
    except DeployError as exc:
        # the output of a failed check (a traceback, cfn-lint's findings) line by line: the error line that ends
        # the command is one line, and the console shows a newline inside a line as a visible character
        head, _, details = str(exc).partition("\n")
        for text in details.splitlines():
            err.print(text, markup=False, highlight=False, soft_wrap=True)
        raise DeployError(head) from None


def _deploy(
    ctx: typer.Context,
    path: Path | None,
    portfolio: Path | None,
    *,
    allow_outside: bool,
    stack: str,
    region: str | None,
    build: Path,
    parameter: list[str] | None,
    dry_run: bool,
    template_only: bool,
    out_file: Path | None,
    no_lint: bool,
    python: str | None,
) -> None:
    from execintel.deployment import Plan, render_template  # noqa: PLC0415
    from execintel.deployment import dry_run as plan_commands  # noqa: PLC0415
    from execintel.deployment.service import deploy_portfolio  # noqa: PLC0415

    if out_file is not None and not template_only:
        raise ConfigError(Problem("--out", "is only for --template-only (a deployment writes BUILD/template.yaml)"))
    if not STACK_NAME.fullmatch(stack):
        raise ConfigError(Problem("--stack", f"{stack!r} is not a stack name: a letter, then letters, digits or "
                                             "hyphens, at most 128 characters"))  # fmt: skip
    opened = _open(ctx, path, portfolio, allow_outside=allow_outside)
    manifest, shown = opened.manifest, opened.display(opened.path)
    parameters = _parameters(parameter or [], manifest.sender)
    if template_only:
        target = out_file or build / "template.yaml"
        text = render_template(manifest, where=shown, code_prefix=_relative_prefix(build, target))
        if out_file is None:
            sys.stdout.write(text)  # the template as it is: no console markup, emoji codes or wrapping
        else:
            _write(out_file, text, "--out")
            err.print(f"Wrote the template for {manifest.portfolio.name} to {out_file}", markup=False)
        return
    chosen_region = region or _settings(ctx).aws_region or os.environ.get("AWS_DEFAULT_REGION")
    if not chosen_region:
        raise ConfigError(Problem("--region", "is missing: give --region (or set AWS_REGION), e.g. us-east-1"))
    plan = Plan(template=build / "template.yaml", stack=stack, region=chosen_region, parameters=parameters)
    if dry_run:
        for command in plan_commands(plan):
            out.print(command, markup=False, highlight=False, soft_wrap=True)
        return
    echo = partial(err.print, markup=False, highlight=False, soft_wrap=True)
    outputs = deploy_portfolio(opened, plan, build=build, echo=echo, python=python, lint=not no_lint)
    url = outputs.get("DashboardUrl", "")
    out.print(f"Deployed {manifest.portfolio.name} to stack {stack} in {chosen_region}" + (f": {url}" if url else ""),
              markup=False, soft_wrap=True)  # fmt: skip
