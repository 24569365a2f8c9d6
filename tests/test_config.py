"""The manifest: parsed once into frozen models; every problem named with its key path and line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pydantic
import pytest

from conftest import WritePortfolio, base_manifest
from execintel.config import load_portfolio, load_settings
from execintel.errors import ConfigError


def problems_of(path: Path, **kwargs: bool) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_portfolio(path, **kwargs)
    return [str(p) for p in info.value.problems]


def test_valid_manifest_becomes_frozen_typed_models(write_portfolio: WritePortfolio) -> None:
    entity = {"id": "qosd", "name": "Q", "unit_economics": {"price": "1800.50", "variable_cost": 650}}
    portfolio = load_portfolio(write_portfolio(base_manifest(entities=[entity])))
    economics = portfolio.manifest.entities[0].unit_economics
    assert economics is not None and economics.price == Decimal("1800.50")
    assert portfolio.manifest.portfolio.currency == "USD"
    with pytest.raises(pydantic.ValidationError):
        economics.price = Decimal(1)  # type: ignore[misc]


def test_folder_path_finds_portfolio_yaml(write_portfolio: WritePortfolio) -> None:
    path = write_portfolio()
    assert load_portfolio(path.parent).path == path


def test_all_problems_reported_together_with_key_paths_and_lines(write_portfolio: WritePortfolio) -> None:
    manifest = base_manifest(
        entities=[
            {"id": "a", "name": "A", "unit_economics": {"price": "abc"}},
            {"id": "a", "name": "B", "stak": []},
        ],
        sender="not-an-address",
    )
    found = problems_of(write_portfolio(manifest))
    assert any("sender: must be an email address" in p for p in found)
    assert any("entities[0].unit_economics.price: must be a number, not 'abc'" in p for p in found)
    assert any("entities[1].stak: unknown key (did you mean 'stack'?)" in p for p in found)
    assert any("entities[1].id: duplicate id 'a'" in p for p in found)
    line_of_price = next(p for p in found if "price" in p)
    assert line_of_price.split(":")[1].isdigit()


def test_unknown_top_level_key_suggests_the_right_one(write_portfolio: WritePortfolio) -> None:
    found = problems_of(write_portfolio(base_manifest(polices={})))
    assert any("polices: unknown key (did you mean 'policies'?)" in p for p in found)


def test_schedule_references_are_checked(write_portfolio: WritePortfolio) -> None:
    schedule = {"id": "w", "cron": "0 7 * * MON", "reports": ["ceo", "cfoo"], "to": ["nobody"]}
    found = problems_of(write_portfolio(base_manifest(schedules=[schedule])))
    assert any("schedules[0].reports[1]: unknown report 'cfoo' (did you mean 'cfo'?)" in p for p in found)
    assert any("schedules[0].to[0]: no stakeholder has id 'nobody'" in p for p in found)


def test_paths_escaping_the_folder_are_refused_unless_allowed(write_portfolio: WritePortfolio, tmp_path: Path) -> None:
    (tmp_path / "outside.csv").write_text("date,account,amount\n", encoding="utf-8")
    entity = {"id": "qosd", "name": "Q", "ledger": "../outside.csv"}
    path = write_portfolio(base_manifest(entities=[entity]))
    found = problems_of(path)
    assert any("entities[0].ledger: '../outside.csv' escapes the manifest's folder" in p for p in found)
    assert load_portfolio(path, allow_outside=True).manifest.entities[0].ledger == "../outside.csv"


def test_missing_manifest_file_is_a_clear_error(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}: file not found"]


def test_settings_from_env_file_mask_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / "repos.env"
    env.write_text("EXECINTEL_SMTP_PASSWORD=hunter2-not-real\nAWS_REGION=us-west-2\nEXECINTEL_MAILER=outbox:x\n")
    monkeypatch.setenv("EXECINTEL_MAILER", "outbox:from-env")
    settings = load_settings(env)
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == "hunter2-not-real"
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)
    assert settings.aws_region == "us-west-2"
    assert settings.mailer == "outbox:from-env"  # the process environment beats the file
    assert load_settings(env, mailer="outbox:flag").mailer == "outbox:flag"  # a flag beats both


def test_missing_env_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--env-file: .*missing\.env. does not exist"):
        load_settings(tmp_path / "missing.env")
