"""Findings: repros of the same shape are one finding; placeholders hide names, not meaning."""

from __future__ import annotations

from fixtures.promql.compare import KIND_NAME_KEPT, KIND_TARGET_ERROR, KIND_TARGET_PARSE
from fixtures.promql.findings import group_findings, normalize, shape_of, syntax_features
from fixtures.promql.reduce import Repro

KINDS = {"http_requests_total": "counter", "x_bucket": "histogram_bucket", "mem_bytes": "gauge"}


def repro(expr: str, mode: str = "range", kind: str = "wrong values") -> Repro:
    return Repro(expr, mode, kind, "d", f"curl t {expr}", f"curl r {expr}", expr, mode)


def test_names_values_durations_become_placeholders() -> None:
    family = "rate|irate|increase(<counter>[<d>])"
    assert normalize('rate(http_requests_total{cluster=~"a|b"}[4m])', KINDS) == family
    assert normalize('increase(x_bucket{cluster="otlp-0", le="1"}[1m])', KINDS) == family
    assert normalize("mem_bytes offset 1h", KINDS) == "<gauge> offset <d>"
    assert normalize("sum by (pod) (unknown_metric)", KINDS) == "sum by (<labels>) (<metric>)"
    assert normalize('label_replace(mem_bytes, "a", "$1", "b", "(.*)")', KINDS) == \
        'label_replace(<gauge>, "<s>", "<s>", "<s>", "<s>")'


def test_numbers_operators_and_functions_keep_their_meaning() -> None:
    assert normalize("mem_bytes / 0", KINDS) != normalize("mem_bytes / 2", KINDS)
    assert normalize("mem_bytes > 0", KINDS) != normalize("mem_bytes / 0", KINDS)
    over_time = normalize("max_over_time(mem_bytes[5m])", KINDS)
    assert over_time == normalize("avg_over_time(mem_bytes[1h])", KINDS)
    assert normalize("abs(mem_bytes)", KINDS) != normalize("ceil(mem_bytes)", KINDS)


def test_shape_includes_mode_and_kind() -> None:
    a, b = repro("mem_bytes", "instant"), repro("mem_bytes", "range")
    assert shape_of(a, KINDS) == "instant <gauge> [wrong values]" != shape_of(b, KINDS)
    assert shape_of(repro("mem_bytes", "instant", "missing series"), KINDS) != shape_of(a, KINDS)


def test_grouping_counts_cases_orders_by_size_and_keeps_the_shortest_query() -> None:
    items = [
        ("d/A/range/arrow", repro('rate(http_requests_total{cluster=~"a|b"}[1m])', kind="extra series")),
        ("d/B/instant/otlp", repro('x_bucket{cluster=~"otlp-0"}', "instant", "missing series")),
        ("d/A/range/otlp", repro('rate(http_requests_total{cluster=~"otlp-0"}[1m])', kind="extra series")),
        ("d/C/range/arrow", repro('irate(x_bucket{cluster="c"}[2m])', kind="extra series")),
    ]
    findings = group_findings(items, KINDS)
    assert [(f.id, len(f.cases)) for f in findings] == [("F1", 3), ("F2", 1)]
    assert findings[0].cases == ["d/A/range/arrow", "d/A/range/otlp", "d/C/range/arrow"]
    assert findings[0].repro.expr == 'irate(x_bucket{cluster="c"}[2m])'
    doc = findings[1].to_json()
    assert doc["query"] == 'x_bucket{cluster=~"otlp-0"}' and doc["kind"] == "missing series"
    assert doc["curl_target"].startswith("curl t") and doc["cases"] == ["d/B/instant/otlp"]
    assert findings[0].title().startswith("F1: extra series (range), 3 case(s): irate(")


def test_no_failures_no_findings() -> None:
    assert group_findings([], KINDS) == []


def test_a_kept_metric_name_is_one_finding_whatever_the_function_or_mode() -> None:
    items = [(f"matrix/{f}/{m}", repro(f"{f}(mem_bytes)", m, KIND_NAME_KEPT))
             for f in ("abs", "ceil", "sqrt") for m in ("instant", "range")]
    [finding] = group_findings(items, KINDS)
    assert len(finding.cases) == 6 and finding.repro.expr == "abs(mem_bytes)"
    assert finding.variants[:2] == [f"instant abs(<gauge>) [{KIND_NAME_KEPT}]",
                                    f"range abs(<gauge>) [{KIND_NAME_KEPT}]"]
    assert len(finding.to_json()["variants"]) == 6


def test_parse_errors_group_by_the_syntax_left_in_the_minimal_repro() -> None:
    items = [("a", repro("rate(http_requests_total[1m] offset 5m)", "instant", KIND_TARGET_PARSE)),
             ("b", repro("avg_over_time(mem_bytes[1m] offset 1h)", "range", KIND_TARGET_PARSE)),
             ("c", repro("sin(mem_bytes / 1e9)", "instant", KIND_TARGET_PARSE)),
             ("d", repro("exp(mem_bytes / 1e8)", "instant", KIND_TARGET_PARSE)),
             ("e", repro("mem_bytes / 1e9", "instant", "wrong values"))]  # not a parse error: its own
    findings = group_findings(items, KINDS)
    assert [sorted(f.cases) for f in findings] == [["a", "b"], ["c", "d"], ["e"]]
    assert findings[0].shape == f"[{KIND_TARGET_PARSE}] offset"
    assert findings[1].shape == f"[{KIND_TARGET_PARSE}] a literal written like 1e9"
    assert syntax_features("x[5m:1m] @ 100") == ("@", "subquery")


def test_an_error_on_the_target_is_one_finding_in_both_modes_but_per_function() -> None:
    items = [(f"{f}/{m}", repro(f"{f}(mem_bytes[1m])", m, KIND_TARGET_ERROR))
             for f in ("delta", "deriv") for m in ("instant", "range")]
    assert [len(f.cases) for f in group_findings(items, KINDS)] == [2, 2]
