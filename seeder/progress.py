"""Progress on stderr: a tqdm bar on a terminal, periodic plain lines (samples/s, ETA) otherwise.

Plain lines are for logs (the kind seed sidecar): the harness shows the last one while it waits
(``fixtures.kube.readiness.parse_seed_progress`` looks for ``%``, ``samples/s`` or ``ETA``).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _si(n: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.2f}{unit}"
    return f"{n:.0f}"


class Progress:
    """Counts samples against a known total and reports at most every ``every`` seconds.

    Example::

        p = Progress(1_000_000); p.update(500_000); p.close()
    """

    def __init__(self, total: int, stream: TextIO | None = None, every: float = 2.0,
                 enabled: bool = True, tty: bool | None = None) -> None:
        self.total = max(1, total)
        self.stream = stream or sys.stderr
        self.every = every
        self.enabled = enabled
        self.done = 0
        self.start = time.monotonic()
        self._next = self.start + every
        self._bar = None
        is_tty = self.stream.isatty() if tty is None else tty
        if enabled and is_tty:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="samples", unit_scale=True, file=self.stream,
                             dynamic_ncols=True, desc="seed")

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.every
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()

    def line(self, now: float | None = None) -> str:
        """``seed: 5.20M/20.49M samples (25%) 8.10M samples/s ETA 1.9s``"""
        elapsed = max(1e-9, (now or time.monotonic()) - self.start)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        return (f"seed: {_si(self.done)}/{_si(self.total)} samples ({100 * self.done / self.total:.0f}%) "
                f"{_si(rate)} samples/s ETA {eta:.1f}s")

    def close(self, message: str | None = None) -> None:
        if self._bar is not None:
            self._bar.close()
        if self.enabled and message:
            self.stream.write(message + "\n")
            self.stream.flush()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start
