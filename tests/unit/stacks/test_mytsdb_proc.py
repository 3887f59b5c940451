"""The local stack's MyTSDB path, run for real against a fake ``tsdb_server`` that keeps MyTSDB's
flag, start-order, Flight and OTLP contract (tests/unit/support/tsdb_server.py).

What is exercised: ``MyTSDBProcess`` start (free ports, exact flags, waiting for ``/health`` *and*
the Flight port), its error messages (unknown flag -> exit 1, Flight never listening -> timeout),
seeding over Flight + OTLP through the seeder CLI, the whole ``LocalStack`` with ``--mytsdb-bin``,
and stop (SIGTERM, work dir removed).
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from fixtures.common.config import HarnessConfig
from fixtures.common.errors import PrerequisiteMissing, StackStartError, WaitTimeout
from fixtures.stacks.local import LocalStack
from fixtures.stacks.mytsdb_proc import MyTSDBProcess
from fixtures.stacks.seeding import base_seed_args, run_seeder
from seeder.manifest import SeedManifest
from tests.unit.support.tsdb_server import parse_flags

ROOT = Path(__file__).parents[3]


@pytest.fixture()
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An executable ``tsdb_server`` that runs the fake with this interpreter."""
    path = tmp_path / "bin" / "tsdb_server"
    path.parent.mkdir()
    path.write_text(f"#!/bin/sh\nexec {sys.executable} -m tests.unit.support.tsdb_server \"$@\"\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("FAKE_TSDB_EXIT_DELAY", "0.2")
    return path


@pytest.fixture()
def tsdb(fake_bin: Path) -> Iterator[MyTSDBProcess]:
    proc = MyTSDBProcess(fake_bin, ready_timeout=30)
    try:
        yield proc.start()
    finally:
        proc.stop()


def _stats(proc: MyTSDBProcess) -> dict[str, object]:
    return requests.get(f"{proc.url}/fake/stats", timeout=5).json()


@pytest.mark.parametrize("argv", [["--retention", "1d"], ["--http"], ["--http-port=9090"],
                                  ["--log-level", "verbose"], ["--address", "4317"], ["--http-port"]])
def test_fake_enforces_the_flag_contract(fake_bin: Path, argv: list[str]) -> None:
    done = subprocess.run([str(fake_bin), *argv], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1 and done.stderr.startswith("tsdb_server: ")


def test_fake_accepts_exactly_mytsdbs_flags() -> None:
    flags = parse_flags(["--http-port", "1", "--arrow-port", "0", "--address", "127.0.0.1:2",
                         "--data-dir", "/tmp/x", "--log-level", "off"])
    assert flags["--arrow-port"] == 0 and flags["--log-level"] == "off"


def test_start_waits_for_flight_not_only_health(tsdb: MyTSDBProcess) -> None:
    # the fake answers /health about a second before Flight listens; start() must cover both
    assert requests.get(f"{tsdb.url}/health", timeout=5).json() == {"status": "up"}
    with socket.create_connection(("127.0.0.1", tsdb.arrow_port), timeout=2):
        pass
    assert len({tsdb.http_port, tsdb.arrow_port, tsdb.otlp_port}) == 3
    assert _stats(tsdb)["data_dir"] == str(tsdb.data_dir) and tsdb.data_dir.is_dir()


def test_seeding_over_flight_and_otlp_reaches_the_process(tsdb: MyTSDBProcess, tmp_path: Path) -> None:
    manifest_path = tmp_path / "manifest.json"
    sinks = ["--flight", tsdb.flight_location, "--otlp", tsdb.otlp_endpoint, "--manifest", str(manifest_path)]
    run_seeder([*base_seed_args(HarnessConfig()), *sinks], cwd=ROOT)
    manifest = SeedManifest.load(manifest_path)
    stats = _stats(tsdb)
    main_samples = manifest.samples_total - (manifest.otlp or {}).get("samples", 0)
    assert stats["flight_violations"] == [] and stats["flight_rows"] == main_samples
    assert stats["otlp_calls"] > 0


def test_stop_terminates_and_removes_the_work_dir(fake_bin: Path) -> None:
    proc = MyTSDBProcess(fake_bin, ready_timeout=30).start()
    popen = proc._proc
    assert popen is not None
    proc.stop()
    assert popen.returncode == 0, "SIGTERM should give the clean exit, not SIGKILL"
    assert not proc.workdir.exists()
    proc.stop()  # idempotent


def test_unknown_flag_fails_fast_with_command_and_log(fake_bin: Path) -> None:
    class WrongFlags(MyTSDBProcess):
        def command(self) -> list[str]:
            return [*super().command(), "--retention", "1d"]

    proc = WrongFlags(fake_bin, ready_timeout=30)
    expected = (r"tsdb_server exited with code 1 before ready \(cmd: .*--retention 1d\)"
                r"; log tail:\ntsdb_server: unknown flag '--retention'")
    with pytest.raises(StackStartError, match=expected):
        proc.start()
    assert not proc.workdir.exists()


def test_flight_that_never_listens_times_out_naming_the_port(fake_bin: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_TSDB_FLIGHT_DELAY", "60")  # MyTSDB keeps running when Flight cannot bind
    proc = MyTSDBProcess(fake_bin, ready_timeout=1.5)
    expected = (r"not ready after 2s \(awaited /health and a TCP connect to Flight; "
                r"last: Flight port \d+: .*refused")
    with pytest.raises(WaitTimeout, match=expected):
        proc.start()
    assert proc._proc is None and not proc.workdir.exists()


def test_missing_binary_is_a_prerequisite(tmp_path: Path) -> None:
    with pytest.raises(PrerequisiteMissing, match=r"--mytsdb-bin .* is not a file"):
        MyTSDBProcess(tmp_path / "nope")


@pytest.mark.skipif(not (shutil.which("prometheus") and shutil.which("promtool")),
                    reason="prometheus/promtool not on PATH (apt install prometheus)")
def test_local_stack_with_mytsdb_bin(fake_bin: Path, tmp_path: Path) -> None:
    cfg = HarnessConfig(mytsdb_bin=fake_bin, rootdir=ROOT, artifacts=tmp_path / "artifacts")
    stack = LocalStack(cfg)
    with stack as endpoints:
        assert (endpoints.target_kind, endpoints.target_has_otlp) == ("mytsdb", True)
        assert stack.mytsdb is not None and endpoints.target_url == stack.mytsdb.url
        assert endpoints.flight_location == stack.mytsdb.flight_location
        stats = _stats(stack.mytsdb)
        otlp_samples = (endpoints.manifest.otlp or {}).get("samples", 0)
        assert stats["flight_rows"] == endpoints.manifest.samples_total - otlp_samples
        assert stats["otlp_calls"] > 0 and stats["flight_violations"] == []
        workdir = stack.workdir
    assert workdir is not None and not workdir.exists() and stack.mytsdb is None
    assert (tmp_path / "artifacts" / "local-stack" / "tsdb_server.log").read_text().count("Flight") >= 1
