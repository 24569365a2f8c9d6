"""Rendering: a report document (JSON) becomes HTML, plain text, PDF and chart images.

Renderers read only the document; they never query facts. Heavy libraries
(matplotlib, Jinja2, WeasyPrint) are imported when first used; a run draws
charts and lays out PDFs in worker processes (:mod:`execintel.render.pool`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from execintel.render.pdf import available as pdf_available

if TYPE_CHECKING:
    from execintel.render.layout import Attachments
    from execintel.render.pool import RenderPool

__all__ = ["chart_file", "email_attachments", "pdf_available", "print_html", "render_charts", "render_document",
           "render_documents"]  # fmt: skip


def chart_file(report: str, chart_id: str) -> str:
    """The file name of a chart image: ``cfo-cash-chart.png``."""
    return f"{report}-{chart_id}.png"


def _write(path: Path, data: bytes | str) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    if isinstance(data, bytes):
        tmp.write_bytes(data)
    else:
        tmp.write_text(data, encoding="utf-8")
    tmp.replace(path)
    return path


def render_charts(doc: dict[str, Any], folder: Path) -> list[Path]:
    """Write the PNG of each chart section of ``doc`` into ``folder``."""
    from execintel.render.charts import render_chart  # noqa: PLC0415

    report = doc["report"]
    currency = doc.get("currency", "USD")
    folder.mkdir(parents=True, exist_ok=True)
    return [
        _write(folder / chart_file(report, section["id"]), render_chart(section, currency))
        for section in doc.get("sections", [])
        if section["kind"] == "chart"
    ]


def email_attachments(doc: dict[str, Any], *, pdf: bool) -> Attachments:
    """What the email of ``doc`` carries: its PDF (when one is made) and its worklist CSVs."""
    from execintel.render.layout import Attachments  # noqa: PLC0415
    from execintel.render.worklists import worklist_files  # noqa: PLC0415

    return Attachments(f"{doc['report']}.pdf" if pdf else None, tuple(worklist_files(doc)))


def _render_mail_files(doc: dict[str, Any], folder: Path, pdf: bool) -> list[Path]:
    """The full page (``.html``), the full text (``.txt``), the worklist CSVs and, for a report whose email is its
    summary, that email's body as it will be sent (``.email.html``, charts as the files beside it)."""
    from execintel.render.html import render_html  # noqa: PLC0415
    from execintel.render.text import render_text  # noqa: PLC0415
    from execintel.render.worklists import write_worklists  # noqa: PLC0415

    report = doc["report"]
    written = [
        _write(folder / f"{report}.html", render_html(doc, lambda cid: chart_file(report, cid))),
        _write(folder / f"{report}.txt", render_text(doc)),
        *write_worklists(doc, folder),
    ]
    if doc.get("email") == "summary":
        body = render_html(doc, lambda cid: chart_file(report, cid), attachments=email_attachments(doc, pdf=pdf))
        written.append(_write(folder / f"{report}.email.html", body))
    return written


def print_html(doc: dict[str, Any]) -> str:
    """The page a PDF is laid out from: the same content as the mail, in blocks, with the print stylesheet."""
    from execintel.render.html import render_html  # noqa: PLC0415

    return render_html(doc, lambda cid: chart_file(doc["report"], cid), email=False)


def render_document(doc: dict[str, Any], folder: Path, *, pdf: bool | None = None) -> list[Path]:
    """Write ``<report>.html``, ``.txt``, chart PNGs and (when available, unless ``pdf=False``) ``.pdf``."""
    from execintel.render.pool import render_offline  # noqa: PLC0415

    with_pdf = pdf_available() if pdf is None else pdf
    mail = _render_mail_files(doc, folder, with_pdf)
    return mail + render_offline(doc, folder, with_pdf)


def render_documents(
    docs: list[dict[str, Any]], folder: Path, *, pdf: bool | None = None, pool: RenderPool | None = None
) -> dict[str, list[Path]]:
    """Render several documents: charts and PDFs in worker processes (``pool``, or one made here), the mail HTML
    and text here meanwhile. Returns each report's files."""
    from execintel.render.pool import RenderPool  # noqa: PLC0415

    folder.mkdir(parents=True, exist_ok=True)
    own = pool is None
    workers = pool if pool is not None else RenderPool(pdf=pdf_available() if pdf is None else pdf)
    try:
        workers.submit_all(docs, folder)
        mail = {doc["report"]: _render_mail_files(doc, folder, workers.pdf) for doc in docs}
        offline = workers.finish()
    finally:
        if own:
            workers.close()
    return {report: files + offline[report] for report, files in mail.items()}
