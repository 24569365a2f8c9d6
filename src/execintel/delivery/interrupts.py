"""Stopping a run cleanly on SIGTERM or SIGINT, without cutting a message's hand-off in two.

While :func:`stop_on_signals` is active (the CLI's ``run``), SIGTERM and SIGINT raise :class:`Interrupted` in the
main thread: the ``with`` blocks unwind (render workers are stopped, the run is recorded as interrupted) and the
process exits with 128 + the signal number. Python would raise at any bytecode, though, and an exception between
the delivery engine's commit point and the hand-off would leave a message recorded as "sending" that never left.
So the engine runs each delivery inside :func:`shielded`: a signal that arrives there is held until the delivery
is finished and recorded, then raised. A second signal while one is held is raised at once (a person pressing
Ctrl-C twice wants out; the delivery is then resolved by the next run, as after a crash).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["Interrupted", "shielded", "stop_on_signals"]

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupted(SystemExit):
    """The run was stopped by a signal; the exit status is 128 + its number (143 for SIGTERM, 130 for SIGINT)."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum
        self.name = signal.Signals(signum).name

    def __str__(self) -> str:
        return f"interrupted by {self.name}"


class _State:
    depth = 0  # how many shielded() blocks are open (the main thread's)
    held: int | None = None  # a signal that arrived inside one


def _handler(signum: int, frame: FrameType | None) -> None:
    if _State.depth and _State.held is None:
        _State.held = signum
        return
    _State.held = None
    raise Interrupted(signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGINT into :class:`Interrupted` while the block runs (main thread only; else nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _handler) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _State.held = None


@contextmanager
def shielded() -> Iterator[None]:
    """Hold SIGTERM and SIGINT until the block ends, then raise :class:`Interrupted` for the one that came."""
    main = threading.current_thread() is threading.main_thread()
    if main:
        _State.depth += 1
    try:
        yield
    finally:
        if main:
            _State.depth -= 1
            if not _State.depth and _State.held is not None:
                signum, _State.held = _State.held, None
                raise Interrupted(signum)
