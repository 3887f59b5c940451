"""The real Prometheus 2.42 inside the stand-in: the store that answers its PromQL API.

Set up like the self-consistency target of the local stacks (fixtures/stacks/prometheus_proc.py,
settle.py), which this package may not import:
- scrapes nothing, evaluates no rules: the store holds exactly what the stand-in received;
- ``--web.enable-remote-write-receiver``: the only way data gets in;
- ``storage.tsdb.out_of_order_time_window: 30d`` (a config-file setting in 2.42, not a flag): seeded
  data lies in the past and arrives metric by metric, which an in-order head refuses;
- 30-day blocks (NO_COMPACTION_ARGS): the whole session stays in the head, so no compaction runs
  while tests query (2.42 was seen to lose acknowledged samples when compacting during
  out-of-order ingestion, and queries during compaction flapped);
- bound to 127.0.0.1 on a free port: only the stand-in talks to it.
The child gets SIGTERM when the stand-in dies (PR_SET_PDEATHSIG), so no Prometheus outlives it.
"""

from __future__ import annotations

import contextlib
import ctypes
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import requests

from standin.errors import PrometheusStartError

OUT_OF_ORDER_WINDOW = "30d"
NO_COMPACTION_ARGS = ("--storage.tsdb.min-block-duration=30d", "--storage.tsdb.max-block-duration=30d")
CONFIG = f"""# Written by the MyTSDB stand-in: scrape nothing, accept past samples by remote write.
global:
  evaluation_interval: 1h
scrape_configs: []
storage:
  tsdb:
    out_of_order_time_window: {OUT_OF_ORDER_WINDOW}
"""
_PROM_LEVEL = {"debug": "debug", "info": "info", "warn": "warn", "error": "error", "off": "error"}
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_prometheus(name: str) -> str:
    """``name`` as a path or on PATH; PrometheusStartError with the way out otherwise."""
    found = shutil.which(name)
    if found is None:
        raise PrometheusStartError(f"prometheus binary {name!r} not found: put prometheus 2.42 on PATH "
                                   f"or set STANDIN_PROMETHEUS to its path")
    return found


def _child_setup(signals: tuple[int, ...]) -> Callable[[], None]:
    """Runs in the child before exec: unblock our blocked signals, die with the parent."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork

    def setup() -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)

    return setup


class PrometheusChild:
    """One Prometheus process with its TSDB and config under ``<data-dir>/standin``."""

    def __init__(self, binary: str, data_dir: Path, *, log_level: str = "info",
                 ready_timeout: float = 120.0) -> None:
        self.binary = find_prometheus(binary)
        self.home = Path(data_dir) / "standin"
        self.tsdb_path = self.home / "tsdb"
        self.config_path = self.home / "prometheus.yml"
        self.log_level = log_level
        self.ready_timeout = ready_timeout
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def write_url(self) -> str:
        return f"{self.url}/api/v1/write"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def command(self) -> list[str]:
        """The exact command line (logged, so a failure can be reproduced by hand)."""
        return [self.binary, f"--config.file={self.config_path}", f"--storage.tsdb.path={self.tsdb_path}",
                "--storage.tsdb.retention.time=100y", *NO_COMPACTION_ARGS,
                f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-remote-write-receiver",
                "--query.lookback-delta=5m",  # MyTSDB's fixed lookback
                f"--log.level={_PROM_LEVEL[self.log_level]}"]

    def start(self, blocked: tuple[int, ...] = (), interrupted: Callable[[], bool] = lambda: False) -> None:
        """Launch and wait for ``/-/ready``; on any failure the child is stopped before raising.

        ``interrupted`` is polled while waiting, so a SIGTERM during start-up is not held up.
        """
        self.tsdb_path.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(CONFIG)
        self.port = free_port()
        out = subprocess.DEVNULL if self.log_level == "off" else None  # else: the stand-in's own log
        self._proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                      preexec_fn=_child_setup(blocked))
        try:
            self._wait_ready(interrupted)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, interrupted: Callable[[], bool]) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.ready_timeout
        reason = "not probed yet"
        while True:
            code = self._proc.poll()
            if code is not None:
                raise PrometheusStartError(f"prometheus exited with code {code} before /-/ready "
                                           f"(cmd: {' '.join(self.command())})")
            try:
                resp = requests.get(f"{self.url}/-/ready", timeout=2.0)
                if resp.status_code == 200:
                    return
                reason = f"HTTP {resp.status_code}"
            except requests.RequestException as exc:
                reason = type(exc).__name__
            if interrupted():
                raise PrometheusStartError("interrupted by a signal while prometheus was starting")
            if time.monotonic() >= deadline:
                raise PrometheusStartError(f"prometheus not ready after {self.ready_timeout:g}s "
                                           f"(GET {self.url}/-/ready, last: {reason})")
            with contextlib.suppress(subprocess.TimeoutExpired):  # the pause doubles as crash detection
                self._proc.wait(timeout=0.1)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, SIGKILL after ``timeout``; returns the exit code (None if never started); idempotent."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        return proc.returncode

