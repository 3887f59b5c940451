"""An in-process Arrow Flight server enforcing MyTSDB's DoPut contract (the seeder's test double).

MyTSDB cannot run here, so tests and the benchmark send to this server instead. It enforces the
contract of ../shared/mytsdb-contract.md rather than accepting anything: PATH descriptor (path[0]
is the metric unless a ``__name__`` label is present), column 0 int64 Unix ms (an Arrow timestamp
type is refused with MyTSDB's exact Invalid message), column 1 float64, labels from ``utf8``
columns or a ``tags`` map<utf8, utf8> column (large_utf8, dictionary and other columns ignored),
contiguous runs per label set with strictly increasing timestamps (a violation stops the write
part-way, earlier rows stay), samples not newer than a series' newest stored sample are kept but
invisible, messages over gRPC's default 4 MiB are refused. Only DoPut exists.

Modes: ``record`` keeps every visible sample (for round-trip tests), ``null`` only counts.

Example::

    with ContractFlightServer() as server:
        FlightSink(server.location).open()
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as fl

SCHEMA_ERROR = "First two columns must be timestamp(int64) and value(float64)"
GRPC_MAX_MESSAGE = 4 * 1024 * 1024
SeriesKey = tuple[str, tuple[tuple[str, str], ...]]  # (metric, sorted label items)


class ContractFlightServer(fl.FlightServerBase):
    """MyTSDB's DoPut contract on loopback; ``fail_after_rows`` injects a failure half-way."""

    def __init__(self, location: str = "grpc+tcp://127.0.0.1:0", mode: str = "record",
                 fail_after_rows: int | None = None, reject_all: str | None = None) -> None:
        if mode not in ("record", "null"):
            raise ValueError(f"mode must be record or null, not {mode!r}")
        super().__init__(location)
        self.location = f"grpc+tcp://127.0.0.1:{self.port}"
        self.mode = mode
        self.fail_after_rows = fail_after_rows
        self.reject_all = reject_all
        self._lock = threading.Lock()
        self.rows = 0
        self.batches = 0
        self.streams = 0
        self.max_batch_bytes = 0
        self.rows_by_metric: dict[str, int] = defaultdict(int)
        self.invisible = 0
        self.violations: list[str] = []
        self._store: dict[SeriesKey, list[tuple[np.ndarray, np.ndarray]]] = {}
        self._newest: dict[SeriesKey, int] = {}

    # ---- the RPC ----
    def do_put(self, context: Any, descriptor: fl.FlightDescriptor, reader: fl.MetadataRecordBatchReader,
               writer: Any) -> None:
        if descriptor.descriptor_type != fl.DescriptorType.PATH or not descriptor.path:
            raise pa.ArrowInvalid("Flight descriptor must be a PATH naming the metric")
        metric = descriptor.path[0].decode()
        schema = reader.schema
        if self.reject_all:
            raise pa.ArrowInvalid(self.reject_all)
        if (len(schema) < 2 or not pa.types.is_int64(schema.field(0).type)
                or not pa.types.is_float64(schema.field(1).type)):
            raise pa.ArrowInvalid(SCHEMA_ERROR)
        label_cols = [i for i, f in enumerate(schema) if i >= 2 and (
            pa.types.is_string(f.type)
            or (f.name == "tags" and pa.types.is_map(f.type) and pa.types.is_string(f.type.key_type)
                and pa.types.is_string(f.type.item_type)))]
        with self._lock:
            self.streams += 1
        for chunk in reader:
            batch = chunk.data
            size = pa.ipc.get_record_batch_size(batch)
            if size > GRPC_MAX_MESSAGE:
                raise fl.FlightServerError(
                    f"Received message larger than max ({size} vs. {GRPC_MAX_MESSAGE})")
            with self._lock:
                self.rows += batch.num_rows
                self.batches += 1
                self.rows_by_metric[metric] += batch.num_rows
                self.max_batch_bytes = max(self.max_batch_bytes, size)
                over = self.fail_after_rows is not None and self.rows > self.fail_after_rows
            if over:
                raise fl.FlightServerError(f"injected failure after {self.fail_after_rows} rows")
            if self.mode == "record":
                self._record(metric, batch, label_cols)

    # ---- recording ----
    def _record(self, metric: str, batch: pa.RecordBatch, label_cols: list[int]) -> None:
        n = batch.num_rows
        if n == 0:
            return
        ts = batch.column(0).to_numpy(zero_copy_only=False)
        vals = batch.column(1).to_numpy(zero_copy_only=False)
        cols = [batch.column(i) for i in label_cols]
        change = np.zeros(n, dtype=bool)
        change[0] = True
        for col in cols:
            if n > 1:
                prev, cur = col.slice(0, n - 1), col.slice(1)
                if pa.types.is_map(col.type):
                    diff = np.array([a != b for a, b in zip(prev.to_pylist(), cur.to_pylist(), strict=True)])
                else:
                    diff = pc.fill_null(pc.not_equal(prev, cur), True).to_numpy(zero_copy_only=False)
                change[1:] |= diff
        starts = np.flatnonzero(change)
        ends = np.append(starts[1:], n)
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            labels = self._labels(batch, label_cols, s)
            name = labels.pop("__name__", metric)
            key = (name, tuple(sorted(labels.items())))
            run_ts = ts[s:e]
            bad = np.flatnonzero(np.diff(run_ts) <= 0)
            stop = e if len(bad) == 0 else s + int(bad[0]) + 1
            self._store_run(key, ts[s:stop], vals[s:stop])
            if stop < e:
                msg = f"{name}{dict(key[1])}: timestamps not strictly increasing at row {stop}"
                with self._lock:
                    self.violations.append(msg)
                raise fl.FlightServerError(msg)

    def _labels(self, batch: pa.RecordBatch, label_cols: list[int], row: int) -> dict[str, str]:
        out: dict[str, str] = {}
        for i in label_cols:
            v = batch.column(i)[row].as_py()
            if isinstance(v, list):
                out.update({k: str(x) for k, x in v})
            elif v is not None:
                out[batch.schema.field(i).name] = v
        return out

    def _store_run(self, key: SeriesKey, ts: np.ndarray, vals: np.ndarray) -> None:
        with self._lock:
            newest = self._newest.get(key)
            visible = ts > newest if newest is not None else np.ones(len(ts), dtype=bool)
            self.invisible += int((~visible).sum())
            if visible.any():
                self._store.setdefault(key, []).append((ts[visible].copy(), vals[visible].copy()))
                self._newest[key] = int(ts[visible][-1])

    # ---- what arrived ----
    def series(self, metric: str | None = None) -> dict[SeriesKey, tuple[np.ndarray, np.ndarray]]:
        """Visible samples per (metric, sorted label items): (timestamps ms, values)."""
        with self._lock:
            items = [(k, list(v)) for k, v in self._store.items() if metric is None or k[0] == metric]
        return {k: (np.concatenate([a for a, _ in v]), np.concatenate([b for _, b in v])) for k, v in items}

    def metrics(self) -> set[str]:
        with self._lock:
            return {k[0] for k in self._store}
