"""Hypothesis strategies: PromQL over the seeded metric/label universe of a seed manifest.

Only metrics and label values the manifest records are used, so most generated queries select
data; the generator covers selectors with all four matchers, by/without aggregations,
rate/increase/irate over counters, *_over_time over gauges, binary operations with scalars and
vectors, offset and histogram_quantile over the buckets.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from fixtures.promql.variables import prometheus_regex_escape
from seeder.manifest import SeedManifest

RANGES = ("3m", "5m", "10m")
OVER_TIME = ("avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
             "last_over_time")
AGGS = ("sum", "avg", "min", "max", "count")


@dataclass(frozen=True)
class Universe:
    """Metric names by kind and label values, read from the manifest."""

    counters: tuple[str, ...]
    gauges: tuple[str, ...]
    buckets: tuple[str, ...]
    labels: dict[str, tuple[str, ...]]
    label_values: dict[str, tuple[str, ...]]

    @classmethod
    def from_manifest(cls, manifest: SeedManifest) -> Universe:
        kinds: dict[str, list[str]] = {"counter": [], "gauge": [], "histogram_bucket": []}
        labels: dict[str, tuple[str, ...]] = {}
        for name, info in sorted(manifest.metrics.items()):
            kind = str(info.get("type", ""))
            if kind in ("histogram_sum", "histogram_count"):
                kind = "counter"
            if kind in kinds:
                kinds[kind].append(name)
            labels[name] = tuple(info.get("labels") or ())
        values = {k: tuple(v) for k, v in manifest.label_values.items() if v}
        return cls(tuple(kinds["counter"]), tuple(kinds["gauge"]), tuple(kinds["histogram_bucket"]),
                   labels, values)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def selector(draw: st.DrawFn, u: Universe, metric: str) -> str:
    names = [n for n in u.labels.get(metric, ()) if n in u.label_values and n != "le"]
    matchers = []
    for name in draw(st.lists(st.sampled_from(names), max_size=2, unique=True)) if names else []:
        values = u.label_values[name]
        op = draw(st.sampled_from(("=", "!=", "=~", "!~")))
        if op in ("=~", "!~"):
            picked = draw(st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True))
            # escaped like Grafana escapes multi-value variables (already PromQL-string escaped)
            matchers.append(f'{name}{op}"{"|".join(prometheus_regex_escape(v) for v in picked)}"')
        else:
            matchers.append(f"{name}{op}{_quote(draw(st.sampled_from(values)))}")
    offset = draw(st.sampled_from(("", "", "", " offset 5m", " offset 1h")))
    return metric + ("{" + ",".join(matchers) + "}" if matchers else "") + offset


@st.composite
def _grouping(draw: st.DrawFn, u: Universe, metric: str) -> str:
    names = [n for n in u.labels.get(metric, ()) if n != "le"]
    if not names:
        return ""
    picked = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
    return f" {draw(st.sampled_from(('by', 'without')))} ({', '.join(picked)})"


@st.composite
def vector_expr(draw: st.DrawFn, u: Universe) -> tuple[str, str]:
    """(expression, the metric it reads) for a leaf-level instant vector."""
    choices = []
    if u.counters:
        choices.append("counter")
    if u.gauges:
        choices.append("gauge")
    kind = draw(st.sampled_from(choices))
    if kind == "counter":
        metric = draw(st.sampled_from(u.counters))
        fn = draw(st.sampled_from(("rate", "increase", "irate")))
        sel = draw(selector(u, metric))
        rng = draw(st.sampled_from(RANGES))
        # the offset modifier follows the range: metric{...}[5m] offset 1h
        base, _, off = sel.partition(" offset ")
        return f"{fn}({base}[{rng}]{' offset ' + off if off else ''})", metric
    metric = draw(st.sampled_from(u.gauges))
    sel = draw(selector(u, metric))
    if draw(st.booleans()):
        return sel, metric
    base, _, off = sel.partition(" offset ")
    rng = draw(st.sampled_from(RANGES))
    return f"{draw(st.sampled_from(OVER_TIME))}({base}[{rng}]{' offset ' + off if off else ''})", metric


@st.composite
def promql(draw: st.DrawFn, u: Universe) -> str:
    """One generated query."""
    shape = draw(st.sampled_from(("leaf", "agg", "scalar_op", "vector_op", "histogram")
                                 if u.buckets else ("leaf", "agg", "scalar_op", "vector_op")))
    if shape == "histogram":
        metric = draw(st.sampled_from(u.buckets))
        q = draw(st.sampled_from(("0.5", "0.9", "0.99")))
        group = draw(st.lists(st.sampled_from([n for n in u.labels.get(metric, ()) if n != "le"] or ["job"]),
                              max_size=1))
        by = ", ".join(["le", *group])
        return f"histogram_quantile({q}, sum by ({by}) (rate({metric}[5m])))"
    expr, metric = draw(vector_expr(u))
    if shape == "leaf":
        return expr
    if shape == "agg":
        return f"{draw(st.sampled_from(AGGS))}{draw(_grouping(u, metric))} ({expr})"
    if shape == "scalar_op":
        op = draw(st.sampled_from(("+", "-", "*", "/", ">", "<")))
        number = draw(st.sampled_from(("0", "1", "2.5", "100")))
        return f"{expr} {op} {number}" if draw(st.booleans()) else f"{number} {op} {expr}"
    group = draw(_grouping(u, metric)).replace(" without ", " by ")
    agg = draw(st.sampled_from(("sum", "max")))
    other, _ = draw(vector_expr(u))
    right = other if draw(st.booleans()) else expr
    return f"{agg}{group} ({expr}) {draw(st.sampled_from(('/', '-', '+')))} {agg}{group} ({right})"
