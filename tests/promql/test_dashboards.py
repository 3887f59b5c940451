"""Every dashboard expression, sent as Grafana sends it, answers like the reference Prometheus.

Two replay modes (fixtures/promql/replay.py): ids ``<dashboard>/<panel>/<range|instant>/grafana``
are what Grafana sends when the dashboard loads (its 7-day range, the datasource's scrape
interval, panel widths, variables fetched from the datasource; each fetched variable is its own
check here, ``<dashboard>/$<variable>``); ids ``<dashboard>/<panel>/<instant|range>/slice-<arrow|otlp>``
are the per-slice cases over a 6 h window. A failure prints the expression,
both requests as curl, the first differing series and the minimal repro the reducer found (the
report groups failures by repro shape into findings). Findings about the target fail here (no
query is ever rewritten to dodge them); "both empty" is a failure of the test data. Once the
target died, the remaining cases fail fast with that one reason.
"""

from __future__ import annotations

import pytest

from fixtures.promql.client import PromClient
from fixtures.promql.compare import FAIL, PASS, UNSUPPORTED
from fixtures.promql.dashboards import Dashboard, Variable
from fixtures.promql.grafana_mode import GrafanaSession
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
    grafana_session: GrafanaSession,
) -> None:
    case_id = dashboard_case.case_id
    if dashboard_case.source == "otlp" and not stack_endpoints.target_has_otlp:
        promql_report.skip(case_id, stack_endpoints.otlp_missing_reason)
        pytest.skip(stack_endpoints.otlp_missing_reason)
    judge_case(dashboard_case, stack_endpoints, target_client, reference_client, promql_report,
               promql_reducer, target_guard, grafana_session)


def judge_case(spec: CaseSpec, stack_endpoints: Endpoints, target_client: PromClient,
               reference_client: PromClient, promql_report: ComplianceReport, promql_reducer: Reducer,
               target_guard: TargetGuard, grafana_session: GrafanaSession) -> None:
    """Replay one dashboard case and judge it (shared with --dashboards' extra dashboards)."""
    case_id = spec.case_id
    fail_fast_if_down(target_guard, promql_report, case_id, CaseResult(
        case_id=case_id, dashboard=spec.dashboard.name, panel=spec.panel_label, ref_id=spec.target.ref_id,
        mode=spec.mode, source=spec.source, status=FAIL, diff="failed fast: the target died earlier",
        template=spec.target.expr, replay=spec.replay, note=spec.note))
    result = run_case(spec, target_client, reference_client, stack_endpoints.manifest,
                      reducer=promql_reducer, grafana=grafana_session)
    if result.status == SKIP:
        promql_report.skip(case_id, result.diff)
        pytest.skip(result.diff)
    if result.transport_error:
        down = target_guard.down_reason(case_id, after_transport_error=True)
        if down is not None:
            promql_report.target_died(case_id, down)
            result.diff = f"{down}; {result.diff}"
    promql_report.add(result)
    if result.status == UNSUPPORTED:
        pytest.xfail(explain(result))
    assert result.status == PASS, explain(result)


def test_variable_options_match_the_reference(
    dashboard_variable: tuple[Dashboard, Variable],
    grafana_session: GrafanaSession,
    promql_report: ComplianceReport,
    target_guard: TargetGuard,
) -> None:
    """Grafana mode: the target's label API offers the reference's options for every variable.

    The query is the variable's own (earlier selections interpolated), over the dashboard's time
    range; a difference is a finding of its own and the panel cases go on with the reference's.
    """
    dash, var = dashboard_variable
    fail_fast_if_down(target_guard, promql_report, f"{dash.name}/${var.name}")
    resolved = grafana_session.resolve(dash)
    fetch = next((f for f in resolved.fetches if f.variable == var.name), None)
    if fetch is None:  # an earlier variable stopped the chain (the reference failed, or no label_values)
        pytest.fail(f"{dash.name}/${var.name}: not fetched: {resolved.error}", pytrace=False)
    promql_report.add_variable(fetch)
    assert fetch.reference_values, (
        f"{fetch.check_id}: the reference offers no options (test data): {fetch.curl_reference}")
    assert fetch.ok, fetch.explain()
