"""The seed manifest: what was (or will be) seeded, the single source of test expectations.

Computable from the spec alone (``build_manifest``), so a stack knows what to expect before
anything is sent; ``seeder.run`` adds the sinks and the data digest and saves it.

Example::

    >>> from seeder.spec import build_spec
    >>> m = build_manifest(build_spec("tiny", end_time="2026-11-01T00:00:00Z"))
    >>> m.metrics["kube_pod_status_phase"]["type"], m.query_time() < m.end_ms / 1000
    ('gauge', True)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seeder.generate import iter_batches, plan_metric
from seeder.spec import SeedSpec
from seeder.topology import build_topology

FORMAT = 1


@dataclass
class SeedManifest:
    """Spec, time range, counts, label values and digest of one seeding (JSON per docs/architecture.md)."""

    spec: dict[str, Any]
    seed: int
    start_ms: int
    end_ms: int
    interval_ms: int
    series_total: int = 0
    samples_total: int = 0
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    label_values: dict[str, list[str]] = field(default_factory=dict)
    resets: list[dict[str, Any]] = field(default_factory=list)
    otlp: dict[str, Any] | None = None
    sinks: dict[str, str] = field(default_factory=dict)
    slices_by_sink: dict[str, list[str]] = field(default_factory=dict)
    digest: str | None = None
    format: int = FORMAT

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (key order as documented)."""
        d = asdict(self)
        return {"format": d.pop("format"), **d}

    def save(self, path: str | Path) -> None:
        """Write the manifest as JSON (atomically: temp file + rename)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=False) + "\n")
        tmp.replace(p)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SeedManifest:
        """Build from a parsed JSON object; unknown keys are ignored."""
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in d.items() if k in names})

    @classmethod
    def load(cls, path: str | Path) -> SeedManifest:
        """Read a manifest written by save()."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    def query_time(self) -> float:
        """A fixed instant inside the window: end minus one hour, aligned to the interval (seconds)."""
        t = max(self.end_ms - 3_600_000, self.start_ms)
        t -= t % self.interval_ms
        return t / 1000.0

    def range_window(self) -> tuple[float, float]:
        """(start, end) in seconds for range queries: the last six hours, inside the window."""
        end = self.query_time()
        start = max(end - 6 * 3600.0, self.start_ms / 1000.0 + 600.0)
        return start, end

    def seed_spec(self) -> SeedSpec:
        """The SeedSpec this manifest describes (to regenerate the model data)."""
        return SeedSpec.from_dict(self.spec)


SLICES: tuple[str, ...] = ("main", "otlp")


def build_manifest(spec: SeedSpec, digest: str | None = None) -> SeedManifest:
    """Everything a test can expect from a seeding, computed from the spec alone (nothing sent).

    ``metrics[name]["slices"]`` holds series per slice; the digest needs the data, see
    :func:`compute_digest` (``run`` fills it in while it generates).
    """
    topos = {s: build_topology(spec, s) for s in SLICES if s == "main" or spec.otlp_samples_per_series >= 1}
    times = {"main": spec.samples_per_series, "otlp": spec.otlp_samples_per_series}
    metrics: dict[str, dict[str, Any]] = {}
    values: dict[str, dict[str, set[str]]] = {s: {} for s in topos}
    resets: list[dict[str, Any]] = []
    for m in spec.selected_metrics():
        per_slice = {}
        for s, topo in topos.items():
            plan = plan_metric(spec, topo, m)
            per_slice[s] = plan.n_series
            for name, idx in plan.idx.items():
                d = plan.dicts[name]
                values[s].setdefault(name, set()).update(d[int(i)].as_py() for i in np.unique(idx))
            if m.is_counter and m.resets:
                for u in np.nonzero(plan.unit_resets >= 0)[0]:
                    t_ms = topo.start_ms + int(plan.unit_resets[u]) * spec.interval_ms
                    for s_i in range(int(u) * m.per_unit, (int(u) + 1) * m.per_unit):
                        resets.append({"metric": m.name, "slice": s, "labels": plan.labels_of(s_i),
                                       "t_ms": t_ms})
        series = sum(per_slice.values())
        metrics[m.name] = {"type": m.kind, "series": series,
                           "samples": sum(n * times[s] for s, n in per_slice.items()),
                           "labels": list(m.labels), "slices": per_slice}
    otlp = None
    if "otlp" in topos:
        n = sum(v["slices"]["otlp"] for v in metrics.values())
        otlp = {"cluster": spec.otlp_cluster, "start_ms": topos["otlp"].start_ms, "end_ms": spec.end_ms,
                "series": n, "samples": n * times["otlp"],
                "label_values": {k: sorted(v) for k, v in sorted(values["otlp"].items())}}
    return SeedManifest(
        spec=spec.to_dict(), seed=spec.seed, start_ms=spec.start_ms, end_ms=spec.end_ms,
        interval_ms=spec.interval_ms, series_total=sum(v["series"] for v in metrics.values()),
        samples_total=sum(v["samples"] for v in metrics.values()), metrics=metrics,
        label_values={k: sorted(v) for k, v in sorted(values["main"].items())}, resets=resets,
        otlp=otlp, digest=digest)


def compute_digest(spec: SeedSpec) -> str:
    """The data digest without sending anything (generates every slice once)."""
    h = hashlib.sha256()
    for s in SLICES:
        for _ in iter_batches(spec, s, hasher=h):
            pass
    return "sha256:" + h.hexdigest()
