"""Arrow Flight DoPut under MyTSDB's contract, with every visible sample written on to Prometheus.

The rules (PATH descriptor, int64 ms + float64 columns, utf8 or ``tags`` labels, strictly
increasing runs, samples not newer than a series' newest are invisible, the 4 MiB limit, MyTSDB's
Invalid message) are ``seeder.contract_server.ContractFlightServer``'s; this subclass only hooks
where that server stores a run: what it kept visible is collected per batch and forwarded before
the batch counts as done, so it is queryable when DoPut's ``close()`` returns. Rows written
before a mid-batch violation are forwarded too (MyTSDB keeps them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.flight as fl

from seeder.contract_server import ContractFlightServer, SeriesKey
from standin.errors import ForwardError
from standin.forward import Run


class ForwardingFlightServer(ContractFlightServer):
    """ContractFlightServer in record mode whose visible runs go to ``forward`` (None: kept here).

    With a ``forward`` the samples are not kept in memory (only series keys), so a 20M-sample seed
    costs the stand-in nothing; without one it records like ContractFlightServer (``series()``).
    """

    def __init__(self, location: str, forward: Callable[[Sequence[Run]], object] | None = None,
                 on_error: Callable[[str], None] | None = None) -> None:
        super().__init__(location, mode="record")
        self.forward = forward
        self.on_error = on_error
        self.series_keys: set[SeriesKey] = set()
        self._pending = threading.local()
        self._runs_lock = threading.Lock()

    def _record(self, metric: str, batch: pa.RecordBatch, label_cols: list[int]) -> None:
        self._pending.runs = []
        try:
            super()._record(metric, batch, label_cols)
        finally:
            runs: list[Run] = self._pending.runs
            self._pending.runs = []
            if runs and self.forward is not None:
                self._forward(runs)

    def _forward(self, runs: list[Run]) -> None:
        assert self.forward is not None
        try:
            self.forward(runs)
        except ForwardError as exc:
            if self.on_error is not None:
                self.on_error(str(exc))
            raise fl.FlightServerError(str(exc)) from exc

    def _store_run(self, key: SeriesKey, ts: np.ndarray, vals: np.ndarray) -> None:
        with self._runs_lock:  # store + take back atomically: exactly what became visible now
            super()._store_run(key, ts, vals)
            if key not in self._store:
                return
            self.series_keys.add(key)
            if self.forward is None:
                return
            visible = self._store.pop(key)
        self._pending.runs.extend((key[0], key[1], t, v) for t, v in visible)

    def stats(self) -> dict[str, Any]:
        """What arrived, for a double's diagnostics."""
        return {"flight_rows": self.rows, "flight_series": len(self.series_keys),
                "flight_violations": list(self.violations), "flight_invisible": self.invisible}
