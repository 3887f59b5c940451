"""OpenMetrics text for ``promtool tsdb create-blocks-from openmetrics`` (the reference Prometheus).

Naming, so the backfilled series equal what Flight writes into MyTSDB (same ``__name__``, same
labels): promtool 2.42 stores every sample under the name written on its line and keeps label
values as text (``le="0.005"`` stays ``0.005``); it does not check lines against ``# TYPE``. We
still write valid OpenMetrics: a counter ``x_total`` is family ``x`` of type counter, the
``_bucket``/``_sum``/``_count`` trio is family ``x`` of type histogram, gauges keep their name,
anything else is ``unknown``. A family's ``# TYPE`` line is repeated if its parts are not
adjacent in a file (promtool accepts that). Timestamps are seconds with millisecond precision.

Files are written as ``*.partial`` and renamed on ``close()``; ``abort()`` (a failure anywhere in
the run, even after this sink closed) removes them, so a failed run leaves no file that looks
complete. With ``block_window_ms`` the output is one file per aligned window (promtool's
block range is 2 h), so ``fixtures.stacks.prometheus_proc.backfill_openmetrics`` can run one promtool per
file instead of rescanning one big file once per window.

Example::

    sink = OpenMetricsSink("om/", block_window_ms=2 * 3600 * 1000)
    sink.open(); [sink.write(b) for b in iter_batches(spec)]; sink.close(); print(sink.paths)
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seeder.errors import SinkError
from seeder.generate import MetricBatch
from seeder.sinks.base import Sink

#: promtool's block range: split files on this grid for parallel backfill
DEFAULT_BLOCK_WINDOW_MS = 2 * 3600 * 1000
_SUFFIX = {"counter": "_total", "histogram_bucket": "_bucket", "histogram_sum": "_sum",
           "histogram_count": "_count"}


def family_of(metric: str, kind: str) -> tuple[str, str]:
    """(family name, OpenMetrics type) for a sample name, per the OpenMetrics naming rules."""
    suffix = _SUFFIX.get(kind)
    if suffix and metric.endswith(suffix) and len(metric) > len(suffix):
        return metric[: -len(suffix)], "counter" if kind == "counter" else "histogram"
    if kind == "gauge":
        return metric, "gauge"
    return metric, "unknown"


def escape_label_value(value: str) -> str:
    """OpenMetrics escaping of a label value: backslash, double quote, newline."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def run_starts(batch: pa.RecordBatch) -> np.ndarray:
    """Row indices where a new series (label set) starts in a series-contiguous batch."""
    n = batch.num_rows
    change = np.zeros(max(n - 1, 0), dtype=bool)
    for col in batch.columns[2:]:
        if n > 1:
            diff = pc.not_equal(col.slice(1), col.slice(0, n - 1))
            change |= diff.fill_null(True).to_numpy(zero_copy_only=False)
    return np.concatenate(([0], np.flatnonzero(change) + 1)) if n else np.zeros(0, dtype=np.int64)


def _format_values(values: pa.Array) -> pa.Array:
    text = pc.cast(values, pa.utf8())  # shortest round-trip repr (checked exact in tests)
    if pc.all(pc.is_finite(values)).as_py() is not False:
        return text
    text = pc.if_else(pc.is_nan(values), "NaN", text)
    text = pc.if_else(pc.equal(values, float("inf")), "+Inf", text)
    return pc.if_else(pc.equal(values, float("-inf")), "-Inf", text)


def _format_timestamps(ts: np.ndarray) -> pa.Array:
    if ts.size and ts.min() < 0:
        return pa.array([f"{t / 1000:.3f}" for t in ts.tolist()], pa.utf8())
    seconds = pc.cast(pa.array(ts // 1000), pa.utf8())
    millis = ts % 1000
    if not millis.any():
        return seconds
    padded = pc.utf8_lpad(pc.cast(pa.array(millis), pa.utf8()), 3, "0")
    return pc.binary_join_element_wise(seconds, padded, ".")


def format_lines(metric: str, batch: pa.RecordBatch) -> pa.Array:
    """One ``name{labels} value seconds\\n`` string per row (utf8 array, row order kept)."""
    n = batch.num_rows
    starts = run_starts(batch)
    names = batch.schema.names[2:]
    columns = [batch.column(i + 2).take(pa.array(starts)).to_pylist() for i in range(len(names))]
    prefixes = []
    for values in zip(*columns, strict=True) if names else [()] * len(starts):
        pairs = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in zip(names, values, strict=True)
                         if v is not None)
        prefixes.append(f"{metric}{{{pairs}}}" if pairs else metric)
    lengths = np.diff(np.append(starts, n))
    prefix_col = pa.array(prefixes, pa.utf8()).take(pa.array(np.repeat(np.arange(len(starts)), lengths)))
    ts = batch.column(0).to_numpy(zero_copy_only=False)
    return pc.binary_join_element_wise(
        prefix_col, " ", _format_values(batch.column(1)), " ", _format_timestamps(ts), "\n", ""
    )


def text_bytes(lines: pa.Array) -> memoryview:
    """The concatenated text of a utf8 array without copying (its data buffer between offsets)."""
    if len(lines) == 0:
        return memoryview(b"")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=4 * lines.offset)
    return memoryview(lines.buffers()[2])[int(offsets[0]) : int(offsets[-1])]


class _OutFile:
    def __init__(self, final: Path) -> None:
        self.final = final
        self.partial = final.with_name(final.name + ".partial")
        self.handle: BinaryIO = self.partial.open("wb", buffering=1 << 20)
        self.family: str | None = None


class OpenMetricsSink(Sink):
    """Streams batches to OpenMetrics text files, optionally one file per block window.

    Args:
        path: the output file, or with ``block_window_ms`` a directory (created; stale
            ``window-*.om`` files in it are removed on open) receiving ``window-<start_s>.om``.
        block_window_ms: split on this aligned time grid (promtool's is ``DEFAULT_BLOCK_WINDOW_MS``).
        slices: slices to receive (default main + otlp).
    """

    name = "openmetrics"

    def __init__(self, path: str | Path, *, block_window_ms: int | None = None,
                 slices: tuple[str, ...] | None = None) -> None:
        super().__init__(slices)
        if block_window_ms is not None and block_window_ms <= 0:
            raise SinkError(f"openmetrics: block window must be > 0 ms, got {block_window_ms}")
        self.path = Path(path)
        self.block_window_ms = block_window_ms
        self.paths: list[Path] = []
        self._files: dict[int, _OutFile] = {}
        self.samples = 0

    def describe(self) -> str:
        return str(self.path)

    def open(self) -> None:
        if self.block_window_ms is None and self.path.is_dir():  # found now, not after the whole run
            raise SinkError(f"openmetrics: {self.path} is a directory; give a file path, or add "
                            "--openmetrics-split for one file per block window in it")
        try:
            if self.block_window_ms is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                for stale in [*self.path.glob("window-*.om"), *self.path.glob("window-*.om.partial")]:
                    stale.unlink()
        except OSError as exc:
            raise SinkError(f"openmetrics: cannot prepare {self.path}: {exc}") from exc

    def _file(self, window: int) -> _OutFile:
        out = self._files.get(window)
        if out is None:
            if self.block_window_ms is None:
                final = self.path
            else:
                final = self.path / f"window-{window * self.block_window_ms // 1000}.om"
            try:
                out = self._files[window] = _OutFile(final)
            except OSError as exc:
                raise SinkError(f"openmetrics: cannot create {final}: {exc}") from exc
        return out

    def _emit(self, out: _OutFile, family: str, om_type: str, lines: pa.Array) -> None:
        if out.family != family:
            out.handle.write(f"# TYPE {family} {om_type}\n".encode())
            out.family = family
        out.handle.write(text_bytes(lines))

    def write(self, batch: MetricBatch) -> None:
        rb = batch.batch
        if rb.num_rows == 0:
            return
        family, om_type = family_of(batch.metric, batch.kind)
        lines = format_lines(batch.metric, rb)
        try:
            if self.block_window_ms is None:
                self._emit(self._file(0), family, om_type, lines)
            else:
                ts = rb.column(0).to_numpy(zero_copy_only=False)
                windows = ts // self.block_window_ms
                order = np.argsort(windows, kind="stable")  # keeps series runs and time order
                ordered = windows[order]
                lines = lines.take(pa.array(order))
                bounds = np.flatnonzero(np.diff(ordered)) + 1
                for lo, hi in zip(np.append(0, bounds), np.append(bounds, len(ordered)), strict=True):
                    self._emit(self._file(int(ordered[lo])), family, om_type, lines.slice(lo, hi - lo))
        except OSError as exc:
            raise SinkError(f"openmetrics: writing {batch.metric} to {self.path} failed: {exc}") from exc
        self.samples += rb.num_rows

    def close(self) -> None:
        try:
            if not self._files and self.block_window_ms is None:
                self._file(0)  # an empty dataset is still a valid (empty) file
            for out in self._files.values():
                out.handle.write(b"# EOF\n")
                out.handle.close()
                out.partial.replace(out.final)
        except OSError as exc:
            self.abort()
            raise SinkError(f"openmetrics: finishing {self.path} failed: {exc}") from exc
        self.paths = [self._files[window].final for window in sorted(self._files)]
        self._files = {}

    def abort(self) -> None:
        """Remove partial files, and finished ones too: a run that failed elsewhere left no data."""
        for out in self._files.values():
            with contextlib.suppress(OSError):
                out.handle.close()
                out.partial.unlink(missing_ok=True)
        for path in self.paths:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        self._files, self.paths = {}, []
