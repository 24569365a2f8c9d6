"""A whole deployment of one portfolio, as one call the command line (or any other shell) makes: check the build,
render and lint the template, then run the commands; progress goes to the caller's ``echo``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from execintel.deployment import validate
from execintel.deployment.steps import Echo, Plan, run_plan
from execintel.deployment.template import render_template

if TYPE_CHECKING:
    from execintel.config import Portfolio


def deploy_portfolio(
    portfolio: Portfolio, plan: Plan, *, build: Path, echo: Echo, python: str | None = None, lint: bool = True
) -> dict[str, str]:
    """Deploy ``portfolio`` as ``plan`` says, from ``api.zip`` and the worker's image context in ``build``; the
    stack's outputs. Nothing reaches AWS unless every check passed; a
    :class:`~execintel.deployment.validate.DeployError` says what failed."""
    paths = validate.artefact_paths(build)
    api = paths[validate.API_ZIP]
    echo(f"Checking {validate.API_ZIP}...")
    validate.compile_package(api)
    validate.check_manifest(api, portfolio.path)
    echo(f"Checking {validate.IMAGE_CONTEXT}/...")
    validate.check_context(paths[validate.IMAGE_CONTEXT], portfolio.path)
    validate.check_import(api, python=validate.lambda_python(python))
    text = render_template(portfolio.manifest, where=portfolio.display(portfolio.path), code_prefix="")
    try:
        write_atomically(plan.template, text)
    except OSError as exc:
        raise validate.DeployError(f"{plan.template} cannot be written: {exc.strerror or exc}") from None
    if lint:
        echo(f"Linting {plan.template}...")
        validate.lint_template(plan.template)
    return run_plan(plan, echo)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so that a reader never sees half of it."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
