"""PDF through WeasyPrint (the optional ``pdf`` extra); a run lays its PDFs out in worker processes
(:mod:`execintel.render.pool`)."""

from __future__ import annotations

from pathlib import Path


def available() -> bool:
    """True when WeasyPrint can be imported."""
    try:
        import weasyprint  # noqa: F401, PLC0415
    except (ImportError, OSError):
        return False
    return True


def write_pdf(html: str, base: Path, target: Path) -> Path:
    """Lay out ``html`` (images resolved against ``base``) and write ``target`` atomically."""
    from weasyprint import HTML  # noqa: PLC0415 - optional extra

    tmp = target.with_name(target.name + ".tmp")
    HTML(string=html, base_url=str(base)).write_pdf(str(tmp))
    tmp.replace(target)
    return target
