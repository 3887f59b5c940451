"""Flight sink against the in-process contract server: round trip equals the model; every refusal."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.flight as fl
import pytest

from seeder import catalog
from seeder.contract_server import GRPC_MAX_MESSAGE, SCHEMA_ERROR, ContractFlightServer
from seeder.errors import SinkError
from seeder.generate import MetricBatch
from seeder.run import run
from seeder.sinks.flight import FlightSink
from tests.unit.support.seeder import END_MS, manifest, series_of, table, tiny


@pytest.fixture(scope="module")
def seeded() -> Iterator[ContractFlightServer]:
    with ContractFlightServer() as server:
        run(tiny(), [FlightSink(server.location, streams=3)], progress=False)
        yield server


@pytest.fixture
def server() -> Iterator[ContractFlightServer]:
    with ContractFlightServer() as s:
        yield s


@pytest.mark.parametrize("metric", [m.name for m in catalog.CATALOG])
def test_round_trip_decoded_data_equals_the_model(seeded: ContractFlightServer, metric: str) -> None:
    got = seeded.series(metric)
    want = series_of(table(tiny(), metric))
    assert {k[1] for k in got} == set(want)
    for (_, labels), (ts, vals) in got.items():
        assert np.array_equal(ts, want[labels][0]) and np.array_equal(vals, want[labels][1])


def test_round_trip_is_complete_and_clean(seeded: ContractFlightServer) -> None:
    m = manifest(tiny())
    assert seeded.rows == sum(v["slices"]["main"] for v in m.metrics.values()) * tiny().samples_per_series
    assert seeded.metrics() == set(catalog.METRICS), "flight gets the main slice of every metric"
    assert all(k[1][1] != ("cluster", tiny().otlp_cluster) for k in seeded.series())
    assert seeded.invisible == 0 and seeded.violations == []
    # each metric on at most one DoPut stream per sink stream (3): each series on exactly one
    assert len(catalog.CATALOG) <= seeded.streams <= 3 * len(catalog.CATALOG)
    assert seeded.max_batch_bytes < GRPC_MAX_MESSAGE


def _put(server: ContractFlightServer, batch: pa.RecordBatch, path: str = "m",
         descriptor: fl.FlightDescriptor | None = None) -> None:
    client = fl.connect(server.location)
    writer, _ = client.do_put(descriptor or fl.FlightDescriptor.for_path(path), batch.schema)
    writer.write_batch(batch)
    writer.close()


def _rb(ts: list[int], vals: list[float], **labels: list) -> pa.RecordBatch:
    return pa.record_batch({"timestamp": pa.array(ts, pa.int64()), "value": pa.array(vals, pa.float64()),
                            **{k: pa.array(v) for k, v in labels.items()}})


def test_contract_server_rejects_arrow_timestamp_type_with_mytsdbs_message(
        server: ContractFlightServer) -> None:
    rb = pa.record_batch({"timestamp": pa.array([1], pa.timestamp("ms")), "value": pa.array([1.0])})
    with pytest.raises(pa.ArrowInvalid, match=SCHEMA_ERROR.replace("(", r"\(").replace(")", r"\)")):
        _put(server, rb)
    with pytest.raises(pa.ArrowInvalid, match="First two columns"):
        _put(server, pa.record_batch({"timestamp": pa.array([1]), "value": pa.array([1], pa.int64())}))
    with pytest.raises(pa.ArrowInvalid, match="PATH"):
        _put(server, _rb([1], [1.0]), descriptor=fl.FlightDescriptor.for_command(b"m"))


def test_contract_server_labels_from_utf8_or_tags_and_ignores_other_columns(
        server: ContractFlightServer) -> None:
    _put(server, _rb([1, 2], [1.0, 2.0], job=["a", "a"], big=pa.array(["x", "x"], pa.large_utf8()),
                     n=[1, 1]))
    tags = pa.array([[("job", "b"), ("__name__", "renamed")]] * 2, pa.map_(pa.utf8(), pa.utf8()))
    _put(server, pa.record_batch({"timestamp": pa.array([1, 2]), "value": pa.array([1.0, 2.0]),
                                  "tags": tags}))
    assert set(server.series()) == {("m", (("job", "a"),)), ("renamed", (("job", "b"),))}


def test_contract_server_stops_a_non_increasing_run_part_way_and_hides_older_samples(
        server: ContractFlightServer) -> None:
    with pytest.raises(fl.FlightServerError, match="not strictly increasing"):
        _put(server, _rb([1, 2, 2, 3], [1.0, 2.0, 3.0, 4.0], job=["a"] * 4))
    ts, _ = server.series()[("m", (("job", "a"),))]
    assert ts.tolist() == [1, 2], "earlier rows stay written"
    _put(server, _rb([0, 5], [9.0, 9.0], job=["a", "a"]))
    ts, _ = server.series()[("m", (("job", "a"),))]
    assert ts.tolist() == [1, 2, 5] and server.invisible == 1


def test_contract_server_refuses_messages_over_4_mib_and_implements_only_doput(
        server: ContractFlightServer) -> None:
    n = 300_000
    big = _rb(list(range(n)), [0.0] * n, pod=["x" * 8] * n)
    assert pa.ipc.get_record_batch_size(big) > GRPC_MAX_MESSAGE
    with pytest.raises(fl.FlightError, match="larger than max"):
        _put(server, big)
    with pytest.raises(NotImplementedError):
        list(fl.connect(server.location).list_flights())


def test_sink_names_an_unreachable_server() -> None:
    with ContractFlightServer() as s:
        location = s.location
    sink = FlightSink(location, connect_timeout=0.3)
    with pytest.raises(SinkError, match=re.escape(f"flight {location}: unreachable")):
        sink.open()


def test_sink_reports_a_schema_refusal_in_one_line() -> None:
    with ContractFlightServer(reject_all=SCHEMA_ERROR) as s, pytest.raises(SinkError) as err:
        run(tiny(), [FlightSink(s.location)], progress=False)
    assert "rejected the data" in str(err.value) and SCHEMA_ERROR in str(err.value)
    assert "\n" not in str(err.value) and "Traceback" not in str(err.value)


def test_sink_refuses_a_timestamp_typed_batch_through_the_real_contract(server: ContractFlightServer) -> None:
    rb = pa.record_batch({"timestamp": pa.array([END_MS], pa.timestamp("ms")), "value": pa.array([1.0]),
                          "job": pa.array(["x"])})
    sink = FlightSink(server.location)
    sink.open()
    with pytest.raises(SinkError, match="First two columns must be timestamp"):
        sink.write(MetricBatch("m", rb, 1, "gauge"))
        sink.close()


def test_a_server_failing_half_way_fails_the_run_without_ready_file_or_manifest(tmp_path: Path) -> None:
    ready, man = tmp_path / "seed_done", tmp_path / "m.json"
    ready.write_text("stale")
    with ContractFlightServer(fail_after_rows=100_000) as s, \
            pytest.raises(SinkError, match="injected failure"):
        run(tiny(), [FlightSink(s.location)], manifest_path=man, ready_file=ready, progress=False)
    assert not ready.exists() and not man.exists()


def test_sink_refuses_a_batch_over_the_grpc_limit(server: ContractFlightServer) -> None:
    n = 300_000
    sink = FlightSink(server.location)
    sink.open()
    with pytest.raises(SinkError, match="message limit"):
        sink.write(MetricBatch("m", _rb(list(range(n)), [0.0] * n, pod=["x" * 8] * n), 1, "gauge"))
    sink.abort()


class _PairServer(ContractFlightServer):
    """Holds the first two DoPut streams until both are open: passes only if streams run in parallel."""

    def __init__(self) -> None:
        super().__init__()
        self.barrier = threading.Barrier(2, timeout=10)
        self.calls = 0

    def do_put(self, context, descriptor, reader, writer):  # type: ignore[no-untyped-def]
        with self._lock:
            self.calls += 1
            first_two = self.calls <= 2
        if first_two:
            self.barrier.wait()  # BrokenBarrierError (a failed stream) if the sink were sequential
        super().do_put(context, descriptor, reader, writer)


def test_sink_runs_several_streams_in_parallel() -> None:
    with _PairServer() as s:
        run(tiny(), [FlightSink(s.location, streams=2)], progress=False)
        assert s.streams >= len(catalog.CATALOG) and not s.barrier.broken


class _StalledServer(ContractFlightServer):
    """Accepts the DoPut and then never reads: a hung peer."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def do_put(self, context, descriptor, reader, writer):  # type: ignore[no-untyped-def]
        self.release.wait(30)


def test_a_stalled_stream_fails_after_the_stream_timeout_instead_of_hanging() -> None:
    with _StalledServer() as s:
        try:
            with pytest.raises(SinkError, match=r"timed out \(a stream may take 0\.5s\)"):
                run(tiny(), [FlightSink(s.location, streams=1, stream_timeout=0.5)], progress=False)
        finally:
            s.release.set()
