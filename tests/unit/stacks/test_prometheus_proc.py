"""PrometheusProcess: a real Prometheus on loopback, its flags/config, and its failure messages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests

from fixtures.common.errors import PrerequisiteMissing, StackStartError, WaitTimeout
from fixtures.stacks.prometheus_proc import PrometheusProcess

needs_prometheus = pytest.mark.skipif(shutil.which("prometheus") is None,
                                      reason="prometheus not on PATH (apt-get install prometheus)")


@needs_prometheus
def test_starts_ready_empty_and_stops_idempotently() -> None:
    prom = PrometheusProcess(remote_write_receiver=True, out_of_order_window="30d")
    with prom:
        assert requests.get(f"{prom.url}/-/ready", timeout=5).status_code == 200
        flags = requests.get(f"{prom.url}/api/v1/status/flags", timeout=5).json()["data"]
        assert flags["web.enable-remote-write-receiver"] == "true"
        assert flags["storage.tsdb.retention.time"] == "100y"
        config = requests.get(f"{prom.url}/api/v1/status/config", timeout=5).json()["data"]["yaml"]
        assert "out_of_order_time_window: 30d" in config
        series = requests.get(f"{prom.url}/api/v1/series", params={"match[]": '{__name__=~".+"}'}, timeout=5)
        assert series.json()["data"] == []  # scrapes nothing: the TSDB holds only what tests put in
        data_dir = prom.data_dir
        assert data_dir.is_dir()
    prom.stop()
    assert not data_dir.exists()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{prom.url}/-/ready", timeout=5)


@needs_prometheus
def test_given_data_dir_is_kept(tmp_path: Path) -> None:
    with PrometheusProcess(data_dir=tmp_path / "tsdb") as prom:
        assert prom.data_dir == tmp_path / "tsdb"
    assert (tmp_path / "tsdb").is_dir()


def test_missing_binary_is_a_one_line_prerequisite(tmp_path: Path) -> None:
    with pytest.raises(PrerequisiteMissing) as info:
        PrometheusProcess(tmp_path / "nope")
    assert "\n" not in str(info.value) and "--prometheus-bin" in str(info.value)


@needs_prometheus
def test_crash_fails_fast_with_the_log_tail() -> None:
    with pytest.raises(StackStartError, match=r"(?s)exited with code \d+ before /-/ready.*no-such-flag"):
        PrometheusProcess(extra_args=["--no-such-flag"], ready_timeout=60).start()


def test_hung_process_times_out_naming_what_was_awaited(tmp_path: Path) -> None:
    hung = tmp_path / "hung-prometheus"
    hung.write_text("#!/bin/sh\necho 'pretending to start'\nexec sleep 30\n")
    hung.chmod(0o755)
    prom = PrometheusProcess(hung, ready_timeout=0.5)
    awaited = r"(?s)not ready after 0\.5s \(awaited HTTP 200 from /-/ready.*pretending"
    with pytest.raises(WaitTimeout, match=awaited):
        prom.start()
    assert not prom.running  # killed on failure
