"""``execintel package``: the Lambda packages are complete (their handler runs from the unpacked zip alone, in a
clean interpreter), hold nothing Lambda provides or never runs, and bad options fail cleanly."""

from __future__ import annotations

import copy
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from conftest import SHARED, cli
from execintel.demo import demo_portfolio
from execintel.errors import ConfigError
from execintel.packaging.build import compile_bytecode, copy_manifest, copy_portfolio
from execintel.packaging.check import CheckError, find_python, lambda_runtime
from execintel.packaging.tree import write_zip

EVENTS = SHARED / "events"  # the shared test data, kept byte for byte in tests/data/shared
ROOT = Path(__file__).parent.parent
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3")
ANALYSIS_STACK = ("duckdb", "pyarrow", "numpy", "matplotlib", "beancount", "detect_secrets", "weasyprint", "jinja2",
                  "css_inline", "cryptography", "uvicorn")  # fmt: skip


def _target() -> tuple[str, str]:
    """The Lambda Python (3.12) and its interpreter when this machine has one, else the running interpreter's."""
    try:
        return "3.12", find_python("3.12")
    except CheckError:
        return f"{sys.version_info.major}.{sys.version_info.minor}", sys.executable


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, str]:
    """``execintel package --check`` (api.zip and the worker's image context) once per session, even across
    pytest-xdist workers (the first to ask builds it under a lock in the session's shared folder, the others read
    its record)."""
    version, python = _target()
    worker = "PYTEST_XDIST_WORKER" in os.environ
    shared = tmp_path_factory.getbasetemp().parent if worker else tmp_path_factory.mktemp("shared")
    folder, record = shared / "package-api", shared / "package-api.json"
    with (shared / "package-api.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.exists():
            folder.mkdir(exist_ok=True)
            done = cli("package", "--check", "--out", str(folder / "build"), "--python-version",
                       version, cwd=folder, env={"PATH": f"{Path(python).parent}:/usr/bin:/bin"}, timeout=900)  # fmt: skip
            record.write_text(json.dumps([done.args, done.returncode, done.stdout, done.stderr]), encoding="utf-8")
        args, returncode, stdout, stderr = json.loads(record.read_text(encoding="utf-8"))
    return subprocess.CompletedProcess(args, returncode, stdout, stderr), folder / "build" / "api.zip", python


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """boto3 and its dependencies (urllib3 among them), as the Lambda runtime adds them after the function's code."""
    return lambda_runtime(tmp_path_factory.mktemp("runtime"), _target()[0])


@pytest.fixture(scope="module")
def unpacked(
    built: tuple[subprocess.CompletedProcess[str], Path, str], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """api.zip unpacked as Lambda unpacks it into /var/task."""
    _, zip_path, _ = built
    folder = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(folder)
    return folder


_INVOKE = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]  # /var/task, then the runtime's boto3
import execintel.aws.api as api

class Context:
    function_name = "execintel-api"
    aws_request_id = "test-request"

answers = [api.handler(json.loads(event), Context()) for event in sys.argv[3:]]
loaded = sorted({name.split(".")[0] for name in sys.modules})
files = sorted({getattr(module, "__file__", None) or "" for module in list(sys.modules.values())})
print(json.dumps({"answers": answers, "modules": loaded, "path": sys.path, "files": files}))
"""


def _invoke(python: str, folder: Path, runtime: Path, scratch: Path, *events: dict[str, object]) -> dict[str, object]:
    """Invoke the api handler of the unpacked folder in a clean interpreter (-I -S: no site-packages, no project)."""
    scratch.mkdir(parents=True, exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(scratch), "EXECINTEL_PORTFOLIO": str(folder / "portfolio"),
           "EXECINTEL_STORE": f"sqlite:///{scratch / 'audit.db'}", "EXECINTEL_MAILER": f"outbox:{scratch / 'outbox'}",
           "EXECINTEL_JWT_SECRET": os.urandom(32).hex(), "EXECINTEL_BASE_URL": "https://execintel.example.test",
           "EXECINTEL_WORKER_FUNCTION": "execintel-test-worker", "EXECINTEL_REPORTS_BUCKET": "execintel-test-reports",
           "EXECINTEL_DATA_DIR": str(scratch / "data"), "AWS_REGION": "us-east-1"}  # fmt: skip
    done = subprocess.run([python, "-I", "-S", "-B", "-c", _INVOKE, str(folder), str(runtime), *map(json.dumps, events)],
                          capture_output=True, text=True, env=env, cwd=scratch, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def test_check_prints_the_targets_and_fails_only_over_one(built: tuple[subprocess.CompletedProcess[str], Path, str]):
    done, zip_path, _ = built
    assert "Traceback" not in done.stderr
    assert zip_path.is_file()
    for row in ("api.zip unzipped", "api handler cold import"):
        assert row in done.stdout, done.stdout + done.stderr
    verdicts = re.findall(r"│ (ok|over)\s+│", done.stdout)
    assert len(verdicts) == 2, done.stdout
    # exit 1 exactly when a row is over its target (the import time depends on the machine, the rule does not)
    assert done.returncode == (1 if "over" in verdicts else 0), done.stdout + done.stderr
    size = re.search(r"api\.zip unzipped\s+│\s+([\d.,]+) MB", done.stdout)
    assert size is not None
    assert float(size.group(1)) < 15, "api.zip must stay under 15 MB unzipped"
    # by default the worker is its image context, not a zip: no worker.zip built, and no row for one
    build = zip_path.parent
    assert (build / "worker-image" / "Dockerfile").is_file()
    assert "worker-image/: the worker's image context" in done.stdout
    assert not (build / "worker.zip").exists() and "worker.zip" not in done.stdout
    assert sorted(p.name for p in build.iterdir()) == ["api.zip", "worker-image"]  # no staging folder left


def test_api_handler_answers_from_the_unpacked_zip_alone(
    built: tuple[subprocess.CompletedProcess[str], Path, str], unpacked: Path, runtime: Path, tmp_path: Path
) -> None:
    _, _, python = built
    event = json.loads((EVENTS / "apiGatewayProxyV2Event.json").read_text())
    health = copy.deepcopy(event)
    health.update(rawPath="/healthz", rawQueryString="", cookies=[], body=None, queryStringParameters={})
    health["requestContext"]["http"].update(method="GET", path="/healthz")
    answer = _invoke(python, unpacked, runtime, tmp_path, health, event)
    ok, unknown = answer["answers"]  # type: ignore[misc]
    assert ok["statusCode"] == 200
    assert json.loads(ok["body"]) == {"status": "ok"}
    # the sample event POSTs to /my/path: no such route, answered by the app (not a crash in the handler)
    assert unknown["statusCode"] == 404
    assert json.loads(unknown["body"]) == {"detail": "Not Found"}
    # every module came from the unpacked folder, the runtime's folder or the standard library (no project source,
    # no site-packages), and the handler loaded none of the analysis stack
    stdlib = str(Path(python).resolve().parent.parent / "lib")
    outside = [f for f in answer["files"] if f and not f.startswith((str(unpacked), str(runtime), stdlib))]  # type: ignore[union-attr]
    assert outside == []
    assert not set(answer["modules"]).intersection(ANALYSIS_STACK)  # type: ignore[arg-type]
    assert str(ROOT / "src") not in answer["path"]  # type: ignore[operator]


def test_api_zip_holds_target_bytecode_and_no_runtime_copies_or_analysis_stack(
    built: tuple[subprocess.CompletedProcess[str], Path, str],
) -> None:
    _, zip_path, python = built
    tag = subprocess.run([python, "-c", "import sys; print(sys.implementation.cache_tag)"], capture_output=True,
                         text=True, check=True).stdout.strip()  # fmt: skip
    with zipfile.ZipFile(zip_path) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    tops = {name.split("/")[0] for name in names}
    # bytecode of the target Python only (Lambda cannot write its own into the read-only code folder): execintel
    # keeps its sources with their bytecode beside, the dependencies ship bytecode instead of sources
    compiled = [n for n in names if n.endswith((".pyc", ".pyo"))]
    assert [n for n in compiled if "/__pycache__/" in f"/{n}" and not n.endswith(f".{tag}.pyc")] == []
    assert [n for n in compiled if "/__pycache__/" in f"/{n}" and not n.startswith("execintel/")] == []
    assert "execintel/aws/__pycache__/api." + tag + ".pyc" in names and "fastapi/applications.pyc" in names
    assert [n for n in names if n.endswith(".py") and not n.startswith(("execintel/", "portfolio/"))] == []
    assert not [n for n in names if re.search(r"(^|/)tests?/", n) and not n.startswith("portfolio/")]
    assert not [t for t in tops if t.split("-")[0].lower() in RUNTIME_PROVIDED or t in RUNTIME_PROVIDED]
    assert not [t for t in tops if t.split("-")[0].lower() in ANALYSIS_STACK or t in ANALYSIS_STACK]
    assert {"execintel", "fastapi", "mangum", "pydantic", "portfolio"} <= tops
    assert "portfolio/portfolio.yaml" in names
    assert "execintel/aws/api.py" in names
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}  # no build time in the bytes
    assert names == sorted(names)


def test_zips_are_deterministic(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "pkg" / "empty").mkdir(parents=True)
    (tree / "pkg" / "a.py").write_text("A = 1\n")
    (tree / "b.txt").write_text("b\n")
    first = tmp_path / "one.zip"
    write_zip(tree, first)
    os.utime(tree / "b.txt", (1_000_000_000, 1_000_000_000))  # another checkout, other times: the same zip
    second = tmp_path / "two.zip"
    write_zip(tree, second)
    assert first.read_bytes() == second.read_bytes()
    assert first.stat().st_mode & 0o777 == 0o644  # not the private mode of the temporary file it was written as
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == ["b.txt", "pkg/a.py", "pkg/empty/"]  # an empty folder survives unpacking
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.zip", "tree", "two.zip"]  # no temporary left


def test_bytecode_is_deterministic_and_names_the_lambda_code_folder(tmp_path: Path) -> None:
    import marshal

    for name in ("one", "two"):
        for package in ("pkg", "execintel"):
            (tmp_path / name / package).mkdir(parents=True)
            (tmp_path / name / package / "mod.py").write_text("def f():\n    return 1\n")
        compile_bytecode(sys.executable, tmp_path / name)
    first, second = (tmp_path / "one" / "pkg" / "mod.pyc"), (tmp_path / "two" / "pkg" / "mod.pyc")
    assert first.read_bytes() == second.read_bytes()  # no timestamp, no build folder in the bytes
    # a dependency ships its bytecode instead of its source; execintel keeps its source, its bytecode beside
    assert sorted(p.relative_to(tmp_path / "one").as_posix() for p in (tmp_path / "one").rglob("*.py*")) == [
        "execintel/__pycache__/mod." + sys.implementation.cache_tag + ".pyc",
        "execintel/mod.py",
        "pkg/mod.pyc",
    ]
    code = marshal.loads(first.read_bytes()[16:])  # noqa: S302 - bytecode this test just compiled
    assert code.co_filename == "/var/task/pkg/mod.py"  # tracebacks on Lambda name the file where it is


def test_manifest_only_portfolio_validates_with_placeholders(tmp_path: Path) -> None:
    from execintel.config import load_portfolio
    from execintel.demo import demo_portfolio

    source = demo_portfolio().parent
    copy_manifest(source, tmp_path / "portfolio")
    loaded = load_portfolio(tmp_path / "portfolio")
    assert loaded.manifest.portfolio.name
    ledgers = sorted((tmp_path / "portfolio").rglob("ledger.csv"))
    assert ledgers  # a placeholder per named file: one line no loader accepts, never silently empty data
    assert all(p.read_text().startswith("execintel package: a placeholder") for p in ledgers)
    assert not list((tmp_path / "portfolio").rglob(".git"))


def test_portfolio_copy_leaves_out_settings_files_and_refuses_outside_links(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "data").mkdir(parents=True)
    (source / "portfolio.yaml").write_text("version: 1\n")
    (source / "repos.env").write_text("AWS_SECRET_ACCESS_KEY=fake\n")
    (source / ".env").write_text("EXECINTEL_JWT_SECRET=fake\n")
    (source / "data" / "ledger.csv").write_text("date,amount\n")
    left_out = copy_portfolio(source, tmp_path / "one")
    assert sorted(left_out) == [".env", "repos.env"]
    assert sorted(p.relative_to(tmp_path / "one").as_posix() for p in (tmp_path / "one").rglob("*")) == [
        "data", "data/ledger.csv", "portfolio.yaml"]  # fmt: skip
    (tmp_path / "elsewhere.txt").write_text("not the portfolio's\n")
    (source / "data" / "link.csv").symlink_to(tmp_path / "elsewhere.txt")
    with pytest.raises(ConfigError, match="outside the portfolio folder"):
        copy_portfolio(source, tmp_path / "two")


def test_bad_options_fail_with_a_sentence_and_leave_nothing(tmp_path: Path) -> None:
    a_file = tmp_path / "build"
    a_file.write_text("not a folder")
    done = cli("package", "--api-only", "--out", str(a_file), cwd=tmp_path)
    assert done.returncode == 2
    assert "--out" in done.stderr and "is a file" in done.stderr and "Traceback" not in done.stderr

    done = cli("package", "--api-only", "--portfolio", str(tmp_path / "missing"), "--out", "out", cwd=tmp_path)
    assert done.returncode == 2
    assert "--portfolio" in done.stderr and "does not exist" in done.stderr and "Traceback" not in done.stderr
    done = cli("package", str(tmp_path / "elsewhere"), "--api-only", "--out", "out", cwd=tmp_path)  # as PATH too
    assert done.returncode == 2
    assert f"PATH: '{tmp_path / 'elsewhere'}' does not exist" in done.stderr and "Traceback" not in done.stderr

    done = cli("package", "--api-only", "--worker-zip", "--out", "out", cwd=tmp_path)
    assert done.returncode == 2 and "--worker-zip" in done.stderr and "--api-only" in done.stderr

    done = cli("package", "--api-only", "--python-version", "twelve", "--out", "out", cwd=tmp_path)
    assert done.returncode == 2 and "--python-version" in done.stderr and "'twelve'" in done.stderr

    # the import check needs the target's interpreter: said before minutes of building, not after
    done = cli("package", "--api-only", "--check", "--python-version", "3.5", "--out", "out", cwd=tmp_path)
    assert done.returncode == 1 and "no Python 3.5 interpreter found" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "api.zip").exists()


def test_a_pip_failure_shows_pip_and_keeps_the_previous_zip(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "api.zip").write_bytes(b"the previous build")
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    # no index and an empty wheel folder: pip finds nothing, at once and without the network
    env = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(empty), "PIP_CONFIG_FILE": os.devnull}
    done = cli("package", "--api-only", "--out", str(out), cwd=tmp_path, env=env)
    assert done.returncode == 1, done.stderr
    assert "pip failed" in done.stderr and "fastapi" in done.stderr
    assert "ERROR:" in done.stderr and "Looking in links" in done.stderr  # pip's own words, shown
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["api.zip"]  # no staging folder, no half-written zip
    assert (out / "api.zip").read_bytes() == b"the previous build"


def _instructions(text: str) -> list[list[str]]:
    joined = re.sub(r"\\\n", " ", text)  # continuation lines joined, as Docker reads them
    return [line.split(None, 1) for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def test_dockerfile_builds_the_worker_on_the_lambda_base_image() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    instructions = _instructions(text)
    assert all(parts[0].isupper() for parts in instructions), instructions  # every line parsed as an instruction
    froms = [parts[1].split()[0] for parts in instructions if parts[0] == "FROM"]
    assert froms and all(image == "public.ecr.aws/lambda/python:3.12" for image in froms)
    [cmd] = [json.loads(parts[1]) for parts in instructions if parts[0] == "CMD"]
    assert cmd == ["execintel.aws.worker.handler"]
    module, _, function = cmd[0].rpartition(".")
    handler = ROOT / "src" / Path(*module.split(".")).with_suffix(".py")
    assert handler.is_file() and f"def {function}(" in handler.read_text()  # the module the image's CMD names
    # SAM's Metadata cannot pass a named build context: everything comes from the one context folder
    assert not [parts for parts in instructions if "--from=portfolio" in parts[1]]
    installs = [parts[1] for parts in instructions if parts[0] == "RUN" and "pip install" in parts[1]]
    assert len(installs) == 1 and "[pdf]" in installs[0] and "aws]" not in installs[0]  # boto3: the base image's
    assert "--constraint /tmp/execintel/constraints.txt" in installs[0]  # the tested versions, as the zips pin
    joined = " ".join(" ".join(parts) for parts in instructions)
    assert "pango" in joined and "git-core" in joined
    assert ".env" in joined  # a hand-made context's settings files are removed in a stage of their own
    assert "docker build --platform linux/amd64 -t execintel-worker build/worker-image" in text  # the header's


def _tree(root: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file and folder under ``root``: its bytes (files), permission bits and modification time."""
    tree = {}
    for path in sorted(root.rglob("*")):
        info = path.stat()
        tree[path.relative_to(root).as_posix()] = (path.read_bytes() if path.is_file() else b"",
                                                   info.st_mode & 0o777, int(info.st_mtime))  # fmt: skip
    return tree


def test_image_context_holds_what_the_dockerfile_copies_and_no_settings_file(tmp_path: Path) -> None:
    """The worker's image context: the Dockerfile with every file it copies (so docker build and sam build need
    nothing else), execintel's source and the portfolio as it is now, without its settings files; deterministic,
    and a new build replaces the previous one whole."""
    from execintel.packaging import build_image_context
    from execintel.packaging.image import dockerfile_copies

    source = tmp_path / "portfolio"
    shutil.copytree(demo_portfolio().parent, source)
    (source / ".env").write_text("EXECINTEL_JWT_SECRET=fake\n")
    (source / "repos.env").write_text("AWS_SECRET_ACCESS_KEY=fake\n")
    out = tmp_path / "build"
    out.mkdir()
    context = build_image_context(out, source).path
    assert context == out / "worker-image"
    names = {p.relative_to(context).as_posix() for p in context.rglob("*")}
    # the settings files at the portfolio's root (a repository's own files are the data the worker scans)
    at_root = {n.removeprefix("portfolio/") for n in names if n.startswith("portfolio/") and n.count("/") == 1}
    assert {"portfolio.yaml", "data"} <= at_root and not at_root & {".env", "repos.env"}
    assert (context / "portfolio" / "portfolio.yaml").read_bytes() == (source / "portfolio.yaml").read_bytes()
    assert "portfolio/repos/jada-backend/.git/HEAD" in names  # the whole portfolio, its repositories too
    dockerfile = (context / "Dockerfile").read_text()
    assert dockerfile == (ROOT / "deploy" / "Dockerfile").read_text()
    copied = dockerfile_copies(dockerfile)
    assert {"pyproject.toml", "README.md", "LICENSE", "constraints.txt", "src", "portfolio"} <= set(copied)
    assert all((context / name).exists() for name in copied), [n for n in copied if not (context / n).exists()]
    [cmd] = [json.loads(parts[1]) for parts in _instructions(dockerfile) if parts[0] == "CMD"]
    assert (context / "src" / Path(*cmd[0].split(".")[:-1])).with_suffix(".py").is_file()  # its handler's module
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]
    pins = (context / "constraints.txt").read_text().split()
    assert f"pyarrow=={metadata.version('pyarrow')}" in pins and not [p for p in pins if p.startswith("boto3==")]

    other = tmp_path / "again"
    other.mkdir()
    (source / "data").touch()  # another checkout, other times: the same context
    assert _tree(build_image_context(other, source).path) == _tree(context)
    (context / "stale.txt").write_text("from an earlier build\n")
    build_image_context(out, source)
    assert not (context / "stale.txt").exists()
    assert sorted(p.name for p in out.iterdir()) == ["worker-image"]  # no staging or previous folder left


def test_the_image_context_needs_the_source_tree(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Installed from a wheel (no pyproject.toml, no deploy/Dockerfile), execintel cannot write the context: it
    says so before building anything, and how to build the api package alone."""
    import execintel
    from execintel.packaging.image import SourceMissing, build_image_context

    fake = tmp_path / "site-packages" / "execintel" / "__init__.py"
    monkeypatch.setattr(execintel, "__file__", str(fake))
    with pytest.raises(
        SourceMissing, match=r"from a clone \(pip install -e \.\), or build api\.zip only with --api-only"
    ):
        build_image_context(tmp_path, tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_worker_zip_row_is_informational_not_a_target(tmp_path: Path) -> None:
    """worker.zip (built only with --worker-zip) is measured, never a target: over Lambda's 250 MB zip limit it
    says so, and the check does not fail on it (the image is the worker artefact)."""
    from execintel.packaging.check import check_worker

    big = tmp_path / "worker.zip"
    block = bytes(1 << 20)
    with (
        zipfile.ZipFile(big, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("pyarrow/libarrow.so.1900", "w", force_zip64=True) as member,
    ):
        for _ in range(251):
            member.write(block)
    row = check_worker(big)
    assert row.value > 250 and not row.ok  # over the zip limit...
    assert not row.failed  # ...yet not a failure of the check
    assert row.informational == "informational: over Lambda's zip limit, the image is the worker artefact"


_RUN = """
import sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]  # /var/task, then the runtime's boto3 and urllib3
sys.argv = ["execintel", "run", "--dry-run", "--no-pdf", "--out", sys.argv[3], sys.argv[1] + "/portfolio"]
from execintel.cli import main
main()
"""


@pytest.mark.long
def test_worker_zip_runs_a_report(runtime: Path, tmp_path: Path) -> None:
    """The trimmed worker package alone (plus the runtime's boto3) builds every report of the demo portfolio."""
    version, python = _target()
    done = cli("package", "--worker-zip", "--check", "--out", str(tmp_path / "build"), "--python-version", version,
               cwd=tmp_path, env={"PATH": f"{Path(python).parent}:/usr/bin:/bin"}, timeout=1800)  # fmt: skip
    # worker.zip is measured (over Lambda's zip limit) but never fails the check: only the api's targets can
    assert "worker.zip unzipped" in done.stdout and "info (over Lambda's zip limit" in done.stdout, done.stdout
    verdicts = re.findall(r"│ (ok|over)\s+│", done.stdout)
    assert done.returncode == (1 if "over" in verdicts else 0), done.stdout + done.stderr
    assert not [text for text in done.stderr.splitlines() if text.startswith("Over the target") and "worker" in text]
    task = tmp_path / "task"
    with zipfile.ZipFile(tmp_path / "build" / "worker.zip") as archive:
        names = archive.namelist()
        archive.extractall(task)
    assert not [n for n in names if n.endswith(".pyc") or n.split("/")[0] in RUNTIME_PROVIDED]
    assert not [n for n in names if n.startswith(("pyarrow/libarrow_s3", "pyarrow/include/"))]  # trimmed
    assert "portfolio/repos/jada-backend/.git/HEAD" in names  # the whole portfolio, its repositories too
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "EXECINTEL_DATA_DIR": str(tmp_path / "data")}
    run = subprocess.run([python, "-I", "-S", "-B", "-c", _RUN, str(task), str(runtime), str(tmp_path / "out")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900, check=False)  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    [run_dir] = (tmp_path / "out").iterdir()
    reports = {p.stem for p in run_dir.glob("*.json")}
    assert {"ceo", "cfo", "cto"} <= reports, reports
    assert all((run_dir / f"{report}.html").stat().st_size > 1000 for report in reports)
    charts = list(run_dir.rglob("*.png"))
    assert charts, "matplotlib drew no chart from the trimmed tree"


def test_the_check_refuses_a_handler_that_imports_but_would_answer_503(tmp_path: Path) -> None:
    """A broken configuration does not crash the api's import (it answers 503 instead): the check says so rather
    than time an import that built nothing."""
    from execintel.packaging.check import harmless_env, time_import

    module = tmp_path / "task" / "execintel" / "aws"
    module.mkdir(parents=True)
    (module.parent / "__init__.py").write_text("")
    (module / "__init__.py").write_text("")
    (module / "api.py").write_text(
        "import types\n_instance = types.SimpleNamespace(error='EXECINTEL_BASE_URL: is not "
        "set')\ndef handler(event, context):\n    return {}\n"
    )
    with pytest.raises(CheckError, match="would answer 503: EXECINTEL_BASE_URL: is not set"):
        time_import(sys.executable, tmp_path / "task", harmless_env(tmp_path, tmp_path / "task" / "portfolio"), runs=1)
