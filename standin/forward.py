"""Write what the stand-in accepted on to its Prometheus, by remote write, before acknowledging.

Why synchronous: MyTSDB's contract says data is queryable as soon as the client's DoPut
``close()`` (or Export call) returns, so the stand-in answers only after Prometheus acknowledged.
Encoding and delivery are the seeder's ``RemoteWriteSink`` (prompb + snappy, retries on 5xx,
refuses non-acknowledgements): runs are packed into ``MetricBatch`` es, one per metric name.
A failed write is a ``ForwardError``, never swallowed (MyTSDB swallows storage errors; a double
that lost data silently would show up as baffling PromQL mismatches instead).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from seeder.errors import SinkError
from seeder.generate import MetricBatch
from seeder.sinks.remote_write import RemoteWriteSink
from standin.errors import ForwardError

Labels = tuple[tuple[str, str], ...]
# One series write: (metric name, sorted labels without __name__, timestamps ms, values)
Run = tuple[str, Labels, np.ndarray, np.ndarray]


def runs_to_batches(runs: Sequence[Run]) -> list[MetricBatch]:
    """Runs grouped per metric into contract-shaped batches (empty label values dropped)."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        if len(run[2]):
            groups.setdefault(run[0], []).append(run)
    out = []
    for name, group in groups.items():
        labels = [{k: v for k, v in run[1] if v != ""} for run in group]
        names = sorted({k for lab in labels for k in lab})
        lengths = [len(run[2]) for run in group]
        rows = pa.array(np.repeat(np.arange(len(group)), lengths))
        cols = {"timestamp": pa.array(np.concatenate([run[2] for run in group]).astype(np.int64)),
                "value": pa.array(np.concatenate([run[3] for run in group]).astype(np.float64))}
        for label in names:
            cols[label] = pa.array([lab.get(label) for lab in labels], pa.utf8()).take(rows)
        out.append(MetricBatch(name, pa.RecordBatch.from_pydict(cols), len(group), "gauge"))
    return out


class Forwarder:
    """Sends runs to one remote-write URL; thread-safe (a fresh sink per call)."""

    def __init__(self, url: str, *, max_samples_per_request: int = 20_000, timeout: float = 60.0,
                 retry_deadline: float = 30.0) -> None:
        self.url = url
        self.max_samples = max_samples_per_request
        self.timeout = timeout
        self.retry_deadline = retry_deadline

    def __call__(self, runs: Sequence[Run]) -> int:
        """Write ``runs``; returns the number of samples Prometheus acknowledged."""
        sink = RemoteWriteSink(self.url, max_samples_per_request=self.max_samples, timeout=self.timeout,
                               retry_deadline=self.retry_deadline)
        sink.open()
        try:
            for batch in runs_to_batches(runs):
                sink.write(batch)
            sink.close()
        except SinkError as exc:
            sink.abort()
            raise ForwardError(f"writing to the stand-in's Prometheus failed: {exc}") from exc
        return sink.samples
