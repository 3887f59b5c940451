"""Prometheus remote-write v1: prompb.WriteRequest, snappy block-compressed, HTTP POST.

The three messages we send are encoded by hand (no generated code, no .proto to vendor)::

    WriteRequest { repeated TimeSeries timeseries = 1; }
    TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
    Label        { string name = 1; string value = 2; }
    Sample       { double value = 1; int64 timestamp = 2; }   // timestamp in ms

Samples are encoded with numpy (one fixed-layout record per sample), so the encoder keeps up with
the generator. Labels are sorted by name with ``__name__`` included, as receivers expect.

Delivery: requests hold at most ``max_samples_per_request`` samples (a series may continue in the
next request, later samples only). A 5xx answer or a connection error is retried with backoff
until ``retry_deadline`` seconds after the first attempt; any other non-2xx is a ``SinkError``
naming the status and the start of the body (Prometheus answers 400 for out-of-bounds samples and
404 when its receiver is disabled). A 2xx is only success with an empty body or a JSON status
that is not an error: HTML from a wrong URL, or MyTSDB-style ``{"status":"error"}`` with HTTP
200, is a ``SinkError`` too.

Example::

    sink = RemoteWriteSink("http://127.0.0.1:9090/api/v1/write")
    sink.open(); [sink.write(b) for b in iter_batches(spec)]; sink.close()
"""

from __future__ import annotations

import functools
import json
import time

import cramjam
import numpy as np
import pyarrow as pa
import requests

from seeder.errors import SinkError
from seeder.generate import MetricBatch
from seeder.sinks.base import Sink
from seeder.sinks.openmetrics import run_starts

HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": "k8s-seed/remote-write",
}


def varint(value: int) -> bytes:
    """Protobuf base-128 varint of a non-negative int (negative int64 as its 64-bit two's complement)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return varint(tag << 3 | 2) + varint(len(payload)) + payload


@functools.lru_cache(maxsize=1 << 16)
def _label(name: str, value: str) -> bytes:
    """One encoded Label field (cached: the same pairs recur in every series of a metric)."""
    return _field(1, _field(1, name.encode()) + _field(2, value.encode()))


def encode_labels(labels: list[tuple[str, str]]) -> bytes:
    """The ``labels`` fields of a TimeSeries (sorted by name)."""
    return b"".join(_label(name, value) for name, value in sorted(labels))


def _varint_lengths(u: np.ndarray) -> np.ndarray:
    lengths = np.ones(u.shape, dtype=np.int64)
    for k in range(1, 10):
        lengths += u >= np.uint64(1 << (7 * k))
    return lengths


def encode_samples(timestamps: np.ndarray, values: np.ndarray) -> bytes:
    """The ``samples`` fields of a TimeSeries, vectorised: each is ``12 len 09 <f64> 10 <varint>``."""
    if len(timestamps) == 0:
        return b""
    u = timestamps.astype(np.int64).view(np.uint64)
    lengths = _varint_lengths(u)
    cuts = np.flatnonzero(np.diff(lengths)) + 1
    parts = []
    for lo, hi in zip(np.append(0, cuts), np.append(cuts, len(u)), strict=True):
        k = int(lengths[lo])
        rec = np.zeros(hi - lo, dtype=np.dtype([("h", "u1", 3), ("v", "<f8"), ("t", "u1"), ("ts", "u1", k)]))
        rec["h"] = (0x12, 10 + k, 0x09)
        rec["v"] = values[lo:hi]
        rec["t"] = 0x10
        seg = u[lo:hi]
        for j in range(k):
            byte = (seg >> np.uint64(7 * j)) & np.uint64(0x7F)
            rec["ts"][:, j] = byte | np.uint64(0x80 if j < k - 1 else 0)
        parts.append(rec.tobytes())
    return b"".join(parts)


def _check_ack(url: str, resp: requests.Response) -> None:
    """A 2xx only counts as stored if it looks like a remote-write receiver's answer.

    Receivers answer 204 or 200 with an empty body (Prometheus, Mimir, Thanos) or a small JSON
    status. A 2xx carrying HTML or other text is a wrong endpoint (a UI, a login page, a proxy),
    and a JSON ``{"status": "error"}`` is how MyTSDB's HTTP API reports errors with HTTP 200:
    both are failures, never silent success.
    """
    text = resp.text.strip()
    if not text:
        return
    first = text.replace("\n", " ")[:120]
    try:
        body = json.loads(text)
    except ValueError:
        raise SinkError(f"remote-write: {url} answered HTTP {resp.status_code} with "
                        f"{resp.headers.get('Content-Type') or 'no content type'} instead of a "
                        f"remote-write acknowledgement (wrong URL?): {first}") from None
    if isinstance(body, dict) and (body.get("status") == "error" or body.get("error")):
        raise SinkError(f"remote-write: {url} rejected the data: HTTP {resp.status_code}: {first}")


class RemoteWriteSink(Sink):
    """Sends batches to a remote-write v1 endpoint.

    Args:
        url: the receiver, e.g. ``http://127.0.0.1:9090/api/v1/write``.
        max_samples_per_request: upper bound of samples per POST (keeps bodies small).
        timeout: seconds for one HTTP request.
        retry_deadline: seconds a request may be retried (5xx, connection errors) before failing.
        slices: slices to receive (default main + otlp).
    """

    name = "remote-write"

    def __init__(self, url: str, *, max_samples_per_request: int = 5000, timeout: float = 30.0,
                 retry_deadline: float = 60.0, slices: tuple[str, ...] | None = None) -> None:
        super().__init__(slices)
        if max_samples_per_request < 1:
            raise SinkError(
                f"remote-write: max_samples_per_request must be >= 1, got {max_samples_per_request}")
        self.url = url
        self.max_samples = max_samples_per_request
        self.timeout = timeout
        self.retry_deadline = retry_deadline
        self._session: requests.Session | None = None
        self._parts: list[bytes] = []
        self._pending = 0
        self.requests_sent = 0
        self.samples = 0

    def describe(self) -> str:
        return self.url

    def open(self) -> None:
        self._session = requests.Session()

    def write(self, batch: MetricBatch) -> None:
        rb: pa.RecordBatch = batch.batch
        n = rb.num_rows
        if n == 0:
            return
        names = ["__name__", *rb.schema.names[2:]]
        starts = run_starts(rb)
        ends = np.append(starts[1:], n)
        label_rows = [rb.column(i).take(pa.array(starts)).to_pylist() for i in range(2, rb.num_columns)]
        ts = rb.column(0).to_numpy(zero_copy_only=False)
        vals = rb.column(1).to_numpy(zero_copy_only=False)
        for run, (lo, hi) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            values = [batch.metric, *(col[run] for col in label_rows)]
            labels = encode_labels([(k, v) for k, v in zip(names, values, strict=True) if v is not None])
            while lo < hi:
                take = min(hi - lo, self.max_samples - self._pending)
                series = labels + encode_samples(ts[lo : lo + take], vals[lo : lo + take])
                self._parts.append(_field(1, series))
                self._pending += take
                lo += take
                if self._pending >= self.max_samples:
                    self._flush()

    def _flush(self) -> None:
        if not self._parts:
            return
        body = bytes(cramjam.snappy.compress_raw(b"".join(self._parts)))
        self._post(body)
        self.samples += self._pending
        self._parts, self._pending = [], 0

    def _post(self, body: bytes) -> None:
        if self._session is None:
            raise SinkError("remote-write: write() before open()")
        deadline = time.monotonic() + self.retry_deadline
        backoff = 0.05
        while True:
            try:
                resp = self._session.post(self.url, data=body, headers=HEADERS, timeout=self.timeout)
            except requests.RequestException as exc:
                reason = f"{type(exc).__name__}: {str(exc)[:200]}"
            else:
                if resp.status_code < 300:
                    _check_ack(self.url, resp)
                    self.requests_sent += 1
                    return
                text = resp.text.strip().replace("\n", " ")[:300]
                if resp.status_code < 500:
                    hint = ("; a Prometheus receiving past data needs storage.tsdb.out_of_order_time_window "
                            "covering the seeded window" if "out of bounds" in text or "out of order" in text
                            else "")
                    raise SinkError(
                        f"remote-write: {self.url} rejected the data: HTTP {resp.status_code}: {text}{hint}")
                reason = f"HTTP {resp.status_code}: {text}"
            if time.monotonic() + backoff > deadline:
                raise SinkError(f"remote-write: {self.url} failed for {self.retry_deadline:g}s "
                                f"(retried 5xx/connection errors); last: {reason}")
            time.sleep(backoff)  # backoff between retries, bounded by the deadline above
            backoff = min(backoff * 2, 2.0)

    def close(self) -> None:
        try:
            self._flush()
        finally:
            self.abort()

    def abort(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
        self._parts, self._pending = [], 0
