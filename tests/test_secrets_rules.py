"""Secret rules one file at a time: formats the corpus does not hold are found, look-alikes are not.

Each case is a file (name and text); ``⟨kind⟩`` marks a fake secret made at run time (``secret_corpus``). A
positive case must give exactly one finding on each marked line and none elsewhere; a negative case none at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from execintel.analysis.secrets import SecretScanner
from secret_corpus import Fake, render
from secret_corpus_files import Template


@pytest.fixture(scope="module")
def scanner() -> Iterator[SecretScanner]:
    """One scanner for the module (detect-secrets' settings are set up once)."""
    with SecretScanner() as scan:
        yield scan


def _found(scanner: SecretScanner, path: str, text: str) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for index, hit in scanner.scan(path, text.split("\n")):
        found.setdefault(index + 1, []).append(hit.type)
    return found


# Formats and places not in the corpus (a held-out check that the rules generalise), one per line.
POSITIVES = [
    ("home/.gitconfig", "[github]\n\tuser = octo\n\ttoken = ⟨hex40⟩\n"),
    ("scripts/run.sh", "PGPASSWORD=⟨pw⟩ psql -h db.example.com -U shop\n"),
    ("scripts/run.sh", "docker run -e MYSQL_ROOT_PASSWORD=⟨pw⟩ mysql:8\n"),
    ("scripts/login.sh", "docker login -u ci --password ⟨pw⟩ registry.example.com\n"),
    ("tools/mail.py", 'server.login("alerts@example.com", "⟨pw⟩")\n'),
    ("tools/fetch.py", 'requests.get(url, auth=("api", "⟨token32⟩"))\n'),
    ("src/db.go", 'db, _ := sql.Open("mysql", "root:⟨urlpw⟩@tcp(127.0.0.1:3306)/shop")\n'),
    ("src/Db.java", 'String url = "jdbc:mysql://db.example.com/shop?user=app&password=⟨urlpw⟩";\n'),
    ("notebooks/explore.ipynb", '   "source": ["api_key = \\"⟨token32⟩\\"\\n"]\n'),
    ("api/client.js", "const headers = { Authorization: 'Bearer ⟨token40⟩' };\n"),
    ("config/app.xml", "<appSettings>\n  <apiToken>⟨token32⟩</apiToken>\n</appSettings>\n"),
    ("home/.msmtprc", "account default\nhost smtp.example.com\nuser me@example.com\npassword ⟨pw⟩\n"),
    ("php/db.php", "<?php\ndefine('DB_PASS', '⟨pw⟩');\n"),
    ("inventory/hosts", "[web]\nweb1 ansible_host=10.0.0.5 ansible_ssh_pass=⟨pw⟩\n"),
    ("home/.config/rclone/rclone.conf", "[s3]\ntype = s3\naccess_key_id = ⟨akid⟩\nsecret_access_key = ⟨aws_secret⟩\n"),
    ("android/keystore.properties", "storePassword=⟨pw⟩\nkeyPassword=⟨pw⟩\nkeyAlias=release\n"),
    ("app/build.gradle", "credentials {\n    username 'deployer'\n    password '⟨pw⟩'\n}\n"),
    ("mobile/firebase.js", 'const firebaseConfig = { apiKey: "⟨google_api⟩", authDomain: "shop.firebaseapp.com" };\n'),
    ("mail/nodemailer.js", "const transport = { auth: { user: 'shop@example.com', pass: '⟨pw⟩' } };\n"),
    ("certs/enc.key", "⟨pem_encrypted⟩\n"),
    ("ops/client.ovpn", "client\nremote vpn.example.com 1194\n<key>\n⟨pem_rsa⟩\n</key>\n"),
    ("api/appsettings.json", '{"Jwt": {"Secret": "⟨token40⟩", "Issuer": "shop"}}\n'),
    ("home/.irssi/config", 'servers = ({ address = "irc.example.org"; password = "⟨pw⟩"; });\n'),
    ("home/.muttrc", 'set smtp_url = "smtp://me@smtp.example.com:587/"\nset smtp_pass = "⟨pw⟩"\n'),
    ("k8s/secret.yaml", "apiVersion: v1\nkind: Secret\nstringData:\n  DB_PASSWORD: ⟨pw⟩\n"),
    ("home/.pip/pip.conf", "[global]\nindex-url = https://build:⟨urlpw⟩@pypi.example.com/simple\n"),
    ("home/.terraformrc", 'credentials "app.terraform.io" {\n  token = "⟨tfc⟩"\n}\n'),
    ("home/.cargo/credentials.toml", '[registry]\ntoken = "⟨token32⟩"\n'),
    ("home/.config/gh/hosts.yml", "github.com:\n    oauth_token: ⟨ghp⟩\n    user: octocat\n"),
    ("home/.azure/accessTokens.json", '[{"accessToken": "⟨jwt⟩", "refreshToken": "⟨token40⟩"}]\n'),
    ("db/roles.sql", "ALTER USER postgres WITH PASSWORD '⟨pw⟩';\n"),
    ("src/billing.rb", "Stripe.api_key = '⟨stripe⟩'\n"),
    ("src/config.py", "TWILIO_AUTH_TOKEN = '⟨hex32⟩'\n"),
    ("home/.ssh/id_rsa", "⟨pem_openssh⟩\n"),
    ("settings/base.py", "SECRET_KEY = '⟨django⟩'\n"),
    (
        "app/src/main/res/values/strings.xml",
        '<resources>\n    <string name="api_key">⟨token32⟩</string>\n</resources>\n',
    ),
    ("deploy/task-definition.json", '{"environment": [{"name": "DB_PASSWORD", "value": "⟨pw⟩"}]}\n'),
    ("k8s/deployment.yaml", "env:\n  - name: API_TOKEN\n    value: ⟨token40⟩\n  - name: LOG_LEVEL\n    value: info\n"),
    ("drupal/settings.php", "<?php\n$settings['hash_salt'] = '⟨token40⟩';\n"),
    ("home/.bash_history", 'curl -H "X-Auth-Token: ⟨token32⟩" https://api.example.com/v1/me\n'),
    ("salesforce/login.js", "conn.login('ops@example.com', '⟨pw⟩' + token, callback);\n"),
    ("config/app.conf", "adminpassword = ⟨pw⟩\nclientsecret = ⟨token32⟩\n"),
]


@pytest.mark.parametrize(("path", "text"), POSITIVES, ids=[p for p, _ in POSITIVES])
def test_each_planted_line_is_found_once(scanner: SecretScanner, path: str, text: str) -> None:
    file = render(Template(path, path, text), path, Fake(path))
    assert isinstance(file.content, str)
    found = _found(scanner, path, file.content)
    expected = Counter(p.line for p in file.plants)
    assert {line: len(types) for line, types in found.items()} == expected, found  # one finding per secret


# Look-alikes: references, templates, labels, field names and prose that mention secrets.
NEGATIVES = [
    ("src/app.py", "password = request.form['password']\n"),
    ("src/app.py", "token = get_token()\n"),
    ("src/app.js", "const apiKey = process.env.API_KEY;\n"),
    ("config/app.yml", "password: ${DB_PASSWORD}\n"),
    ("config/app.yml", "password: <%= ENV['DB_PASSWORD'] %>\n"),
    ("config/app.ini", "[db]\npassword =\n"),
    ("README.md", "Use `--password` to pass the password.\n"),
    ("docs/api.md", "curl -H 'Authorization: Bearer $TOKEN' https://api.example.com\n"),
    ("docs/api.md", 'curl -H "Authorization: Bearer <token>" https://api.example.com\n'),
    ("src/auth.py", 'login("user", "password")\n'),
    ("src/db.go", 'sql.Open("mysql", "user:password@tcp(localhost:3306)/db")\n'),
    ("scripts/x.sh", 'PGPASSWORD="$DB_PASSWORD" psql\n'),
    ("scripts/x.sh", "docker login -u ci --password-stdin\n"),
    ("config/app.xml", "<password>${env.PASSWORD}</password>\n"),
    ("config/app.properties", "spring.datasource.password=${DB_PASSWORD}\n"),
    ("src/forms.py", 'PASSWORD_RESET_URL = "/reset"\npassword_field = "password"\n'),
    ("src/i18n/fr.json", '{"password": "Mot de passe", "password_hint": "Au moins 12 caractères"}\n'),
    ("src/models.py", "password_hash = db.Column(db.String(128))\n"),
    ("docs/x.md", "The `password` field is required.\n"),
    ("src/app.js", 'const TOKEN_URL = "https://oauth2.example.com/token";\n'),
    ("src/app.py", "api_key_header = APIKeyHeader(name='X-API-Key')\n"),
    ("src/app.tsx", '<input type="password" name="password" placeholder="Password" />\n'),
    ("src/test_login.py", 'client.login(username="alice", password=PASSWORD)\n'),
    ("k8s/x.yaml", "secretKeyRef:\n  name: db-secret\n  key: password\n"),
    ("src/app.js", "const token = jwt.sign(payload, process.env.JWT_SECRET);\n"),
    ("src/x.py", 'token_type = "Bearer"\npassword_validators = ["length", "common"]\n'),
    ("src/x.py", "SECRET_KEY = os.environ.get('SECRET_KEY', 'dev')\n"),
    ("config/.env.sample", "DB_PASSWORD=your_password_here\nAPI_KEY=xxxxxxxxxxxxxxxx\nSECRET=<secret>\nTOKEN=None\n"),
    ("home/.netrc.example", "machine api.example.com login me password changeme\n"),
    ("home/.pgpass", "localhost:5432:*:postgres:${PGPASSWORD}\n"),
    ("config/settings.xml", "<server><password>{{ maven_password }}</password></server>\n"),
    ("terraform/main.tf", "password = var.db_password\nmaster_password = random_password.db.result\n"),
    ("src/app.py", "AUTHENTICATION_BACKENDS = ['django.contrib.auth.backends.ModelBackend']\n"),
    ("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"),
    ("certs/ca.pem", "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUJ1\n-----END CERTIFICATE-----\n"),
    (
        "web/.env",
        "STRIPE_PUBLISHABLE_KEY=pk_live_51H8a9sKjd8s7d6f5g4h3j2k\nRECAPTCHA_SITE_KEY=6LcX8aAUAAAAAJ4d9s8f7g6h5j4k3l2\n",
    ),
    ("db/dynamo.py", 'PARTITION_KEY = "tenant_id#2024"\nCACHE_KEY = "user:123:profile"\n'),
    (
        "k8s/deployment.yaml",
        "env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef: {name: db, key: password}\n",
    ),
    (
        "search/settings.json",
        '{"tokenizer": "standard", "secretary": "Jane", "passenger": "Bob", "bypass": "cache1"}\n',
    ),
    ("lib/lexer.py", 'if token == "#bygroup":\n    pass\nelif token.value == "call":\n    pass\n'),
    ("lib/security.py", 'SALT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"\n'),
    ("tests/test_smtp.py", 'PW = "goodpasswd"\nBAD = {"password": "wrongpassword"}\n'),
    ("docs/api.rst", ".. class:: LoginPassword(login: bytes, password: bytes)\n"),
    ("docs/sources.md", "- Credentials: boto3's usual chain (environment, profile, instance role)\n"),
    ("lib/networks.py", "url = MultiHostUrl('https://foo.com:123,foo:bar@bar.com/path')\n"),
    ("docs/cloudfront.rst", "    private_key = serialization.load_pem_private_key(\n"),
]


@pytest.mark.parametrize(("path", "text"), NEGATIVES, ids=[f"{p}:{t[:30]}" for p, t in NEGATIVES])
def test_look_alikes_are_not_secrets(scanner: SecretScanner, path: str, text: str) -> None:
    assert _found(scanner, path, text) == {}
