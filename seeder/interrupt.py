"""SIGINT/SIGTERM during a seeding: recorded as well as raised, so a swallowed exception cannot lose them.

Some libraries run Python code inside C++ and drop any exception raised there (pyarrow's compute
calls lazily import modules and treat a failed import as "module missing"); a Ctrl-C or a
kubelet's SIGTERM landing there would vanish and the seeder would go on to report success. So
the handler also records the signal, and the runner calls :func:`check` at safe points (every
batch, while waiting for sinks) to raise it again.

Example::

    restore = install()
    try:
        ...; check()
    finally:
        restore()
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

_pending: int | None = None


class Interrupted(BaseException):
    """A stop signal arrived; unwinds like KeyboardInterrupt so every sink is aborted."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


def _handler(signum: int, frame: FrameType | None) -> None:
    global _pending
    _pending = signum
    raise Interrupted(signum)


def check() -> None:
    """Raise Interrupted if a stop signal arrived (even if its first exception was swallowed)."""
    if _pending is not None:
        raise Interrupted(_pending)


def install() -> Callable[[], None]:
    """Handle SIGTERM, and SIGINT unless the parent ignores it; returns a function restoring both."""
    global _pending
    _pending = None
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    saved = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            saved[sig] = signal.signal(sig, _handler)

    def restore() -> None:
        global _pending
        _pending = None
        for sig, previous in saved.items():
            signal.signal(sig, previous)

    return restore
