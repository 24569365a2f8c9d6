"""Start-up: ``--version`` and the ``--help`` of the CLI and of its commands import none of the analysis stack
and do not read the settings, so they start in a fraction of a second (benchmarks/bench_cli.py measures it; this
checks what makes it fast, without a timer)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# What a command that loads data needs, and --version and --help must not import: the data and analysis stack,
# the report renderers, and the settings (pydantic-settings and execintel's models behind them).
HEAVY = ("pyarrow", "duckdb", "numpy", "pydantic_settings", "jinja2", "matplotlib", "weasyprint", "beancount",
         "yaml", "execintel.config", "execintel.pipeline", "execintel.store")  # fmt: skip

# The CLI's code path, in a fresh interpreter, then the modules it left loaded (the last line of stdout).
SCRIPT = """
import json, sys
sys.argv = ["execintel", *sys.argv[1:]]
from execintel.cli import main
try:
    main()
except SystemExit as exc:
    status = exc.code or 0
print()
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


def _start(*args: str) -> tuple[str, dict[str, object]]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, check=False,
                          timeout=60, env={"COLUMNS": "120", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    output, _, last = done.stdout.rstrip("\n").rpartition("\n")
    return output + done.stderr, json.loads(last)


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["--version"], "execintel "),
        (["--help"], "Executive briefings"),
        (["run", "--help"], "Build every report"),
        (["store", "init", "--help"], "Create the store"),
    ],
)
def test_version_and_help_import_no_analysis_stack_and_no_settings(args: list[str], shown: str) -> None:
    output, state = _start(*args)
    assert state["status"] == 0 and shown in output
    modules = set(state["modules"])  # type: ignore[call-overload]
    assert [m for m in HEAVY if m in modules] == []
    if args in (["--version"], ["--help"]):
        # a command's own options are coerced by Typer (through pydantic since Typer 0.2x), the root's are not
        # parsed at all for --version and --help
        assert "pydantic" not in modules


def test_preview_imports_no_analysis_stack(tmp_path: Path) -> None:
    """``preview`` only finds a file: it reads the report ids without the report builders behind them."""
    output, state = _start("preview", "ceo", "--out", str(tmp_path / "runs"))
    assert state["status"] == 2 and "holds no ceo.html yet" in output
    assert [m for m in HEAVY if m in state["modules"]] == []  # type: ignore[operator]
