"""The variable a secret is assigned to, named in secret findings without showing the secret."""

from __future__ import annotations

import pytest

from execintel.analysis.secret_names import assigned_name

# Placeholder values (not secrets): the function only needs to find them on the line.
V = "Zq81xWv0"


@pytest.mark.parametrize(
    ("line", "previous", "expected"),
    [
        (f"JWT_SECRET={V}", "", "JWT_SECRET"),  # dotenv
        (f'export STRIPE_KEY="{V}"', "", "STRIPE_KEY"),  # shell
        (f'const key = "{V}";', "", "key"),  # code
        (f'  "apiKey": "{V}",', "", "apiKey"),  # JSON
        (f'{{"apiKey":"{V}"}}', "", "apiKey"),  # minified JSON
        (f"stripe_key: {V}", "", "stripe_key"),  # YAML
        (f"aws_secret_access_key = {V}", "", "aws_secret_access_key"),  # ini
        (f"app.config['SECRET_KEY'] = '{V}'", "", "SECRET_KEY"),  # a subscript
        (f'os.environ["X_TOKEN"] = "{V}"', "", "X_TOKEN"),
        (f"process.env.DB_PASS = '{V}'", "", "DB_PASS"),  # the last part of a dotted name
        (f"<password>{V}</password>", "", "password"),  # an XML element
        (f'<add key="ApiToken" value="{V}"/>', "", "ApiToken"),  # a key/value pair: the pair's name
        (f"  value: {V}", "  - name: DB_PASS", "DB_PASS"),  # Kubernetes env: the name is on the line above
        (f"define('AUTH_KEY', '{V}');", "", "AUTH_KEY"),  # WordPress
        (f"ENV API_KEY {V}", "", "API_KEY"),  # Dockerfile
        (f"--password={V}", "", "password"),  # a command-line flag
        (f"Server=db;Password={V};", "", "Password"),  # a connection string
        (f'URL = "postgres://app:{V}@db.example.com/app"', "", "URL"),  # a password in a URL: the URL's variable
        (f'dsn := "app:{V}@tcp(db)/x"', "", "dsn"),  # a Go DSN: not "app", the user
        (f"curl -u app:{V} https://api.example.com", "", None),  # a user name is not a variable
        (f"redis://:{V}@cache.example.com", "", None),
        (f'require("stripe")("{V}")', "", None),  # no assignment
        (f'jwt.sign(payload, "{V}")', "", None),
    ],
)
def test_the_name_assigned_the_secret(line: str, previous: str, expected: str | None) -> None:
    assert assigned_name(line, V, previous) == expected


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('password = "password123x"', "password123x"),  # the name holds 5+ characters of the secret
        ('secret_abc = "secret_abc_4f9Q"', "secret_abc_4f9Q"),
        ('TOKEN = "xTOKENx99"', "xTOKENx99"),
    ],
)
def test_a_name_that_shares_five_characters_with_the_secret_is_never_shown(line: str, secret: str) -> None:
    # the name is shown beside at most the secret's first 4 characters (docs/security.md): it must not add more
    assert assigned_name(line, secret) is None


def test_a_secret_not_on_the_line_or_a_very_long_line_has_no_name() -> None:
    assert assigned_name("API_KEY=abc", V) is None
    assert assigned_name("K=" + V + "x" * 9000, V) is None
