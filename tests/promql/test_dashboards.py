"""Every dashboard expression, sent as Grafana sends it, answers like the reference Prometheus.

Ids read ``<dashboard>/<panel>/<instant|range>/<arrow|otlp>``; a failure prints the expression,
both requests as curl and the first differing series. Findings about the target fail here (no
query is ever rewritten to dodge them); "both empty" is a failure of the test data.
"""

from __future__ import annotations

import pytest

from fixtures.promql.client import PromClient
from fixtures.promql.compare import PASS, UNSUPPORTED
from fixtures.promql.replay import SKIP, CaseSpec, explain, run_case
from fixtures.promql.report import ComplianceReport
from fixtures.stacks.base import Endpoints


def test_dashboard_query(
    dashboard_case: CaseSpec,
    stack_endpoints: Endpoints,
    target_client: PromClient,
    reference_client: PromClient,
    promql_report: ComplianceReport,
) -> None:
    if dashboard_case.source == "otlp" and not stack_endpoints.target_has_otlp:
        promql_report.skip(dashboard_case.case_id, stack_endpoints.otlp_missing_reason)
        pytest.skip(stack_endpoints.otlp_missing_reason)
    result = run_case(dashboard_case, target_client, reference_client, stack_endpoints.manifest)
    if result.status == SKIP:
        promql_report.skip(dashboard_case.case_id, result.diff)
        pytest.skip(result.diff)
    promql_report.add(result)
    if result.status == UNSUPPORTED:
        pytest.xfail(explain(result))
    assert result.status == PASS, explain(result)
