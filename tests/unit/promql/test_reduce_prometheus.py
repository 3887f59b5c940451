"""The reducer and the findings against two real Prometheus processes, one deliberately wrong.

Both hold the same small dataset, except that on the wrong one the gauge ``g`` of pod ``p2`` is
scaled by 1.5 and the counter series ``c_total{pod="p3"}`` is missing. Failing queries must
reduce to the bare metric (the smallest query showing each defect), passing ones must not
produce findings, and the findings must group by shape.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from fixtures.promql.client import PromClient
from fixtures.promql.compare import FAIL, KIND_MISSING, KIND_VALUES, PASS, compare
from fixtures.promql.findings import group_findings
from fixtures.promql.reduce import QueryTimes, Reducer

END = 1_700_000_000  # aligned to the 30 s interval; a fixed past window, never "now"
STEP = 30
POINTS = 240  # two hours
PODS = ("p1", "p2", "p3")
KINDS = {"g": "gauge", "c_total": "counter"}


def openmetrics(wrong: bool) -> str:
    lines = ["# TYPE g gauge", "# TYPE c counter"]
    for i in range(POINTS):
        t = END - (POINTS - 1 - i) * STEP
        for n, pod in enumerate(PODS):
            v = 10 + n + (i % 7)
            if wrong and pod == "p2":
                v *= 1.5
            lines.append(f'g{{job="x",pod="{pod}"}} {v} {t}')
    for i in range(POINTS):
        t = END - (POINTS - 1 - i) * STEP
        for n, pod in enumerate(PODS):
            if not (wrong and pod == "p3"):
                lines.append(f'c_total{{job="x",pod="{pod}"}} {i * (n + 1)} {t}')
    return "\n".join(lines) + "\n# EOF\n"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PromClient, PromClient]]:
    if not (shutil.which("prometheus") and shutil.which("promtool")):
        pytest.skip("prometheus/promtool not on PATH (apt install prometheus)")
    from fixtures.stacks.prometheus_proc import PrometheusProcess, backfill_openmetrics

    work = tmp_path_factory.mktemp("reduce-pair")
    dirs = []
    for name, wrong in (("reference", False), ("wrong", True)):
        om = work / f"{name}.om"
        om.write_text(openmetrics(wrong))
        backfill_openmetrics([om], work / name)
        dirs.append(work / name)
    with PrometheusProcess(data_dir=dirs[0]) as ref, PrometheusProcess(data_dir=dirs[1]) as bad:
        yield PromClient(bad.url), PromClient(ref.url)


RANGE = QueryTimes.range_(END - 3600, END, 60)
CASES = {  # id -> (expression, times, expected minimal repro, kind); None: must pass
    "ratio": ('sum by (job) (g{job="x", pod=~"p1|p2"}) / 2', RANGE, ("g", "instant", KIND_VALUES)),
    "max": ('max(g{pod="p2"}) + 1', QueryTimes.instant(END), ("g", "instant", KIND_VALUES)),
    "rate": ('rate(c_total{job="x"}[5m]) * 60', QueryTimes.instant(END),
             ("c_total", "instant", KIND_MISSING)),
    # an instant query has no footprint, so its kind must hold: count() never becomes "missing"
    "count": ('count(rate(c_total{job="x"}[5m]))', QueryTimes.instant(END),
              ("count(c_total)", "instant", KIND_VALUES)),
    "pass": ('sum(g{pod="p1"})', RANGE, None),
}


def test_wrong_prometheus_reduces_to_the_bare_metric_and_groups_into_two_findings(
        pair: tuple[PromClient, PromClient]) -> None:
    target, reference = pair
    reducer = Reducer(target, reference, min_range_s=60)
    items = []
    for case_id, (expr, times, expected) in CASES.items():
        outcome = compare(times.send(target, expr), times.send(reference, expr), expr)
        if expected is None:
            assert outcome.status == PASS, outcome.diff
            continue
        assert outcome.status == FAIL, f"{case_id}: the wrong Prometheus was not noticed"
        repro = reducer.reduce(expr, times)
        assert (repro.expr, repro.mode, repro.kind) == expected, (case_id, repro.steps, repro.diff)
        assert repro.queries <= 40 and not repro.note
        # the repro is real: sent alone, it still differs
        again = QueryTimes.instant(END)
        alone = compare(again.send(target, repro.expr), again.send(reference, repro.expr), repro.expr)
        assert alone.status == FAIL
        items.append((case_id, repro))
    findings = group_findings(items, KINDS)
    assert [(f.repro.expr, f.repro.kind, f.cases) for f in findings] == [
        ("g", KIND_VALUES, ["ratio", "max"]), ("c_total", KIND_MISSING, ["rate"]),
        ("count(c_total)", KIND_VALUES, ["count"])]
