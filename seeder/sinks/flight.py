"""Arrow Flight sink: exactly MyTSDB's DoPut contract, several DoPut streams in parallel.

Batches as generated (int64 ms, float64, one utf8 column per label, series-contiguous, < 4 MiB),
in the layout MyTSDB ingests fastest (``MYTSDB_LAYOUT``: every series whole in one batch, see
docs/seeding-performance.md). PATH descriptor = metric name. Batches are spread over ``streams``
worker threads, each holding one DoPut stream at a time: a batch goes to the least busy worker
unless it continues series of an earlier batch (``MetricBatch.run_key``), which it then follows on
that worker, so each series is still written once and in time order. A bounded queue keeps memory
flat. Any refusal surfaces as a SinkError naming the location and the cause.

Example::

    sink = FlightSink("grpc+tcp://127.0.0.1:8815")
    sink.open(); [sink.write(b) for b in iter_batches(spec, layout=sink.layout)]; sink.close()
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import time
from typing import Any

import pyarrow as pa
import pyarrow.flight as fl

from seeder import interrupt
from seeder.errors import SinkError
from seeder.generate import Layout, MetricBatch
from seeder.sinks.base import Sink

MAX_MESSAGE = 4 * 1024 * 1024
#: the batch shape MyTSDB ingests fastest (measured: docs/seeding-performance.md)
MYTSDB_LAYOUT = Layout()
#: parallel DoPut streams by default (measured with MyTSDB: docs/seeding-performance.md); the CLI
#: repeats it as seeder.cli.DEFAULT_FLIGHT_STREAMS
DEFAULT_STREAMS = 3
#: IPC padding (8 bytes per buffer) and flatbuffer metadata stay far below this
_IPC_SLACK = 64 * 1024
_BATCH, _END, _STOP = range(3)


def describe_error(exc: BaseException) -> str:
    """One line from a Flight/gRPC error: the server's message without tracebacks and debug context."""
    text = str(exc).split(". Detail:")[0].split(". gRPC client debug context")[0]
    text = re.sub(r"Flight returned [a-z ]+ error, with message: ", "", text)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


class _Worker(threading.Thread):
    """Owns one Flight client and one open DoPut stream at a time; a batch of another metric ends the
    stream and opens the next (PATH descriptor = that metric)."""

    def __init__(self, sink: FlightSink, n: int) -> None:
        super().__init__(name=f"flight-sink-{n}", daemon=True)
        self.sink = sink
        self.q: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
        self.pending = 0  # bytes queued, guarded by sink.cond
        self.streams = 0  # DoPut streams opened so far
        self.client: fl.FlightClient | None = None

    def run(self) -> None:
        writer = None
        metric = ""
        failed = False
        while True:
            op, arg = self.q.get()
            if op == _STOP:
                break
            try:
                if failed or self.sink.error is not None:  # any failure stops every stream
                    continue
                if op == _BATCH:
                    if writer is not None and arg.metric != metric:
                        writer.done_writing()
                        writer.close()
                        writer = None
                    if writer is None:
                        metric = arg.metric
                        if self.client is None:
                            self.client = fl.connect(self.sink.location)
                        options = fl.FlightCallOptions(timeout=self.sink.stream_timeout)
                        writer, _ = self.client.do_put(fl.FlightDescriptor.for_path(metric), arg.batch.schema,
                                                       options=options)
                        self.streams += 1
                    writer.write_batch(arg.batch)
                elif op == _END and writer is not None:
                    writer.done_writing()
                    writer.close()
                    writer = None
            except Exception as exc:  # any failure of the stream: remember it, drain the rest
                failed = True
                cause: BaseException = exc
                if op == _BATCH and writer is not None:  # the server's status arrives with close()
                    try:
                        writer.close()
                    except Exception as status:
                        cause = status
                    writer = None
                self.sink.fail(f"stream {metric!r}: {describe_error(cause)}", cause)
            finally:
                if op == _BATCH:
                    self.sink.release(self, arg)
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()


class FlightSink(Sink):
    """Send the main slice to a Flight endpoint (MyTSDB's port 8815)."""

    name = "flight"
    default_slices = ("main",)

    def __init__(self, location: str, slices: tuple[str, ...] | None = None,
                 streams: int = DEFAULT_STREAMS, connect_timeout: float = 10.0,
                 queue_bytes: int = 64 * 2**20, stream_timeout: float = 600.0,
                 layout: Layout | None = MYTSDB_LAYOUT) -> None:
        super().__init__(slices)
        self.layout = layout
        if not location.startswith(("grpc+tcp://", "grpc://")):
            raise SinkError(f"flight {location!r}: expected grpc+tcp://HOST:PORT")
        self.location = location
        self.streams = max(1, streams)
        self.connect_timeout = connect_timeout
        self.stream_timeout = stream_timeout  # a stalled server fails the run instead of hanging it
        self.queue_bytes = queue_bytes
        self.cond = threading.Condition()
        self.error: str | None = None
        self.rows_sent = 0
        self._workers: list[_Worker] = []
        self._pinned: dict[tuple[str, int], _Worker] = {}  # series runs still to come -> their worker
        self._queued = 0

    def describe(self) -> str:
        return self.location

    def open(self) -> None:
        """Wait (up to connect_timeout) for a Flight server to answer, then start the workers.

        Any gRPC answer counts, NotImplemented included (MyTSDB implements only DoPut). Each probe
        carries the remaining time as its deadline: a port that accepts TCP but never speaks
        HTTP/2 fails within ``connect_timeout`` instead of gRPC's own 20 s connect timeout.
        """
        client = fl.connect(self.location)
        deadline = time.monotonic() + self.connect_timeout
        try:
            while True:
                options = fl.FlightCallOptions(timeout=max(0.05, deadline - time.monotonic()))
                try:
                    list(client.list_flights(options=options))
                    break
                except NotImplementedError:
                    break
                except (fl.FlightUnavailableError, fl.FlightTimedOutError) as exc:
                    if time.monotonic() >= deadline:
                        raise SinkError(f"flight {self.location}: unreachable within "
                                        f"{self.connect_timeout:g}s ({describe_error(exc)})") from None
                    time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))  # between probes
        finally:
            client.close()
        self._workers = [_Worker(self, i) for i in range(self.streams)]
        for w in self._workers:
            w.start()

    def fail(self, message: str, exc: BaseException) -> None:
        with self.cond:
            if self.error is None:
                kind = "rejected the data" if isinstance(exc, pa.ArrowInvalid) else "failed"
                if isinstance(exc, fl.FlightUnavailableError):
                    kind = "became unreachable"
                elif isinstance(exc, fl.FlightTimedOutError):
                    kind = f"timed out (a stream may take {self.stream_timeout:g}s)"
                self.error = f"flight {self.location}: {kind}: {message}"
            self.cond.notify_all()

    def release(self, worker: _Worker, batch: MetricBatch) -> None:
        n = _cost(batch)
        with self.cond:
            self.rows_sent += batch.batch.num_rows
            worker.pending -= n
            self._queued -= n
            self.cond.notify_all()

    def _check(self) -> None:
        if self.error is not None:
            raise SinkError(self.error)

    def write(self, batch: MetricBatch) -> None:
        self._check()
        size = batch.batch.nbytes  # buffer bytes: the IPC body minus padding and metadata
        if size >= MAX_MESSAGE - _IPC_SLACK:  # only near the limit is the exact size worth computing
            size = pa.ipc.get_record_batch_size(batch.batch)
        if size >= MAX_MESSAGE:
            raise SinkError(f"flight {self.location}: batch of {batch.metric} is {size} bytes, "
                            f"over gRPC's {MAX_MESSAGE}-byte message limit")
        n = _cost(batch)
        key = (batch.metric, batch.run_key)
        with self.cond:
            # a batch continuing earlier runs of its series follows them on their stream (time order);
            # any other batch goes to the least busy worker (ties: fewest streams)
            worker = self._pinned.pop(key, None) or min(self._workers, key=lambda w: (w.pending, w.streams))
            if not batch.final:
                self._pinned[key] = worker
            while self._queued + n > self.queue_bytes and self._queued > 0 and self.error is None:
                self.cond.wait(timeout=1.0)
                interrupt.check()
            self._check()
            worker.pending += n
            self._queued += n
        worker.q.put((_BATCH, batch))

    def close(self) -> None:
        """End the last stream, wait for every worker; DoPut OK on every stream = confirmed."""
        for w in self._workers:
            w.q.put((_END, None))
        self._stop(wait=None)
        self._check()

    def abort(self) -> None:
        with self.cond:
            if self.error is None:
                self.error = f"flight {self.location}: aborted"
        self._stop(wait=1.0)  # a worker stuck in a stalled DoPut is a daemon: do not hang on it

    def _stop(self, wait: float | None) -> None:
        for w in self._workers:
            w.q.put((_STOP, None))
        deadline = None if wait is None else time.monotonic() + wait
        for w in self._workers:
            # short joins, never one unbounded one: a SIGINT/SIGTERM delivered to a gRPC thread only
            # runs its Python handler when the main thread comes back to the interpreter
            while w.is_alive() and (deadline is None or time.monotonic() < deadline):
                w.join(0.1 if deadline is None else max(0.0, min(0.1, deadline - time.monotonic())))
                if deadline is None:
                    interrupt.check()  # a stop signal whose exception a library swallowed
            if w.client is not None and not w.is_alive():
                w.client.close()
        self._workers = []
        self._pinned = {}


def _cost(batch: MetricBatch) -> int:
    """Bytes a queued batch holds on its own: its int64 timestamps and float64 values (the label
    columns are shared between the batches of a group)."""
    return batch.batch.num_rows * 16
