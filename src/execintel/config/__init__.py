"""Configuration: the portfolio manifest and the settings from the environment."""

from __future__ import annotations

from execintel.config.load import MANIFEST_NAME, Portfolio, load_portfolio
from execintel.config.models import Manifest
from execintel.config.settings import Settings, load_settings

__all__ = ["MANIFEST_NAME", "Manifest", "Portfolio", "Settings", "load_portfolio", "load_settings"]
