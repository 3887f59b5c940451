"""The sink contract: where generated batches go.

The runner calls ``open()`` once, ``write()`` for every batch of the slices the sink receives (all
batches of one metric consecutively, see docs/architecture.md), then ``close()``. Only when
``close()`` returns has the sink confirmed everything; any failure raises ``SinkError`` naming the
sink and the cause. ``abort()`` releases resources after a failure elsewhere and never raises.
"""

from __future__ import annotations

import abc

from seeder.generate import Layout, MetricBatch


class Sink(abc.ABC):
    """One destination of the dataset (Flight, OpenMetrics files, remote write, OTLP, null)."""

    #: short name used in the manifest ("flight", "openmetrics", ...)
    name: str = "abstract"
    #: the slices this sink receives by default ("main", "otlp")
    default_slices: tuple[str, ...] = ("main", "otlp")
    #: the batch layout this sink ingests fastest (None: any; the runner then uses the default)
    layout: Layout | None = None

    def __init__(self, slices: tuple[str, ...] | None = None) -> None:
        self.slices = slices or self.default_slices

    def open(self) -> None:  # noqa: B027 - optional hook
        """Connect / validate the destination; raise SinkError if it cannot work."""

    @abc.abstractmethod
    def write(self, batch: MetricBatch) -> None:
        """Send one batch (may buffer)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Flush and confirm everything; raise SinkError on any failure."""

    def abort(self) -> None:  # noqa: B027 - optional hook
        """Release resources after a failure; never raises."""

    def describe(self) -> str:
        """Where the data went, for the manifest (a URI or a path)."""
        return self.name
