"""Benchmark: the start-up of every command that loads no data, each in a fresh interpreter.

Requirement (issue 16): ``execintel --version`` in under 300 ms, and every command that does not load data in
under 300 ms. Each measurement is one cold process (``python -m execintel ARGS``, and the installed
``execintel`` entry point for ``--version`` and ``--help``), its wall time from start to exit. Figures
(``harness.report``, one sample per round, ``--repeat`` rounds, the verdict on the median; target 300 ms each):

- ``cli.version_ms``, ``cli.help_ms``; ``cli.entry_version_ms``, ``cli.entry_help_ms`` (the entry point);
- ``cli.subcommand_help_ms``: in each round, the slowest ``--help`` of every command and command group
  (``run --help``, ``store init --help``, ...; each is printed);
- commands that read no data: ``cli.init_ms`` (write the starter portfolio), ``cli.preview_ms`` (the newest
  run's HTML, no browser here);
- for information (no target: they read the audit store, which is data): ``cli.store_init_ms``,
  ``cli.audit_list_ms``, ``cli.suppression_list_ms`` (on an empty SQLite store).

Bytecode: a user's interpreter caches the compiled modules after the first run, so this benchmark lets the
children write ``__pycache__`` (even under ``PYTHONDONTWRITEBYTECODE``) and runs each command once unmeasured.
Measured with the interpreter that runs it (the venv's: what ``make`` gives a user).

    .venv/bin/python benchmarks/bench_cli.py
    .venv/bin/python benchmarks/bench_cli.py --repeat 10 --max-ms 300
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

# The commands that read the audit store: measured for information, no target.
READS_STORE = ("store_init", "audit_list", "suppression_list")
# Every command and command group, for their --help (the groups' subcommands too).
HELP = (
    "validate", "sources", "preview", "explain", "init", "run", "schedule", "serve", "package", "deploy",
    "store", "store init", "audit", "audit list", "audit show", "audit verify",
    "suppression", "suppression list", "suppression add", "suppression remove",
)  # fmt: skip


def commands(folder: Path) -> dict[str, list[str]]:
    """The figures' commands (figure name -> execintel arguments), with their files in ``folder``."""
    out = folder / "out"
    (out / "20261115T000000Z-0001").mkdir(parents=True)
    (out / "20261115T000000Z-0001" / "cfo.html").write_text("<!doctype html><title>cfo</title>\n", encoding="utf-8")
    return {
        "version": ["--version"],
        "help": ["--help"],
        "init": ["init", str(folder / "starter"), "--force"],
        "preview": ["preview", "cfo", "--out", str(out)],
        "store_init": ["store", "init"],
        "audit_list": ["audit", "list"],
        "suppression_list": ["suppression", "list"],
    }


def time_ms(args: list[str], env: dict[str, str], *, entry: bool = False) -> float:
    """One cold run's wall time in ms; exits when the command fails (a failing command measures nothing)."""
    executable = [str(Path(sys.executable).parent / "execintel")] if entry else [sys.executable, "-m", "execintel"]
    run = harness.run_process([*executable, *args], env=env)
    if run.status != 0:
        raise SystemExit(f"execintel {shlex.join(args)} exited {run.status}:\n{run.output[-2000:]}")
    return run.seconds * 1000


def main(argv: list[str] | None = None) -> int:
    """Measure every command's start-up, report; exit 1 over a target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5, help="rounds; each measures every command once")
    parser.add_argument("--max-ms", type=float, default=300.0, help="target for each command's median")
    args = parser.parse_args(argv)
    entry = (Path(sys.executable).parent / "execintel").is_file()
    with tempfile.TemporaryDirectory(prefix="execintel-bench-cli-") as tmp:
        folder = Path(tmp)
        # an empty string unsets PYTHONDONTWRITEBYTECODE: the children cache bytecode, as a user's do
        env = {"PYTHONDONTWRITEBYTECODE": "", "EXECINTEL_DATA_DIR": str(folder / "data"), "DISPLAY": "",
               "WAYLAND_DISPLAY": "", "HOME": str(folder)}  # fmt: skip
        named = commands(folder)
        for arguments in [*named.values(), *([*c.split(), "--help"] for c in HELP)]:
            time_ms([*arguments], env)  # unmeasured: bytecode written, the store made, the files' caches warm
        samples: dict[str, list[float]] = {name: [] for name in named}
        samples.update(entry_version=[], entry_help=[], subcommand_help=[])
        helps: dict[str, list[float]] = {command: [] for command in HELP}
        for _ in range(args.repeat):
            for name, arguments in named.items():
                samples[name].append(time_ms(arguments, env))
            if entry:
                samples["entry_version"].append(time_ms(["--version"], env, entry=True))
                samples["entry_help"].append(time_ms(["--help"], env, entry=True))
            for command in HELP:
                helps[command].append(time_ms([*command.split(), "--help"], env))
            samples["subcommand_help"].append(max(h[-1] for h in helps.values()))
    print(f"\n{'execintel ... --help':<36} {'median ms':>10} {'min':>7} {'max':>7}")
    for command, times in sorted(helps.items(), key=lambda item: -statistics.median(item[1])):
        print(f"{command + ' --help':<36} {statistics.median(times):>10.0f} {min(times):>7.0f} {max(times):>7.0f}")
    slowest = max(helps, key=lambda c: statistics.median(helps[c]))
    titles = {
        "version": ("python -m execintel --version", "execintel --version"),
        "help": ("python -m execintel --help", "execintel --help"),
        "entry_version": ("the installed entry point: execintel --version", "execintel --version"),
        "entry_help": ("the installed entry point: execintel --help", "execintel --help"),
        "subcommand_help": ("the slowest --help of every command and group, per round", "execintel run --help"),
        "init": ("execintel init DIR (the starter portfolio)", "execintel init DIR --force"),
        "preview": ("execintel preview cfo (no browser: prints the path)", "execintel preview cfo --out OUT"),
        "store_init": ("execintel store init (SQLite, already made)", "execintel store init"),
        "audit_list": ("execintel audit list (empty SQLite store)", "execintel audit list"),
        "suppression_list": ("execintel suppression list (empty SQLite store)", "execintel suppression list"),
    }
    command = shlex.join([".venv/bin/python", "benchmarks/bench_cli.py", *(argv or sys.argv[1:])])
    ok = True
    for name, times in samples.items():
        if not times:
            print(f"cli.{name}_ms: not measured (no entry point next to {sys.executable})")
            continue
        title, alone = titles[name]
        detail = f"slowest: {slowest} --help" if name == "subcommand_help" else f"alone: {alone}"
        target = None if name in READS_STORE else args.max_ms
        figure = harness.Figure(f"cli.{name}_ms", f"CLI start-up: {title}, cold process", "ms", times, target,
                                command, detail=detail)  # fmt: skip
        ok &= harness.report(figure)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
