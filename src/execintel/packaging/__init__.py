"""Lambda packages (``execintel package``): :mod:`.pip` installs Linux x86_64 wheels for the Lambda Python,
:mod:`.tree` prunes the staging folder and writes deterministic zips, :mod:`.build` assembles ``api.zip`` and
``worker.zip``, :mod:`.check` measures them against their targets (docs/packaging.md)."""

from __future__ import annotations

from execintel.packaging.build import Artefact, build_api, build_worker, check_out, resolve_portfolio

__all__ = ["Artefact", "build_api", "build_worker", "check_out", "resolve_portfolio"]
