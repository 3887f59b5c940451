"""SeedSpec: every knob of a seeding, presets, validation, the --target-samples solver, end times.

A spec is a frozen value: the same spec (it includes the seed and the end time) always gives the
same data. Invalid knobs raise :class:`SpecError` with a one-line message naming the knob.

Example::

    >>> spec = build_spec("tiny", end_time="2026-11-01T00:00:00Z")
    >>> spec.samples_total() > 0
    True
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from seeder import catalog
from seeder.errors import SpecError

TOPOLOGY_KNOBS: tuple[str, ...] = (
    "regions", "zones_per_region", "clusters_per_zone", "nodes_per_cluster", "namespaces",
    "services_per_namespace", "pods_per_service", "containers_per_pod",
)
#: inclusive upper bounds that keep names realistic and memory bounded
KNOB_MAX: dict[str, int] = {
    "regions": 16, "zones_per_region": 6, "clusters_per_zone": 16, "nodes_per_cluster": 1000,
    "namespaces": 200, "services_per_namespace": 100, "pods_per_service": 1000, "containers_per_pod": 6,
}
MAX_SAMPLES_PER_SERIES = 1_000_000
#: the topology is built name by name in Python: beyond this a run (or a dry run) would never finish
MAX_PODS = 200_000
MAX_NODES = 50_000

_BASE: dict[str, Any] = {
    "regions": 1, "zones_per_region": 1, "clusters_per_zone": 1, "nodes_per_cluster": 2, "namespaces": 2,
    "services_per_namespace": 1, "pods_per_service": 2, "containers_per_pod": 2,
}
PRESETS: dict[str, dict[str, Any]] = {
    # every metric, two clusters, several pods per service: the CI preset (~0.24M samples)
    # otlp_hours 3: the OTLP cases query 1 h before the end and read up to 1 h 5 m further back
    "tiny": {**_BASE, "days": 0.25, "scrape_interval": 30, "zones_per_region": 2, "nodes_per_cluster": 1,
             "otlp_hours": 3.0},
    "small": {**_BASE, "days": 1.0, "scrape_interval": 30, "zones_per_region": 2, "nodes_per_cluster": 3,
              "namespaces": 3, "services_per_namespace": 2, "otlp_hours": 3.0},
    "medium": {**_BASE, "days": 3.0, "scrape_interval": 30, "regions": 2, "zones_per_region": 2,
               "nodes_per_cluster": 4, "namespaces": 4, "services_per_namespace": 2,
               "pods_per_service": 3, "otlp_hours": 6.0},
    "large": {**_BASE, "days": 14.0, "scrape_interval": 60, "regions": 2, "zones_per_region": 2,
              "nodes_per_cluster": 5, "namespaces": 5, "services_per_namespace": 3,
              "pods_per_service": 3, "otlp_hours": 6.0},
    # 7 days at 60 s: ~20M samples (checked by the unit tests), the kind seed sidecar default
    "seed-20m": {**_BASE, "days": 7.0, "scrape_interval": 60, "regions": 1, "zones_per_region": 2,
                 "nodes_per_cluster": 3, "namespaces": 3, "services_per_namespace": 2,
                 "pods_per_service": 4, "otlp_hours": 3.0},
}
DEFAULT_PRESET = "seed-20m"
DEFAULT_SEED = 42
DEFAULT_OTLP_CLUSTER = "otlp-0"
_LABEL_VALUE = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class SeedSpec:
    """Everything that determines the dataset (topology, time range, seed, slices)."""

    preset: str
    days: float
    scrape_interval: int
    regions: int
    zones_per_region: int
    clusters_per_zone: int
    nodes_per_cluster: int
    namespaces: int
    services_per_namespace: int
    pods_per_service: int
    containers_per_pod: int
    end_ms: int
    seed: int = DEFAULT_SEED
    metrics: tuple[str, ...] = ()
    jitter: bool = False
    otlp_hours: float = 3.0
    otlp_cluster: str = DEFAULT_OTLP_CLUSTER

    # ---- derived sizes (closed form, no generation) ----
    @property
    def interval_ms(self) -> int:
        return self.scrape_interval * 1000

    @property
    def samples_per_series(self) -> int:
        return max(2, round(self.days * 86400 / self.scrape_interval))

    @property
    def start_ms(self) -> int:
        return self.end_ms - (self.samples_per_series - 1) * self.interval_ms

    @property
    def otlp_samples_per_series(self) -> int:
        return min(self.samples_per_series, round(self.otlp_hours * 3600 / self.scrape_interval))

    @property
    def clusters(self) -> int:
        return self.regions * self.zones_per_region * self.clusters_per_zone

    @property
    def pods(self) -> int:
        return self.clusters * self.namespaces * self.services_per_namespace * self.pods_per_service

    @property
    def nodes(self) -> int:
        return self.clusters * self.nodes_per_cluster

    def selected_metrics(self) -> tuple[catalog.Metric, ...]:
        return catalog.select(self.metrics)

    def series_by_metric(self, slice_name: str = "main") -> dict[str, int]:
        """Series per metric of one slice."""
        if slice_name == "otlp":
            if self.otlp_samples_per_series < 1:
                return {}
            pods, nodes = self.namespaces * self.services_per_namespace, 1
        else:
            pods, nodes = self.pods, self.nodes
        return {m.name: catalog.series_count(m, pods, nodes, self.containers_per_pod)
                for m in self.selected_metrics()}

    def samples_total(self) -> int:
        """Samples of every slice (what the manifest reports as samples_total)."""
        main = sum(self.series_by_metric("main").values()) * self.samples_per_series
        otlp = sum(self.series_by_metric("otlp").values()) * self.otlp_samples_per_series
        return main + otlp

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["metrics"] = list(self.metrics)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SeedSpec:
        """Rebuild (and re-validate) a spec from a manifest's ``spec`` object."""
        fields = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in fields}
        kw["metrics"] = tuple(kw.get("metrics") or ())
        return validate(cls(**kw))


def parse_end_time(text: str | float | int | None, interval_s: int, now: float | None = None) -> int:
    """Unix seconds or RFC3339 (or None = now) -> Unix ms floored to the scrape interval."""
    if text is None or text == "":
        secs = time.time() if now is None else now
    elif isinstance(text, int | float) or re.fullmatch(r"\d+(\.\d+)?", text.strip()):
        secs = float(text)
    else:
        try:
            dt = datetime.fromisoformat(text.strip().replace("z", "Z"))
        except ValueError:
            raise SpecError(f"--end-time {text!r}: expected Unix seconds or RFC3339 "
                            "(e.g. 2026-11-01T00:00:00Z)") from None
        if dt.tzinfo is None:
            raise SpecError(f"--end-time {text!r}: RFC3339 needs a time zone (Z or +hh:mm)")
        secs = dt.timestamp()
    if not 0 < secs < 1e11:
        raise SpecError(f"--end-time {text!r}: out of range")
    ms = int(secs * 1000)
    return ms - ms % (interval_s * 1000)


def validate(spec: SeedSpec) -> SeedSpec:
    """Check every knob; return the spec or raise SpecError naming the first bad one."""
    def bad(knob: str, msg: str) -> SpecError:
        return SpecError(f"--{knob.replace('_', '-')}: {msg}")

    if not (isinstance(spec.days, int | float) and 0 < spec.days <= 400):
        raise bad("days", f"{spec.days!r} must be > 0 and <= 400")
    if not (isinstance(spec.scrape_interval, int) and 1 <= spec.scrape_interval <= 3600):
        raise bad("scrape_interval", f"{spec.scrape_interval!r} must be whole seconds in 1..3600")
    if spec.days * 86400 < 2 * spec.scrape_interval:
        raise bad("days", "the window must hold at least two scrape intervals")
    if spec.samples_per_series > MAX_SAMPLES_PER_SERIES:
        raise bad("days", f"{spec.samples_per_series} samples per series exceed {MAX_SAMPLES_PER_SERIES};"
                          " raise --scrape-interval")
    for knob in TOPOLOGY_KNOBS:
        v = getattr(spec, knob)
        if not (isinstance(v, int) and 1 <= v <= KNOB_MAX[knob]):
            raise bad(knob, f"{v!r} must be an integer in 1..{KNOB_MAX[knob]}")
    if spec.pods > MAX_PODS:
        raise bad("pods_per_service", f"the topology has {spec.pods} pods (clusters x namespaces x services "
                                      f"x pods per service), more than {MAX_PODS}")
    if spec.nodes > MAX_NODES:
        raise bad("nodes_per_cluster", f"the topology has {spec.nodes} nodes, more than {MAX_NODES}")
    if spec.start_ms <= 0:
        raise SpecError(f"--end-time: the {spec.days:g}-day window ending at {spec.end_ms // 1000} would "
                        "start before 1970")
    unknown = [m for m in spec.metrics if m not in catalog.METRICS]
    if unknown:
        raise bad("metrics", f"unknown metric {unknown[0]!r} (known: {', '.join(catalog.METRICS)})")
    if not (isinstance(spec.seed, int) and 0 <= spec.seed < 2**63):
        raise bad("seed", f"{spec.seed!r} must be an integer in 0..2^63-1")
    if not (0 <= spec.otlp_hours <= spec.days * 24):
        raise bad("otlp_hours", f"{spec.otlp_hours!r} must be in 0..{spec.days * 24:g} (the window)")
    if not _LABEL_VALUE.match(spec.otlp_cluster):
        raise bad("otlp_cluster", f"{spec.otlp_cluster!r} must be lowercase letters, digits, '-' or '.'")
    if spec.otlp_cluster.startswith("prod-"):
        raise bad("otlp_cluster", f"{spec.otlp_cluster!r} would collide with main cluster names (prod-*)")
    return spec


def build_spec(preset: str = DEFAULT_PRESET, *, end_time: str | float | None = None,
               now: float | None = None, target_samples: int | None = None,
               **overrides: Any) -> SeedSpec:
    """Preset + explicit overrides (None = not given) [+ solve to target_samples] -> validated spec."""
    if preset not in PRESETS:
        raise SpecError(f"--preset: unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    given = {k: v for k, v in overrides.items() if v is not None}
    fields = {f.name for f in dataclasses.fields(SeedSpec)}
    unknown = sorted(set(given) - fields)
    if unknown:
        raise SpecError(f"unknown knob {unknown[0]!r}")
    knobs = {**PRESETS[preset], **given}
    if "metrics" in knobs:
        knobs["metrics"] = tuple(dict.fromkeys(knobs["metrics"]))
    interval = knobs["scrape_interval"]
    if not (isinstance(interval, int) and 1 <= interval <= 3600):
        raise SpecError(f"--scrape-interval: {interval!r} must be whole seconds in 1..3600")
    end_ms = parse_end_time(end_time, interval, now)
    spec = validate(SeedSpec(preset=preset, end_ms=end_ms, **knobs))
    if target_samples is not None:
        spec = solve_target(spec, target_samples, fixed=frozenset(given))
    return spec


def solve_target(spec: SeedSpec, target: int, fixed: frozenset[str] = frozenset()) -> SeedSpec:
    """Adjust the topology knobs not given explicitly so samples_total lands within 5% of target."""
    if not (isinstance(target, int) and target > 0):
        raise SpecError(f"--target-samples: {target!r} must be a positive integer")
    free = [k for k in ("pods_per_service", "services_per_namespace", "namespaces", "nodes_per_cluster",
                        "clusters_per_zone", "zones_per_region", "regions", "containers_per_pod")
            if k not in fixed]
    if not free:
        raise SpecError("--target-samples: every topology knob is fixed; leave one free")

    def err(c: SeedSpec) -> float:
        if c.pods > MAX_PODS or c.nodes > MAX_NODES:
            return float("inf")
        return abs(c.samples_total() - target) / target

    ratio = target / max(1, spec.samples_total())
    share = ratio ** (1.0 / len(free))
    starts = [spec, _scaled(spec, {k: share for k in free})]
    starts += [_scaled(spec, {k: ratio}) for k in free]
    best: tuple[float, SeedSpec] | None = None
    for cand in starts:  # hill-climb from several starts: one knob at a time, best move first
        e = err(cand)
        while 0.005 < e < float("inf"):
            r = target / max(1, cand.samples_total())
            moves = [_scaled(cand, {k: f}) for k in free for f in (r, 2.0, 0.5)]
            moves += [dataclasses.replace(cand, **{k: v}) for k in free
                      for v in range(getattr(cand, k) - 2, getattr(cand, k) + 3) if 1 <= v <= KNOB_MAX[k]]
            nxt = min(moves, key=err)
            if err(nxt) >= e - 1e-12:
                break
            cand, e = nxt, err(nxt)
        if best is None or e < best[0]:
            best = (e, cand)
    assert best is not None
    if best[0] > 0.05:
        raise SpecError(f"--target-samples: cannot get within 5% of {target} (closest "
                        f"{best[1].samples_total()}); change --days or --scrape-interval")
    return validate(best[1])


def _scaled(spec: SeedSpec, factors: dict[str, float]) -> SeedSpec:
    """The spec with knobs multiplied by factors (rounded, clamped to their ranges)."""
    return dataclasses.replace(spec, **{k: min(KNOB_MAX[k], max(1, round(getattr(spec, k) * f)))
                                        for k, f in factors.items()})
