"""The layers import one way: the analyses never import the report builders or the renderers (they compute;
reports lay out what they computed), so the web app and the AWS worker can use one without the other."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "execintel"
ABOVE_ANALYSIS = ("execintel.reports", "execintel.render", "execintel.delivery", "execintel.cli")


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, at any depth (lazy imports inside functions too), with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, node.module), *((node.lineno, f"{node.module}.{a.name}") for a in node.names)]
    return found


def test_no_analysis_module_imports_a_report_a_renderer_or_a_shell() -> None:
    files = sorted((SRC / "analysis").glob("*.py"))
    assert len(files) > 20  # the scan reads the package
    wrong = [f"{path.name}:{line} imports {name}" for path in files for line, name in _imports(path)
             if name.startswith(ABOVE_ANALYSIS)]  # fmt: skip
    assert wrong == []


def test_the_scan_sees_a_lazy_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from execintel.reports.document import Document\n    return Document\n")
    assert (2, "execintel.reports.document") in _imports(module)


def test_the_command_line_modules_import_one_another_without_a_cycle() -> None:
    package = SRC / "cli"
    graph = {path.stem: {name.removeprefix("execintel.cli.").split(".")[0] for _line, name in _imports(path)
                         if name.startswith("execintel.cli.")} - {path.stem}
             for path in package.glob("*.py") if path.stem != "__init__"}  # fmt: skip
    assert {"app", "common", "run", "schedule", "store", "console"} <= set(graph)
    assert "app" not in set().union(*(graph[m] for m in graph if m != "app"))  # the app imports the commands
    done: set[str] = set()
    while len(done) < len(graph):  # peel off the modules whose imports are all done: stuck means a cycle
        ready = {m for m, needs in graph.items() if m not in done and needs & set(graph) <= done}
        assert ready, f"import cycle among {sorted(set(graph) - done)}"
        done |= ready


def test_the_web_app_imports_no_analysis_stack() -> None:
    # The AWS api handler wraps this app: the analysis stack (and its megabytes) is imported inside a job only.
    heavy = ("numpy", "pandas", "pyarrow", "duckdb", "matplotlib", "beancount", "weasyprint", "execintel.analysis",
             "execintel.reports", "execintel.render", "execintel.pipeline", "execintel.service")  # fmt: skip
    code = ("import sys, execintel.web.app, execintel.web.runner, execintel.report_ids; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'numpy','pandas','pyarrow','duckdb',"
            "'matplotlib','beancount','weasyprint'} or m.startswith(('execintel.analysis','execintel.reports',"
            "'execintel.render','execintel.pipeline','execintel.service'))))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]", f"the web app imports {done.stdout.strip()} (none of {heavy} may be)"


AWS_LIGHT = ("execintel.aws.api", "execintel.aws.sns")


def test_the_aws_api_and_sns_handlers_import_no_analysis_stack(tmp_path: Path) -> None:
    # api.zip carries these two handlers without the analysis stack: importing them (the api builds its whole app at
    # import) and answering a request must not need it
    portfolio = tmp_path / "portfolio"
    portfolio.mkdir()
    (portfolio / "portfolio.yaml").write_text(
        "version: 1\nportfolio: {name: Light}\nsender: reports@example.com\n"
        "stakeholders: [{id: a, name: A, email: a@example.com, roles: [admin]}]\nentities: [{id: e, name: E}]\n", encoding="utf-8")  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "EXECINTEL_PORTFOLIO": str(portfolio),
           "EXECINTEL_STORE": f"sqlite:///{tmp_path / 'audit.db'}", "EXECINTEL_MAILER": f"outbox:{tmp_path / 'out'}",
           "EXECINTEL_JWT_SECRET": "x" * 48, "EXECINTEL_BASE_URL": "https://app.example.com", "EXECINTEL_WORKER_FUNCTION": "worker", "EXECINTEL_REPORTS_BUCKET": "b",
           "EXECINTEL_DATA_DIR": str(tmp_path / "data"), "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip
    code = ("import sys, execintel.aws.sns, execintel.aws.api as api\n"
            "answer = api.handler({'version': '2.0', 'routeKey': '$default', 'rawPath': '/healthz', "
            "'rawQueryString': '', 'headers': {'host': 'x'}, 'requestContext': {'http': {'method': 'GET', "
            "'path': '/healthz', 'protocol': 'HTTP/1.1', 'sourceIp': '192.0.2.1'}}, 'isBase64Encoded': False}, None)\n"
            "assert answer['statusCode'] == 200, answer\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'numpy','pandas','pyarrow','duckdb',"
            "'matplotlib','beancount','weasyprint','detect_secrets','jinja2'} or m.startswith(('execintel.analysis',"
            "'execintel.reports','execintel.render','execintel.pipeline','execintel.service'))))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]", f"{AWS_LIGHT} import {done.stdout.strip()}"
