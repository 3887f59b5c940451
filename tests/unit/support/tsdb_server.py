"""A stand-in ``tsdb_server`` for the local and docker stacks' MyTSDB path: a thin wrapper over ``standin``.

There is ONE MyTSDB double, the ``standin`` package (flags, start order, Flight DoPut and OTLP
Export under MyTSDB's contract, SIGTERM; see its modules). This wrapper only adds what the
stack tests look at:
- ``GET /fake/stats`` (not a MyTSDB endpoint): what arrived, for the tests' assertions;
- a ``fake-was-here`` marker in the data dir, so a test can see that it started fresh;
- error lines prefixed ``tsdb_server:``, log lines ``fake tsdb_server: ...``;
- environment: ``FAKE_TSDB_BIND`` (HTTP/Flight host, default 127.0.0.1), ``FAKE_TSDB_FLIGHT_DELAY``
  (seconds between ``/health`` and Flight listening, default 1: a caller waiting for ``/health``
  alone would seed too early), ``FAKE_TSDB_EXIT_DELAY`` (pause on SIGTERM, default 0.5; MyTSDB
  sleeps ~5 s), ``FAKE_TSDB_PROMETHEUS`` (a prometheus binary: back the PromQL API with it, as
  the stand-in image does; unset: record only, the API answers 503).

Run: ``python -m tests.unit.support.tsdb_server --http-port 9090 ...`` (the local-stack test wraps it
in an executable ``tsdb_server`` script, so it is started exactly like the real binary; the
docker-stack test runs it as a container's entrypoint with ``FAKE_TSDB_BIND=0.0.0.0``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from standin.flags import parse_flags as _parse_flags
from standin.server import Options, Standin, env_float, run

MARKER = "fake-was-here"


def parse_flags(argv: list[str]) -> dict[str, Any]:
    """MyTSDB's flag contract (``standin.flags``), keyed by flag; raises ValueError (FlagError)."""
    return _parse_flags(argv).by_flag()


def options() -> Options:
    """The double's options from the environment (bad values: one line, exit 1)."""
    fresh: list[bool] = []

    def mark(data_dir: Path) -> None:
        fresh.append(not any(data_dir.iterdir()))
        (data_dir / MARKER).write_text("fresh data dir\n" if fresh[0] else "data dir was not empty\n")

    def stats(standin: Standin) -> dict[str, Any]:
        data_dir = standin.data_dir
        return {**standin.stats(), "data_dir": str(data_dir),
                "data_dir_files": sorted(os.listdir(data_dir)), "started_fresh": bool(fresh and fresh[0])}

    return Options(banner="fake tsdb_server",
                   bind=os.environ.get("FAKE_TSDB_BIND", "127.0.0.1"),
                   prometheus=os.environ.get("FAKE_TSDB_PROMETHEUS") or None,
                   flight_delay=env_float("FAKE_TSDB_FLIGHT_DELAY", 1.0),
                   exit_delay=env_float("FAKE_TSDB_EXIT_DELAY", 0.5),
                   routes={"/fake/stats": stats}, on_storage=mark)


def main(argv: list[str]) -> int:
    return run(argv, options, prog="tsdb_server")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
