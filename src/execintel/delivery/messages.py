"""The messages of a run: each planned delivery composed from its rendered report, and the failure notice.

The mail HTML and text are rendered once per report for the email that carries them (for a summary report, the
opening only, naming the attached PDF that holds the rest; charts referenced by Content-ID); the chart PNGs, the
PDF and the worklist CSVs are the files the run already wrote. Every message is composed before anything is
sent, so a header that cannot be sent (a line break in a name, an invalid address) stops the run with nothing
sent.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from execintel.config.models import Manifest
from execintel.delivery.compose import OutgoingMessage, compose, content_id
from execintel.delivery.plan import Planned
from execintel.render import chart_file, email_attachments

_CID_SRC = re.compile(r'src="cid:([^"]+)"')


def subject(doc: Mapping[str, Any]) -> str:
    """``CFO report - Demo Holdings - as of 2026-11-15``."""
    return f"{doc['title']} - {doc['portfolio']} - as of {doc['as_of']}"


class ReportParts:
    """What every message of one report shares: subject, text, mail HTML, chart images, PDF and worklist CSVs."""

    def __init__(self, doc: Mapping[str, Any], folder: Path) -> None:
        from execintel.render.html import render_html  # noqa: PLC0415
        from execintel.render.text import render_text  # noqa: PLC0415

        report = str(doc["report"])
        self.report = report
        self.subject = subject(doc)
        pdf = folder / f"{report}.pdf"
        self.pdf = pdf.read_bytes() if pdf.is_file() else None
        attachments = email_attachments(dict(doc), pdf=self.pdf is not None)
        self.files = [(name, "text/csv", (folder / name).read_bytes()) for name in attachments.csv]
        self.text = render_text(dict(doc), attachments)
        self.html = render_html(dict(doc), lambda chart: f"cid:{content_id(report, chart)}", attachments=attachments)
        used = set(_CID_SRC.findall(self.html))  # a summary email shows some of the charts: attach only those
        self.images = {
            content_id(report, s["id"]): (folder / chart_file(report, s["id"])).read_bytes()
            for s in doc.get("sections", [])
            if s["kind"] == "chart" and content_id(report, s["id"]) in used
        }


def compose_all(
    manifest: Manifest, planned: list[Planned], documents: Mapping[str, Mapping[str, Any]], folder: Path
) -> dict[str, OutgoingMessage]:
    """Every planned delivery's message, by key; a :class:`HeaderError` stops it before anything is sent."""
    parts = {report: ReportParts(documents[report], folder) for report in {p.report for p in planned}}
    bcc = (manifest.audit_mailbox,) if manifest.audit_mailbox else ()
    messages = {}
    for item in planned:
        part = parts[item.report]
        messages[item.key] = compose(
            key=item.key, sender=manifest.sender, to=(item.stakeholder.name, item.recipient), subject=part.subject,
            text=part.text, html=part.html, images=part.images, pdf=part.pdf, pdf_name=f"{item.report}.pdf",
            attachments=part.files, bcc=bcc,
        )  # fmt: skip
    return messages


def failure_notice(
    manifest: Manifest, key: str, run_id: str, problems: list[tuple[str, str, str]], when: dt.datetime
) -> OutgoingMessage:
    """The message that tells the audit mailbox which deliveries of a run did not go out, and why.

    ``problems`` holds (report, recipient, what happened) for each.
    """
    assert manifest.audit_mailbox is not None  # noqa: S101 - callers send a notice only when there is one
    lines = [f"Run {run_id} of {manifest.portfolio.name} at {when:%Y-%m-%d %H:%M %Z} could not deliver "
             f"{_count(len(problems), 'report')}:", ""]  # fmt: skip
    lines += [f"- {report} to {recipient}: {what}" for report, recipient, what in problems]
    lines += ["", "Run `execintel audit show " + run_id + "` for the details; run the same command again to retry "
              "what is missing (what already went out is not sent twice)."]  # fmt: skip
    text = "\n".join(lines) + "\n"
    body = "".join(f"<p>{html.escape(line)}</p>" if line else "" for line in lines)
    return compose(
        key=key, sender=manifest.sender, to=("execintel audit", manifest.audit_mailbox),
        subject=f"execintel: {_count(len(problems), 'delivery', 'deliveries')} did not go out in run {run_id}",
        text=text,
        html=f"<!DOCTYPE html><html><body>{body}</body></html>", images={},
    )  # fmt: skip


def _count(count: int, word: str, plural: str | None = None) -> str:
    """``1 report``, ``2 reports``, ``1 delivery``, ``3 deliveries``."""
    return f"{count:,} {word if count == 1 else (plural or word + 's')}"
