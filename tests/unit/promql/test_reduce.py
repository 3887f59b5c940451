"""The reducer against recorded answers: what it keeps, what it refuses, what it costs.

A fake server answers from the expression text: the reference always returns one series; the
target is wrong in ways keyed on the text (``bad`` differs at the last two steps, ``rate(``
adds a series at every step of a range query, ``offset`` is a parse error). That pins the candidate order, the
family and footprint rules, the instant switch, the query budget and the cache.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from fixtures.promql.client import PromRequest, PromResponse, decode
from fixtures.promql.compare import KIND_EXTRA, KIND_TARGET_PARSE, KIND_VALUES
from fixtures.promql.exprtree import from_text, render
from fixtures.promql.reduce import QueryTimes, Reducer, candidates

STEPS = [float(t) for t in range(0, 100, 10)]  # range 0..90 step 10; instant at 90
RANGE = QueryTimes.range_(0, 90, 10)


class Fake:
    """``instant``/``range`` like PromClient; ``wrong`` makes it the deliberately wrong side."""

    def __init__(self, wrong: bool) -> None:
        self.wrong = wrong
        self.sent: list[tuple[str, str]] = []
        self.base_url = "http://fake-target" if wrong else "http://fake-reference"

    def _answer(self, expr: str, times: list[float], path: str,
                params: list[tuple[str, str]]) -> PromResponse:
        self.sent.append((path, expr))
        req = PromRequest(self.base_url, path, tuple(params))
        if self.wrong and ("offset" in expr or "e9" in expr):
            return decode(req, 200, json.dumps({"status": "error", "errorType": "execution",
                                                "error": "Failed to parse query"}))
        series: list[dict[str, Any]] = [{"metric": {"a": "1"}, "values": [[t, "1"] for t in times]}]
        if self.wrong and "bad" in expr:
            series[0]["values"] = [[t, "2" if t >= 80 else "1"] for t in times]
        elif self.wrong and "rate(" in expr and path.endswith("range"):  # a range-only defect
            series.append({"metric": {"a": "2"}, "values": [[t, "5"] for t in times]})
        if path.endswith("query"):
            data = {"resultType": "vector", "result": [{"metric": s["metric"], "value": s["values"][-1]}
                                                        for s in series]}
        else:
            data = {"resultType": "matrix", "result": series}
        return decode(req, 200, json.dumps({"status": "success", "data": data}))

    def instant(self, expr: str, time: float) -> PromResponse:
        return self._answer(expr, [time], "/api/v1/query", [("query", expr), ("time", str(time))])

    def range(self, expr: str, start: float, end: float, step: float) -> PromResponse:
        times = [t for t in STEPS if start <= t <= end]
        return self._answer(expr, times, "/api/v1/query_range", [("query", expr), ("start", str(start))])


def reducer(**kwargs: Any) -> tuple[Reducer, Fake, Fake]:
    target, reference = Fake(True), Fake(False)
    return Reducer(target, reference, **kwargs), target, reference  # type: ignore[arg-type]


def test_a_wrong_metric_reduces_to_its_bare_selector_as_an_instant_query() -> None:
    red, _, _ = reducer()
    repro = red.reduce('sum by (job) (rate(bad{job="x", pod="p"}[5m])) * 2', RANGE)
    assert (repro.expr, repro.mode, repro.kind) == ("bad", "instant", KIND_VALUES)
    assert "instant at the range end" in repro.steps and repro.queries <= 40
    assert repro.curl_target == "curl -s http://fake-target/api/v1/query --data-urlencode query=bad " \
                                "--data-urlencode time=90"


def test_footprint_keeps_the_defect_that_failed() -> None:
    # rate(good) differs at every step (another defect); the case differed only at t=80,90 (bad)
    red, _, _ = reducer()
    repro = red.reduce("max(rate(good[5m]) + bad)", RANGE)
    assert repro.expr == "bad", repro.steps


def test_without_a_footprint_match_the_extra_series_defect_is_its_own_repro() -> None:
    red, _, _ = reducer()
    repro = red.reduce('sum(rate(good{job="x"}[5m]))', RANGE)
    assert (repro.expr, repro.mode, repro.kind) == ("rate(good[1m])", "range", KIND_EXTRA)
    assert repro.steps == ["unwrap sum", "shorten range to 1m", "drop all label matchers"]


def test_an_error_stays_an_error() -> None:
    red, _, _ = reducer()
    repro = red.reduce('sum(rate(bad{job="x"}[5m] offset 1h))', QueryTimes.instant(90))
    assert (repro.expr, repro.kind) == ("bad offset 1h", KIND_TARGET_PARSE)  # dropping offset would pass


def test_a_literal_the_target_cannot_parse_stays_as_written() -> None:
    red, target, _ = reducer()
    repro = red.reduce('sin(good{job="x"} / 1e9)', QueryTimes.instant(90))
    assert (repro.expr, repro.kind) == ("good / 1e9", KIND_TARGET_PARSE), repro.steps
    assert [e for _, e in target.sent if "1000000000" in e], "writing the literal plainly was never tried"


def test_the_query_budget_is_respected_and_named() -> None:
    red, target, _ = reducer(max_queries=6)
    repro = red.reduce('max(rate(good{job="x", pod="p", c="d"}[10m]) + bad{job="x", pod="p"})', RANGE)
    assert len(target.sent) * 2 <= 6 and repro.queries <= 6
    assert "query budget of 6 spent" in repro.note


def test_answers_are_cached_across_reductions() -> None:
    red, target, _ = reducer()
    first = red.reduce('sum(bad{job="x"})', QueryTimes.instant(90))
    before = len(target.sent)
    again = red.reduce('sum(bad{job="x"})', QueryTimes.instant(90))
    assert (again.expr, len(target.sent)) == (first.expr, before) and again.queries == 0


def test_a_query_that_no_longer_differs_is_reported_not_reduced() -> None:
    red, _, _ = reducer()
    repro = red.reduce("good", QueryTimes.instant(90))
    assert repro.expr == "good" and "no longer differs" in repro.note


def test_candidates_are_deterministic_and_ordered_most_aggressive_first() -> None:
    tree = from_text('sum by (pod) (rate(x{job="a", pod="b"}[10m]))')
    got = [(why, render(c)) for why, c in candidates(tree, "range", min_range_s=60, keep_labels=("job",))]
    assert got == [(w, render(c)) for w, c in candidates(tree, "range", 60, ("job",))]
    assert got[0] == ("unwrap sum", 'rate(x{job="a", pod="b"}[10m])')
    whys = [w for w, _ in got]
    assert whys.index("drop by of sum") < whys.index("shorten range to 1m") \
        < whys.index("drop all label matchers")
    assert ("drop all label matchers", 'sum by (pod) (rate(x{job="a"}[10m]))') in got  # job kept
    assert not any("matcher job" in w for w in whys)


@pytest.mark.parametrize("mode,first", [("range", "x"), ("instant", "x[5m]")])
def test_a_range_vector_is_a_whole_query_only_in_instant_mode(mode: str, first: str) -> None:
    texts = [render(c) for _, c in candidates(from_text("rate(x[5m])"), mode)]
    assert texts[0] == first and ("x[5m]" in texts) is (mode == "instant")
