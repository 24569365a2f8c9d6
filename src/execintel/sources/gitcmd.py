"""The one way execintel runs git: a fixed configuration, a clean environment, a deadline and streamed output.

An audited repository comes from anyone, so git is never pointed at it directly. :mod:`.gitlayout` builds a
private git folder (a *shadow*) holding only refs execintel read itself and a configuration execintel wrote,
and lends the repository's object folders to it as alternates. Every command runs with:

- ``GIT_DIR`` set to the shadow: git reads no setting, hook, attribute or ref the repository holds, so no
  ``core.fsmonitor``, ``filter.*``, ``diff.*.textconv``, alias, pager or include it names can run;
- the settings that can run a program pinned again on the command line (``-c`` wins over every file), in case
  a git version reads more than the shadow's own files;
- an environment built from nothing: no ``GIT_*`` variable of the caller (``GIT_DIR``, ``GIT_CONFIG_COUNT``,
  ``GIT_EXTERNAL_DIFF``...), no user or system configuration, a fixed ``PATH``, ``HOME`` in the shadow;
- a deadline: the process group is killed when it is over, and :class:`GitTimeout` names the command;
- output read a block at a time and split into records of at most a given length, so a gigabyte of
  ``log -p`` or a single 500 MB line is never held whole.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, cast

GIT_TIMEOUT = 600.0
"""Seconds one git command may run (``log -p`` of a 100,000-commit history takes well under a minute)."""
_READ_BYTES = 1 << 16
_STDERR_KEEP = 8192
EMPTY_TREE = {  # the id of a tree with nothing in it: "no attributes from any tree"
    40: "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    64: "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321",
}

# Settings that name a program git may run, pinned to nothing (or to ``false``, which exits 1 at once).
HARDENED = (
    ("core.fsmonitor", "false"), ("core.hooksPath", os.devnull), ("core.pager", "cat"), ("pager.log", "false"),
    ("pager.ls-files", "false"), ("pager.cat-file", "false"), ("core.sshCommand", "false"), ("core.gitProxy", ""),
    ("core.askPass", "false"), ("core.editor", "false"), ("sequence.editor", "false"), ("diff.external", ""),
    ("credential.helper", ""), ("protocol.allow", "never"), ("gpg.program", "false"),
    ("gpg.openpgp.program", "false"), ("gpg.ssh.program", "false"), ("gpg.x509.program", "false"),
    ("log.showSignature", "false"), ("core.attributesFile", os.devnull), ("core.alternateRefsCommand", ""),
    ("interactive.diffFilter", ""),
)  # fmt: skip
# Settings that change the output execintel parses, whatever a configuration says.
OUTPUT = (
    ("core.quotepath", "off"), ("diff.noprefix", "false"), ("diff.mnemonicPrefix", "false"),
    ("diff.relative", "false"), ("diff.renames", "false"), ("color.ui", "never"), ("i18n.logOutputEncoding", "UTF-8"),
    ("log.showRoot", "true"), ("log.mailmap", "false"), ("core.precomposeUnicode", "false"),
)  # fmt: skip


class GitError(Exception):
    """A git command failed; ``reason`` completes "<repository> ..." (the command and git's last message)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class GitTimeout(GitError):
    """A git command ran past its deadline and was stopped."""


def git_program() -> str:
    """The absolute path of the ``git`` the caller's PATH names; :class:`GitError` when there is none."""
    found = shutil.which("git")
    if found is None:
        raise GitError("cannot be read: the git command is not installed")
    return str(Path(found).absolute())


def quote_path(path: Path) -> str:
    """``path`` C-quoted, as git reads an entry of an alternates list (safe with ``:`` or newlines)."""
    out = ['"']
    for byte in os.fsencode(path):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    out.append('"')
    return "".join(out)


@dataclass(frozen=True)
class GitRunner:
    """Runs git commands against a shadow git folder whose objects are the repository's (read only)."""

    git_dir: Path  # the shadow: its own config, HEAD and packed-refs
    object_dirs: tuple[Path, ...]  # the repository's object folders, already checked
    hash_hex: int = 40  # 40 (SHA-1) or 64 (SHA-256) hex digits per object id
    index: Path | None = None  # the repository's index file, for ``ls-files``
    ceiling: tuple[Path, ...] = ()
    timeout: float = GIT_TIMEOUT
    program: str = field(default_factory=git_program)

    def environment(self, *, replacements: bool = False, index: bool = False) -> dict[str, str]:
        """The whole environment of a git command (nothing inherited)."""
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.git_dir),
            "XDG_CONFIG_HOME": str(self.git_dir),
            "LC_ALL": "C",
            "GIT_DIR": str(self.git_dir),
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": ":".join(quote_path(p) for p in self.object_dirs),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_SYSTEM": os.devnull,
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CEILING_DIRECTORIES": ":".join(str(p) for p in (self.git_dir.parent, *self.ceiling)),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_OPTIONAL_LOCKS": "0",
            "GIT_ATTR_NOSYSTEM": "1",
            "GIT_ATTR_SOURCE": EMPTY_TREE[self.hash_hex],
            "GIT_NO_LAZY_FETCH": "1",
            "GIT_PROTOCOL_FROM_USER": "0",
            "GIT_LITERAL_PATHSPECS": "1",
            "GIT_PAGER": "cat",
        }
        if not replacements:
            env["GIT_NO_REPLACE_OBJECTS"] = "1"
        if index and self.index is not None:
            env["GIT_INDEX_FILE"] = str(self.index)
        return env

    def stream(
        self,
        *args: str,
        replacements: bool = False,
        index: bool = False,
        big_file_threshold: int | None = None,
        label: str | None = None,
    ) -> GitStream:
        """Start ``git ARGS``; read its output through the returned :class:`GitStream` (a context manager).

        ``label`` names the command in errors (default: ``git`` and its subcommand). ``replacements`` lets git
        use the shadow's replace refs: those are execintel's own stand-ins for blobs over the size limit (the
        repository's ``refs/replace/*`` are read as plain tips, never as replacements); every other command
        runs with ``GIT_NO_REPLACE_OBJECTS``. ``index`` gives git the repository's index (for ``ls-files``).
        """
        command = [self.program, "--no-pager"]
        if not replacements:
            command.append("--no-replace-objects")
        pinned = [*HARDENED, *OUTPUT, ("attr.tree", EMPTY_TREE[self.hash_hex])]
        if big_file_threshold is not None:
            pinned.append(("core.bigFileThreshold", str(big_file_threshold)))
        for key, value in pinned:
            command += ["-c", f"{key}={value}"]
        command += args
        env = self.environment(replacements=replacements, index=index)
        return GitStream(
            name=label or f"git {args[0]}",
            command=command,
            env=env,
            cwd=self.git_dir,
            timeout=self.timeout,
        )


class GitStream:
    """A running git command: its output as capped records, its errors, its deadline.

    Leaving the ``with`` block before the end of the output stops the command (that is how a cap on lines
    read is applied); reading to the end raises :class:`GitError` if git failed, :class:`GitTimeout` if the
    deadline was hit.
    """

    def __init__(
        self,
        *,
        name: str,
        command: list[str],
        env: dict[str, str],
        cwd: Path,
        timeout: float,
    ) -> None:
        self.name = name
        self._timeout = timeout
        self._timed_out = threading.Event()
        self._stderr = bytearray()
        self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell, environment built from nothing
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=True,  # its own process group, so the deadline stops anything it started
            close_fds=True,
        )
        self._threads = [threading.Thread(target=self._drain_stderr, daemon=True)]
        self._timer = threading.Timer(timeout, self._expire)
        self._timer.daemon = True
        for thread in self._threads:
            thread.start()
        self._timer.start()
        self._finished = False

    @property
    def pid(self) -> int:
        """The git process's id."""
        return self._process.pid

    def __enter__(self) -> GitStream:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _expire(self) -> None:
        self._timed_out.set()
        self._kill()

    def _kill(self) -> None:
        if self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # it ended in between
                os.killpg(self._process.pid, signal.SIGKILL)

    def _drain_stderr(self) -> None:
        stream = _pipe(self._process.stderr)
        while chunk := stream.read(_READ_BYTES):
            self._stderr += chunk
            del self._stderr[:-_STDERR_KEEP]

    def records(self, separator: bytes, limit: int) -> Iterator[tuple[bytes, int]]:
        """Yield each record of the output (without its separator) cut to ``limit`` bytes, with its full length."""
        stream = _pipe(self._process.stdout)
        pending = bytearray()
        length = 0  # of the record being read, counting bytes dropped past the limit
        while chunk := stream.read1(_READ_BYTES):
            parts = chunk.split(separator)
            for part in parts[:-1]:
                if not length:  # the common case: the whole record is in this block
                    yield (part if len(part) <= limit else part[:limit]), len(part)
                    continue
                if length < limit:
                    pending += part[: limit - length]
                length += len(part)
                yield bytes(pending), length
                pending.clear()
                length = 0
            tail = parts[-1]
            if length < limit:
                pending += tail[: limit - length]
            length += len(tail)
        if length:
            yield bytes(pending), length
        self._finish()

    def _finish(self) -> None:
        status = self._process.wait()
        self._finished = True
        self._timer.cancel()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._timed_out.is_set():
            raise GitTimeout(f"{self.name} was stopped after {self._timeout:g} s (the time limit of a git command)")
        if status != 0:
            lines = self._stderr.decode("utf-8", "replace").strip().splitlines()
            detail = lines[-1].removeprefix("fatal: ").removeprefix("error: ") if lines else f"exit status {status}"
            raise GitError(f"{self.name} failed: {detail}")

    def close(self) -> None:
        """Stop the command if it is still running and release everything it holds."""
        if not self._finished:
            self._kill()
            self._process.wait()
            self._finished = True
        self._timer.cancel()
        for stream in (self._process.stdout,):
            if stream is not None:
                with contextlib.suppress(OSError):  # a pipe git already closed
                    stream.close()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._process.stderr is not None:
            self._process.stderr.close()


def _pipe(stream: IO[bytes] | None) -> io.BufferedReader:
    """A pipe of a started process (always there: the process was started with it)."""
    if stream is None:
        raise RuntimeError("the git process has no such pipe")
    return cast(io.BufferedReader, stream)
