"""Installing Lambda wheels with pip: Linux x86_64 binaries for the target Python, pinned to the tested versions.

pip runs as a subprocess of the running interpreter (``sys.executable -m pip``) with its own cache, so a second
build downloads nothing. Only wheels are accepted (``--only-binary=:all:``): a source build would compile for this
machine, not for Lambda. The versions are pinned to those installed next to execintel, so the package ships
what the tests ran against.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path

from execintel.errors import ExecintelError

# Lambda's python3.12 runtime runs on Amazon Linux 2023 (glibc 2.34): manylinux2014 (glibc 2.17) wheels and every
# newer manylinux tag up to glibc 2.34 load there. pip does not widen a perennial manylinux tag to older glibc
# versions by itself, so each one is named.
GLIBC_MAX = 34
PLATFORMS = (
    "manylinux2014_x86_64",
    *(f"manylinux_2_{minor}_x86_64" for minor in range(17, GLIBC_MAX + 1)),
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
)

# The web app's runtime dependencies (execintel.aws.api and everything it imports; cryptography is left out: only
# the HTTP SNS webhook uses it, lazily; the SNS-to-Lambda path needs no signature). pip adds their own
# dependencies (starlette, pydantic-core, anyio, ...).
API_REQUIREMENTS = (
    "fastapi",
    "pydantic",
    "pydantic-settings",
    "PyJWT",
    "python-multipart",
    "PyYAML",
    "croniter",  # the manifest's schedules are checked when it loads
    "mangum",
)

# What the Lambda Python runtime provides: never packaged (a second copy would shadow the runtime's and add MBs).
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3")


class PipError(ExecintelError):
    """pip could not install the wheels; ``detail`` holds pip's last lines."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


def canonical(name: str) -> str:
    """A distribution name in its canonical form (PEP 503): ``PyYAML`` and ``pyyaml`` are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


def worker_requirements() -> list[str]:
    """execintel's runtime dependencies as its installed metadata lists them (pyproject's ``dependencies``)."""
    try:
        declared = metadata.requires("execintel") or []
    except metadata.PackageNotFoundError:
        raise ExecintelError(
            "execintel is not installed as a distribution (its dependency list comes from the installed metadata); "
            "install it first: pip install -e ."
        ) from None
    return [req.split(";")[0].strip() for req in declared if "extra ==" not in req]


def pins(skip: Iterable[str] = ()) -> list[str]:
    """``name==version`` of every distribution installed next to execintel (the versions the tests ran with)."""
    skipped = {canonical(name) for name in ("execintel", *skip)}
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and canonical(name) not in skipped:
            found.setdefault(canonical(name), dist.version)
    return [f"{name}=={version}" for name, version in sorted(found.items())]


def pip_command(target: Path, requirements: Iterable[str], python_version: str, constraints: Path) -> list[str]:
    """The pip command that installs ``requirements`` into ``target`` as Lambda (Linux x86_64) wheels."""
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    return [
        sys.executable, "-m", "pip", "install", "--target", str(target), "--only-binary=:all:",
        "--implementation", "cp", "--python-version", python_version, *platforms,
        "--no-compile", "--no-input", "--disable-pip-version-check", "--progress-bar", "off",
        "--constraint", str(constraints), *requirements,
    ]  # fmt: skip


def install(
    target: Path,
    requirements: Iterable[str],
    python_version: str,
    *,
    pinned: bool = True,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Install ``requirements`` and their dependencies into ``target``; :class:`PipError` with pip's output if not.

    ``progress`` receives each line pip prints ("Collecting fastapi", "Downloading ..."), for a status line.
    """
    requirements = list(requirements)
    with tempfile.TemporaryDirectory(prefix="execintel-pip-") as scratch:
        constraints = Path(scratch) / "constraints.txt"
        constraints.write_text("\n".join(pins(RUNTIME_PROVIDED) if pinned else []) + "\n", encoding="utf-8")
        command = pip_command(target, requirements, python_version, constraints)
        tail: deque[str] = deque(maxlen=60)
        try:
            process = subprocess.Popen(  # noqa: S603 - a fixed pip command line
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                errors="replace",
            )  # fmt: skip
        except OSError as exc:
            raise PipError(f"pip could not be started ({sys.executable} -m pip): {exc.strerror}") from None
        assert process.stdout is not None  # noqa: S101 - stdout=PIPE above
        with process:
            for raw in process.stdout:
                text = raw.rstrip()
                if text:
                    tail.append(text)
                    if progress is not None:
                        progress(text)
        if process.returncode != 0:
            raise PipError(
                f"pip failed (exit {process.returncode}) installing {', '.join(requirements)} for Python "
                f"{python_version} on Linux x86_64 (its last lines are above)",
                "\n".join(tail),
            )
