"""Every dashboard expression, sent as Grafana sends it, answers like the reference Prometheus.

Ids read ``<dashboard>/<panel>/<instant|range>/<arrow|otlp>``; a failure prints the expression,
both requests as curl, the first differing series and the minimal repro the reducer found (the
report groups failures by repro shape into findings). Findings about the target fail here (no
query is ever rewritten to dodge them); "both empty" is a failure of the test data. Once the
target died, the remaining cases fail fast with that one reason.
"""

from __future__ import annotations

import pytest

from fixtures.promql.client import PromClient
from fixtures.promql.compare import FAIL, PASS, UNSUPPORTED
from fixtures.promql.liveness import TargetGuard
from fixtures.promql.reduce import Reducer
from fixtures.promql.replay import SKIP, CaseResult, CaseSpec, explain, run_case
from fixtures.promql.report import ComplianceReport
from fixtures.promql_plugin import fail_fast_if_down
from fixtures.stacks.base import Endpoints


def test_dashboard_query(
    dashboard_case: CaseSpec,
    stack_endpoints: Endpoints,
    target_client: PromClient,
    reference_client: PromClient,
    promql_report: ComplianceReport,
    promql_reducer: Reducer,
    target_guard: TargetGuard,
) -> None:
    case_id = dashboard_case.case_id
    if dashboard_case.source == "otlp" and not stack_endpoints.target_has_otlp:
        promql_report.skip(case_id, stack_endpoints.otlp_missing_reason)
        pytest.skip(stack_endpoints.otlp_missing_reason)
    fail_fast_if_down(target_guard, promql_report, case_id, CaseResult(
        case_id=case_id, dashboard=dashboard_case.dashboard.name, panel=dashboard_case.panel_label,
        ref_id=dashboard_case.target.ref_id, mode=dashboard_case.mode, source=dashboard_case.source,
        status=FAIL, diff="failed fast: the target died earlier", template=dashboard_case.target.expr))
    result = run_case(dashboard_case, target_client, reference_client, stack_endpoints.manifest,
                      reducer=promql_reducer)
    if result.status == SKIP:
        promql_report.skip(case_id, result.diff)
        pytest.skip(result.diff)
    if result.transport_error:
        down = target_guard.down_reason(case_id, after_transport_error=True)
        if down is not None:
            promql_report.target_down = promql_report.target_down or down
            result.diff = f"{down}; {result.diff}"
    promql_report.add(result)
    if result.status == UNSUPPORTED:
        pytest.xfail(explain(result))
    assert result.status == PASS, explain(result)
