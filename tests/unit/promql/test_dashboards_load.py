"""Dashboard loading: raw JSON and ConfigMaps, rows and collapsed rows, targets and variables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.promql.dashboards import DashboardError, discover_dashboards, load_dashboards

DATA = Path(__file__).parents[1] / "data"


def test_raw_json_panels_include_rows_and_collapsed_rows() -> None:
    (dash,) = load_dashboards(DATA / "dashboard-replay.json")
    assert dash.name == "replay"
    titles = [(p.title, p.row) for p in dash.panels]
    assert titles == [("CPU by pod", None), ("Pods", "Expanded row"), ("Memory / node", "Collapsed row"),
                      ("Notes", "Collapsed row")]


def test_targets_keep_grafana_fields() -> None:
    (dash,) = load_dashboards(DATA / "dashboard-replay.json")
    pods = next(p for p in dash.panels if p.title == "Pods")
    assert (pods.interval, pods.max_data_points) == ("2m", 100)
    assert [(t.ref_id, t.instant, t.hide) for t in pods.targets] == [("A", True, False), ("B", False, True),
                                                                    ("C", False, False)]
    memory = next(p for p in dash.panels if p.title == "Memory / node")
    assert memory.targets[0].interval == "1m"


def test_variables_with_defaults() -> None:
    (dash,) = load_dashboards(DATA / "dashboard-replay.json")
    v = {x.name: x for x in dash.variables}
    assert (v["cluster"].label, v["cluster"].multi, v["cluster"].include_all) == ("cluster", True, True)
    assert v["namespace"].label == "namespace"
    assert v["namespace"].metric == 'kube_pod_info{cluster=~"$cluster"}'
    assert v["namespace"].current == ("kube-system",)
    assert v["q"].options == ("0.5", "0.9", "0.99") and v["q"].current == ("0.9",)
    assert v["res"].type == "interval" and v["res"].options == ("1m", "5m", "10m")


def test_configmap_yaml_with_other_documents() -> None:
    (dash,) = load_dashboards(DATA / "dashboard-cm.yaml")
    assert dash.name == "cm" and dash.source.endswith(":k8s-seeded-cluster.json")
    assert [t.expr for p in dash.panels for t in p.targets] == ["up"]


def test_discover_finds_both_kinds(tmp_path: Path) -> None:
    for name in ("dashboard-replay.json", "dashboard-cm.yaml"):
        (tmp_path / name).write_text((DATA / name).read_text())
    (tmp_path / "kind.json").write_text(json.dumps({"kind": "Cluster"}))  # not a dashboard: ignored
    assert [d.name for d in discover_dashboards(tmp_path)] == ["cm", "replay"]


def test_bad_json_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "dashboard-bad.yaml"
    bad.write_text("kind: ConfigMap\ndata:\n  x.json: '{not json'\n")
    with pytest.raises(DashboardError, match=r"x\.json: not dashboard JSON"):
        load_dashboards(bad)


def test_collapsed_rows_grid_width_and_time_range_are_read() -> None:
    (dash,) = load_dashboards(DATA / "dashboard-replay.json")
    collapsed = {p.title: p.row_collapsed for p in dash.panels}
    # only the panel stored inside the collapsed row waits for the row to be expanded
    assert collapsed == {"CPU by pod": False, "Pods": False, "Memory / node": True, "Notes": False}
    assert (dash.time_from, dash.time_to) == ("now-6h", "now")  # no "time": Grafana's default 6 h
    (shipped,) = load_dashboards(Path(__file__).parents[3] / "manifests/grafana/dashboard-k8s-seeded.yaml")
    assert (shipped.time_from, shipped.time_to) == ("now-7d", "now")
    widths = {p.grid_w for p in shipped.panels}
    assert widths == {8, 12}
    assert all(p.datasource_uid == "mytsdb" for p in shipped.panels)
    assert all(v.refresh == 1 and v.sort == 1 and v.datasource_uid == "mytsdb" for v in shipped.variables)
