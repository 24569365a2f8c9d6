"""Lambda packages (``execintel package``): :mod:`.pip` installs Linux x86_64 wheels for the Lambda Python,
:mod:`.tree` prunes the staging folder and writes deterministic zips, :mod:`.build` assembles ``api.zip`` (and,
for measuring, ``worker.zip``), :mod:`.image` writes the worker's container-image context, :mod:`.check` measures
them against their targets (docs/packaging.md)."""

from __future__ import annotations

from execintel.packaging.build import Artefact, build_api, build_worker, check_out, resolve_portfolio
from execintel.packaging.image import IMAGE_DIR, ImageContext, build_image_context

__all__ = [
    "IMAGE_DIR",
    "Artefact",
    "ImageContext",
    "build_api",
    "build_image_context",
    "build_worker",
    "check_out",
    "resolve_portfolio",
]
