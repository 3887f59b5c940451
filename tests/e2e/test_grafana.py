"""Grafana: datasources healthy, dashboard provisioned, every panel query equal to the direct query.

Each panel target is expanded the way Grafana does (``fixtures.promql.replay.build_query``), sent through
Grafana's query API (``/api/ds/query``) to the MyTSDB datasource, and compared with the same query
sent to MyTSDB directly at the timestamps Grafana returned.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from fixtures.cluster_plugin import Cluster
from fixtures.common.config import HarnessConfig
from fixtures.kube import apply as ka
from fixtures.promql.client import PromClient
from fixtures.promql.dashboards import discover_dashboards
from fixtures.promql.replay import DEFAULT_MAX_DATA_POINTS, CaseSpec, build_query, collect_cases
from tests.e2e.helpers import Grafana, frames_to_series, prom_to_series, series_diff

pytestmark = pytest.mark.cluster
MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
DATASOURCES = ("mytsdb", "reference")  # fixed uids in manifests/grafana/datasources.yaml
CASES = [c for c in collect_cases(MANIFESTS) if c.source == "arrow"]


@pytest.fixture(scope="session")
def grafana(harness_config: HarnessConfig, cluster: Cluster) -> Grafana:
    if "grafana" in harness_config.without:
        pytest.skip("Grafana not deployed (--without grafana)")
    e = cluster.endpoints
    if not e.grafana_url:
        pytest.skip("this stack exposes no Grafana URL (pass --grafana-url for --stack endpoints)")
    auth = e.grafana_auth
    if auth is None:  # a kept cluster reached through --stack endpoints: read the generated Secret
        [namespace] = ka.secret_namespaces(ka.load_documents(MANIFESTS))
        auth = ka.grafana_credentials(cluster.core.read_namespaced_secret(ka.GRAFANA_SECRET, namespace))
    return Grafana(e.grafana_url, auth)


@pytest.mark.parametrize("uid", DATASOURCES)
def test_datasource_health_is_ok(grafana: Grafana, uid: str) -> None:
    health = grafana.get(f"/api/datasources/uid/{uid}/health")
    assert health.get("status") == "OK", health


def test_dashboards_are_provisioned(grafana: Grafana) -> None:
    for dash in discover_dashboards(MANIFESTS):
        assert dash.uid, f"{dash.source}: the dashboard needs a fixed uid"
        served = grafana.get(f"/api/dashboards/uid/{dash.uid}")["dashboard"]
        assert served["title"] == dash.title
        served_ids = sorted(p.get("id") for p in served.get("panels", []) if p.get("type") != "row")
        raw_ids = sorted(p.get("id") for p in dash.raw.get("panels", []) if p.get("type") != "row")
        assert served_ids == raw_ids


@pytest.mark.parametrize("case", CASES, ids=[c.case_id for c in CASES])
def test_panel_query_through_grafana_equals_the_direct_query(grafana: Grafana, cluster: Cluster,
                                                             target: PromClient, case: CaseSpec) -> None:
    manifest = cluster.endpoints.manifest
    query = build_query(case, manifest)
    t = query.timing
    instant = case.mode == "instant"
    points = case.panel.max_data_points or DEFAULT_MAX_DATA_POINTS
    result = grafana.query("mytsdb", query.expr, start_ms=t.start_ms, end_ms=t.end_ms, step_ms=t.step_ms,
                           instant=instant, max_data_points=points)
    assert not result.get("error"), f"Grafana error for {query.expr!r}: {result.get('error')}"
    via_grafana = frames_to_series(result)
    assert via_grafana, f"empty result through Grafana (the dashboard must not be empty): {query.expr}"
    stamps = sorted({ts for points in via_grafana.values() for ts in points})
    if instant:
        direct = target.instant(query.expr, stamps[-1] / 1000)
    else:
        step = min((b - a for a, b in itertools.pairwise(stamps)), default=t.step_ms)
        direct = target.range(query.expr, stamps[0] / 1000, stamps[-1] / 1000, step / 1000)
    direct.raise_for_error()
    problems = series_diff(via_grafana, prom_to_series(direct.result))
    assert not problems, f"{case.case_id}: {query.expr}\n  direct: {direct.request.curl()}\n  " + \
        "\n  ".join(problems[:10])
