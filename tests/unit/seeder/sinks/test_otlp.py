"""OTLP sink: exported to an in-process receiver on the official stubs, decoded, equal to the model."""

from __future__ import annotations

import grpc
import pyarrow as pa
import pytest

from seeder.errors import SinkError
from seeder.generate import MetricBatch
from seeder.sinks.otlp import RESOURCE_LABELS, OtlpSink
from tests.unit.support.otlp_receiver import OtlpReceiver, decode
from tests.unit.support.sinks import (
    assert_model_equal,
    handmade_batches,
    model_of,
    tiny_batches,
    tiny_model,
    tiny_spec,
)


def send(sink: OtlpSink, batches: list[MetricBatch]) -> None:
    sink.open()
    for mb in batches:
        sink.write(mb)
    sink.close()


def test_receiver_decodes_the_model() -> None:
    batches = handmade_batches(points=120)
    with OtlpReceiver() as rx:
        sink = OtlpSink(rx.endpoint, max_request_bytes=16 * 1024)
        send(sink, batches)
    assert_model_equal(decode(rx.requests), model_of(batches, le_float=True))
    assert sink.exports == len(rx.requests) > 1
    assert max(r.ByteSize() for r in rx.requests) <= 16 * 1024 + 512  # the size estimate is not low
    assert sink.points > 10 * sink.exports  # many points per Export
    shapes = {m.name: m.WhichOneof("data") for r in rx.requests for rm in r.resource_metrics
              for sm in rm.scope_metrics for m in sm.metrics}
    assert shapes == {"http_requests_total": "sum", "kube_pod_status_phase": "gauge",
                      "http_request_duration_seconds": "histogram"}


def test_dimensions_are_resource_attributes_the_rest_point_attributes() -> None:
    with OtlpReceiver() as rx:
        send(OtlpSink(rx.endpoint), handmade_batches(points=3))
    for rm in rx.requests[0].resource_metrics:
        assert {kv.key for kv in rm.resource.attributes} <= RESOURCE_LABELS
        assert rm.scope_metrics[0].scope.name == ""
        for m in rm.scope_metrics[0].metrics:
            points = getattr(m, m.WhichOneof("data")).data_points
            assert all({kv.key for kv in p.attributes}.isdisjoint(RESOURCE_LABELS) for p in points)
    keys = {kv.key for rm in rx.requests[0].resource_metrics for sm in rm.scope_metrics for m in sm.metrics
            if m.name == "http_requests_total" for p in m.sum.data_points for kv in p.attributes}
    assert keys == {"code", "method"}


def test_counter_reset_moves_the_start_time() -> None:
    rb = pa.RecordBatch.from_pydict({"timestamp": pa.array([1000, 2000, 3000, 4000], pa.int64()),
                                     "value": [5.0, 7.0, 1.0, 2.0], "pod": ["p"] * 4})
    with OtlpReceiver() as rx:
        send(OtlpSink(rx.endpoint), [MetricBatch("c_total", rb, 1, "counter")])
    points = rx.requests[0].resource_metrics[0].scope_metrics[0].metrics[0].sum.data_points
    starts = [p.start_time_unix_nano for p in points]
    assert starts[0] == starts[1] == 1000 * 10**6
    assert 2000 * 10**6 < starts[2] == starts[3] <= 3000 * 10**6


def test_non_cumulative_buckets_are_refused() -> None:
    rb = pa.RecordBatch.from_pydict({"timestamp": pa.array([1000, 1000], pa.int64()), "value": [5.0, 3.0],
                                     "le": ["1", "+Inf"]})
    with OtlpReceiver() as rx, pytest.raises(SinkError, match="not cumulative whole counts"):
        send(OtlpSink(rx.endpoint), [MetricBatch("h_bucket", rb, 2, "histogram_bucket")])


def test_unreachable_endpoint_is_a_sink_error() -> None:
    with pytest.raises(SinkError, match=r"cannot connect to 127\.0\.0\.1:9 within 0\.3s"):
        send(OtlpSink("127.0.0.1:9", timeout=0.3), handmade_batches(points=3))


def test_receiver_error_is_a_sink_error() -> None:
    with OtlpReceiver(fail_with=grpc.StatusCode.INVALID_ARGUMENT) as rx, pytest.raises(
            SinkError, match=r"Export to \S+ failed: INVALID_ARGUMENT: receiver told to fail"):
        send(OtlpSink(rx.endpoint), handmade_batches(points=3))
    assert rx.calls == 1  # not retried


def test_unavailable_is_retried_until_the_deadline() -> None:
    unavailable = grpc.StatusCode.UNAVAILABLE
    with OtlpReceiver(fail_with=unavailable) as rx, pytest.raises(SinkError, match="UNAVAILABLE"):
        send(OtlpSink(rx.endpoint, retry_deadline=0.5), handmade_batches(points=3))
    assert rx.calls > 1


def test_rejected_points_are_a_sink_error() -> None:
    with OtlpReceiver(reject_points=3) as rx, pytest.raises(SinkError, match=r"rejected 3 of \d+ points"):
        send(OtlpSink(rx.endpoint), handmade_batches(points=3))


def test_tiny_otlp_slice_equals_the_model() -> None:
    spec = tiny_spec()
    with OtlpReceiver() as rx:
        sink = OtlpSink(rx.endpoint)
        assert sink.slices == ("otlp",)
        send(sink, tiny_batches(spec, sink.slices))
    assert_model_equal(decode(rx.requests), tiny_model(spec, sink.slices, le_float=True))
    assert {kv.value.string_value for r in rx.requests for rm in r.resource_metrics
            for kv in rm.resource.attributes if kv.key == "cluster"} == {spec.otlp_cluster}
