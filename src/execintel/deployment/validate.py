"""Check the built artefacts and the rendered template before anything is sent to AWS.

Four checks, each a user error with the file it is about: every module of execintel in ``api.zip`` and in the
worker's image context (``worker-image/src/``) compiles (what ``compileall`` checks, without writing ``.pyc``
files); the api handler imports in a clean interpreter of the Lambda's Python with only the unpacked ``api.zip`` on
its path (a harmless local environment, so the import measures the package, not AWS); the image context holds
every file its Dockerfile copies and no settings file; and cfn-lint finds nothing in the template. Both artefacts
must also hold the portfolio's current manifest: a build made before the manifest changed would run schedules the
template no longer has.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
import zipfile
from fnmatch import fnmatchcase
from pathlib import Path

from execintel.config.load import MANIFEST_NAME
from execintel.errors import ConfigError, ExecintelError, Problem
from execintel.packaging.build import SETTINGS_FILES
from execintel.packaging.check import harmless_env
from execintel.packaging.image import DOCKERFILE, IMAGE_DIR, dockerfile_copies

API_ZIP = "api.zip"
IMAGE_CONTEXT = IMAGE_DIR
ARTEFACTS = (API_ZIP, IMAGE_CONTEXT)
LAMBDA_PYTHON = "3.12"
IMPORT_TIMEOUT = 120.0
LINT_TIMEOUT = 300.0
# cfn-lint's command line, run by this interpreter (its console script may not be on PATH in a venv)
LINT = "import sys; from cfnlint.runner import main; sys.argv[0] = 'cfn-lint'; sys.exit(main())"


class DeployError(ExecintelError):
    """A deployment step failed: a check of the build, or a command (its output was shown)."""


def artefact_paths(build: Path) -> dict[str, Path]:
    """``api.zip`` and the worker's image context ``worker-image/`` in ``build``; a ConfigError naming what is
    missing."""
    paths = {name: build / name for name in ARTEFACTS}
    missing = []
    if not paths[API_ZIP].is_file():
        missing.append(API_ZIP)
    if not paths[IMAGE_CONTEXT].is_dir():
        missing.append(f"{IMAGE_CONTEXT}/")
    if missing:
        raise ConfigError(Problem("--build", f"{str(build)!r} holds no {' and no '.join(missing)}; build them "
                                             f"first: execintel package --out {build}"))  # fmt: skip
    return paths


def compile_package(path: Path) -> None:
    """Byte-compile every ``execintel/**.py`` in the zip at ``path`` (in memory); a DeployError for the first
    that does not compile."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.startswith("execintel/") and n.endswith(".py")]
            if not names:
                raise DeployError(f"{path} holds no execintel package; build it again: execintel package")
            for name in names:
                try:
                    compile(archive.read(name), f"{path.name}/{name}", "exec", dont_inherit=True)
                except (SyntaxError, ValueError) as exc:
                    raise DeployError(f"{path.name}/{name} does not compile: {exc}") from None
    except zipfile.BadZipFile as exc:
        raise DeployError(f"{path} is not a zip file ({exc}); build it again: execintel package") from None


def check_manifest(path: Path, manifest: Path) -> None:
    """The zip at ``path`` holds ``manifest`` as it is now, as ``portfolio/portfolio.yaml`` (where the packager and
    ``EXECINTEL_PORTFOLIO=/var/task/portfolio`` put it)."""
    member = f"portfolio/{MANIFEST_NAME}"
    with zipfile.ZipFile(path) as archive:
        try:
            packed = archive.read(member)
        except KeyError:
            raise DeployError(f"{path} holds no {member}; build it from this portfolio: execintel package "
                              f"--portfolio {manifest.parent}") from None  # fmt: skip
    if packed != manifest.read_bytes():
        raise DeployError(f"{path} was built from another version of {manifest}; build it again: execintel package "
                          f"--portfolio {manifest.parent}")  # fmt: skip


def check_context(folder: Path, manifest: Path) -> None:
    """The worker's image context at ``folder`` can be built into the worker's image as it should be: its
    Dockerfile is there with every file it copies, execintel's modules compile, it holds ``manifest`` as it is now
    (as ``portfolio/portfolio.yaml``) and none of the portfolio's settings files; a DeployError saying what is
    wrong and how to build it again."""
    again = f"build it again: execintel package --portfolio {manifest.parent} --out {folder.parent}"
    dockerfile = folder / DOCKERFILE
    if not dockerfile.is_file():
        raise DeployError(f"{folder} holds no {DOCKERFILE}; {again}")
    missing = [s for s in dockerfile_copies(dockerfile.read_text(encoding="utf-8")) if not (folder / s).exists()]
    if missing:
        raise DeployError(f"{folder} lacks {', '.join(missing)}, which its {DOCKERFILE} copies; {again}")
    sources = sorted((folder / "src" / "execintel").rglob("*.py"))
    if not sources:
        raise DeployError(f"{folder} holds no execintel package (src/execintel); {again}")
    for source in sources:
        try:
            compile(source.read_bytes(), str(source.relative_to(folder.parent)), "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            raise DeployError(f"{source.relative_to(folder.parent)} does not compile: {exc}; {again}") from None
    packed = folder / "portfolio" / MANIFEST_NAME
    if not packed.is_file():
        raise DeployError(f"{folder} holds no portfolio/{MANIFEST_NAME}; {again}")
    if packed.read_bytes() != manifest.read_bytes():
        raise DeployError(f"{folder} was built from another version of {manifest}; {again}")
    settings = sorted(p.name for p in (folder / "portfolio").iterdir()
                      if p.is_file() and any(fnmatchcase(p.name, glob) for glob in SETTINGS_FILES))  # fmt: skip
    if settings:
        raise DeployError(f"{folder}/portfolio holds settings files ({', '.join(settings)}), which may hold "
                          f"credentials and never go into an image; {again}")  # fmt: skip


def lambda_python(given: str | None = None) -> str:
    """The real executable of the Lambda's Python version: ``given``, else ``python3.12`` on PATH, else this one
    when it is 3.12.

    ``python3.12`` may be a launcher (a pyenv shim) that finds the interpreter through the user's environment, which
    the clean environment of the import check does not have: ask it for its real executable once, here."""
    found = shutil.which(given) if given else shutil.which(f"python{LAMBDA_PYTHON}")
    if given and not found:
        raise DeployError(f"--python {given!r} is not an interpreter that can be run")
    if not found:
        if f"{sys.version_info.major}.{sys.version_info.minor}" == LAMBDA_PYTHON:
            return sys.executable
        raise DeployError(f"python{LAMBDA_PYTHON} is not on PATH: it is needed to check that the api package "
                          f"imports on Lambda's Python {LAMBDA_PYTHON} (install it, e.g. with pyenv or your package "
                          "manager)")  # fmt: skip
    try:
        done = subprocess.run([found, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True,  # noqa: S603
                              timeout=IMPORT_TIMEOUT, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DeployError(f"{found} does not run: {exc}") from None
    if done.returncode != 0 or not done.stdout.strip():
        raise DeployError(f"{found} does not run:\n{(done.stderr or done.stdout).strip()}")
    return done.stdout.strip()


def check_import(path: Path, *, python: str | None = None, module: str = "execintel.aws.api") -> None:
    """Import ``module`` from the unpacked zip at ``path`` in a clean interpreter; a DeployError with its output."""
    interpreter = python or lambda_python()
    with tempfile.TemporaryDirectory(prefix="execintel-deploy-") as tmp:
        folder = Path(tmp) / "task"
        with zipfile.ZipFile(path) as archive:
            archive.extractall(folder)
        # only the package on the path (-I ignores PYTHONPATH and the user's site-packages), a local store and
        # outbox instead of DynamoDB and SES, and a throwaway signing key: the import must not reach AWS. The
        # handler answers 503 instead of failing when its configuration is broken (a manifest it cannot load, a
        # variable it needs): that is a failed check too.
        env = harmless_env(Path(tmp), folder / "portfolio")
        code = (f"import sys; sys.path.insert(0, {str(folder)!r}); import {module}; {module}.handler; "
                f"error = getattr(getattr({module}, '_instance', None), 'error', None); "
                "error and sys.exit(f'the handler would answer 503: {error}')")  # fmt: skip
        try:
            done = subprocess.run([interpreter, "-I", "-c", code],  # noqa: S603 - fixed argv, no shell
                                  cwd=tmp, env=env, capture_output=True, text=True,
                                  timeout=IMPORT_TIMEOUT, check=False)  # fmt: skip
        except subprocess.TimeoutExpired:
            raise DeployError(f"importing {module} from {path} took over {IMPORT_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()
        raise DeployError(f"{module} does not import from {path} (on {interpreter}):\n{output}")


def lint_template(path: Path) -> None:
    """Run cfn-lint on the template at ``path``; a DeployError with its findings when it finds anything."""
    if importlib.util.find_spec("cfnlint") is None:  # tell a missing cfn-lint from a failing one
        raise DeployError("cfn-lint is not installed, so the template cannot be checked: pip install cfn-lint "
                          "(or pass --no-lint)")  # fmt: skip
    try:
        done = subprocess.run([sys.executable, "-c", LINT, str(path)],  # noqa: S603 - fixed argv
                              capture_output=True, text=True,
                              timeout=LINT_TIMEOUT, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        raise DeployError(f"cfn-lint took over {LINT_TIMEOUT:.0f} s on {path}") from None
    if done.returncode != 0:
        raise DeployError(f"cfn-lint found problems in {path}:\n{(done.stdout + done.stderr).strip()}")
