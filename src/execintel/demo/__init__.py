"""The bundled demo portfolio: seven entities and 24 months of deterministic data (see docs/demo.md).

:func:`demo_portfolio` returns the cached demo's manifest, generating it on
first use; :func:`generate_demo` writes a fresh copy into any folder.
"""

from __future__ import annotations

from execintel.demo.cache import cache_root, demo_folder, demo_portfolio
from execintel.demo.generate import generate_demo

__all__ = ["cache_root", "demo_folder", "demo_portfolio", "generate_demo"]
