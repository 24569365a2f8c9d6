"""A generated corpus of leaked secrets in realistic files, with its answer key, and clean look-alike files.

Every secret is made at run time from a seeded generator (random, in the right format, never a real key), so this
repository holds no secret-shaped text. Templates (``secret_corpus_files``) mark each secret with ``⟨kind⟩``;
rendering replaces each marker with a fresh fake value and records the line it lands on.

``build_repository`` commits the corpus to a git repository: every leaking file twice, once under ``live/`` (still
tracked: each secret is a ``hardcoded-secret``) and once under ``old/`` (deleted or edited to placeholders by a
second commit: each secret is a ``secret-in-history``), plus the clean files under ``clean/``. Used by the tests
and by ``benchmarks/bench_secrets.py``.
"""

from __future__ import annotations

import base64
import os
import random
import re
import string
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from secret_corpus_files import CLEAN, LEAKS, Template

_MARKER = re.compile(r"⟨(\w+)⟩")
_B64 = string.ascii_letters + string.digits + "+/"
_URLSAFE = string.ascii_letters + string.digits + "_-"
_PASSWORD = string.ascii_letters + string.digits + "!%^*-_+.~@"
_WP = string.ascii_letters + string.digits + "!@#$%^&*()-_ []{}<>~`+=,.;:/?|"
_DJANGO = string.ascii_lowercase + string.digits + "!@#%^&*(-_=+)"


class Fake:
    """Fake secrets in the formats scanners look for, from a seeded generator (never a real key)."""

    def __init__(self, seed: str) -> None:
        self.rand = random.Random(seed)  # noqa: S311 - test data, not cryptography

    def chars(self, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
        """``n`` random characters of ``alphabet``."""
        return "".join(self.rand.choice(alphabet) for _ in range(n))

    def password(self) -> str:
        """A 14-20 character password with upper, lower, a digit and a symbol."""
        while True:
            value = self.chars(self.rand.randint(14, 20), _PASSWORD)
            if (any(c.isupper() for c in value) and any(c.islower() for c in value)
                    and any(c.isdigit() for c in value) and value[0] not in "-+.~@"):  # fmt: skip
                return value

    def alnum_secret(self, n: int) -> str:
        """Random letters and digits with at least one of each (reads as a key, not a word)."""
        while True:
            value = self.chars(n)
            if any(c.isdigit() for c in value) and any(c.isalpha() for c in value):
                return value

    def hex(self, n: int) -> str:
        """``n`` random lower-case hex digits."""
        return self.chars(n, "0123456789abcdef")

    def b64(self, n: int) -> str:
        """``n`` random base64 characters."""
        return self.chars(n, _B64)


def _pem(f: Fake, label: str, escaped: bool = False) -> tuple[str, str]:
    body = ["MII" + f.b64(61)] + [f.b64(64) for _ in range(f.rand.randint(5, 9))] + [f.b64(40) + "=="]
    sep = "\\n" if escaped else "\n"
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    return sep.join([begin, *body, end]) + (sep if escaped else ""), body[0]


def _putty(f: Fake) -> tuple[str, str]:
    private = [f.b64(64) for _ in range(6)]
    lines = ["PuTTY-User-Key-File-3: ssh-rsa", "Encryption: none", "Comment: deploy@build-host",
             "Public-Lines: 2", "AAAAB3NzaC1yc2E" + f.b64(49), f.b64(40), f"Private-Lines: {len(private)}",
             *private, "Private-MAC: " + f.hex(64)]  # fmt: skip
    return "\n".join(lines), private[0]


def _crypt(f: Fake, scheme: str, salt: int, digest: int) -> str:
    alphabet = string.ascii_letters + string.digits + "./"
    return f"${scheme}${f.chars(salt, alphabet)}${f.chars(digest, alphabet)}"


def _slack_hook(f: Fake) -> tuple[str, str]:
    ids = string.ascii_uppercase + string.digits
    token = f.chars(24)
    return f"https://hooks.slack.com/services/T{f.chars(8, ids)}/B{f.chars(8, ids)}/{token}", token


def _laravel(f: Fake) -> tuple[str, str]:
    key = base64.b64encode(f.rand.randbytes(32)).decode()
    return "base64:" + key, key


def _b64_of(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# Each kind of secret: a function from the generator to the value written (the secret itself).
VALUES: dict[str, Callable[[Fake], str]] = {
    "pw": lambda f: f.password(),
    "urlpw": lambda f: f.alnum_secret(18),
    "token32": lambda f: f.alnum_secret(32),
    "token40": lambda f: f.alnum_secret(40),
    "hex32": lambda f: f.hex(32),
    "hex40": lambda f: f.hex(40),
    "hex64": lambda f: f.hex(64),
    "hex128": lambda f: f.hex(128),
    "uuid": lambda f: "-".join(f.hex(n) for n in (8, 4, 4, 4, 12)),
    "akid": lambda f: "AK" + "IA" + f.chars(16, string.ascii_uppercase + "234567"),
    "aws_secret": lambda f: f.b64(40),
    "aws_session": lambda f: "IQoJb3JpZ2luX2Vj" + f.b64(280) + "==",
    "ghp": lambda f: "gh" + "p_" + f.chars(36),
    "github_pat": lambda f: "github" + "_pat_" + f.chars(22) + "_" + f.chars(59),
    "glpat": lambda f: "gl" + "pat-" + f.chars(20, _URLSAFE),
    "stripe": lambda f: "sk" + "_live_" + f.chars(24),
    "slack_bot": lambda f: "xo" + f"xb-{f.chars(11, string.digits)}-{f.chars(13, string.digits)}-{f.chars(24)}",
    "google_api": lambda f: "AI" + "za" + f.chars(35, _URLSAFE),
    "gocspx": lambda f: "GOC" + "SPX-" + f.chars(28, _URLSAFE),
    "google_refresh": lambda f: "1//0" + f.chars(100, _URLSAFE),
    "npm": lambda f: "np" + "m_" + f.chars(36),
    "pypi": lambda f: "pypi-AgEIcHlwaS5vcmc" + f.chars(120, _URLSAFE),
    "sendgrid": lambda f: "S" + "G." + f.chars(22, _URLSAFE) + "." + f.chars(43, _URLSAFE),
    "openai": lambda f: "sk-" + "proj-" + f.chars(120, _URLSAFE),
    "vault": lambda f: "hv" + "s." + f.chars(90, _URLSAFE),
    "rubygems": lambda f: "rubygems_" + f.hex(48),
    "azure_key": lambda f: f.b64(86) + "==",
    "azure_sp": lambda f: f.chars(3) + "8Q~" + f.chars(34, string.ascii_letters + string.digits + "_.~-"),
    "docker_auth": lambda f: _b64_of(f"deploy:{f.password()}"),
    "npm_auth": lambda f: _b64_of(f"builder:{f.password()}"),
    "b64pw": lambda f: _b64_of(f.password()),
    "winscp": lambda f: "A35C" + f.chars(96, "0123456789ABCDEF"),
    "django": lambda f: "django-insecure-" + f.chars(50, _DJANGO),
    "wp_salt": lambda f: f.chars(64, _WP).replace("?>", "?!"),
    "apr1": lambda f: _crypt(f, "apr1", 8, 22),
    "sha512crypt": lambda f: _crypt(f, "6", 16, 86),
    "md5crypt": lambda f: _crypt(f, "1", 8, 22),
    "ssha": lambda f: "{SHA}" + base64.b64encode(f.rand.randbytes(20)).decode(),
    "kube_key": lambda f: "LS0tLS1CRUdJTi" + f.b64(400) + "=",
    "b64_64": lambda f: f.b64(64),
    "jwt": lambda f: "ey" + "J" + f.chars(30, _URLSAFE) + ".eyJ" + f.chars(60, _URLSAFE) + "." + f.chars(43, _URLSAFE),
    "tfc": lambda f: f.chars(14) + ".atlasv1." + f.chars(67, _URLSAFE),
}
# Kinds whose written text is more than the secret: (text, the secret no output may show).
TEXTS: dict[str, Callable[[Fake], tuple[str, str]]] = {
    "slack_hook": _slack_hook,
    "laravel": _laravel,
    "pem_rsa": lambda f: _pem(f, "RSA PRIVATE KEY"),
    "pem_pkcs8": lambda f: _pem(f, "PRIVATE KEY"),
    "pem_openssh": lambda f: _pem(f, "OPENSSH PRIVATE KEY"),
    "pem_ec": lambda f: _pem(f, "EC PRIVATE KEY"),
    "pem_json": lambda f: _pem(f, "PRIVATE KEY", escaped=True),
    "pem_encrypted": lambda f: _pem(f, "ENCRYPTED PRIVATE KEY"),
    "putty": _putty,
}


def generate(kind: str, fake: Fake) -> tuple[str, str]:
    """(text to write, the secret itself) for a marker ``⟨kind⟩``."""
    if kind in TEXTS:
        return TEXTS[kind](fake)
    value = VALUES[kind](fake)
    return value, value


@dataclass(frozen=True)
class Plant:
    """One planted secret: the file, its line (None for a file known by name only) and its kind of leak."""

    path: str
    line: int | None
    secret: str  # the value no output may show beyond its first 4 characters ("" for a binary file)
    label: str
    kind: str = ""  # the marker's kind (see ``generate``)


@dataclass(frozen=True)
class CorpusFile:
    """A file of the corpus, the secrets planted in it, and whether it is a ``.env``-style file."""

    path: str
    content: str | bytes
    plants: tuple[Plant, ...]
    label: str
    env_file: bool = False


def render(template: Template, path: str, fake: Fake) -> CorpusFile:
    """Fill a template's markers with fresh fake secrets; record each one's line."""
    if template.binary:
        content = b"\x00\x01" + fake.rand.randbytes(600)
        return CorpusFile(path, content, (Plant(path, None, "", template.label),), template.label)
    out: list[str] = []
    plants: list[Plant] = []
    position = 0
    for match in _MARKER.finditer(template.text):
        out.append(template.text[position : match.start()])
        text, secret = generate(match[1], fake)
        line = "".join(out).count("\n") + 1
        plants.append(Plant(path, line, secret, template.label, match[1]))
        out.append(text)
        position = match.end()
    out.append(template.text[position:])
    env = path.rsplit("/", 1)[-1].startswith(".env") or path.endswith(".env")
    return CorpusFile(path, "".join(out), tuple(plants), template.label, env)


def scrubbed(template: Template) -> str:
    """A template with every secret replaced by a reference to a secret store (the fixed version)."""
    return _MARKER.sub("${SECRET_FROM_VAULT}", template.text)


@dataclass
class Corpus:
    """The files of one corpus and, after ``build_repository``, the commits that wrote them."""

    live: list[CorpusFile] = field(default_factory=list)
    old: list[CorpusFile] = field(default_factory=list)
    clean: list[CorpusFile] = field(default_factory=list)
    added: str = ""  # the commit that added every file
    removed: str = ""  # the commit that deleted or scrubbed the old/ files

    @property
    def plants(self) -> list[Plant]:
        """Every planted secret, live and old."""
        return [p for f in self.live + self.old for p in f.plants]

    def secrets(self) -> list[str]:
        """Every planted secret's value (for the check that no output shows one)."""
        return [p.secret for p in self.plants if p.secret]


def make_corpus(seed: str = "corpus") -> Corpus:
    """Render every leaking template twice (live/ and old/) and every clean one once, with fresh secrets."""
    fake = Fake(seed)
    corpus = Corpus()
    for template in LEAKS:
        corpus.live.append(render(template, f"live/{template.path}", fake))
        corpus.old.append(render(template, f"old/{template.path}", fake))
    corpus.clean = [render(t, f"clean/{t.path}", fake) for t in CLEAN]
    return corpus


_GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Corpus",
            "GIT_AUTHOR_EMAIL": "corpus@example.com", "GIT_COMMITTER_NAME": "Corpus",
            "GIT_COMMITTER_EMAIL": "corpus@example.com"}  # fmt: skip


def _git(repo: Path, *args: str, stamp: str | None = None) -> str:
    env = {**os.environ, **_GIT_ENV}
    if stamp:
        env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
    return subprocess.run(["git", "-c", "commit.gpgsign=false", "-C", str(repo), *args], check=True,
                          capture_output=True, text=True, env=env).stdout  # fmt: skip


def _write(repo: Path, file: CorpusFile) -> None:
    target = repo / file.path
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(file.content, bytes):
        target.write_bytes(file.content)
    else:
        target.write_text(file.content, encoding="utf-8", newline="\n")


def build_repository(repo: Path, corpus: Corpus) -> Corpus:
    """Commit the corpus to a new git repository at ``repo``; old/ files are deleted or scrubbed afterwards."""
    repo.mkdir(parents=True, exist_ok=True)
    _git(repo, "init", "-q", "-b", "main")
    for file in corpus.live + corpus.old + corpus.clean:
        _write(repo, file)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "Add services", stamp="2026-03-02T10:00:00+00:00")
    corpus.added = _git(repo, "rev-parse", "HEAD").strip()
    templates = {t.label: t for t in LEAKS}
    for index, file in enumerate(corpus.old):
        template = templates[file.label]
        if index % 2 or template.binary or "pem" in template.text or "putty" in template.text:
            (repo / file.path).unlink()
        else:  # keep the file, with the secrets moved to a secret store
            (repo / file.path).write_text(scrubbed(template), encoding="utf-8", newline="\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "Move credentials to the vault", stamp="2026-04-02T10:00:00+00:00")
    corpus.removed = _git(repo, "rev-parse", "HEAD").strip()
    return corpus


@dataclass(frozen=True)
class Score:
    """How a scan did on the corpus: planted secrets found and missed, and findings that are not planted."""

    found: list[Plant]
    missed: list[Plant]
    extra: list[tuple[str, str, int | None]]  # (kind, file, line) of secret findings on no planted line
    env_found: int
    env_expected: int

    @property
    def recall(self) -> float:
        """Share of the planted secrets found."""
        return len(self.found) / max(1, len(self.found) + len(self.missed))

    @property
    def precision(self) -> float:
        """Share of the secret findings that are planted secrets."""
        return len(self.found) / max(1, len(self.found) + len(self.extra))


Place = tuple[str, str, int | None]  # (kind, file, line)


def score(corpus: Corpus, findings: set[Place], prefix: str = "") -> Score:
    """Compare findings (kind, file relative to ``prefix``, line) with the corpus's answer key.

    A live/ secret must be a ``hardcoded-secret`` on its line, an old/ one a ``secret-in-history`` on the line of
    the commit that added it; a ``.env``-style file must be an ``env-file-committed``.
    """
    strip = len(prefix)
    places = {(kind, file[strip:], line) for kind, file, line in findings if file.startswith(prefix)}
    found: list[Plant] = []
    missed: list[Plant] = []
    for files, kind in ((corpus.live, "hardcoded-secret"), (corpus.old, "secret-in-history")):
        for plant in (p for f in files for p in f.plants):
            (found if (kind, plant.path, plant.line) in places else missed).append(plant)
    planted = {(p.path, p.line) for p in corpus.plants}
    extra = [p for p in sorted(places, key=str) if p[0] != "env-file-committed" and (p[1], p[2]) not in planted]
    env_files = [f.path for f in corpus.live + corpus.old if f.env_file]
    env_found = sum(1 for path in env_files if ("env-file-committed", path, None) in places)
    return Score(found, missed, extra, env_found, len(env_files))
