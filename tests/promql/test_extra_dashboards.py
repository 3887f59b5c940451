"""Dashboards given with ``--dashboards PATH`` (and MyTSDB's own with ``--mytsdb-src``), replayed like ours.

Each case is the built-in replay (``fixtures.promql.replay.run_case``: the grafana and the slice
replays, same ids ``<dashboard>/<panel>/<mode>/<replay>``). An expression over metrics the
seeded dataset does not have is "not covered by the seeded data": skipped with that reason,
counted in the report and the terminal summary, never a failure of the target and never dropped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.common.config import HarnessConfig
from fixtures.promql.client import PromClient
from fixtures.promql.dashboard_sources import Sources, coverage_problem, load_sources, mytsdb_dashboard_dir
from fixtures.promql.dashboards import DashboardError, discover_dashboards
from fixtures.promql.grafana_mode import GrafanaSession
from fixtures.promql.liveness import TargetGuard
from fixtures.promql.reduce import Reducer
from fixtures.promql.replay import CaseSpec, cases_for
from fixtures.promql.report import ComplianceReport
from fixtures.promql_plugin import DASHBOARD_ROOT
from fixtures.stacks.base import Endpoints
from tests.promql.test_dashboards import judge_case

SOURCES_KEY = pytest.StashKey[Sources]()


def extra_paths(cfg: HarnessConfig) -> list[Path]:
    """``--dashboards`` paths, then MyTSDB's shipped dashboards when ``--mytsdb-src`` has them."""
    paths = list(cfg.dashboards)
    if cfg.mytsdb_src is not None:
        shipped = mytsdb_dashboard_dir(cfg.mytsdb_src)
        if shipped is not None and shipped not in paths:
            paths.append(shipped)
    return paths


def _sources(config: pytest.Config) -> Sources:
    if SOURCES_KEY not in config.stash:
        from fixtures.plugin import CONFIG_KEY

        cfg = config.stash[CONFIG_KEY]
        builtin = discover_dashboards(Path(str(config.rootpath)) / DASHBOARD_ROOT)
        config.stash[SOURCES_KEY] = load_sources(extra_paths(cfg), taken=builtin)
    return config.stash[SOURCES_KEY]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "extra_dashboard_case" not in metafunc.fixturenames:
        return
    try:
        sources = _sources(metafunc.config)
    except DashboardError as exc:
        raise pytest.UsageError(f"--dashboards: {exc}") from exc
    specs = cases_for(sources.dashboards)
    if not specs:
        why = "; ".join(sources.notes) or "no --dashboards given (and no dashboards under --mytsdb-src)"
        metafunc.parametrize("extra_dashboard_case", [pytest.param(None, marks=pytest.mark.skip(reason=why))],
                             ids=["no-extra-dashboards"])
        return
    metafunc.parametrize("extra_dashboard_case", specs, ids=[s.case_id for s in specs])


def test_extra_dashboard_query(
    extra_dashboard_case: CaseSpec,
    pytestconfig: pytest.Config,
    stack_endpoints: Endpoints,
    target_client: PromClient,
    reference_client: PromClient,
    promql_report: ComplianceReport,
    promql_reducer: Reducer,
    target_guard: TargetGuard,
    grafana_session: GrafanaSession,
) -> None:
    spec = extra_dashboard_case
    case_id = spec.case_id
    notes = _sources(pytestconfig).notes
    if notes:
        promql_report.meta["extra dashboards"] = "; ".join(notes)
    if spec.source == "otlp" and not stack_endpoints.target_has_otlp:
        promql_report.skip(case_id, stack_endpoints.otlp_missing_reason)
        pytest.skip(stack_endpoints.otlp_missing_reason)
    uncovered = coverage_problem(spec, stack_endpoints.manifest)
    if uncovered is not None:
        promql_report.skip(case_id, uncovered)
        pytest.skip(uncovered)
    judge_case(spec, stack_endpoints, target_client, reference_client, promql_report, promql_reducer,
               target_guard, grafana_session)
