"""The "K8s Seeded Cluster (7d)" dashboard: parses after Grafana's expansion, and fits the seeded data.

Why: a panel whose metric or label the seeder never writes is empty on both the target and the
reference, which a differential check cannot tell from success. Here every selector, matcher,
grouping label and variable query is checked against the seeder's catalog (``seeder.catalog``)
and, for label values, against the manifest the seeder computes for a tiny spec.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import promql_parser as pp
import pytest

from fixtures.checks.manifests import MANIFESTS_DIR
from fixtures.promql.dashboards import Dashboard, load_dashboards
from fixtures.promql.variables import VariableValue, interpolate
from seeder import catalog
from seeder.manifest import build_manifest
from seeder.spec import build_spec

CONFIGMAP = MANIFESTS_DIR / "grafana" / "dashboard-k8s-seeded.yaml"
VARIABLES = ("region", "zone", "cluster", "namespace", "service", "deployment", "pod", "container", "node")
NODE_VARIABLES = ("region", "zone", "cluster", "node")
MANIFEST = build_manifest(build_spec("tiny", end_time="2026-11-01T00:00:00Z"))


@pytest.fixture(scope="module")
def dash() -> Dashboard:
    dashboards = load_dashboards(CONFIGMAP)
    assert len(dashboards) == 1
    return dashboards[0]


def all_targets(dash: Dashboard) -> Iterator[tuple[str, str]]:
    for panel in dash.panels:
        for target in panel.targets:
            yield f"{panel.title}/{target.ref_id}", target.expr


def values(name: str, dash: Dashboard, *, all_selected: bool) -> dict[str, VariableValue]:
    """Every variable set to All (Grafana joins all options) or to its first option."""
    out = {}
    for var in dash.variables:
        options = tuple(MANIFEST.label_values[var.label or var.name])
        chosen = options if all_selected else options[:1]
        out[var.name] = VariableValue(
            var.name,
            chosen,
            multi=var.multi,
            include_all=var.include_all,
            is_all=all_selected,
            all_value=var.all_value,
            options=options,
        )
    return out


def children(node: Any) -> list[Any]:
    """The direct sub-expressions of a promql_parser AST node."""
    if isinstance(node, pp.BinaryExpr):
        found = [node.lhs, node.rhs]
    elif isinstance(node, pp.AggregateExpr):
        found = [node.expr, node.param]
    elif isinstance(node, pp.Call):
        found = list(node.args)
    elif isinstance(node, pp.SubqueryExpr | pp.ParenExpr | pp.UnaryExpr):
        found = [node.expr]
    elif isinstance(node, pp.MatrixSelector):
        found = [node.vector_selector]
    else:
        found = []
    return [c for c in found if c is not None]


def walk(node: Any) -> Iterator[Any]:
    """Every node of a promql_parser AST."""
    yield node
    for child in children(node):
        yield from walk(child)


def selectors(node: Any) -> list[pp.VectorSelector]:
    return [n for n in walk(node) if isinstance(n, pp.VectorSelector)]


def test_identity_and_time_range(dash: Dashboard) -> None:
    assert dash.title == "K8s Seeded Cluster (7d)"
    assert dash.uid == "k8s-seeded-cluster"
    assert dash.raw["time"] == {"from": "now-7d", "to": "now"}
    assert dash.name == "k8s-seeded"


def test_variables_are_multi_all_label_values_over_seeded_labels(dash: Dashboard) -> None:
    assert tuple(v.name for v in dash.variables) == VARIABLES
    defined: list[str] = []
    for var in dash.variables:
        assert var.type == "query" and var.multi and var.include_all, var.name
        assert var.all_value is None, f"{var.name}: allValue must be unset (All = every option as a regex)"
        assert var.label == var.name and var.metric, (
            f"{var.name}: expected label_values(<metric>, {var.name})"
        )
        metric = selectors(pp.parse(interpolate(var.metric, values(var.name, dash, all_selected=True))))[0]
        assert var.label in catalog.METRICS[metric.name].labels, (
            f"{var.name}: {metric.name} has no such label"
        )
        used = set(re.findall(r"\$(\w+)", var.metric))
        assert used <= set(defined), f"{var.name} refers to variables defined after it: {used - set(defined)}"
        defined.append(var.name)
        assert MANIFEST.label_values.get(var.label), f"the seeder writes no values for {var.label}"


@pytest.mark.parametrize("all_selected", [True, False], ids=["all", "single"])
def test_every_expression_parses_after_expansion(dash: Dashboard, all_selected: bool) -> None:
    failures = []
    for where, expr in all_targets(dash):
        expanded = interpolate(expr, values("", dash, all_selected=all_selected))
        assert "$" not in expanded.replace('"$1"', ""), f"{where}: unexpanded variable in {expanded}"
        try:
            pp.parse(expanded)
        except ValueError as exc:
            failures.append(f"{where}: {exc}: {expanded}")
    assert not failures, "\n".join(failures)


def _check_selector(where: str, sel: pp.VectorSelector) -> list[str]:
    metric = catalog.METRICS.get(sel.name)
    if metric is None:
        return [f"{where}: metric {sel.name} is not in the seeder catalog"]
    problems = []
    matchers = {m.name: m for m in sel.matchers.matchers}
    wanted = NODE_VARIABLES if metric.scope == "node" else VARIABLES
    for var in wanted:
        m = matchers.get(var)
        if m is None or m.op != pp.MatchOp.Re:
            problems.append(f"{where}: {sel.name} does not filter by ${var}")
    for name, m in matchers.items():
        if name not in metric.labels:
            problems.append(f"{where}: {sel.name} has no label {name}")
        elif name in metric.extra_names:  # a literal like mode="idle", le="0.25", code=~"5.."
            idx = metric.extra_names.index(name)
            seeded = {v[idx] for v in metric.extra_values}
            hit = {v for v in seeded if (re.fullmatch(m.value, v) if m.op == pp.MatchOp.Re else v == m.value)}
            if not hit:
                problems.append(
                    f"{where}: {sel.name}{{{name}{m.op}{m.value!r}}} matches no seeded value {seeded}"
                )
    return problems


def test_every_metric_label_and_literal_is_seeded(dash: Dashboard) -> None:
    problems = []
    for where, expr in all_targets(dash):
        ast = pp.parse(interpolate(expr, values("", dash, all_selected=True)))
        for sel in selectors(ast):
            problems += _check_selector(where, sel)
        for node in walk(ast):
            if isinstance(node, pp.AggregateExpr) and node.modifier is not None:
                have = set.intersection(
                    *(
                        set(catalog.METRICS[s.name].labels)
                        for s in selectors(node.expr)
                        if s.name in catalog.METRICS
                    )
                )
                missing = set(node.modifier.labels) - have
                if missing:
                    problems.append(f"{where}: grouping by {sorted(missing)}, which not every series has")
    assert not problems, "\n".join(problems)


def test_dashboard_covers_the_promql_the_issue_asks_for(dash: Dashboard) -> None:
    functions, aggregations, features = set(), set(), set()
    for _where, expr in all_targets(dash):
        for node in walk(pp.parse(interpolate(expr, values("", dash, all_selected=True)))):
            if isinstance(node, pp.Call):
                functions.add(node.func.name)
            elif isinstance(node, pp.AggregateExpr):
                aggregations.add(str(node.op))
            elif isinstance(node, pp.SubqueryExpr):
                features.add("subquery")
            elif isinstance(node, pp.VectorSelector) and node.offset:
                features.add("offset")
            elif isinstance(node, pp.BinaryExpr) and node.modifier is not None and node.modifier.return_bool:
                features.add("bool")
    assert {
        "rate",
        "irate",
        "increase",
        "histogram_quantile",
        "avg_over_time",
        "max_over_time",
        "label_replace",
    } <= functions
    assert {"sum", "topk", "quantile", "count", "avg", "max"} <= aggregations
    assert {"subquery", "offset", "bool"} <= features
    titles = {p.title for p in dash.panels}
    for required in (
        "CPU by pod",
        "Memory by pod",
        "Node CPU busy %",
        "Node memory used %",
        "HTTP p99 latency",
        "HTTP requests per second by service",
        "Pod count by phase",
        "Container restarts (1h)",
        "Network receive / transmit",
        "Filesystem reads / writes",
    ):
        assert required in titles


def test_panels_use_the_provisioned_mytsdb_datasource(dash: Dashboard) -> None:
    def uids(panels: list[dict[str, Any]]) -> Iterator[str]:
        for p in panels:
            yield from (t["datasource"]["uid"] for t in p.get("targets") or [])
            yield from uids(p.get("panels") or [])

    assert set(uids(dash.raw["panels"])) == {"mytsdb"}
    assert len({p.id for p in dash.panels}) == len(dash.panels), "panel ids must be unique"


P = ", ".join(f'{v}=~"$' + v + '"' for v in VARIABLES)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (f"rate(container_cpu_usage_secs_total{{{P}}}[5m])", "not in the seeder catalog"),
        (
            'node_memory_MemTotal_bytes{region=~"$region", zone=~"$zone", cluster=~"$cluster"}',
            "does not filter by $node",
        ),
        (f'http_request_duration_seconds_bucket{{{P}, le="0.3"}}', "matches no seeded value"),
        (f'http_requests_total{{{P}, code=~"6.."}}', "matches no seeded value"),
        (f'container_memory_working_set_bytes{{{P}, phase="Running"}}', "has no label phase"),
    ],
    ids=["unknown-metric", "missing-variable", "unseeded-le", "unseeded-code", "foreign-label"],
)
def test_selector_check_catches_mistakes(dash: Dashboard, expr: str, expected: str) -> None:
    ast = pp.parse(interpolate(expr, values("", dash, all_selected=True)))
    problems = [p for sel in selectors(ast) for p in _check_selector("crafted", sel)]
    assert any(expected in p for p in problems), problems


LOOKBACK_DELTA = timedelta(minutes=5)


def lookback(node: Any) -> timedelta:
    """How far before the evaluation time an expression reads data (ranges, offsets, subqueries)."""
    if isinstance(node, pp.VectorSelector):
        return (node.offset or timedelta()) + LOOKBACK_DELTA
    if isinstance(node, pp.MatrixSelector):
        return node.range + (node.vector_selector.offset or timedelta())
    if isinstance(node, pp.SubqueryExpr):
        return node.range + (node.offset or timedelta()) + lookback(node.expr)
    return max((lookback(c) for c in children(node)), default=timedelta())


def test_every_query_fits_the_tiny_window(dash: Dashboard) -> None:
    """CI seeds `tiny` (a few hours): an offset or range reaching before its start is an empty panel."""
    available = timedelta(seconds=MANIFEST.query_time() - MANIFEST.start_ms / 1000)
    too_far = []
    for where, expr in all_targets(dash):
        need = lookback(pp.parse(interpolate(expr, values("", dash, all_selected=True))))
        if need > available:
            too_far.append(
                f"{where}: reads {need} back, the tiny window has {available} before the query time"
            )
    assert not too_far, "\n".join(too_far)
    assert lookback(pp.parse("rate(x[5m] offset 1d)")) > available, "the check must catch a 1d offset"


@pytest.mark.parametrize("preset", ["tiny", "small", "seed-20m"])
def test_every_query_fits_the_otlp_slice(dash: Dashboard, preset: str) -> None:
    """The OTLP cases query the OTLP slice at the same time: it must reach as far back as they read."""
    manifest = build_manifest(build_spec(preset, end_time="2026-11-01T00:00:00Z"))
    assert manifest.otlp is not None
    available = timedelta(seconds=manifest.query_time() - manifest.otlp["start_ms"] / 1000)
    needs = {where: lookback(pp.parse(interpolate(expr, values("", dash, all_selected=True))))
             for where, expr in all_targets(dash)}
    too_far = [f"{where}: reads {need} back, the {preset} OTLP slice has {available} before the query time"
               for where, need in needs.items() if need > available]
    assert not too_far, "\n".join(too_far)
