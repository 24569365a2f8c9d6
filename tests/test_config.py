"""The manifest: parsed once into frozen models; every problem named with its key path and line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pydantic
import pytest

from conftest import WritePortfolio, base_manifest
from execintel.config import load_portfolio, load_settings
from execintel.errors import ConfigError
from helpers import run_bounded


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
    assert any("sender: 'not-an-address' is not an email address" in p for p in found)
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


# Resource bombs: the manifest is refused with its line, quickly and in bounded memory ---------------------------

LAUGHS = 'lol0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + "".join(
    f"lol{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)
)  # nine aliases of the line above on each line: 9**10 values once expanded


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        (LAUGHS, "aliases expand to more than 100,000 values"),  # before: hung walking 3.5 billion nodes
        ("deep: " + "[" * 20_000 + "]" * 20_000 + "\n", "nests more than 64 levels deep"),  # before: RecursionError
        ("loop: &loop [1, *loop]\n", "alias *loop refers to a node that contains it"),
    ],
    ids=["billion-laughs", "deep-nesting", "recursive-alias"],
)
def test_a_yaml_bomb_in_the_manifest_is_refused_with_its_line(
    write_portfolio: WritePortfolio, tail: str, message: str
) -> None:
    path = write_portfolio()
    text = path.read_text(encoding="utf-8")
    path.write_text(text + tail, encoding="utf-8")
    done = run_bounded("validate", ".", cwd=path.parent)
    assert done.returncode == 2, done.stderr[-2000:]
    first_line = text.count("\n") + 1
    problems = [line for line in done.stderr.splitlines() if message in line]
    assert len(problems) == 1, done.stderr[-2000:]
    location, _ = problems[0].split(": ", 1)
    assert location.startswith("portfolio.yaml:") and int(location.split(":")[1]) >= first_line
    assert "Traceback" not in done.stderr and "Internal error" not in done.stderr


def test_aliases_and_merge_keys_within_the_limits_still_work(write_portfolio: WritePortfolio) -> None:
    path = write_portfolio()
    text = path.read_text(encoding="utf-8").split("entities:")[0]
    path.write_text(
        text + "entities:\n"
        "  - id: a\n    name: A\n    stack:\n      - &web {name: web, deploy: ci, waf: true}\n"
        "      - {<<: *web, name: api}\n"
        "  - id: b\n    name: B\n    stack: [*web]\n",
        encoding="utf-8",
    )
    entities = load_portfolio(path).manifest.entities
    assert [[(item.name, item.deploy, item.waf) for item in e.stack] for e in entities] == [
        [("web", "ci", True), ("api", "ci", True)],
        [("web", "ci", True)],
    ]


# Numbers are plain decimals with ASCII digits; every message quotes the bad value -------------------------------


@pytest.mark.parametrize(
    ("yaml_value", "shown"),
    [
        ("1_000", "'1_000'"),  # YAML 1.1 reads it as 1000
        ("'1_000'", "'1_000'"),  # pydantic's Decimal would read the string as 1000
        ("'\u0661\u0662\u0663'", "'\u0661\u0662\u0663'"),  # Arabic-Indic digits: Decimal reads 123
        ("'\uff11\uff12\uff13'", "'\uff11\uff12\uff13'"),  # fullwidth digits
        ("0x1F", "'0x1F'"),  # YAML 1.1 hexadecimal: 31
        ("1:30", "'1:30'"),  # YAML 1.1 base 60: 90
        (".inf", "'.inf'"),  # infinity passes ge=0
    ],
)
def test_manifest_numbers_must_be_plain_decimals(write_portfolio: WritePortfolio, yaml_value: str, shown: str) -> None:
    path = write_portfolio(base_manifest(entities=[{"id": "qosd", "name": "Q", "unit_economics": {"price": 1}}]))
    text = path.read_text(encoding="utf-8").replace("price: 1", f"price: {yaml_value}")
    path.write_text(text, encoding="utf-8")
    [problem] = problems_of(path)
    assert problem.endswith(f"entities[0].unit_economics.price: must be a number, not {shown}")


@pytest.mark.parametrize(
    ("yaml_value", "shown"),
    [("1_000", "'1_000'"), ("'\uff11\uff12'", "'\uff11\uff12'"), ("'1e3'", "'1e3'"), ("12.5", "12.5")],
)
def test_manifest_whole_numbers_must_be_plain_integers(
    write_portfolio: WritePortfolio, yaml_value: str, shown: str
) -> None:
    economics = {"price": 1, "capacity_per_month": 7}
    path = write_portfolio(base_manifest(entities=[{"id": "qosd", "name": "Q", "unit_economics": economics}]))
    text = path.read_text(encoding="utf-8").replace("capacity_per_month: 7", f"capacity_per_month: {yaml_value}")
    path.write_text(text, encoding="utf-8")
    [problem] = problems_of(path)
    assert problem.endswith(f"entities[0].unit_economics.capacity_per_month: must be a whole number, not {shown}")


def test_plain_numbers_still_load(write_portfolio: WritePortfolio) -> None:
    economics = {"price": "1800.50", "variable_cost": 650, "capacity_per_month": "12"}
    manifest = base_manifest(entities=[{"id": "qosd", "name": "Q", "unit_economics": economics}])
    manifest["policies"] = {"capitalize_above": 2.5e3, "daily_send_limit": "017"}
    portfolio = load_portfolio(write_portfolio(manifest))
    economics_model = portfolio.manifest.entities[0].unit_economics
    assert economics_model is not None
    assert (economics_model.price, economics_model.capacity_per_month) == (Decimal("1800.50"), 12)
    assert portfolio.manifest.policies.daily_send_limit == 17  # a decimal with a leading zero, not octal 15


def test_every_manifest_message_quotes_the_bad_value(write_portfolio: WritePortfolio) -> None:
    manifest = base_manifest(
        sender="reports-at-example.com",
        stakeholders=[{"id": "casey", "name": "C", "email": "not-an-email", "roles": "ceo"}],
        entities=[
            {
                "id": "qosd",
                "name": 12,
                "unit_economics": {"price": -5, "capacity_per_month": 1.5},
                "stack": [{"name": "web", "waf": "maybe", "components": {"a": 1}}],
                "channels": [{"name": "ota", "kind": "ota", "commission": 2}],
            }
        ],
        policies={"daily_send_limit": 0},
    )
    found = {p.split(": ", 1)[1] for p in problems_of(write_portfolio(manifest))}
    assert found == {
        "sender: 'reports-at-example.com' is not an email address like name@example.com",
        "stakeholders[0].email: 'not-an-email' is not an email address like name@example.com",
        "stakeholders[0].roles: must be a list, not 'ceo'",
        "entities[0].name: must be text, not 12",
        "entities[0].unit_economics.price: must be greater than or equal to 0, not -5",
        "entities[0].unit_economics.capacity_per_month: must be a whole number, not 1.5",
        "entities[0].stack[0].components: must be a list, not a mapping",
        "entities[0].stack[0].waf: must be true or false, not 'maybe'",
        "entities[0].channels[0].commission: must be less than or equal to 1, not 2",
        "policies.daily_send_limit: must be greater than or equal to 1, not 0",
    }
