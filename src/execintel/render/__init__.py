"""Rendering: a report document (JSON) becomes HTML, plain text, PDF and chart images.

Renderers read only the document; they never query facts. Heavy libraries
(matplotlib, Jinja2, WeasyPrint) are imported when first used, so PDF worker
processes stay light.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from execintel.render.pdf import available as pdf_available

if TYPE_CHECKING:
    from execintel.render.pdf import PdfWriter

__all__ = ["chart_file", "pdf_available", "render_document", "render_documents"]


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


def _render_charts(doc: dict[str, Any], folder: Path) -> list[Path]:
    from execintel.render.charts import render_chart  # noqa: PLC0415

    report = doc["report"]
    currency = doc.get("currency", "USD")
    folder.mkdir(parents=True, exist_ok=True)
    return [
        _write(folder / chart_file(report, section["id"]), render_chart(section, currency))
        for section in doc.get("sections", [])
        if section["kind"] == "chart"
    ]


def _render_mail_files(doc: dict[str, Any], folder: Path) -> list[Path]:
    from execintel.render.html import render_html  # noqa: PLC0415
    from execintel.render.text import render_text  # noqa: PLC0415

    report = doc["report"]
    return [
        _write(folder / f"{report}.html", render_html(doc, lambda cid: chart_file(report, cid))),
        _write(folder / f"{report}.txt", render_text(doc)),
    ]


def _print_html(doc: dict[str, Any]) -> str:
    from execintel.render.html import render_html  # noqa: PLC0415

    return render_html(doc, lambda cid: chart_file(doc["report"], cid), email=False)


def render_document(doc: dict[str, Any], folder: Path, *, pdf: bool | None = None) -> list[Path]:
    """Write ``<report>.html``, ``.txt``, chart PNGs and (when available, unless ``pdf=False``) ``.pdf``."""
    written = _render_charts(doc, folder) + _render_mail_files(doc, folder)
    if pdf if pdf is not None else pdf_available():
        from execintel.render.pdf import write_pdf  # noqa: PLC0415

        written.append(write_pdf(_print_html(doc), folder, folder / f"{doc['report']}.pdf"))
    return written


def render_documents(
    docs: list[dict[str, Any]], folder: Path, *, pdf: bool | None = None, writer: PdfWriter | None = None
) -> dict[str, list[Path]]:
    """Render several documents; PDFs are laid out in parallel worker processes (or by ``writer`` when given).

    Returns each report's files, PDFs included.
    """
    from execintel.render.pdf import PdfWriter  # noqa: PLC0415

    if pdf is None:
        pdf = pdf_available()
    written: dict[str, list[Path]] = {}
    own = writer is None and pdf
    pool = writer if writer is not None else (PdfWriter() if pdf else None)
    try:
        for doc in docs:
            written[doc["report"]] = _render_charts(doc, folder)
        if pool is not None and pdf:
            # The longest documents first, so the workers finish together.
            for _size, report, page in sorted(((len(h), d["report"], h) for d in docs for h in [_print_html(d)]),
                                             reverse=True):  # fmt: skip
                pool.submit(page, folder, folder / f"{report}.pdf")
        for doc in docs:  # the mail HTML and text are rendered while the PDFs are laid out
            written[doc["report"]] += _render_mail_files(doc, folder)
        if pool is not None and pdf:
            for path in pool.finish():
                written[path.stem].append(path)
    finally:
        if own and pool is not None:
            pool.close()
    return written
