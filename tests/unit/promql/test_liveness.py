"""A target that dies mid-suite is named once (exit code or signal, last log lines); later checks
fail fast. Run against the MyTSDB contract stand-in (a real process killed for real) and a URL
nobody listens on (stacks without a process handle)."""

from __future__ import annotations

import os
import signal
import stat
import sys
from pathlib import Path

import pytest

from fixtures.common.errors import QueryError
from fixtures.promql.client import PromClient
from fixtures.promql.liveness import TargetGuard
from fixtures.stacks.mytsdb_proc import MyTSDBProcess
from fixtures.stacks.prometheus_proc import free_port

ROOT = Path(__file__).parents[3]


@pytest.fixture()
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "bin" / "tsdb_server"
    path.parent.mkdir()
    path.write_text(f"#!/bin/sh\nexec {sys.executable} -m tests.unit.support.tsdb_server \"$@\"\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("FAKE_TSDB_EXIT_DELAY", "0.2")
    return path


def test_killed_process_is_named_with_signal_and_log_and_later_checks_fail_fast(fake_bin: Path) -> None:
    proc = MyTSDBProcess(fake_bin, ready_timeout=30).start()
    try:
        guard = TargetGuard(PromClient(proc.url), proc.exit_reason)
        assert guard.down_reason("case-1") is None and proc.exit_reason() is None
        assert proc._proc is not None
        pid = proc._proc.pid
        os.kill(pid, signal.SIGKILL)
        proc._proc.wait(timeout=10)
        why = guard.down_reason("case-2")
        assert why is not None and why.startswith(f"target died mid-suite: tsdb_server (pid {pid}) "
                                                  "killed by signal SIGKILL; last log lines: ")
        assert "\n" not in why and guard.noticed_at == "case-2"
        assert guard.down_reason("case-3") == why  # the same one line for every later check
    finally:
        proc.stop()


def test_exit_code_is_named(fake_bin: Path) -> None:
    proc = MyTSDBProcess(fake_bin, ready_timeout=30).start()
    try:
        assert proc._proc is not None
        proc._proc.terminate()  # the stand-in exits 0 on SIGTERM, as MyTSDB does
        proc._proc.wait(timeout=10)
        assert "exited with code 0" in (proc.exit_reason() or "")
    finally:
        proc.stop()


def test_without_a_process_handle_a_transport_error_plus_a_failed_probe_means_down() -> None:
    client = PromClient(f"http://127.0.0.1:{free_port()}", timeout=2)
    guard = TargetGuard(client)
    assert guard.down_reason("c1") is None  # no evidence yet: nothing sent
    with pytest.raises(QueryError):
        client.instant("up", 0)
    why = guard.down_reason("c1", after_transport_error=True)
    assert why is not None and "does not answer" in why and client.base_url in why


def test_a_live_server_is_not_declared_down_after_one_transport_error(prometheus: str) -> None:
    guard = TargetGuard(PromClient(prometheus))
    assert guard.down_reason("c1", after_transport_error=True) is None
