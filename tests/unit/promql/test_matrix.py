"""The feature matrix: complete by construction, valid PromQL, and wired into findings and the report.

Coverage is checked against PromQL's own vocabulary (``PROMQL_FUNCTIONS``, the aggregation and
operator tables): a function missing from the matrix and from ``NOT_COVERED`` fails here.
The run-time part uses doubles that answer from the expression text (a target that is wrong
whenever ``offset`` occurs), so a failure, its repro, its finding and the report row are pinned.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import promql_parser
import pytest

from fixtures.promql.client import PromRequest, PromResponse, decode
from fixtures.promql.compare import FAIL, PASS
from fixtures.promql.matrix import (
    AGGREGATION_OPS,
    ARITHMETIC_OPS,
    COMPARISON_OPS,
    NOT_COVERED,
    NOT_COVERED_STATUS,
    NOT_RUN_STATUS,
    PARAM_AGGREGATIONS,
    PROMQL_FUNCTIONS,
    SET_OPS,
    Bindings,
    Feature,
    MatrixCase,
    ReductionBudget,
    feature_rows,
    features,
    matrix_cases,
    matrix_summary,
    not_run_result,
    run_matrix_case,
)
from fixtures.promql.reduce import Reducer
from fixtures.promql.report import ComplianceReport
from seeder.manifest import build_manifest
from seeder.spec import build_spec

MANIFEST = build_manifest(build_spec("tiny", end_time="2026-11-01T00:00:00Z"))
PARSER_UNKNOWN = {"holt_winters"}  # Prometheus 2.42 has it; promql-parser knows only its 3.x name


def bindings() -> Bindings:
    b = Bindings.from_manifest(MANIFEST)
    return Bindings({**b.values, "gauge_mid": "268435456.0", "gauge_low": "1.0"}, {}, b.instant, b.range)


def test_every_template_renders_to_valid_promql() -> None:
    b = bindings()
    for feature in features():
        expr = b.render(feature)
        assert "{{" not in expr, feature.feature_id
        if any(f"{name}(" in expr for name in PARSER_UNKNOWN):
            continue
        try:
            promql_parser.parse(expr)
        except (ValueError, TypeError) as exc:
            pytest.fail(f"{feature.feature_id}: {expr}: {exc}")


def test_case_ids_are_unique_and_keep_their_parts() -> None:
    ids = [c.case_id for c in matrix_cases()]
    assert len(ids) == len(set(ids))
    assert all(len(i.split("/")) == 4 for i in ids), [i for i in ids if len(i.split("/")) != 4]
    assert {c.mode for c in matrix_cases()} == {"instant", "range"}


def _called_functions(text: str) -> set[str]:
    return set(re.findall(r"\b([a-z_0-9]+)\s*\(", text))


def test_every_promql_function_is_run_or_listed_as_not_covered() -> None:
    called = set().union(*(_called_functions(f.template) for f in features()))
    missing = [fn for fn in PROMQL_FUNCTIONS if fn not in called and fn not in NOT_COVERED]
    assert not missing, f"functions neither in the matrix nor in NOT_COVERED: {missing}"
    assert not set(NOT_COVERED) & called, "a function is both run and listed as not covered"


def test_every_aggregation_runs_plain_by_and_without() -> None:
    names = {f.name for f in features() if f.category == "aggregation"}
    for op in (*AGGREGATION_OPS, *PARAM_AGGREGATIONS):
        assert {op, f"{op} by", f"{op} without"} <= names, op


def test_every_operator_runs_with_every_vector_matching() -> None:
    templates = {f.name: f.template for f in features() if f.category == "binary"}
    for op, name in ARITHMETIC_OPS.items():
        for form in ("vector-scalar", "scalar-vector", "vector-vector", "on", "ignoring", "group_left",
                     "group_left(labels)", "group_right", "scalar-scalar"):
            assert f" {op} " in templates[f"{name} {form}"]
    for op, name in COMPARISON_OPS.items():
        for form in ("on", "ignoring", "group_left", "group_right", "scalar-scalar"):
            assert f" {op} bool" in templates[f"{name} bool {form}"]
        for form in ("group_left", "group_right"):  # filters too
            assert f" {op} on" in templates[f"{name} {form}"]
    for op, name in SET_OPS.items():
        assert {name, f"{name} on", f"{name} ignoring"} <= set(templates)
        assert f" {op} on (" in templates[f"{name} on"]


def test_offset_at_and_subqueries_are_covered() -> None:
    text = " ".join(f.template for f in features() if f.category == "modifier")
    for needle in (" offset 5m", " offset -5m", "@ {{at}}", "@ start()", "@ end()", "[30m:1m]", "[30m:]",
                   "[5m] offset 1h", "[5m] @ {{at}}"):
        assert needle in text, needle


def test_roles_come_from_the_manifest_and_the_range_grid_ends_at_the_instant() -> None:
    b = Bindings.from_manifest(MANIFEST)
    cluster = sorted(MANIFEST.label_values["cluster"])[0]
    assert b.values["gauge"] == f'container_memory_working_set_bytes{{cluster="{cluster}"}}'
    assert MANIFEST.metrics[b.values["counter_name"]]["type"] == "counter"
    assert b.instant.time == MANIFEST.query_time() == b.range.end
    assert (b.range.end - b.range.start) % b.range.step == 0
    assert MANIFEST.start_ms / 1000 < b.range.start and b.range.start <= float(b.values["at"]) < b.range.end
    assert "gauge_mid" in b.missing  # no reference given: thresholds cannot be read


def test_a_feature_the_data_cannot_fill_is_not_covered_and_sends_nothing() -> None:
    spec = build_spec("tiny", end_time="2026-11-01T00:00:00Z",
                      metrics=("container_memory_working_set_bytes",))
    b = Bindings.from_manifest(build_manifest(spec))
    target, reference = Fake(wrong=False), Fake(wrong=False)
    case = MatrixCase(Feature("function", "rate(counter)", "rate({{counter}}[5m])"), "instant")
    result = run_matrix_case(case, b, target, reference)  # type: ignore[arg-type]
    assert result.status == NOT_COVERED_STATUS and "no counter metric" in result.diff
    assert target.sent == reference.sent == []


class Fake:
    """``instant``/``range`` like PromClient, answering one series; ``wrong`` doubles values under offset."""

    def __init__(self, wrong: bool) -> None:
        self.wrong = wrong
        self.sent: list[str] = []
        self.base_url = "http://fake-target" if wrong else "http://fake-reference"

    def _answer(self, expr: str, times: list[float], path: str) -> PromResponse:
        self.sent.append(expr)
        value = "2" if self.wrong and "offset" in expr else "1"
        series: list[dict[str, Any]] = [{"metric": {"pod": "p"}, "values": [[t, value] for t in times]}]
        if path.endswith("query"):
            data = {"resultType": "vector", "result": [{"metric": {"pod": "p"}, "value": [times[-1], value]}]}
        else:
            data = {"resultType": "matrix", "result": series}
        req = PromRequest(self.base_url, path, (("query", expr),))
        return decode(req, 200, json.dumps({"status": "success", "data": data}))

    def instant(self, expr: str, time: float) -> PromResponse:
        return self._answer(expr, [time], "/api/v1/query")

    def range(self, expr: str, start: float, end: float, step: float) -> PromResponse:
        n = int((end - start) // step)
        return self._answer(expr, [start + i * step for i in range(n + 1)], "/api/v1/query_range")


def test_a_failing_feature_gets_a_repro_a_finding_and_its_report_row(tmp_path: Path) -> None:
    b = bindings()
    target, reference = Fake(wrong=True), Fake(wrong=False)
    red = Reducer(target, reference)  # type: ignore[arg-type]
    budget = ReductionBudget(30, 5)
    report = ComplianceReport()
    chosen = [c for c in matrix_cases() if c.feature.feature_id in ("modifier/offset", "selector/plain")]
    for case in chosen:
        report.add_matrix(run_matrix_case(case, b, target, reference, red, budget), 0.01)  # type: ignore[arg-type]
    statuses = {(r.panel, r.mode): r.status for r in report.matrix}
    assert statuses[("selector/plain", "instant")] == PASS
    assert statuses[("modifier/offset", "range")] == FAIL
    failing = [r for r in report.matrix if r.status == FAIL]
    assert all(r.repro is not None and "offset" in r.repro.expr for r in failing)
    findings = report.findings()
    assert findings and {c for f in findings for c in f.cases} == {r.case_id for r in failing}
    report.write(tmp_path)
    doc = json.loads((tmp_path / "promql.json").read_text())
    rows = {f["feature"]: f for f in doc["matrix"]["features"]}
    assert rows["modifier/offset"]["status"] == FAIL and rows["selector/plain"]["status"] == PASS
    assert rows["modifier/offset"]["modes"]["instant"]["finding"] == findings[0].id
    md = (tmp_path / "promql.md").read_text()
    assert "## PromQL feature matrix" in md
    assert re.search(r"\| modifier/offset \| .* \| fail \| fail \| F\d", md)
    assert report.matrix_line() == "promql matrix: 1/2 features pass (1 fail, 0 unsupported, " \
                                   "0 not covered by the seeded data) in 0.0s"


def test_budget_is_shared_and_spent() -> None:
    budget = ReductionBudget(total_s=0.0, per_case_s=5.0)
    assert budget.take() == 0.0
    assert ReductionBudget(total_s=60.0, per_case_s=5.0).take() == 5.0


def test_feature_status_folds_modes() -> None:
    from fixtures.promql.replay import CaseResult

    def result(feature: str, mode: str, status: str) -> CaseResult:
        return CaseResult(case_id=f"matrix/{feature}/{mode}", dashboard="matrix", panel=feature, ref_id="x",
                          mode=mode, source="arrow", status=status)

    rows = feature_rows([result("a/x", "instant", PASS), result("a/x", "range", FAIL),
                         result("a/y", "instant", "unsupported"), result("a/y", "range", "unsupported"),
                         result("a/z", "instant", PASS), result("a/z", "range", PASS)], {})
    assert [r.status for r in rows] == [FAIL, "unsupported", PASS]
    assert matrix_summary(rows).startswith("promql matrix: 1/3 features pass (1 fail, 1 unsupported")
    [case] = [c for c in matrix_cases() if c.mode == "range"][:1]
    down = feature_rows([result(case.feature.feature_id, "instant", PASS),
                         not_run_result(case, "target died mid-suite: killed by SIGSEGV")], {})
    assert [r.status for r in down] == [NOT_RUN_STATUS]  # a feature half run is not a pass
    assert down[0].modes["range"]["diff"] == "not run: target died mid-suite: killed by SIGSEGV"
    assert "(0 fail, 1 not run (target down), 0 unsupported" in matrix_summary(down)
