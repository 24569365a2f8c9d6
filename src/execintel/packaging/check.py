"""``execintel package --check``: the packages against their targets (sizes, and the api handler's cold import).

The import is timed in fresh interpreters of the Lambda Python version, isolated (``-I -S``: no site-packages, no
``PYTHON*`` variables, no current folder; ``-B``: no bytecode written, as on Lambda's read-only code folder), with
only the unpacked ``api.zip`` on ``sys.path``, under a harmless environment (a SQLite store and an outbox in a
temporary folder, a throwaway JWT secret, no AWS credentials), so the figure measures the code, and a missing
module fails here rather than at the first request on Lambda.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from execintel.errors import ExecintelError

API_LIMIT = 15 * 1024 * 1024
IMPORT_LIMIT_MS = 400.0
WORKER_LIMIT = 250 * 1024 * 1024
IMPORT_RUNS = 5
HANDLER_MODULE = "execintel.aws.api"
# The analysis and rendering stack: the api handler must import none of it (issue 15, "Handlers").
HEAVY_MODULES = (
    "duckdb",
    "pyarrow",
    "numpy",
    "matplotlib",
    "weasyprint",
    "beancount",
    "detect_secrets",
    "jinja2",
    "cryptography",
)

_IMPORT_SCRIPT = """
import json, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[3]]
start = time.perf_counter()
import importlib
importlib.import_module(sys.argv[2])
elapsed = (time.perf_counter() - start) * 1000
error = getattr(getattr(sys.modules[sys.argv[2]], "_instance", None), "error", None)
print(json.dumps({"ms": elapsed, "modules": sorted({name.split(".")[0] for name in sys.modules}), "error": error}))
"""


class CheckError(ExecintelError):
    """A check could not be made (no interpreter of the target version, a handler that does not import)."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class Row:
    """One line of the check's table."""

    what: str
    value: float
    limit: float
    unit: str
    # why the row is shown for information only (never fails the check); empty for a target
    informational: str = ""

    @property
    def ok(self) -> bool:
        """Whether the value is within its target."""
        return self.value < self.limit

    @property
    def failed(self) -> bool:
        """Whether the row fails the check: a target that is not met (an informational row never fails)."""
        return not self.informational and not self.ok


def find_python(version: str) -> str:
    """An interpreter of ``version`` (``3.12``): this one when it matches, else ``pythonX.Y`` on PATH or pyenv's."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    candidates = [found] if (found := shutil.which(f"python{version}")) else []
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    # a pyenv shim answers only when that version is selected: the installed interpreters themselves are found too
    candidates += sorted(str(p) for p in pyenv_root.glob(f"versions/{version}.*/bin/python{version}"))
    for candidate in candidates:
        try:
            answer = subprocess.run(  # noqa: S603 - an interpreter found on PATH or in pyenv's folder
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired):
            continue
        if answer.returncode == 0 and answer.stdout.strip() == version:
            return candidate
    raise CheckError(
        f"no Python {version} interpreter found (python{version} on PATH, or in pyenv's versions): the import check "
        f"must run on the Lambda runtime's version; install Python {version}, or check a local build with "
        f"--python-version {sys.version_info.major}.{sys.version_info.minor} (this interpreter)"
    )


def harmless_env(scratch: Path, portfolio: Path) -> dict[str, str]:
    """Environment variables under which the handler imports without reaching AWS or any real service."""
    env = {key: os.environ[key] for key in ("PATH", "LANG", "LC_ALL", "TZ") if key in os.environ}
    env.update(
        HOME=str(scratch),
        TMPDIR=str(scratch),
        EXECINTEL_PORTFOLIO=str(portfolio),
        EXECINTEL_STORE=f"sqlite:///{scratch / 'execintel.db'}",
        EXECINTEL_MAILER=f"outbox:{scratch / 'outbox'}",
        EXECINTEL_DATA_DIR=str(scratch / "data"),
        EXECINTEL_OUT=str(scratch / "out"),
        EXECINTEL_JWT_SECRET=secrets.token_urlsafe(48),  # made now, never stored: only the import needs one
        EXECINTEL_BASE_URL="https://execintel.example.test",
        # names only: nothing is invoked or read while the handler imports
        EXECINTEL_WORKER_FUNCTION="execintel-check-worker",
        EXECINTEL_REPORTS_BUCKET="execintel-check-reports",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
    )
    return env


def unpack(zip_path: Path, dest: Path) -> Path:
    """Unpack a package into ``dest`` (a fresh folder, as Lambda unpacks it into /var/task); ``dest``."""
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(dest)  # our own zip: write_zip made its names
    return dest


def lambda_runtime(dest: Path, python_version: str) -> Path:
    """What the Lambda Python runtime puts on ``sys.path`` after the function's code (boto3, botocore and their
    dependencies, urllib3 among them), installed into ``dest`` for a check or a test; ``dest``."""
    from execintel.packaging import pip  # noqa: PLC0415

    pip.install(dest, ["boto3"], python_version)
    return dest


def time_import(
    python: str, folder: Path, env: dict[str, str], runs: int = IMPORT_RUNS, runtime: Path | None = None
) -> tuple[float, set[str]]:
    """Median milliseconds of ``runs`` cold imports of the api handler, and the top-level modules it loaded.

    ``runtime``: a folder put after the package on ``sys.path``, as Lambda puts its runtime's boto3.
    """
    times = []
    modules: set[str] = set()
    for _ in range(runs):
        done = subprocess.run(  # noqa: S603 - the interpreter found by find_python
            # -B: Lambda's code folder is read-only, so no run may leave bytecode behind for the next one
            [python, "-I", "-S", "-B", "-c", _IMPORT_SCRIPT, str(folder), HANDLER_MODULE, str(runtime or folder)],
            capture_output=True, text=True, env=env, cwd=folder, timeout=300, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-15:])
            raise CheckError(f"the api handler ({HANDLER_MODULE}) does not import from the unpacked api.zip (its "
                             "traceback is above)", tail)  # fmt: skip
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        if answer.get("error"):  # a broken configuration: the handler would answer 503, and built nothing to time
            raise CheckError(f"the api handler ({HANDLER_MODULE}) imports but would answer 503: {answer['error']}")
        times.append(float(answer["ms"]))
        modules = set(answer["modules"])
    return statistics.median(times), modules


def check_api(zip_path: Path, python: str, python_version: str) -> tuple[list[Row], list[str]]:
    """The api package's rows (unzipped size, import time) and the heavy modules its handler imported."""
    from execintel.packaging.tree import unzipped_size  # noqa: PLC0415

    rows = [Row("api.zip unzipped", unzipped_size(zip_path) / 2**20, API_LIMIT / 2**20, "MB")]
    with tempfile.TemporaryDirectory(prefix="execintel-check-") as scratch:
        folder = unpack(zip_path, Path(scratch) / "task")
        runtime = lambda_runtime(Path(scratch) / "runtime", python_version)
        env = harmless_env(Path(scratch), folder / "portfolio")
        median, modules = time_import(python, folder, env, runtime=runtime)
    rows.append(Row("api handler cold import (median of 5)", median, IMPORT_LIMIT_MS, "ms"))
    return rows, sorted(modules.intersection(HEAVY_MODULES))


def check_worker(zip_path: Path) -> Row:
    """The worker zip's row (``--worker-zip``): its unzipped size beside Lambda's 250 MB, for information only: the
    worker is deployed as the container image, so the zip is measured, not a target."""
    from execintel.packaging.tree import unzipped_size  # noqa: PLC0415

    size = unzipped_size(zip_path)
    why = ("informational: over Lambda's zip limit, the image is the worker artefact" if size >= WORKER_LIMIT
           else "informational: the image is the worker artefact")  # fmt: skip
    return Row("worker.zip unzipped", size / 2**20, WORKER_LIMIT / 2**20, "MB", informational=why)
