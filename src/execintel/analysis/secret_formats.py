"""Secret formats: provider key formats detect-secrets has no plugin for, formats tied to a key name, and the
secrets of the common web frameworks (application keys and salts). All are *specific* rules (severity critical).
"""

from __future__ import annotations

from execintel.analysis.secret_rules import LIT, Q, Rule, decodes_to_user_password, file_names, pattern

# --- provider key formats detect-secrets has no plugin for (high confidence, any file) -------------------------
PROVIDER_RULES: tuple[Rule, ...] = tuple(
    Rule(name, pattern(r"(?<![A-Za-z0-9_\-])(?P<value>" + regex + r")(?![A-Za-z0-9_\-])"), hints, format=True)
    for name, regex, hints in (
        ("Google API key", r"AIza[0-9A-Za-z_\-]{35}", ("aiza",)),
        ("Google OAuth client secret", r"GOCSPX-[0-9A-Za-z_\-]{28}", ("gocspx-",)),
        ("Google OAuth refresh token", r"1//0[0-9A-Za-z_\-]{40,200}", ("1//0",)),
        ("GitHub fine-grained token", r"github_pat_[0-9A-Za-z_]{60,90}", ("github_pat_",)),
        ("GitLab token", r"glpat-[0-9A-Za-z_\-]{20}", ("glpat-",)),
        ("Slack app token", r"xapp-\d-[A-Z0-9]{9,12}-\d{10,14}-[a-f0-9]{40,70}", ("xapp-",)),
        ("Shopify access token", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}", ("shpat_", "shpca_", "shppa_", "shpss_")),
        ("DigitalOcean token", r"do[opr]_v1_[a-f0-9]{64}", ("_v1_",)),
        ("Heroku API key", r"HRKU-[0-9A-Za-z_\-]{30,70}", ("hrku-",)),
        ("Postman API key", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}", ("pmak-",)),
        ("Anthropic API key", r"sk-ant-(?:api|admin)\d\d-[0-9A-Za-z_\-]{80,100}", ("sk-ant-",)),
        (
            "OpenAI API key",
            r"sk-(?:proj|svcacct|admin)-[0-9A-Za-z_\-]{40,200}",
            ("sk-proj-", "sk-svcacct-", "sk-admin-"),
        ),
        ("Hugging Face token", r"hf_[A-Za-z]{34}", ("hf_",)),
        ("HashiCorp Vault token", r"hv[sb]\.[0-9A-Za-z_\-]{24,200}", ("hvs.", "hvb.")),
        ("Doppler token", r"dp\.(?:pt|st|sa|ct|scim|audit)\.[0-9A-Za-z]{40,44}", ("dp.",)),
        ("Linear API key", r"lin_api_[0-9A-Za-z]{40}", ("lin_api_",)),
        ("Databricks token", r"dapi[a-f0-9]{32}(?:-\d)?", ("dapi",)),
        ("Grafana token", r"gl(?:c|sa)_[0-9A-Za-z_+/=\-]{32,200}", ("glc_", "glsa_")),
        ("Mailgun API key", r"key-[0-9a-f]{32}", ("key-",)),
        ("Mapbox secret token", r"sk\.eyJ[0-9A-Za-z_\-]{20,200}\.[0-9A-Za-z_\-]{20,40}", ("sk.eyj",)),
        ("Age secret key", r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}", ("age-secret-key-1",)),
        ("Pulumi access token", r"pul-[a-f0-9]{40}", ("pul-",)),
        ("Atlassian API token", r"ATATT3[0-9A-Za-z_\-=]{180,200}", ("atatt3",)),
        ("Sentry auth token", r"sntry[su]_[0-9A-Za-z_=+/\-]{40,200}", ("sntry",)),
        ("New Relic key", r"NRAK-[A-Z0-9]{27}", ("nrak-",)),
        ("Dropbox token", r"sl\.[0-9A-Za-z_\-]{130,160}", ("sl.",)),
        ("Facebook access token", r"EAA[A-Za-z0-9]{90,300}", ("eaa",)),
        ("Google OAuth access token", r"ya29\.[0-9A-Za-z_\-]{30,2000}", ("ya29.",)),
        (
            "Discord webhook",
            r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d{5,30}/[\w\-]{30,100}",
            ("discord",),
        ),
        ("Braintree access token", r"access_token\$production\$[0-9a-z]{16}\$[0-9a-f]{32}", ("access_token$",)),
        ("Alibaba Cloud access key", r"LTAI[A-Za-z0-9]{12,20}", ("ltai",)),
        ("PlanetScale token", r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_\-=.]{32,64}", ("pscale_",)),
        ("Supabase token", r"sbp_[a-f0-9]{40}", ("sbp_",)),
        ("Terraform Cloud token", r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=\-]{60,70}", (".atlasv1.",)),
        ("Docker Hub token", r"dckr_pat_[A-Za-z0-9_\-]{27}", ("dckr_pat_",)),
        ("Cloudflare origin CA key", r"v1\.0-[a-f0-9]{24}-[a-f0-9]{146}", ("v1.0-",)),
        (
            "Plaid access token",
            r"access-(?:sandbox|development|production)-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}"
            r"-[a-f0-9]{4}-[a-f0-9]{12}",
            ("access-",),
        ),
    )
)

# --- formats tied to a key name, any file ---------------------------------------------------------------------
KEYED_RULES: tuple[Rule, ...] = (
    Rule(
        "AWS secret access key",
        pattern(
            r"(?i)(?:aws_?secret_?(?:access_?)?key|secret_?access_?key)[\"'\]]{0,2}\s*"
            r"(?:=>|:=|[=:]|\s)\s*[\"'`]?(?P<value>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
        ("secret",),
        format=True,
    ),
    Rule(
        "AWS session token",
        pattern(
            r"(?i)aws_?session_?token[\"'\]]{0,2}\s*(?:=>|:=|[=:]|\s)\s*[\"'`]?"
            r"(?P<value>[A-Za-z0-9/+=]{100,1200})"
        ),
        ("session",),
        format=True,
    ),
    Rule(
        "Azure shared access key",
        pattern(r"(?i)(?:SharedAccessKey|AccountKey)\s*=\s*(?P<value>[A-Za-z0-9+/]{40,100}=*)"),
        ("sharedaccesskey", "accountkey"),
        format=True,
    ),
    Rule(
        "npm registry credentials",
        pattern(
            r"(?:^\s*|:)(?:_authToken|_auth|_password|npmAuthToken|npmAuthIdent)[\"']?"
            r"\s*[=:]\s*[\"']?(?P<value>[^\s\"'#;]{8,512})"
        ),
        ("_auth", "_password", "npmauth"),
    ),
    Rule(
        "Docker registry auth",
        pattern(r"\"auth\"\s*:\s*\"(?P<value>[A-Za-z0-9+/=]{8,2048})\""),
        ('"auth"',),
        format=True,
        check=decodes_to_user_password,
    ),
    Rule(
        "RubyGems API key",
        pattern(r":?rubygems_api_key:?\s*[\"']?(?P<value>(?:rubygems_)?[0-9a-f]{32,48})"),
        ("rubygems_api_key",),
        format=True,
    ),
    Rule(
        "Redis password",
        pattern(r"(?i)(?:^|\s|--)(?:requirepass|masterauth)\s+[\"']?(?P<value>[^\s\"']{4,256})"),
        ("requirepass", "masterauth"),
    ),
    Rule("MongoDB shell password", pattern(r"\.auth\(\s*" + Q + r"[^\"'`]{1,100}" + Q + r"\s*,\s*" + LIT), (".auth(",)),
    Rule(
        "Database password on a command line",
        pattern(
            r"(?:^|[\s;&|(\"'`])(?:mysql|mysqldump|mysqladmin|mariadb)\b"
            r"[^\n]{0,300}?\s(?:-p|--password=)(?P<value>[^\s\"'`;]{4,256})"
        ),
        ("mysql", "mariadb"),
    ),
    Rule("sshpass password", pattern(r"\bsshpass\s+-p\s*[\"']?(?P<value>[^\s\"']{4,256})"), ("sshpass",)),
    Rule(
        "curl user password",
        pattern(
            r"\bcurl\b[^\n]{0,300}?\s(?:-u|--user)\s*[\"']?[^\s:\"']{1,100}:"
            r"(?P<value>[^\s\"']{4,256})"
        ),
        ("curl",),
    ),
    Rule(
        "Database user password (SQL)",
        pattern(
            r"(?i)\b(?:IDENTIFIED\s+BY|WITH\s+(?:LOGIN\s+)?(?:ENCRYPTED\s+)?PASSWORD"
            r"|SET\s+PASSWORD\s+FOR\s+\S{1,200}\s*=)\s*(?:PASSWORD\s*\(\s*)?" + LIT
        ),
        ("identified", "password"),
    ),
    Rule(
        "Kubernetes client key",
        pattern(r"client-key-data:\s*(?P<value>[A-Za-z0-9+/=]{20,8192})"),
        ("client-key-data",),
        format=True,
    ),
    Rule(
        "Private key",
        pattern(
            r"-----BEGIN (?:[A-Z0-9]{1,10} ){0,3}PRIVATE KEY(?: BLOCK)?-----(?:\\[rn]|\s){0,8}"
            r"(?P<value>[A-Za-z0-9+/=]{16,64})"
        ),
        ("private key",),
        format=True,
    ),
    Rule(
        "Private key",
        pattern(r"-----BEGIN (?:[A-Z0-9]{1,10} ){0,3}PRIVATE KEY(?: BLOCK)?-----\s*$"),
        ("private key",),
        format=True,
        next_line=True,
    ),
    Rule(
        "PuTTY private key",
        pattern(r"^(?P<value>PuTTY-User-Key-File-\d{1,2}:\s{0,4}[\w@.\-]{1,40})"),
        ("putty",),
        format=True,
    ),
)

# --- framework secrets ----------------------------------------------------------------------------------------
_WP_NAMES = r"(?:AUTH|SECURE_AUTH|LOGGED_IN|NONCE)_(?:KEY|SALT)"
FRAMEWORK_RULES: tuple[Rule, ...] = (
    Rule(
        "WordPress key or salt",
        pattern(
            r"define\s*\(\s*[\"']" + _WP_NAMES + r"[\"']\s*,\s*(?P<q>[\"'])"
            r"(?P<value>[^\"'\n]{8,256}?)(?P=q)\s*\)"
        ),
        ("define",),
        format=True,  # salts hold any character, spaces included
    ),
    Rule(
        "WordPress database password",
        pattern(
            r"define\s*\(\s*[\"']DB_PASSWORD[\"']\s*,\s*(?P<q>[\"'])"
            r"(?P<value>[^\"'\n]{1,256}?)(?P=q)\s*\)"
        ),
        ("db_password",),
    ),
    Rule(
        "Secret constant (PHP define)",
        pattern(
            r"define\s*\(\s*[\"'](?P<key>\w{0,40}(?:PASS|PWD|SECRET|TOKEN|_KEY|SALT|AUTH)"
            r"\w{0,40})[\"']\s*,\s*(?P<q>[\"'])(?P<value>[^\"'\n]{4,256}?)(?P=q)\s*\)"
        ),
        ("define",),
        generic=True,
    ),
    Rule(
        "Laravel APP_KEY",
        pattern(r"APP_KEY\s*[=:]\s*[\"']?base64:(?P<value>[A-Za-z0-9+/]{40,64}=*)"),
        ("app_key",),
        format=True,
    ),
    Rule(
        "Rails secret_key_base",
        pattern(r"secret_key_base[\"']?\s*[:=]>?\s*[\"']?(?P<value>[0-9a-f]{64,256})"),
        ("secret_key_base",),
        format=True,
    ),
    Rule(
        "Rails master key",
        pattern(r"^\s*(?P<value>[0-9a-f]{32})\s*$"),
        format=True,
        files=file_names(r"master\.key|credentials/[\w-]+\.key"),
    ),
    Rule(
        "Django SECRET_KEY",
        pattern(r"^\s*SECRET_KEY\s*=\s*(?P<q>[\"'])(?P<value>[^\"'\n]{20,256}?)(?P=q)"),
        ("secret_key",),
        files=file_names(r"(?:[\w-]*settings[\w-]*|settings/[\w-]+)\.py"),
    ),
    Rule(
        "Django SECRET_KEY",
        pattern(r"(?P<q>[\"'])(?P<value>django-insecure-[^\"'\n]{20,200}?)(?P=q)"),
        ("django-insecure",),
    ),
    Rule(
        "Flask SECRET_KEY",
        pattern(
            r"\bapp\.(?:secret_key|config\s*\[\s*[\"']SECRET_KEY[\"']\s*\])\s*=\s*(?P<q>[\"'])"
            r"(?P<value>[^\"'\n]{8,256}?)(?P=q)"
        ),
        ("app.",),
    ),
    Rule("Symfony APP_SECRET", pattern(r"\bAPP_SECRET\s*[=:]\s*[\"']?(?P<value>[^\s\"'#]{8,256})"), ("app_secret",)),
    Rule(
        "Express session secret",
        pattern(r"\b(?:session|cookieSession)\s*\(\s*\{[^}]{0,300}?\bsecret\s*:\s*" + LIT),
        ("session",),
    ),
    Rule("Express cookie secret", pattern(r"\bcookieParser\s*\(\s*" + LIT), ("cookieparser",)),
    Rule("Koa signing keys", pattern(r"\bapp\.keys\s*=\s*\[\s*" + LIT), ("app.keys",)),
    Rule(
        "Cookie session keys",
        pattern(r"\bcookieSession\s*\(\s*\{[^}]{0,300}?\bkeys\s*:\s*\[\s*" + LIT),
        ("cookiesession",),
    ),
    Rule("JWT signing secret", pattern(r"\bjwt\.(?:sign|verify)\s*\([^,()]{1,200},\s*" + LIT), ("jwt.",)),
)
