"""Finding the processes a test session leaves behind, orphans included.

The test process makes itself a child subreaper (Linux ``PR_SET_CHILD_SUBREAPER``): when a process the tests
started dies, its children are re-parented to the test process instead of to init, so every descendant, however
orphaned, stays a child of the test process and can be listed at the end of the session.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants; False where the platform cannot."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)


def _children(parent: int) -> list[tuple[int, str, str]]:
    """(pid, state, command line) of every process whose parent is ``parent``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\x00", b" ").decode(errors="replace").strip()
        except OSError:
            continue  # it ended meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")"
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == parent:
            found.append((int(entry.name), state, command or stat.split("(", 1)[1].rsplit(")", 1)[0]))
    return found


def wait_for_descendants(grace: float) -> list[tuple[int, str]]:
    """Reap finished children; (pid, command) of those still running after ``grace`` seconds."""
    if not Path("/proc/self/stat").exists():
        return []
    deadline = time.monotonic() + grace
    while True:
        alive = []
        for pid, state, command in _children(os.getpid()):
            if state == "Z":
                with suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
            else:
                alive.append((pid, command))
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def kill(pids: Iterable[int]) -> None:
    """SIGKILL each process and reap it."""
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with suppress(ChildProcessError):
            os.waitpid(pid, 0)
