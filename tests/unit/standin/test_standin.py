"""The MyTSDB stand-in (``python -m standin``) run for real: a real Prometheus 2.42 from PATH inside,
seeded by the real seeder CLI over Flight (main slice) and OTLP (OTLP slice), queried over its
PromQL API. No mocks: what the kind cluster's stand-in image does, on loopback only.

It is started through ``fixtures.stacks.mytsdb_proc.MyTSDBProcess`` (exact MyTSDB flags, waits
for ``/health`` and the Flight port), so the harness' own MyTSDB path is exercised as well.
"""

from __future__ import annotations

import shutil
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as fl
import pytest
import requests
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc as svc_grpc

from fixtures.common.config import HarnessConfig
from fixtures.promql.client import PromClient
from fixtures.stacks.mytsdb_proc import MyTSDBProcess
from fixtures.stacks.seeding import base_seed_args, run_seeder
from fixtures.stacks.settle import data_problem
from seeder.catalog import LE_VALUES
from seeder.contract_server import SCHEMA_ERROR
from seeder.generate import model_table
from seeder.manifest import SeedManifest

ROOT = Path(__file__).parents[3]
pytestmark = pytest.mark.skipif(not shutil.which("prometheus"),
                                reason="prometheus not on PATH (apt install prometheus)")


@pytest.fixture(scope="module")
def standin_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An executable that runs the stand-in like a binary, HTTP and Flight bound to 127.0.0.1."""
    path = tmp_path_factory.mktemp("bin") / "standin"
    path.write_text(f"#!/bin/sh\ncd {ROOT} && STANDIN_BIND=127.0.0.1 PYTHONPATH={ROOT} "
                    f"exec {sys.executable} -m standin \"$@\"\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture(scope="module")
def standin(standin_bin: Path) -> Iterator[MyTSDBProcess]:
    proc = MyTSDBProcess(standin_bin, ready_timeout=60)
    try:
        yield proc.start()
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def seeded(standin: MyTSDBProcess, tmp_path_factory: pytest.TempPathFactory) -> SeedManifest:
    """The tiny preset: main slice over Flight, OTLP slice over OTLP (as the kind seed sidecar)."""
    path = tmp_path_factory.mktemp("seed") / "manifest.json"
    run_seeder([*base_seed_args(HarnessConfig()), "--flight", standin.flight_location,
                "--otlp", standin.otlp_endpoint, "--manifest", str(path)], cwd=ROOT, timeout=120)
    return SeedManifest.load(path)


def client(proc: MyTSDBProcess, method: str = "POST") -> PromClient:
    return PromClient(proc.url, method=method)


def test_every_metric_holds_the_manifests_series_and_samples(standin: MyTSDBProcess,
                                                             seeded: SeedManifest) -> None:
    # asked right after the seeder's close() returned: no waiting, the data must already be there
    assert data_problem(client(standin), seeded) is None
    start, end = seeded.start_ms / 1000, seeded.end_ms / 1000
    for name, info in sorted(seeded.metrics.items()):
        got = client(standin).series([name], start, end).raise_for_error().result
        assert len(got) == info["series"], name
    clusters = client(standin).label_values("cluster", start, end).raise_for_error().result
    assert set(clusters) == {*seeded.label_values["cluster"], seeded.otlp["cluster"]}  # type: ignore[index]
    assert "le" in client(standin).labels(start, end).raise_for_error().result


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_instant_query_returns_the_seeded_value(standin: MyTSDBProcess, seeded: SeedManifest,
                                                method: str) -> None:
    table = model_table(seeded.seed_spec(), "container_memory_working_set_bytes", "main")
    at_ms = int(seeded.query_time() * 1000)
    row = pc.index(table.column("timestamp"), at_ms).as_py()
    assert row >= 0, "query_time() is on the scrape grid, so the first series has a sample there"
    labels = {n: table.column(n)[row].as_py() for n in table.column_names if n not in ("timestamp", "value")}
    selector = "container_memory_working_set_bytes{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    result = client(standin, method).instant(selector, at_ms / 1000).raise_for_error().result
    assert len(result) == 1
    assert float(result[0]["value"][1]) == pytest.approx(table.column("value")[row].as_py(), rel=1e-12)


def test_otlp_histogram_arrives_as_buckets_with_le(standin: MyTSDBProcess, seeded: SeedManifest) -> None:
    otlp = seeded.otlp
    assert otlp is not None
    expr = f'count by (le) (http_request_duration_seconds_bucket{{cluster="{otlp["cluster"]}"}})'
    result = client(standin).instant(expr, otlp["end_ms"] / 1000).raise_for_error().result
    assert {r["metric"]["le"] for r in result} == set(LE_VALUES)
    for suffix in ("_sum", "_count"):
        expr = f'count(http_request_duration_seconds{suffix}{{cluster="{otlp["cluster"]}"}})'
        assert client(standin).instant(expr, otlp["end_ms"] / 1000).raise_for_error().result


def put(proc: MyTSDBProcess, metric: str, batch: pa.RecordBatch) -> None:
    with fl.FlightClient(proc.flight_location) as flight:
        writer, _ = flight.do_put(fl.FlightDescriptor.for_path(metric), batch.schema)
        writer.write_batch(batch)
        writer.close()


def test_doput_is_queryable_on_close_and_older_samples_stay_invisible(standin: MyTSDBProcess) -> None:
    t = 1_793_491_200_000  # the seeded end time: inside the out-of-order window
    first = pa.record_batch({"timestamp": pa.array([t, t + 60_000], pa.int64()), "value": [1.0, 2.0],
                             "pod": ["p", "p"]})
    put(standin, "standin_probe", first)
    got = client(standin).instant('standin_probe{pod="p"}', (t + 60_000) / 1000).raise_for_error().result
    assert [r["value"][1] for r in got] == ["2"]
    put(standin, "standin_probe", pa.record_batch({"timestamp": pa.array([t - 60_000], pa.int64()),
                                                   "value": [9.0], "pod": ["p"]}))
    assert client(standin).instant("standin_probe", (t - 60_000) / 1000).raise_for_error().result == []


def test_doput_with_a_timestamp_typed_column_is_invalid(standin: MyTSDBProcess) -> None:
    batch = pa.record_batch({"timestamp": pa.array([1_793_491_200_000], pa.timestamp("ms")), "value": [1.0]})
    with pytest.raises(pa.ArrowInvalid, match=SCHEMA_ERROR.replace("(", r"\(").replace(")", r"\)")):
        put(standin, "standin_bad", batch)


def test_otlp_is_accepted_like_mytsdb_does_and_histograms_are_found_both_ways(standin: MyTSDBProcess) -> None:
    """Every Export is taken (MyTSDB rejects none); an integer point keeps its value; a histogram is
    under its OTLP name as MyTSDB packs it (count, sum, buckets 1 ms apart) and as _bucket{le}."""
    t_ns = 1_793_491_200_000_000_000
    request = svc.ExportMetricsServiceRequest()
    metrics = request.resource_metrics.add().scope_metrics.add().metrics
    metrics.add(name="standin_int").gauge.data_points.add(time_unix_nano=t_ns, as_int=3)
    hist = metrics.add(name="standin_hist").histogram
    hist.aggregation_temporality = 2  # cumulative
    hist.data_points.add(time_unix_nano=t_ns, count=5, sum=7.5, explicit_bounds=[1.0],
                         bucket_counts=[2, 3])
    with grpc.insecure_channel(standin.otlp_endpoint) as channel:
        svc_grpc.MetricsServiceStub(channel).Export(request, timeout=10)
    c, t = client(standin), t_ns / 1e9
    assert [r["value"][1] for r in c.instant("standin_int", t).raise_for_error().result] == ["3"]
    packed = c.range("standin_hist", t, t + 0.003, 0.001).raise_for_error().result
    assert [v for _, v in packed[0]["values"]] == ["5", "7.5", "2", "3"]
    buckets = c.instant("standin_hist_bucket", t).raise_for_error().result
    assert {r["metric"]["le"]: r["value"][1] for r in buckets} == {"1.0": "2", "+Inf": "5"}


def test_only_mytsdbs_http_routes_exist(standin: MyTSDBProcess) -> None:
    assert requests.get(f"{standin.url}/health", timeout=5).json() == {"status": "up"}
    for path in ("/-/ready", "/api/v1/status/buildinfo", "/api/v1/metadata", "/metrics"):
        assert requests.get(f"{standin.url}{path}", timeout=5).status_code == 404, path


@pytest.mark.parametrize("argv", [["--retention", "1d"], ["--http-port=9090"], ["--log-level", "verbose"],
                                  ["--address", "4317"], ["--http-port"]])
def test_a_bad_flag_exits_1_with_one_line(standin_bin: Path, argv: list[str]) -> None:
    done = subprocess.run([str(standin_bin), *argv], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("mytsdb-standin: ")


def children(pid: int) -> list[int]:
    """Live child processes of ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_sigterm_exits_cleanly_and_stops_prometheus(standin_bin: Path) -> None:
    proc = MyTSDBProcess(standin_bin, ready_timeout=60).start()
    popen = proc._proc
    assert popen is not None
    kids = children(popen.pid)
    assert len(kids) == 1 and Path(f"/proc/{kids[0]}/exe").resolve().name == "prometheus"
    with socket.create_connection(("127.0.0.1", proc.arrow_port), timeout=5):
        pass
    proc.stop()
    assert popen.returncode == 0, "SIGTERM should give the clean exit, not SIGKILL"
    deadline = time.monotonic() + 10
    while alive(kids[0]) and time.monotonic() < deadline:
        time.sleep(0.05)  # poll pacing under a deadline
    assert not alive(kids[0]), "prometheus outlived the stand-in"
    assert not proc.workdir.exists()


@pytest.mark.parametrize("backed", [True, False], ids=["prometheus", "record-only"])
def test_tsdb_server_double_is_the_standin_with_stats(tmp_path: Path, backed: bool) -> None:
    """tests/unit/support/tsdb_server.py wraps the stand-in: Prometheus behind it only on request."""
    path = tmp_path / "tsdb_server"
    env = f"FAKE_TSDB_FLIGHT_DELAY=0 FAKE_TSDB_PROMETHEUS={'prometheus' if backed else ''}"
    path.write_text(f"#!/bin/sh\ncd {ROOT} && {env} PYTHONPATH={ROOT} "
                    f"exec {sys.executable} -m tests.unit.support.tsdb_server \"$@\"\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    proc = MyTSDBProcess(path, ready_timeout=60).start()
    try:
        t = 1_793_491_200_000
        put(proc, "double_probe", pa.record_batch({"timestamp": pa.array([t], pa.int64()), "value": [7.0]}))
        stats = requests.get(f"{proc.url}/fake/stats", timeout=5).json()
        assert (stats["flight_rows"], stats["flight_series"], stats["started_fresh"]) == (1, 1, True)
        assert stats["data_dir_files"] == (["fake-was-here", "standin"] if backed else ["fake-was-here"])
        answer = client(proc).instant("double_probe", t / 1000)
        assert ([r["value"][1] for r in answer.raise_for_error().result] == ["7"] if backed
                else answer.http_status == 503)
    finally:
        proc.stop()
