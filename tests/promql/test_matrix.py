"""The PromQL feature matrix: each function, aggregation, operator and modifier vs the reference.

Ids read ``matrix/<category>/<feature>/<instant|range>``. Templates come from
``fixtures.promql.matrix`` and are filled from the seed manifest at run time; both servers get the
same query at the same fixed times, and the answers are compared like every other case (both
empty is a test-data failure). A failure is reduced to a minimal repro while the session's
reduction budget lasts and lands in the report's findings; the report's matrix section shows
feature -> pass / fail / unsupported with the finding of each failure. A feature the seeded data
cannot exercise is skipped as "not covered by the seeded data" and listed in the report.
"""

from __future__ import annotations

import time

import pytest

from fixtures.promql.client import PromClient
from fixtures.promql.compare import PASS, UNSUPPORTED
from fixtures.promql.liveness import TargetGuard
from fixtures.promql.matrix import (
    NOT_COVERED_STATUS,
    Bindings,
    MatrixCase,
    ReductionBudget,
    matrix_cases,
    not_run_result,
    run_matrix_case,
)
from fixtures.promql.reduce import Reducer
from fixtures.promql.replay import explain
from fixtures.promql.report import ComplianceReport
from fixtures.promql_plugin import fail_fast_if_down
from fixtures.stacks.base import Endpoints

# Reductions of matrix failures, all together; later failures keep their (already small) query.
MATRIX_REDUCE_BUDGET_S = 40.0
MATRIX_REDUCE_PER_CASE_S = 4.0
CASES = matrix_cases()


@pytest.fixture(scope="session")
def matrix_bindings(stack_endpoints: Endpoints, reference_client: PromClient) -> Bindings:
    """Roles of the templates filled from the manifest (thresholds read from the reference)."""
    return Bindings.from_manifest(stack_endpoints.manifest, reference_client)


@pytest.fixture(scope="session")
def matrix_budget() -> ReductionBudget:
    return ReductionBudget(MATRIX_REDUCE_BUDGET_S, MATRIX_REDUCE_PER_CASE_S)


@pytest.mark.parametrize("matrix_case", CASES, ids=[c.case_id for c in CASES])
def test_feature(
    matrix_case: MatrixCase,
    matrix_bindings: Bindings,
    target_client: PromClient,
    reference_client: PromClient,
    promql_report: ComplianceReport,
    promql_reducer: Reducer,
    matrix_budget: ReductionBudget,
    target_guard: TargetGuard,
) -> None:
    down = target_guard.down_reason(matrix_case.case_id)
    if down is not None:  # listed as not run in the matrix, then failed fast like every other check
        promql_report.add_matrix(not_run_result(matrix_case, down))
        fail_fast_if_down(target_guard, promql_report, matrix_case.case_id)
    started = time.monotonic()
    result = run_matrix_case(matrix_case, matrix_bindings, target_client, reference_client,
                             promql_reducer, matrix_budget)
    if result.transport_error:
        down = target_guard.down_reason(matrix_case.case_id, after_transport_error=True)
        if down is not None:
            promql_report.target_died(matrix_case.case_id, down)
            result.diff = f"{down}; {result.diff}"
    promql_report.add_matrix(result, time.monotonic() - started)
    if result.status == NOT_COVERED_STATUS:
        pytest.skip(result.diff)
    if result.status == UNSUPPORTED:
        pytest.xfail(explain(result))
    assert result.status == PASS, explain(result)
