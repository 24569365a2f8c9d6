"""The templates of the secret corpus: files people commit with credentials inside, and clean look-alikes.

``⟨kind⟩`` marks a secret (see ``secret_corpus.generate``); everything else is written as is. Provider
prefixes in clean files are split (``"sk_" "live_"``) so this file holds no secret-shaped text either.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    """One file of the corpus: what kind of leak it is (unique), its path, its group and its text."""

    label: str
    path: str
    text: str = ""
    group: str = ""
    binary: bool = False


CRED, SHELL, FRAMEWORK, CONFIG, CODE, ENV, KEYS = (
    "credential files", "shell exports", "framework secrets", "config files", "code", "env files", "private keys",
)  # fmt: skip

LEAKS: tuple[Template, ...] = (
    # --- credential files people commit by mistake ---------------------------------------------------------------
    Template("Git credentials", ".git-credentials", "https://deploy:⟨ghp⟩@github.com\n"
             "https://ci-bot:⟨urlpw⟩@gitlab.example.com\n", CRED),
    Template("netrc", "home/.netrc", "machine api.heroku.com\n  login ops@example.com\n  password ⟨uuid⟩\n"
             "machine ftp.example.org login backup password ⟨pw⟩\n", CRED),
    Template("netrc (Windows)", "win/_netrc", "machine files.example.com login admin password ⟨pw⟩\n", CRED),
    Template("AWS credentials", "home/.aws/credentials", "[default]\naws_access_key_id = ⟨akid⟩\n"
             "aws_secret_access_key = ⟨aws_secret⟩\n\n[deploy]\naws_access_key_id=⟨akid⟩\n"
             "aws_secret_access_key=⟨aws_secret⟩\naws_session_token=⟨aws_session⟩\nregion=us-west-2\n", CRED),
    Template("AWS config", "home/.aws/config", "[profile ci]\nregion = us-east-1\noutput = json\n"
             "aws_access_key_id = ⟨akid⟩\naws_secret_access_key = ⟨aws_secret⟩\n", CRED),
    Template("s3cmd config", "backup/.s3cfg", "[default]\naccess_key = ⟨akid⟩\nbucket_location = US\n"
             "host_base = s3.amazonaws.com\nsecret_key = ⟨aws_secret⟩\nuse_https = True\n", CRED),
    Template("gcloud service account", "deploy/gcp-service-account.json", '{\n  "type": "service_account",\n'
             '  "project_id": "shop-prod-4821",\n  "private_key_id": "0f6c2d8e4b1a",\n'
             '  "private_key": "⟨pem_json⟩",\n  "client_email": "deployer@shop-prod-4821.iam.gserviceaccount.com",\n'
             '  "token_uri": "https://oauth2.googleapis.com/token"\n}\n', CRED),
    Template("gcloud user credentials", "home/.config/gcloud/application_default_credentials.json",
             '{\n  "client_id": "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com",\n'
             '  "client_secret": "⟨gocspx⟩",\n  "refresh_token": "⟨google_refresh⟩",\n'
             '  "type": "authorized_user"\n}\n', CRED),
    Template("Azure service principal", "infra/azure-sp.json", '{\n  "appId": "5b3c1a8e-3f1d-4c2b-9a7e-2d6f8b0c4e1a",\n'
             '  "displayName": "github-deployer",\n  "password": "⟨azure_sp⟩",\n'
             '  "tenant": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"\n}\n', CRED),
    Template("Azure storage connection string", "api/appsettings.Production.json", '{\n  "Logging": {"LogLevel": '
             '{"Default": "Warning"}},\n  "Storage": "DefaultEndpointsProtocol=https;AccountName=shopfiles;'
             'AccountKey=⟨azure_key⟩;EndpointSuffix=core.windows.net"\n}\n', CRED),
    Template("npm token", "web/.npmrc", "registry=https://registry.npmjs.org/\n"
             "//registry.npmjs.org/:_authToken=⟨npm⟩\n//npm.pkg.github.com/:_authToken=⟨ghp⟩\nsave-exact=true\n", CRED),
    Template("npm legacy auth", "legacy/.npmrc", "registry=https://nexus.example.com/repository/npm/\n"
             "_auth=⟨npm_auth⟩\nemail=builds@example.com\nalways-auth=true\n", CRED),
    Template("PyPI credentials", "lib/.pypirc", "[distutils]\nindex-servers =\n    pypi\n    internal\n\n[pypi]\n"
             "username = __token__\npassword = ⟨pypi⟩\n\n[internal]\nrepository = https://pypi.example.com/\n"
             "username = uploader\npassword = ⟨pw⟩\n", CRED),
    Template("RubyGems credentials", "home/.gem/credentials", "---\n:rubygems_api_key: ⟨rubygems⟩\n", CRED),
    Template("Docker config", "home/.docker/config.json", '{\n  "auths": {\n    "https://index.docker.io/v1/": {\n'
             '      "auth": "⟨docker_auth⟩"\n    },\n    "registry.example.com": {"auth": "⟨docker_auth⟩"}\n'
             '  }\n}\n', CRED),
    Template("Docker legacy config", "home/.dockercfg", '{"https://index.docker.io/v1/": {"auth": "⟨docker_auth⟩", '
             '"email": "ops@example.com"}}\n', CRED),
    Template("Composer auth", "shop/auth.json", '{\n    "http-basic": {\n        "repo.example.org": {\n'
             '            "username": "build",\n            "password": "⟨pw⟩"\n        }\n    },\n'
             '    "github-oauth": {\n        "github.com": "⟨hex40⟩"\n    },\n    "bearer": {\n'
             '        "packages.example.com": "⟨token40⟩"\n    }\n}\n', CRED),
    Template("Maven settings", "home/.m2/settings.xml", "<settings>\n  <servers>\n    <server>\n"
             "      <id>releases</id>\n      <username>deployer</username>\n      <password>⟨pw⟩</password>\n"
             "    </server>\n  </servers>\n</settings>\n", CRED),
    Template("NuGet config", "dotnet/NuGet.Config", '<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n'
             "  <packageSourceCredentials>\n    <Contoso>\n"
             '      <add key="Username" value="build" />\n      <add key="ClearTextPassword" value="⟨pw⟩" />\n'
             "    </Contoso>\n  </packageSourceCredentials>\n</configuration>\n", CRED),
    Template("pgpass", "home/.pgpass", "db.example.com:5432:shop:shop_app:⟨pw⟩\n*:*:*:replicator:⟨pw⟩\n", CRED),
    Template("MySQL client config", "home/.my.cnf", "[client]\nuser=root\npassword=⟨pw⟩\nhost=localhost\n\n"
             '[mysqldump]\nuser=backup\npassword="⟨pw⟩"\n', CRED),
    Template("DBeaver data sources", "home/.dbeaver/data-sources.json", '{\n  "connections": {\n'
             '    "postgres-jdbc-1": {\n      "provider": "postgresql",\n      "configuration": {\n'
             '        "host": "db.example.com",\n        "user": "analyst",\n        "password": "⟨pw⟩"\n'
             "      }\n    }\n  }\n}\n", CRED),
    Template("DBeaver legacy data sources", "db/dbeaver-data-sources.xml", '<?xml version="1.0" encoding="UTF-8"?>\n'
             '<data-sources>\n  <data-source id="mysql-1" provider="mysql" driver="mysql8" name="prod">\n'
             '    <connection host="db.example.com" port="3306" database="shop" user="root" password="⟨pw⟩"/>\n'
             "  </data-source>\n</data-sources>\n", CRED),
    Template("DBeaver saved credentials", "home/.dbeaver/credentials-config.json", group=CRED, binary=True),
    Template("Robo 3T connections", "home/.3T/robo3t.json", '{\n  "connections": [\n    {\n'
             '      "serverHost": "mongo.example.com",\n      "credentials": [\n        {\n'
             '          "userName": "admin",\n          "userPassword": "⟨pw⟩",\n'
             '          "databaseName": "admin"\n        }\n      ]\n    }\n  ]\n}\n', CRED),
    Template("mongo shell rc", "home/.mongorc.js", 'db = connect("mongodb://mongo.example.com:27017/admin");\n'
             'db.auth("admin", "⟨pw⟩");\n', CRED),
    Template("Redis config", "cache/redis.conf", "bind 0.0.0.0\nport 6379\nrequirepass ⟨pw⟩\nmasterauth ⟨pw⟩\n"
             "appendonly yes\n", CRED),
    Template("FileZilla site manager", "home/FileZilla/sitemanager.xml", '<?xml version="1.0" encoding="UTF-8"?>\n'
             '<FileZilla3 version="3.66.1">\n  <Servers>\n    <Server>\n      <Host>ftp.example.com</Host>\n'
             "      <Port>21</Port>\n      <User>webmaster</User>\n"
             '      <Pass encoding="base64">⟨b64pw⟩</Pass>\n    </Server>\n  </Servers>\n</FileZilla3>\n', CRED),
    Template("FileZilla recent servers", "home/FileZilla/recentservers.xml",
             '<FileZilla3>\n  <RecentServers>\n    <Server>\n      <Host>sftp.example.com</Host>\n'
             '      <User>deploy</User>\n      <Pass encoding="base64">⟨b64pw⟩</Pass>\n    </Server>\n'
             "  </RecentServers>\n</FileZilla3>\n", CRED),
    Template("FileZilla legacy config", "old-ftp/filezilla.xml", "<FileZilla>\n  <Server>\n    <Host>ftp.example.org</Host>\n"
             "    <User>upload</User>\n    <Pass>⟨pw⟩</Pass>\n  </Server>\n</FileZilla>\n", CRED),
    Template("WinSCP sessions", "win/WinSCP.ini", "[Sessions\\webmaster@ftp.example.com]\nHostName=ftp.example.com\n"
             "UserName=webmaster\nPassword=⟨winscp⟩\n\n[Configuration\\Interface]\nTheme=Light\n", CRED),
    Template("Sublime SFTP config", "site/sftp-config.json", '{\n    // sftp, ftp or ftps\n    "type": "sftp",\n'
             '    "upload_on_save": true,\n    "host": "example.com",\n    "user": "deploy",\n'
             '    "password": "⟨pw⟩",\n    "remote_path": "/var/www/html/"\n}\n', CRED),
    Template("Atom remote-ftp config", "site/.ftpconfig", '{\n    "protocol": "ftp",\n    "host": "ftp.example.com",\n'
             '    "port": 21,\n    "user": "site",\n    "pass": "⟨pw⟩",\n    "remote": "/public_html"\n}\n', CRED),
    Template("VS Code SFTP config", "site/.vscode/sftp.json", '{\n    "name": "production",\n'
             '    "host": "www.example.com",\n    "protocol": "sftp",\n    "username": "deploy",\n'
             '    "password": "⟨pw⟩",\n    "remotePath": "/var/www"\n}\n', CRED),
    Template("htpasswd", "web/.htpasswd", "admin:⟨apr1⟩\neditor:⟨ssha⟩\n", CRED),
    Template("shadow file", "etc/shadow", "root:⟨sha512crypt⟩:19453:0:99999:7:::\ndaemon:*:19453:0:99999:7:::\n", CRED),
    Template("FTP server password file", "etc/proftpdpasswd", "ftpuser:⟨md5crypt⟩:1001:1001::/srv/ftp:/bin/false\n", CRED),
    Template("kubeconfig", "home/.kube/config", "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n"
             "    client-key-data: ⟨kube_key⟩\n- name: ci\n  user:\n    token: ⟨token40⟩\n", CRED),
    Template("hub config", "home/.config/hub", "github.com:\n- user: octocat\n  oauth_token: ⟨hex40⟩\n"
             "  protocol: https\n", CRED),
    # --- private keys ------------------------------------------------------------------------------------------
    Template("SSH private key (RSA)", "home/.ssh/id_rsa", "⟨pem_rsa⟩\n", KEYS),
    Template("SSH private key (OpenSSH)", "home/.ssh/id_ed25519", "⟨pem_openssh⟩\n", KEYS),
    Template("TLS private key", "certs/server.key", "⟨pem_pkcs8⟩\n", KEYS),
    Template("EC private key in a PEM bundle", "certs/bundle.pem", "⟨pem_ec⟩\n-----BEGIN CERTIFICATE-----\n"
             "MIIBszCCAVmgAwIBAgIUJ1\n-----END CERTIFICATE-----\n", KEYS),
    Template("PuTTY private key", "keys/deploy.ppk", "⟨putty⟩\n", KEYS),
    Template("PKCS#12 key store", "certs/client.p12", group=KEYS, binary=True),
    Template("Java key store", "android/release.jks", group=KEYS, binary=True),
    # --- shell exports -----------------------------------------------------------------------------------------
    Template("deploy script exports", "scripts/deploy.sh", "#!/usr/bin/env bash\nset -euo pipefail\n"
             "export AWS_ACCESS_KEY_ID=⟨akid⟩\nexport AWS_SECRET_ACCESS_KEY=⟨aws_secret⟩\n"
             "export GITHUB_TOKEN=⟨ghp⟩\nexport DB_PASSWORD='⟨pw⟩'\naws s3 sync dist/ s3://shop-site\n", SHELL),
    Template("bashrc exports", "home/.bashrc", "alias ll='ls -la'\nexport PATH=$HOME/bin:$PATH\n"
             "export OPENAI_API_KEY=⟨openai⟩\nexport SLACK_BOT_TOKEN=⟨slack_bot⟩\nexport DATADOG_API_KEY=⟨hex32⟩\n"
             "export HEROKU_API_KEY=⟨uuid⟩\n", SHELL),
    Template("zshrc exports", "home/.zshrc", "source $ZSH/oh-my-zsh.sh\nexport NPM_TOKEN=⟨npm⟩\n"
             'export VAULT_TOKEN="⟨vault⟩"\nexport SENTRY_AUTH_TOKEN=⟨hex64⟩\n', SHELL),
    Template("bash profile exports", "home/.bash_profile", "export EDITOR=vim\nexport GITLAB_TOKEN=⟨glpat⟩\n"
             "export MAILGUN_SMTP_PASSWORD=⟨pw⟩\n", SHELL),
    Template("Dockerfile ENV", "api/Dockerfile", "FROM node:20-alpine\nWORKDIR /app\nENV NODE_ENV=production\n"
             "ENV DB_PASSWORD=⟨pw⟩\nENV STRIPE_SECRET_KEY ⟨stripe⟩\nARG NPM_TOKEN=⟨npm⟩\nCOPY . .\n"
             'CMD ["node", "server.js"]\n', SHELL),
    Template("docker-compose environment", "docker-compose.yml", "services:\n  db:\n    image: postgres:16\n"
             "    environment:\n      - POSTGRES_PASSWORD=⟨pw⟩\n      - POSTGRES_USER=shop\n  mysql:\n"
             "    image: mysql:8\n    environment:\n      MYSQL_ROOT_PASSWORD: ⟨pw⟩\n", SHELL),
    Template("GitHub Actions env", ".github/workflows/deploy.yml", "name: deploy\non: push\njobs:\n  deploy:\n"
             "    runs-on: ubuntu-latest\n    env:\n      AWS_SECRET_ACCESS_KEY: ⟨aws_secret⟩\n"
             "      SLACK_WEBHOOK: ⟨slack_hook⟩\n    steps:\n      - run: ./deploy.sh\n", SHELL),
    Template("fish and csh exports", "home/env.fish", "set -gx API_TOKEN ⟨token40⟩\nsetenv AWS_SECRET_ACCESS_KEY ⟨aws_secret⟩\n",
             SHELL),
    Template("command lines with passwords", "scripts/backup.sh", "#!/bin/sh\n"
             "mysqldump -u root -p⟨pw⟩ shop > /backup/shop.sql\ncurl -u admin:⟨pw⟩ https://api.example.com/backup\n"
             "sshpass -p '⟨pw⟩' scp /backup/shop.sql backup@files.example.com:\n", SHELL),
    # --- framework secrets -------------------------------------------------------------------------------------
    Template("Django settings", "mysite/settings.py", "from pathlib import Path\n\nBASE_DIR = Path(__file__).parent\n"
             "SECRET_KEY = '⟨django⟩'\nDEBUG = False\nDATABASES = {\n    'default': {\n"
             "        'ENGINE': 'django.db.backends.postgresql',\n        'NAME': 'shop',\n"
             "        'PASSWORD': '⟨pw⟩',\n    }\n}\n", FRAMEWORK),
    Template("Flask app", "flaskapp/app.py", "from flask import Flask\n\napp = Flask(__name__)\n"
             "app.secret_key = '⟨token32⟩'\napp.config['SECRET_KEY'] = '⟨hex64⟩'\n", FRAMEWORK),
    Template("Flask config", "flaskapp/config.py", "class Config:\n    SECRET_KEY = '⟨token40⟩'\n"
             "    SQLALCHEMY_DATABASE_URI = 'postgresql://shop:⟨urlpw⟩@db.example.com/shop'\n", FRAMEWORK),
    Template("Laravel env", "laravel/.env", "APP_NAME=Shop\nAPP_ENV=production\nAPP_KEY=⟨laravel⟩\nAPP_DEBUG=false\n"
             "DB_CONNECTION=mysql\nDB_PASSWORD=⟨pw⟩\nREDIS_PASSWORD=null\nMAIL_PASSWORD=⟨pw⟩\n"
             "PUSHER_APP_SECRET=⟨hex32⟩\n", FRAMEWORK),
    Template("WordPress config", "wordpress/wp-config.php", "<?php\ndefine( 'DB_NAME', 'wordpress' );\n"
             "define( 'DB_USER', 'wp' );\ndefine( 'DB_PASSWORD', '⟨pw⟩' );\ndefine( 'DB_HOST', 'localhost' );\n"
             "define( 'AUTH_KEY',         '⟨wp_salt⟩' );\ndefine( 'SECURE_AUTH_KEY',  '⟨wp_salt⟩' );\n"
             "define( 'LOGGED_IN_KEY',    '⟨wp_salt⟩' );\ndefine( 'NONCE_KEY',        '⟨wp_salt⟩' );\n"
             "define( 'AUTH_SALT',        '⟨wp_salt⟩' );\ndefine( 'SECURE_AUTH_SALT', '⟨wp_salt⟩' );\n"
             "define( 'LOGGED_IN_SALT',   '⟨wp_salt⟩' );\ndefine( 'NONCE_SALT',       '⟨wp_salt⟩' );\n"
             "$table_prefix = 'wp_';\n", FRAMEWORK),
    Template("Rails master key", "rails/config/master.key", "⟨hex32⟩\n", FRAMEWORK),
    Template("Rails secrets", "rails/config/secrets.yml", "development:\n  secret_key_base: ⟨hex128⟩\n\n"
             "production:\n  secret_key_base: <%= ENV[\"SECRET_KEY_BASE\"] %>\n", FRAMEWORK),
    Template("Devise initializer", "rails/config/initializers/devise.rb", "Devise.setup do |config|\n"
             "  config.secret_key = '⟨hex128⟩'\n  config.mailer_sender = 'shop@example.com'\nend\n", FRAMEWORK),
    Template("Symfony env", "symfony/.env.local", "APP_ENV=prod\nAPP_SECRET=⟨hex32⟩\n"
             'DATABASE_URL="postgresql://app:⟨urlpw⟩@127.0.0.1:5432/app?serverVersion=16"\n', FRAMEWORK),
    Template("Express server", "node/server.js", "const express = require('express');\n"
             "const session = require('express-session');\nconst cookieParser = require('cookie-parser');\n"
             "const app = express();\napp.use(cookieParser('⟨token32⟩'));\napp.use(session({\n"
             "  secret: '⟨token40⟩',\n  resave: false,\n}));\n", FRAMEWORK),
    Template("Koa app keys", "koa/app.js", "const Koa = require('koa');\nconst app = new Koa();\n"
             "app.keys = ['⟨token32⟩'];\n", FRAMEWORK),
    Template("JWT signing", "node/auth.js", "const jwt = require('jsonwebtoken');\n"
             "const token = jwt.sign({ sub: user.id }, '⟨token40⟩', { expiresIn: '1h' });\n"
             "module.exports = { jwtSecret: '⟨token32⟩' };\n", FRAMEWORK),
    Template("Spring properties", "java/src/main/resources/application.properties",
             "spring.datasource.url=jdbc:postgresql://db.example.com/shop\nspring.datasource.password=⟨pw⟩\n"
             "jwt.secret=⟨token40⟩\nspring.mail.password=⟨pw⟩\n", FRAMEWORK),
    # --- config files ------------------------------------------------------------------------------------------
    Template("Rails database.yml", "rails/config/database.yml", "production:\n  adapter: postgresql\n"
             "  database: shop\n  username: shop\n  password: ⟨pw⟩\n", CONFIG),
    Template("INI config", "service/config.ini", "[database]\nhost = db.example.com\npassword = ⟨pw⟩\n\n[smtp]\n"
             "smtp_password=⟨pw⟩\n\n[api]\napi_key = ⟨token32⟩\n", CONFIG),
    Template("TOML settings", "service/settings.toml", '[db]\npassword = "⟨pw⟩"\n\n[service]\ntoken = "⟨token40⟩"\n',
             CONFIG),
    Template("Helm values", "charts/shop/values.yaml", "replicaCount: 2\nauth:\n  adminPassword: ⟨pw⟩\n"
             "  apiToken: ⟨token40⟩\n", CONFIG),
    Template("Mongoid config", "rails/config/mongoid.yml", "production:\n  clients:\n    default:\n"
             "      database: shop\n      options:\n        user: shop\n        password: ⟨pw⟩\n", CONFIG),
    Template("Ventrilo server config", "games/ventrilo_srv.ini", "[Server]\nName=Guild\nPassword=⟨pw⟩\n"
             "AdminPassword=⟨pw⟩\n", CONFIG),
    Template("Terraform variables", "infra/terraform.tfvars", 'region = "us-west-2"\ndb_password = "⟨pw⟩"\n'
             'cloudflare_api_token = "⟨token40⟩"\n', CONFIG),
    Template("Terraform resource", "infra/main.tf", 'resource "aws_db_instance" "shop" {\n  engine   = "postgres"\n'
             '  username = "shop"\n  password = "⟨pw⟩"\n}\n', CONFIG),
    Template("web.config", "dotnet/web.config", "<configuration>\n  <connectionStrings>\n"
             '    <add name="Default" connectionString="Server=db;Database=shop;User Id=sa;Password=⟨pw⟩;" />\n'
             '  </connectionStrings>\n  <appSettings>\n    <add key="ApiToken" value="⟨token40⟩" />\n'
             "  </appSettings>\n</configuration>\n", CONFIG),
    Template("IntelliJ deployment", "project/.idea/WebServers.xml", '<project version="4">\n'
             '  <component name="WebServers">\n    <fileTransfer host="ftp.example.com" port="21">\n'
             '      <option name="password" value="⟨hex40⟩" />\n    </fileTransfer>\n  </component>\n</project>\n',
             CONFIG),
    Template("esmtp config", "home/.esmtprc", 'identity "shop@example.com"\n  hostname smtp.example.com:587\n'
             '  username "shop@example.com"\n  password "⟨pw⟩"\n  starttls enabled\n', CONFIG),
    Template("SQL user", "db/users.sql", "CREATE USER 'shop'@'%' IDENTIFIED BY '⟨pw⟩';\n"
             "GRANT ALL ON shop.* TO 'shop'@'%';\nCREATE ROLE report WITH LOGIN PASSWORD '⟨pw⟩';\n", CONFIG),
    # --- provider keys and passwords in code -------------------------------------------------------------------
    Template("Stripe key in code", "src/payments.js", "const stripe = require('stripe')('⟨stripe⟩');\n"
             "module.exports = stripe;\n", CODE),
    Template("Google API key in code", "src/maps.js", 'const MAPS_KEY = "⟨google_api⟩";\n', CODE),
    Template("SendGrid key in code", "tools/mailer.py", "import sendgrid\n\n"
             'client = sendgrid.SendGridAPIClient("⟨sendgrid⟩")\n', CODE),
    Template("GitHub token in code", "tools/release.py", "from github import Github\n\n"
             'gh = Github("⟨github_pat⟩")\nAPI_TOKEN = "⟨token40⟩"\n', CODE),
    Template("Java constants", "java/src/main/java/shop/Config.java", "package shop;\n\npublic final class Config {\n"
             '    private static final String DB_PASSWORD = "⟨pw⟩";\n    static String apiToken = "⟨token32⟩";\n}\n',
             CODE),
    Template("Go constants", "goapp/main.go", 'package main\n\nconst apiKey = "⟨token32⟩"\n\nfunc main() {\n'
             '\tpassword := "⟨pw⟩"\n\t_ = password\n}\n', CODE),
    Template("PHP config", "php/config.php", "<?php\n$db_pass = '⟨pw⟩';\n$config['smtp_pass'] = '⟨pw⟩';\n", CODE),
    Template("MongoDB URI in code", "worker/db.py", 'MONGO_URL = "mongodb://worker:⟨urlpw⟩@mongo.example.com:27017/jobs"\n',
             CODE),
    # --- .env files --------------------------------------------------------------------------------------------
    Template("Node .env", "node/.env", "PORT=3000\nDATABASE_URL=postgres://shop:⟨urlpw⟩@db.example.com:5432/shop\n"
             "STRIPE_SECRET_KEY=⟨stripe⟩\nSESSION_SECRET=⟨token40⟩\nSENDGRID_API_KEY=⟨sendgrid⟩\n"
             "TWILIO_AUTH_TOKEN=⟨hex32⟩\n", ENV),
    Template("production .env", "api/.env.production", 'NODE_ENV=production\nJWT_SECRET="⟨token40⟩"\n'
             "AWS_ACCESS_KEY_ID=⟨akid⟩\nAWS_SECRET_ACCESS_KEY=⟨aws_secret⟩\n", ENV),
    Template("service .env", "worker/config/worker.env", "QUEUE=jobs\nREDIS_URL=redis://:⟨urlpw⟩@cache.example.com:6379\n"
             "SLACK_TOKEN=⟨slack_bot⟩\nENCRYPTION_KEY=⟨hex64⟩\n", ENV),
)  # fmt: skip

CLEAN: tuple[Template, ...] = (
    Template("env template", "app/.env.example", "APP_KEY=\nDB_PASSWORD=changeme\nSTRIPE_SECRET_KEY=sk_" "live_xxxxxxxxxxxxxxxxxxxxxxxx\n"
             "JWT_SECRET=${JWT_SECRET}\nAWS_SECRET_ACCESS_KEY=<your-secret-key>\nSENDGRID_API_KEY=your-sendgrid-key-here\n"
             "SESSION_SECRET=\nREDIS_PASSWORD=null\nAPI_TOKEN=\"\"\nSECRET_KEY=None\nMAIL_PASSWORD=password\n"),
    Template("WordPress sample config", "wp/wp-config-sample.php", "<?php\ndefine( 'DB_NAME', 'database_name_here' );\n"
             "define( 'DB_USER', 'username_here' );\ndefine( 'DB_PASSWORD', 'password_here' );\n"
             "define( 'AUTH_KEY',         'put your unique phrase here' );\n"
             "define( 'NONCE_SALT',       'put your unique phrase here' );\n"),
    Template("Django settings from env", "site/settings.py", "import os\n\n"
             'SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]\nDATABASES = {"default": {"PASSWORD": os.getenv("DB_PASSWORD", "")}}\n'
             "AUTH_PASSWORD_VALIDATORS = [\n    {'NAME': 'django.contrib.auth.password_validation.UserAttributeSimilarityValidator'},\n]\n"
             "PASSWORD_HASHERS = ['django.contrib.auth.hashers.PBKDF2PasswordHasher']\nPASSWORD_RESET_TIMEOUT = 259200\n"
             "AUTHENTICATION_BACKENDS = ['django.contrib.auth.backends.ModelBackend']\nSESSION_COOKIE_SECURE = True\n"),
    Template("login form", "site/forms.py", "from django import forms\n\n\nclass LoginForm(forms.Form):\n"
             '    password = forms.CharField(widget=forms.PasswordInput, label="Password")\n'
             '    confirm_password = forms.CharField(label="Confirm password")\n\n\npassword_field = "password"\n'
             'PASSWORD_RESET_URL = "/reset"\nTOKEN_TYPE = "bearer"\nSECRET_NAME = "prod/shop/db"\n'
             'api_key_header = "X-Api-Key"\npassword_min_length = 12\n'),
    Template("login page", "site/templates/login.html", '<form method="post">\n'
             '  <input type="password" name="password" placeholder="Password" autocomplete="current-password">\n'
             '  <a href="/forgot-password">Forgot your password?</a>\n</form>\n'),
    Template("translations", "site/locales/en.yml", 'en:\n  password: "Password"\n  password_confirmation: "Confirm your password"\n'
             '  forgot_password: "Forgot your password?"\n  secret_question: "Your secret question"\n'
             '  token_expired: "Your session token has expired"\n'),
    Template("German translations", "site/locales/de.json", '{"password": "Passwort", "password_hint": "Mindestens 8 Zeichen",'
             ' "api_key": "API-Schlüssel", "token": "Zugangsschlüssel"}\n'),
    Template("README", "README.md", "# Shop\n\n## Configuration\n\nSet `DB_PASSWORD` in your environment. The password must be\n"
             "at least 12 characters.\n\n```sh\nexport API_KEY=your-api-key\nexport DB_PASSWORD=<password>\n"
             "curl -u $USER:$TOKEN https://api.example.com/\nmysql -u root -p shop\n```\n\n"
             "The token: generated on first run. Password: ask the administrator.\n"),
    Template("compose from env", "ops/docker-compose.yml", "services:\n  db:\n    environment:\n"
             "      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}\n      - REDIS_PASSWORD=${REDIS_PASSWORD:-}\n"
             "      MYSQL_ROOT_PASSWORD_FILE: /run/secrets/db_root_password\nsecrets:\n  db_root_password:\n"
             "    file: ./secrets/db_root_password.txt\n"),
    Template("Kubernetes secret reference", "ops/k8s/deployment.yaml", "env:\n- name: DB_PASSWORD\n  valueFrom:\n"
             "    secretKeyRef:\n      name: db-credentials\n      key: password\n"),
    Template("Helm values template", "ops/helm/values.yaml", 'auth:\n  existingSecret: ""\n  password: ""\n'
             '  rootPassword: "{{ .Values.rootPassword }}"\n  token: ~\n'),
    Template("npmrc from env", "web/.npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\nsave-exact=true\n"),
    Template("Maven settings from env", "build/settings.xml", "<settings><servers><server><id>releases</id>\n"
             "<username>${env.MAVEN_USER}</username>\n<password>${env.MAVEN_PASSWORD}</password>\n</server></servers></settings>\n"),
    Template("NuGet config from env", "build/NuGet.Config", '<configuration><packageSourceCredentials><Feed>\n'
             '<add key="ClearTextPassword" value="%NUGET_PASSWORD%" />\n</Feed></packageSourceCredentials></configuration>\n'),
    Template("pypirc template", "build/.pypirc", "[pypi]\nusername = __token__\npassword = <your PyPI token>\n"),
    Template("Dockerfile build args", "build/Dockerfile", "FROM python:3.12\nARG NPM_TOKEN\nENV NODE_ENV=production\n"
             "ENV DB_PASSWORD_FILE=/run/secrets/db\nRUN --mount=type=secret,id=npm_token npm ci\n"),
    Template("deploy script from env", "ops/deploy.sh", '#!/bin/sh\nexport AWS_SECRET_ACCESS_KEY="$(aws configure get aws_secret_access_key)"\n'
             'export TOKEN=$1\nread -s -p "Password: " PASSWORD\nexport PGPASSWORD="$DB_PASSWORD"\n'),
    Template("Express from env", "web/app.js", "const secret = process.env.SESSION_SECRET;\n"
             "app.use(session({ secret: process.env.SESSION_SECRET }));\nconst token = jwt.sign(payload, process.env.JWT_SECRET);\n"
             "const passwordMinLength = 12;\nif (password !== confirmPassword) { throw new Error('Passwords differ'); }\n"),
    Template("INI template", "service/config.sample.ini", "[database]\npassword =\n\n[api]\ntoken = ${API_TOKEN}\n"
             "; password = see the vault\nsecret_key = CHANGE_ME\n"),
    Template("certificate", "certs/public.pem", "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUJ1\n-----END CERTIFICATE-----\n"),
    Template("SSH public key", "keys/id_rsa.pub", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 deploy@example.com\n"),
    Template("checksums", "deps/versions.cfg", "[tool]\nversion = 1.4.2\nsha256 = e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
             "commit = 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"),
    Template("schema", "db/schema.sql", "CREATE TABLE users (id serial PRIMARY KEY, password_hash text NOT NULL,\n"
             "  reset_token text, api_key_id integer);\n"),
    Template("Terraform variable", "infra/variables.tf", 'variable "db_password" {\n  type      = string\n  sensitive = true\n}\n\n'
             'resource "aws_db_instance" "db" {\n  password = var.db_password\n}\n'),
    Template("Redis default config", "cache/redis.conf", "port 6379\n# requirepass foobared\n"),
    Template("sshd config", "etc/ssh/sshd_config", "PasswordAuthentication no\nPermitEmptyPasswords no\n"),
    Template("nginx config", "etc/nginx/site.conf", 'location /admin {\n  auth_basic "Restricted";\n'
             "  auth_basic_user_file /etc/nginx/.htpasswd;\n}\n"),
    Template("changelog", "CHANGELOG.md", "## 1.2.0\n\n- Fixed password reset token expiry.\n- The API key is now read from `API_KEY`.\n"),
    Template("netrc template", "docs/netrc.example", "machine api.example.com login <user> password <token>\n"),
    Template("Rails database from env", "app/config/database.yml", "production:\n  adapter: postgresql\n"
             "  password: <%= ENV['DATABASE_PASSWORD'] %>\n  username: <%= ENV.fetch('DATABASE_USER') %>\n"),
    Template("Spring properties from env", "svc/application.properties", "spring.datasource.password=${DB_PASSWORD}\n"
             "jwt.secret=${JWT_SECRET:}\nserver.ssl.key-store-password=${KEYSTORE_PASSWORD}\n"),
)  # fmt: skip
