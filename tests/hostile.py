"""A demo portfolio whose every free-text value that reaches a report is hostile: markup, template syntax, a
10,000-character word, right-to-left text and emoji. Rendering must keep all of it inert and in its box."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import yaml

from execintel.demo import generate_demo

SCRIPT = "<script>alert('xss')</script>"
IMAGE = "<img src=x onerror=alert('img')>"
TEMPLATE = "{{7*7}}{% if true %}jinja{% endif %}"
LONG = "W" * 10_000  # one word: nothing to break at
RTL = "\u05de\u05e1\u05e2\u05d3\u05ea \u05d4\u05d9\u05dd \u0627\u0644\u0634\u0631\u0643\u0629"  # Hebrew, Arabic
EMOJI = "\U0001f680\u26f5\U0001f4b8\U0001f469\u200d\U0001f469\u200d\U0001f467"
MIXED = f"{SCRIPT} {TEMPLATE} [bold]rich[/bold] [/] {RTL} {EMOJI}"  # and console markup
VALUES = (MIXED, LONG, f"{IMAGE} {RTL}", f"{EMOJI} {TEMPLATE}", RTL)


def _value(i: int) -> str:
    return VALUES[i % len(VALUES)]


def _rewrite_csv(path: Path, columns: tuple[str, ...], every: int = 1) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for i, row in enumerate(rows):
        if i % every == 0:
            for column in columns:
                if column in row:
                    row[column] = _value(i)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def hostile_portfolio(folder: Path) -> Path:
    """Write the hostile portfolio into ``folder`` and return its manifest."""
    generate_demo(folder)
    manifest_path = folder / "portfolio.yaml"
    manifest: dict[str, Any] = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
    manifest["portfolio"]["name"] = MIXED
    for i, entity in enumerate(manifest["entities"]):
        entity["name"] = _value(i)
        for k, channel in enumerate(entity.get("channels") or []):
            channel["name"] = f"{_value(i + k)} {k}"  # channel names stay unique within an entity
    for i, person in enumerate(manifest.get("stakeholders") or []):
        person["name"] = _value(i)
    manifest_path.write_text(yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False), encoding="utf-8")
    for ledger in folder.glob("data/*/ledger.csv"):
        _rewrite_csv(ledger, ("description", "counterparty"), every=3)
    for contacts in folder.glob("data/*/contacts.csv"):
        _rewrite_csv(contacts, ("name", "source", "segment"), every=2)
    costs = folder / "data" / "aws-costs.csv"
    costs.write_text(costs.read_text(encoding="utf-8").replace("Amazon S3", f"Amazon S3 {MIXED}"), encoding="utf-8")
    for events in folder.glob("data/*/events.jsonl"):
        lines = []
        for i, line in enumerate(events.read_text(encoding="utf-8").splitlines()):
            event = json.loads(line)
            if "channel" in event and i % 4 == 0:
                event["channel"] = _value(i)
            lines.append(json.dumps(event, ensure_ascii=False))
        events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for handoff in folder.glob("handoffs/*.yaml"):
        data = yaml.safe_load(handoff.read_text(encoding="utf-8"))
        data["summary"] = MIXED
        for key in ("risks", "blockers", "next_steps"):
            if data.get(key):
                data[key] = [_value(i) for i in range(len(data[key]))]
        handoff.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return manifest_path
