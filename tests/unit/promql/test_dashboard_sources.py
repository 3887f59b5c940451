"""--dashboards sources: files, folders and ConfigMaps found and deduplicated; seeded-data coverage judged.

Every dashboard here is written in tmp_path by the test itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures.options import env_paths, existing_path
from fixtures.promql.dashboard_sources import (
    NOT_COVERED_PREFIX,
    coverage_gaps,
    coverage_problem,
    dashboard_files,
    load_sources,
    mytsdb_dashboard_dir,
)
from fixtures.promql.dashboards import DashboardError, parse_dashboard
from fixtures.promql.replay import cases_for
from seeder.manifest import build_manifest
from seeder.spec import build_spec

MANIFEST = build_manifest(build_spec("tiny", end_time="2026-11-01T00:00:00Z"))
CLUSTER_VAR = {"name": "cluster", "type": "query", "query": "label_values(cluster)", "includeAll": True,
               "multi": True}


def dashboard(title: str, *exprs: str,
              variables: tuple[dict[str, Any], ...] = (CLUSTER_VAR,)) -> dict[str, Any]:
    panels = [{"id": i, "title": f"P{i}", "type": "timeseries", "targets": [{"refId": "A", "expr": e}]}
              for i, e in enumerate(exprs, 1)]
    return {"title": title, "uid": title.lower(), "templating": {"list": list(variables)}, "panels": panels}


def configmap(name: str, dashboards: dict[str, dict[str, Any]], extra: dict[str, str] | None = None) -> str:
    data = {key: json.dumps(d) for key, d in dashboards.items()} | (extra or {})
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})


def test_a_json_file_a_folder_and_configmaps_are_all_found(tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    one.write_text(json.dumps(dashboard("One", "container_memory_working_set_bytes")))
    folder = tmp_path / "grafana"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "cm.yaml").write_text(configmap("dash", {
        "a.json": dashboard("A", "process_open_fds"), "b.json": dashboard("B", "node_memory_MemTotal_bytes")},
        {"dashboard-provider.yaml": "apiVersion: 1\n"}))
    (folder / "datasource.json").write_text(json.dumps({"name": "not a dashboard"}))
    (folder / "deployment.yaml").write_text("kind: Deployment\nmetadata: {name: grafana}\n")
    assert dashboard_files(folder) == [folder / "sub" / "cm.yaml"]
    sources = load_sources([one, folder])
    assert sorted(d.name for d in sources.dashboards) == ["a", "b", "one"]
    assert {d.source for d in sources.dashboards} >= {f"{folder / 'sub' / 'cm.yaml'}:a.json"}


def test_copies_are_replayed_once_and_namesakes_renamed(tmp_path: Path) -> None:
    same = dashboard("Exec", "process_open_fds")
    (tmp_path / "exec.json").write_text(json.dumps(same))
    (tmp_path / "cm.yaml").write_text(configmap("c", {"exec.json": same,
                                                      "other.json": dashboard("O", "process_open_fds")}))
    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "exec.json").write_text(json.dumps(dashboard("Exec 2", "process_cpu_seconds_total")))
    builtin = parse_dashboard(dashboard("Mine", "process_open_fds"), "other", "builtin")
    sources = load_sources([tmp_path], taken=[builtin])
    names = [d.name for d in sources.dashboards]
    assert sorted(names) == ["exec", "exec~2", "other~2"]
    assert any("the same dashboard as 'exec'" in note for note in sources.notes)
    assert len({c.case_id for c in cases_for(sources.dashboards)}) == len(cases_for(sources.dashboards))


def test_bad_paths_and_broken_dashboards_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DashboardError, match="no such file or folder"):
        load_sources([tmp_path / "missing.json"])
    bad = tmp_path / "cm.yaml"
    bad.write_text(yaml.safe_dump({"kind": "ConfigMap", "data": {"x.json": "{not json"}}))
    with pytest.raises(DashboardError, match=r"cm\.yaml: key x\.json"):
        load_sources([tmp_path])
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(DashboardError, match="expected dashboard JSON or Kubernetes YAML"):
        load_sources([text])
    empty = tmp_path / "empty"
    empty.mkdir()
    assert load_sources([empty]).notes == [f"{empty}: no dashboard JSON or dashboard ConfigMap found"]


def test_mytsdb_ships_its_dashboards_under_deployments(tmp_path: Path) -> None:
    assert mytsdb_dashboard_dir(tmp_path) is None
    shipped = tmp_path / "deployments" / "kubernetes" / "grafana"
    shipped.mkdir(parents=True)
    assert mytsdb_dashboard_dir(tmp_path) == shipped


@pytest.mark.parametrize(("expr", "gaps"), [
    ('sum(rate(http_requests_total{code=~"2.."}[5m]))', []),
    ("process_open_fds != 3", []),
    ('{__name__=~"node_memory_.*"}', []),
    ('process_open_fds{pod!="x", app=~".*", zone!~"nothing"}', []),
    ('process_open_fds{cluster="otlp-0"}', []),  # the OTLP slice's cluster is seeded too
    ("rate(http_requests_active[5m]) + process_open_fds", ["metric http_requests_active"]),
    ('{__name__=~"mytsdb_.*"}', ["metric mytsdb_.*"]),
    ('http_requests_total{status=~"5.."}', ["label status on http_requests_total"]),
    ('process_open_fds{pod=~"mytsdb-.*", container="mytsdb"}', ['pod=~"mytsdb-.*"', 'container="mytsdb"']),
    ("sum(rate(x[5m]", []),  # does not parse: the servers' answers decide
])
def test_coverage_gaps_are_what_a_selector_requires(expr: str, gaps: list[str]) -> None:
    assert coverage_gaps(expr, MANIFEST) == gaps


def _specs(tmp_path: Path, dash: dict[str, Any]) -> list[Any]:
    path = tmp_path / "d.json"
    path.write_text(json.dumps(dash))
    return [s for s in cases_for(load_sources([path]).dashboards) if s.source in ("arrow", "grafana")]


def test_coverage_problem_expands_variables_first(tmp_path: Path) -> None:
    covered = _specs(tmp_path, dashboard("C", 'sum by (pod) (rate(container_cpu_usage_seconds_total'
                                              '{cluster=~"$cluster"}[$__rate_interval]))'))
    assert covered and all(coverage_problem(s, MANIFEST) is None for s in covered)
    missing = _specs(tmp_path, dashboard("M", 'rate(mytsdb_writes_total{cluster=~"$cluster"}[5m])'))
    why = coverage_problem(missing[0], MANIFEST)
    assert why == f"{NOT_COVERED_PREFIX}: the seeded dataset has no metric mytsdb_writes_total"
    by_var = _specs(tmp_path, dashboard("V", 'up{job=~"$job"}', variables=(
        {"name": "job", "type": "query", "query": "label_values(mytsdb_up, service_name)"},)))
    why = coverage_problem(by_var[0], MANIFEST)
    assert why is not None and why.startswith(f"{NOT_COVERED_PREFIX}: variables $job over mytsdb_up")


def test_dashboards_option_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.json").write_text("{}")
    assert existing_path(str(tmp_path / "a.json")) == (tmp_path / "a.json").resolve()
    both = env_paths(f"{tmp_path / 'a.json'}:{tmp_path}")
    assert both == [(tmp_path / "a.json").resolve(), tmp_path.resolve()]
    with pytest.raises(pytest.UsageError, match="expected an existing file or directory"):
        existing_path(str(tmp_path / "nope"))
