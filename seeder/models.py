"""Value models: the numbers of one (units x extras x time) block, vectorised with numpy.

Every value is a pure function of (seed, series, time index): noise comes from a hash-indexed
table, counters are exact integer-valued float cumsums (so streaming in chunks gives the same bits
as one big block) and resets happen at the recorded restart index.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seeder import catalog

NOISE_BITS = 20
_MASK = (1 << NOISE_BITS) - 1
_C1, _C2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser over a uint64 array (platform independent, no RNG state)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _C1
        x = (x ^ (x >> np.uint64(27))) * _C2
        return x ^ (x >> np.uint64(31))


def unit01(keys: np.ndarray, salt: int) -> np.ndarray:
    """A uniform [0, 1) number per key for the given purpose (salt)."""
    with np.errstate(over="ignore"):
        h = mix64(keys ^ np.uint64((salt * 0x9E3779B97F4A7C15) & (2**64 - 1)))
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)


_TABLES: dict[int, np.ndarray] = {}


def noise_table(seed: int) -> np.ndarray:
    """2^20 uniform values in [-1, 1) derived from the seed (cached)."""
    t = _TABLES.get(seed)
    if t is None:
        t = unit01(np.arange(1 << NOISE_BITS, dtype=np.uint64), seed + 1) * 2.0 - 1.0
        _TABLES[seed] = t
    return t


@dataclass
class Block:
    """Context of one value block: units [u0, u1) and time indices [t0, t1)."""

    table: np.ndarray
    keys: np.ndarray        # (U, P) int64 noise offsets per series
    unit_keys: np.ndarray   # (U,) uint64
    unit_offsets: np.ndarray  # (U,) int64 noise offsets per unit
    diurnal: np.ndarray     # (U, C) in [-1, 1], peak mid-afternoon local time
    t0: int
    t1: int
    dt: float               # scrape interval in seconds
    n_times: int
    resets: np.ndarray      # (U,) restart index or -1
    share: np.ndarray       # (P,)
    state: dict[str, np.ndarray] = field(default_factory=dict)
    cache: dict[object, np.ndarray] = field(default_factory=dict)

    def u(self, salt: int) -> np.ndarray:
        """Per-unit uniform [0, 1) parameter for a purpose, cached for the block's units."""
        v = self.cache.get(salt)
        if v is None:
            v = self.cache[salt] = unit01(self.unit_keys, salt)
        return v

    def noise(self, keys: np.ndarray | None = None) -> np.ndarray:
        """(U, P, C) (or keys.shape + (C,)) uniform noise in [-1, 1)."""
        k = self.keys if keys is None else keys
        t = np.arange(self.t0, self.t1, dtype=np.int64)
        return self.table[(k[..., None] + t) & _MASK]


def _spread(b: Block, p: dict[str, float]) -> np.ndarray:
    s = p.get("spread", 0.0)
    return 1.0 - s / 2 + s * b.u(7)


def _accumulate(b: Block, inc: np.ndarray, carry0: np.ndarray, name: str = "carry") -> np.ndarray:
    """Running totals of integer-valued increments (U, P, C); restart at each unit's reset index."""
    carry = b.state.get(name)
    if carry is None:
        carry = carry0
    total = np.cumsum(inc, axis=-1)
    total += carry[..., None]
    hit = np.nonzero((b.resets >= b.t0) & (b.resets < b.t1))[0]
    for u in hit:
        j = int(b.resets[u]) - b.t0
        before = total[u, ..., j - 1].copy() if j > 0 else carry[u].copy()
        total[u, ..., j:] -= before[..., None]
    b.state[name] = total[..., -1].copy()
    return total


def counter(b: Block, m: catalog.Metric) -> np.ndarray:
    p = m.params
    q = p["quantum"]
    rate = (_spread(b, p)[:, None] * b.share[None, :]) * (p["rate"] * b.dt / q)
    x = rate[..., None] * (1.0 + p["diurnal"] * b.diurnal)[:, None, :]
    x *= 1.0 + p["noise"] * b.noise()
    carry0 = np.rint(rate * (p["uptime_s"] / b.dt) * (0.2 + 0.8 * b.u(11))[:, None])
    return _accumulate(b, np.rint(x), carry0) * q


def node_cpu(b: Block, m: catalog.Metric) -> np.ndarray:
    """Per-CPU mode counters whose rates add up to one second per second (idle takes the rest)."""
    p = m.params
    q = p["quantum"]
    n_modes = len(catalog.CPU_MODES)
    idle = catalog.CPU_MODES.index("idle")
    frac = b.share[None, :, None] * (1.0 + p["diurnal"] * b.diurnal)[:, None, :]
    frac = frac * (1.0 + p["noise"] * b.noise())
    frac = frac.reshape(len(b.unit_keys), -1, n_modes, b.t1 - b.t0)
    busy = np.delete(frac, idle, axis=2).sum(axis=2)
    frac[:, :, idle, :] = np.clip(1.0 - busy, 0.02, None)
    inc = np.rint(frac.reshape(len(b.unit_keys), -1, b.t1 - b.t0) * (b.dt / q))
    carry0 = np.rint(b.share[None, :] * (p["uptime_s"] / q) * (0.2 + 0.8 * b.u(11))[:, None])
    return _accumulate(b, inc, carry0) * q


def gauge(b: Block, m: catalog.Metric) -> np.ndarray:
    p = m.params
    q = p["quantum"]
    level = _spread(b, p)[:, None] * b.share[None, :] * (p["level"] / q)
    x = level[..., None] * (1.0 + p["diurnal"] * b.diurnal)[:, None, :]
    x *= 1.0 + p["noise"] * b.noise()
    return np.rint(x) * q


_FINITE = np.array(catalog.LE_BOUNDS[:-1])
_EDGES = np.concatenate([[0.0], _FINITE, [_FINITE[-1] * 4]])  # +Inf observations land below 4x the top
_MID_US = np.rint((_EDGES[:-1] + _EDGES[1:]) / 2 * 1e6)


def diurnal(local_hours: np.ndarray) -> np.ndarray:
    """Daily shape in [-1, 1]: low at 02:00, high at 14:00 local time.

    A parabolic sine (only +, *, mod): transcendental functions may round differently on other
    CPUs/builds, and a flipped rounding would change an integer increment between two seedings.
    """
    y = np.mod((local_hours - 8.0) / 12.0, 2.0) - 1.0  # [-1, 1): one day
    return -4.0 * y * (1.0 - np.abs(y))


def _hist_parts(b: Block, m: catalog.Metric) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-interval request counts (U, C), cumulative le fractions (U, L) and initial totals."""
    p = m.params
    rate = _spread(b, p) * (p["rate"] * b.dt)
    n = rate[:, None] * (1.0 + p["diurnal"] * b.diurnal) * (1.0 + p["noise"] * b.noise(b.unit_offsets))
    cdf = b.cache.get("cdf")
    if cdf is None:
        # log-logistic latency (shape 3): the CDF needs only arithmetic, see diurnal()
        r = (p["median_s"] * (0.5 + b.u(13)))[:, None] / _FINITE[None, :]
        cdf = b.cache["cdf"] = np.concatenate([1.0 / (1.0 + r * r * r), np.ones((len(r), 1))], axis=1)
    n0 = np.rint(rate * (p["uptime_s"] / b.dt) * (0.2 + 0.8 * b.u(11)))
    return np.rint(n), cdf, n0, np.floor(n0[:, None] * cdf)


def hist_bucket(b: Block, m: catalog.Metric) -> np.ndarray:
    n, cdf, _, b0 = _hist_parts(b, m)
    return _accumulate(b, np.floor(n[:, None, :] * cdf[:, :, None]), b0)


def hist_count(b: Block, m: catalog.Metric) -> np.ndarray:
    n, _, n0, _ = _hist_parts(b, m)
    return _accumulate(b, n[:, None, :], n0[:, None])


def hist_sum(b: Block, m: catalog.Metric) -> np.ndarray:
    n, cdf, _, b0 = _hist_parts(b, m)
    per_bucket = np.diff(np.floor(n[:, None, :] * cdf[:, :, None]), axis=1, prepend=0.0)
    inc = np.einsum("ulc,l->uc", per_bucket, _MID_US)
    s0 = np.diff(b0, axis=1, prepend=0.0) @ _MID_US
    return _accumulate(b, inc[:, None, :], s0[:, None]) * 1e-6


def phase(b: Block, m: catalog.Metric) -> np.ndarray:
    """One-hot pod phase: mostly Running, some pods Pending first, brief Unknown, a few Failed."""
    k, T = b.unit_keys, b.n_times
    t = np.arange(b.t0, b.t1)[None, :]
    pending_end = np.where(b.u(21) < 0.15, 1 + (b.u(22) * max(1, min(20, T // 8))).astype(int), 0)
    unk_start = np.where(b.u(23) < 0.06, (b.u(24) * T).astype(int), T + 1)
    unk_end = unk_start + 1 + (b.u(25) * 4).astype(int)
    failed = np.where(b.u(26) < 0.04, T // 2 + (b.u(27) * (T // 2)).astype(int), T + 1)
    idx = np.full((len(k), b.t1 - b.t0), 1, dtype=np.int8)  # Running
    idx[t < pending_end[:, None]] = 0
    idx[(t >= unk_start[:, None]) & (t < unk_end[:, None])] = 4
    idx[t >= failed[:, None]] = 3
    phases = np.arange(len(catalog.PHASES), dtype=np.int8)
    return (idx[:, None, :] == phases[None, :, None]).astype(np.float64)


def restarts(b: Block, m: catalog.Metric) -> np.ndarray:
    """Restart counter: a small base, +1 at the container's restart index."""
    base = np.where(b.u(31) < 0.2, np.floor(b.u(32) * 4), 0.0)
    t = np.arange(b.t0, b.t1)[None, :]
    step = ((b.resets[:, None] >= 0) & (t >= b.resets[:, None])).astype(np.float64)
    return (base[:, None] + step)[:, None, :]


def mem_total_of(b: Block) -> np.ndarray:
    gib = np.array([16.0, 32.0, 64.0, 128.0])[(b.u(41) * 4).astype(int)]
    return gib * 2**30 - np.floor(b.u(42) * 512) * 2**20


def mem_total(b: Block, m: catalog.Metric) -> np.ndarray:
    return np.broadcast_to(mem_total_of(b)[:, None, None], (len(b.unit_keys), 1, b.t1 - b.t0))


def mem_available(b: Block, m: catalog.Metric) -> np.ndarray:
    p = m.params
    base = 0.3 + 0.45 * b.u(43)
    used = base[:, None] * (1.0 + p["diurnal"] * b.diurnal) * (1.0 + p["noise"] * b.noise(b.unit_offsets))
    used = np.clip(used, 0.05, 0.97)
    return np.rint(mem_total_of(b)[:, None] * (1.0 - used))[:, None, :]


MODELS = {"counter": counter, "node_cpu": node_cpu, "gauge": gauge, "hist_bucket": hist_bucket,
          "hist_sum": hist_sum, "hist_count": hist_count, "phase": phase, "restarts": restarts,
          "mem_total": mem_total, "mem_available": mem_available}
