"""Render the SAM template of a portfolio: the static resources of ``base.yaml`` plus one schedule per manifest
schedule.

The base is kept as text (CloudFormation's short tags such as ``!Ref`` are not YAML that PyYAML reads, and its
comments are documentation) and the schedules are spliced in at its ``# @schedules@`` line, so a rendering is
byte-for-byte reproducible: ``deploy/template.yaml`` is the demo portfolio's rendering and a test keeps it so.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

from execintel.config.load import DYNAMODB_PREFIX
from execintel.deployment.cron import schedule_expression
from execintel.errors import ConfigError, Problem

if TYPE_CHECKING:
    from execintel.config import Manifest

MARKER = "# @schedules@"
TABLES_MARKER = "            # @event-tables@\n"  # in the worker's policy statements
CODE = "@code@"
HEADER = (
    "# Rendered by `execintel deploy --template-only` from src/execintel/deployment/base.yaml and the\n"
    "# schedules of the portfolio {name}. Do not edit: edit the base (or the manifest) and render again.\n"
)
# How long EventBridge Scheduler keeps trying to start a run it could not invoke (throttled, worker busy) before
# the schedule's event goes to the dead-letter queue: a report that is hours late is still worth sending.
EVENT_AGE_SECONDS = 6 * 3600


def base_template() -> str:
    """The static part of the template, as shipped with execintel."""
    return resources.files("execintel.deployment").joinpath("base.yaml").read_text(encoding="utf-8")


def logical_id(schedule_id: str, taken: set[str]) -> str:
    """A CloudFormation logical id (letters and digits) for a schedule id, unique among ``taken``."""
    base = "Schedule" + "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", schedule_id))
    name, n = base, 2
    while name in taken:  # "a-1b" and "a1b" both read A1b: number the later one
        name, n = f"{base}{n}", n + 1
    taken.add(name)
    return name


def scheduler_input(schedule_id: str) -> str:
    """The event the worker receives from this schedule (the contract of execintel.aws.worker)."""
    event = {"detail-type": "Scheduled Event", "source": "execintel.scheduler",
             "time": "<aws.scheduler.scheduled-time>", "detail": {"schedule": schedule_id}}  # fmt: skip
    return json.dumps(event, separators=(",", ":"))


def schedule_resources(manifest: Manifest, *, where: str) -> dict[str, Any]:
    """The ``AWS::Scheduler::Schedule`` resources of the manifest's schedules, by logical id."""
    problems: list[Problem] = []
    out: dict[str, Any] = {}
    taken: set[str] = set()
    for index, schedule in enumerate(manifest.schedules):
        try:
            expression = schedule_expression(schedule.id, schedule.cron, where=where, index=index)
        except ConfigError as exc:
            problems.extend(exc.problems)  # every untranslatable schedule at once
            continue
        out[logical_id(schedule.id, taken)] = {
            "Type": "AWS::Scheduler::Schedule",
            "Properties": {
                "Description": f"execintel schedule {schedule.id}: {', '.join(schedule.reports)} ({schedule.cron})",
                "GroupName": {"Ref": "ScheduleGroup"},
                "ScheduleExpression": expression,
                "ScheduleExpressionTimezone": manifest.portfolio.timezone,
                "FlexibleTimeWindow": {"Mode": "OFF"},
                "State": "ENABLED",
                "Target": {
                    "Arn": {"Fn::GetAtt": ["WorkerFunction", "Arn"]},
                    "RoleArn": {"Fn::GetAtt": ["SchedulerRole", "Arn"]},
                    "Input": scheduler_input(schedule.id),
                    "RetryPolicy": {
                        "MaximumRetryAttempts": schedule.retry_policy.attempts,
                        "MaximumEventAgeInSeconds": EVENT_AGE_SECONDS,
                    },
                    "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}},
                },
            },
        }
    if problems:
        raise ConfigError(problems)
    return out


def event_tables(manifest: Manifest) -> list[str]:
    """The DynamoDB tables the manifest reads events from (``events: dynamodb:TABLE``), in manifest order."""
    tables = [e.events.removeprefix(DYNAMODB_PREFIX) for e in manifest.entities
              if e.events and e.events.startswith(DYNAMODB_PREFIX)]  # fmt: skip
    return list(dict.fromkeys(t for t in tables if t))


def event_tables_statement(manifest: Manifest) -> str:
    """The worker's permission to scan the manifest's event tables (and only those), as template text; empty
    when the manifest reads none."""
    tables = event_tables(manifest)
    if not tables:
        return ""
    statement = {"Sid": "ReadEventTables", "Effect": "Allow", "Action": "dynamodb:Scan",
                 "Resource": [{"Fn::Sub": f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:"
                                          f"table/{table}"} for table in tables]}  # fmt: skip
    block = yaml.safe_dump([statement], sort_keys=False, default_flow_style=False, width=120)
    return "".join(f"            {line}" for line in block.splitlines(keepends=True))


def render_template(manifest: Manifest, *, where: str, code_prefix: str) -> str:
    """The whole template for ``manifest``; ``code_prefix`` is the folder of api.zip and the worker's image context
    relative to the template file (``../build/`` for deploy/template.yaml, empty when the template sits beside
    them)."""
    base = base_template()
    if base.count(MARKER) != 1:
        raise AssertionError(f"base.yaml must hold {MARKER!r} exactly once")
    rendered = schedule_resources(manifest, where=where)
    block = yaml.safe_dump(rendered, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True)
    indented = "".join(f"  {line}" if line.strip() else line for line in block.splitlines(keepends=True))
    if not rendered:
        indented = "  # (the manifest has no schedules)\n"
    if base.count(TABLES_MARKER) != 1:
        raise AssertionError(f"base.yaml must hold {TABLES_MARKER.strip()!r} exactly once")
    text = base.replace(f"{MARKER}\n", indented).replace(TABLES_MARKER, event_tables_statement(manifest))
    text = text.replace(CODE, code_prefix)
    return HEADER.format(name=json.dumps(manifest.portfolio.name)) + text


class _TagsIgnored(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation's short tags (``!Ref`` ...) as their plain value."""


def _untagged(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]


_TagsIgnored.add_multi_constructor("!", _untagged)


def load_template(text: str) -> dict[str, Any]:
    """A template's structure (short tags read as their plain values): to look at, not to deploy."""
    loaded = yaml.load(text, Loader=_TagsIgnored)  # noqa: S506 - a SafeLoader subclass
    return loaded if isinstance(loaded, dict) else {}


def template_parameters() -> dict[str, dict[str, Any]]:
    """The template's parameters by name (type, default, description)."""
    parameters = load_template(base_template()).get("Parameters", {})
    return parameters if isinstance(parameters, dict) else {}
