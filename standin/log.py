"""One-line log output that honours ``--log-level`` (``off`` prints nothing)."""

from __future__ import annotations

import sys

_RANK = {"debug": 10, "info": 20, "warn": 30, "error": 40, "off": 100}


class Log:
    """``log("info", "HTTP 9090")`` prints ``<prefix>: HTTP 9090``; warn/error go to stderr."""

    def __init__(self, prefix: str, level: str = "info") -> None:
        self.prefix = prefix
        self.threshold = _RANK[level]

    def __call__(self, level: str, message: str) -> None:
        if _RANK[level] < self.threshold:
            return
        stream = sys.stderr if _RANK[level] >= _RANK["warn"] else sys.stdout
        print(f"{self.prefix}: {message}", file=stream, flush=True)
