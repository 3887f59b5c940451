"""Null sink: generate and discard, for measuring the generator (and a dry sink in tests)."""

from __future__ import annotations

from seeder.generate import MetricBatch
from seeder.sinks.base import Sink


class NullSink(Sink):
    """Counts what it is given and keeps nothing.

    Example::

        sink = NullSink(); sink.open(); sink.write(batch); sink.close(); sink.rows
    """

    name = "null"
    default_slices = ("main", "otlp")

    def __init__(self, slices: tuple[str, ...] | None = None) -> None:
        super().__init__(slices)
        self.rows = 0
        self.batches = 0
        self.rows_by_metric: dict[str, int] = {}
        self.batches_by_metric: dict[str, int] = {}

    def write(self, batch: MetricBatch) -> None:
        n = batch.batch.num_rows
        self.rows += n
        self.batches += 1
        self.rows_by_metric[batch.metric] = self.rows_by_metric.get(batch.metric, 0) + n
        self.batches_by_metric[batch.metric] = self.batches_by_metric.get(batch.metric, 0) + 1

    def close(self) -> None:
        """Nothing to confirm."""

    def describe(self) -> str:
        return "null"
