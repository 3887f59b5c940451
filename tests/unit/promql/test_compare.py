"""The comparison engine: tolerances, NaN/Inf, ordering, topk ties, matrices, errors, empty results."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fixtures.promql.client import PromRequest, decode
from fixtures.promql.compare import (
    FAIL,
    KIND_LABELS,
    KIND_NAME_KEPT,
    PASS,
    UNSUPPORTED,
    compare,
    difference_kind,
    ordering,
    values_equal,
)

REQ = PromRequest("http://x", "/api/v1/query", (("query", "q"),))


def vec(*series: tuple[dict[str, str], str], t: float = 100.0):
    body = {"status": "success", "data": {"resultType": "vector",
                                          "result": [{"metric": m, "value": [t, v]} for m, v in series]}}
    return decode(REQ, 200, json.dumps(body))


def mat(*series: tuple[dict[str, str], list[tuple[float, str]]]):
    body = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": m, "values": [[t, v] for t, v in pts]} for m, pts in series]}}
    return decode(REQ, 200, json.dumps(body))


def err(http: int = 200, body: Any = None):
    body = body or {"status": "error", "errorType": "execution", "error": "boom"}
    return decode(REQ, http, json.dumps(body))


A, B, C = {"pod": "a"}, {"pod": "b"}, {"pod": "c"}


@pytest.mark.parametrize(("a", "b", "equal"), [
    (1.0, 1.0 + 9e-7, True), (1.0, 1.0 + 2e-6, False), (1e12, 1e12 * (1 + 5e-10), True),
    (1e12, 1e12 * (1 + 1e-8), False), (float("nan"), float("nan"), True), (float("nan"), 0.0, False),
    (float("inf"), float("inf"), True), (float("inf"), float("-inf"), False), (float("inf"), 1e308, False),
])
def test_values_equal(a: float, b: float, equal: bool) -> None:
    assert values_equal(a, b) is equal


def test_six_decimal_target_matches() -> None:
    assert compare(vec((A, "0.003333")), vec((A, "0.0033333333333")), "x").status == PASS


def test_nan_spellings_match() -> None:
    assert compare(vec((A, "nan")), vec((A, "NaN")), "x").status == PASS
    assert compare(vec((A, "inf")), vec((A, "+Inf")), "x").status == PASS


def test_order_ignored_without_sort() -> None:
    assert compare(vec((A, "1"), (B, "2")), vec((B, "2"), (A, "1")), "x").status == PASS


def test_sort_desc_order_checked() -> None:
    out = compare(vec((A, "1"), (B, "2")), vec((B, "2"), (A, "1")), "sort_desc(x)")
    assert out.status == FAIL and "sorted order differs at position 0" in out.diff
    assert ordering("(sort(sum(x)))") == "sorted" and ordering("sum(sort(x))") is None


def test_topk_ties_may_pick_different_series() -> None:
    out = compare(vec((A, "5"), (B, "3")), vec((A, "5"), (C, "3")), "topk(2, x)")
    assert out.status == PASS
    out = compare(vec((A, "5"), (B, "3")), vec((A, "5"), (C, "4")), "topk(2, x)")
    assert out.status == FAIL


def test_missing_and_extra_series_are_named() -> None:
    out = compare(vec((A, "1")), vec((A, "1"), (B, "2")), "x")
    assert out.status == FAIL and 'missing on the target, first: {pod="b"}' in out.diff
    out = compare(vec((A, "1"), (B, "2")), vec((A, "1")), "x")
    assert out.status == FAIL and "extra series on the target" in out.diff


def test_matrix_point_by_point() -> None:
    ref = mat((A, [(0, "1"), (60, "2"), (120, "3")]))
    assert compare(mat((A, [(0, "1"), (60, "2"), (120, "3")])), ref, "x").status == PASS
    out = compare(mat((A, [(0, "1"), (60, "2.5"), (120, "3")])), ref, "x")
    assert out.status == FAIL and "first difference at t=60: target=2.5 reference=2.0 (1 of 3" in out.diff
    assert out.target_points and out.reference_points  # what the report plots
    out = compare(mat((A, [(0, "1"), (120, "3")])), ref, "x")
    assert out.status == FAIL and "target=missing" in out.diff


def test_error_on_one_side_is_a_mismatch() -> None:
    assert compare(err(), vec((A, "1")), "x").status == FAIL
    exec_error = err(422, {"status": "error", "errorType": "execution", "error": "e"})
    assert compare(vec((A, "1")), exec_error, "x").status == FAIL


def test_error_on_both_sides_is_unsupported() -> None:
    parse_error = err(400, {"status": "error", "errorType": "bad_data", "error": "parse"})
    assert compare(err(), parse_error, "x").status == UNSUPPORTED


def test_both_empty_is_a_test_data_failure() -> None:
    out = compare(vec(), vec(), "x")
    assert out.status == FAIL and "both empty" in out.diff


def test_result_type_mismatch() -> None:
    body = {"status": "success", "data": {"resultType": "scalar", "result": [1, "1"]}}
    scalar = decode(REQ, 200, json.dumps(body))
    assert compare(scalar, vec((A, "1")), "x").status == FAIL
    assert compare(scalar, scalar, "1").status == PASS


def raw(rtype: str, result: Any):
    body = {"status": "success", "data": {"resultType": rtype, "result": result}}
    return decode(REQ, 200, json.dumps(body))


def test_string_results_compare_the_text() -> None:
    assert compare(raw("string", [100, "a"]), raw("string", [100, "a"]), '"a"').status == PASS
    out = compare(raw("string", [100, "a"]), raw("string", [100, "b"]), '"b"')
    assert out.status == FAIL and "'a'" in out.diff and "'b'" in out.diff


def test_scalar_values_compare_with_tolerance_and_nan() -> None:
    assert compare(raw("scalar", [100, "nan"]), raw("scalar", [100, "NaN"]), "NaN").status == PASS
    assert compare(raw("scalar", [100, "-inf"]), raw("scalar", [100, "-Inf"]), "-Inf").status == PASS
    assert compare(raw("scalar", [100, "2"]), raw("scalar", [100, "2.5"]), "time()").status == FAIL


def test_infinities_in_vectors_need_the_same_sign() -> None:
    assert compare(vec((A, "-inf")), vec((A, "-Inf")), "x").status == PASS
    out = compare(vec((A, "inf")), vec((A, "-Inf")), "x")
    assert out.status == FAIL and "target=inf reference=-inf" in out.diff


def test_duplicate_label_sets_are_a_finding() -> None:
    out = compare(vec((A, "1"), (A, "1")), vec((A, "1")), "x")
    assert out.status == FAIL and "target returned 1 label set(s) more than once" in out.diff
    out = compare(mat((A, [(0, "1")]), (A, [(60, "2")])), mat((A, [(0, "1"), (60, "2")])), "topk(1, x)")
    assert out.status == FAIL and "more than once" in out.diff  # also on the topk path


def test_sort_order_ties_may_swap() -> None:
    out = compare(vec((A, "1"), (B, "1"), (C, "3")), vec((B, "1"), (A, "1"), (C, "3")), "sort(x)")
    assert out.status == PASS
    out = compare(vec((C, "3"), (A, "1")), vec((A, "1"), (C, "3")), "sort(x)")
    assert out.status == FAIL and "position 0" in out.diff


def test_bottomk_ties_and_topk_detection_by_syntax() -> None:
    assert compare(vec((A, "1"), (B, "3")), vec((A, "1"), (C, "3")), "bottomk(2, x)").status == PASS
    # a metric *named* like topk is not a topk query: label sets must match
    assert ordering("mytopk_total") is None and ordering("sum(topk(1, x))") == "topk"
    assert compare(vec((A, "1"), (B, "3")), vec((A, "1"), (C, "3")), "mytopk_total").status == FAIL


def test_range_topk_ties_per_step() -> None:
    ref = mat((A, [(0, "5"), (60, "5")]), (B, [(0, "3")]), (C, [(60, "3")]))
    tgt = mat((A, [(0, "5"), (60, "5")]), (C, [(0, "3")]), (B, [(60, "3")]))
    assert compare(tgt, ref, "topk(2, x)").status == PASS
    tgt = mat((A, [(0, "5"), (60, "5")]), (C, [(0, "3")]), (B, [(60, "4")]))
    out = compare(tgt, ref, "topk(2, x)")
    assert out.status == FAIL and out.diff.startswith("at t=60")


def test_missing_point_at_the_end_and_extra_point() -> None:
    ref = mat((A, [(0, "1"), (60, "2")]))
    out = compare(mat((A, [(0, "1"), (60, "2"), (120, "3")])), ref, "x")
    assert out.status == FAIL and "t=120: target=3.0 reference=missing" in out.diff


def test_malformed_success_body_is_a_mismatch_not_a_crash() -> None:
    broken = raw("vector", [{"metric": {}, "value": "oops"}])
    out = compare(broken, vec((A, "1")), "x")
    assert out.status == FAIL and "malformed vector on the target" in out.diff


def test_http_500_without_status_against_success_is_a_mismatch() -> None:
    out = compare(err(500, {"error": "std::bad_alloc"}), vec((A, "1")), "x")
    assert out.status == FAIL and "HTTP 500" in out.diff and "bad_alloc" in out.diff


def test_a_kept_metric_name_is_its_own_kind_of_label_difference() -> None:
    named = [({**A, "__name__": "x"}, "1"), ({**B, "__name__": "x"}, "2")]
    target, reference = vec(*named), vec((A, "1"), (B, "2"))
    assert difference_kind(target, reference, compare(target, reference, "abs(x)")) == KIND_NAME_KEPT
    other = vec(({**A, "job": "j"}, "1"), ({**B, "job": "j"}, "2"))
    assert difference_kind(other, reference, compare(other, reference, "abs(x)")) == KIND_LABELS
    half = vec(named[0], ({**B, "job": "j"}, "2"))  # one renamed, one relabelled: not just the name
    assert difference_kind(half, reference, compare(half, reference, "abs(x)")) == KIND_LABELS
