"""Shared, cached tiny datasets for the seeder unit tests (fixed seed and end time, never now)."""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa

from seeder.generate import MetricBatch, iter_batches, model_table
from seeder.manifest import SeedManifest, build_manifest
from seeder.spec import SeedSpec, build_spec

END = "2026-11-01T00:00:00Z"
END_MS = 1_793_491_200_000


@functools.lru_cache(maxsize=8)
def tiny(seed: int = 42, jitter: bool = False) -> SeedSpec:
    return build_spec("tiny", end_time=END, seed=seed, jitter=jitter or None)


@functools.lru_cache(maxsize=8)
def batches(spec: SeedSpec, slice_name: str = "main") -> tuple[MetricBatch, ...]:
    return tuple(iter_batches(spec, slice_name))


@functools.lru_cache(maxsize=8)
def manifest(spec: SeedSpec) -> SeedManifest:
    return build_manifest(spec)


@functools.lru_cache(maxsize=64)
def table(spec: SeedSpec, metric: str, slice_name: str = "main") -> pa.Table:
    return model_table(spec, metric, slice_name)


def series_of(tab: pa.Table) -> dict[tuple[tuple[str, str], ...], tuple[np.ndarray, np.ndarray]]:
    """Per label set (sorted items): timestamps and values, in row order."""
    names = [n for n in tab.column_names if n not in ("timestamp", "value")]
    ts = tab.column("timestamp").to_numpy()
    vals = tab.column("value").to_numpy()
    cols = [tab.column(n).to_pylist() for n in names]
    out: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for i, row in enumerate(zip(*cols, strict=True)):
        out.setdefault(tuple(zip(names, row, strict=True)), []).append(i)
    return {k: (ts[v], vals[v]) for k, v in out.items()}


def without(key: tuple[tuple[str, str], ...], *names: str) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in key if k not in names)
