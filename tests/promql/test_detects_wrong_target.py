"""The harness must notice a wrong target: a Prometheus holding slightly different data.

One gauge of the seeded OpenMetrics is perturbed (v * 1.001 + 0.01) and backfilled into a second
Prometheus. Replaying one panel per seeded metric (plus the real dashboards) against it, in the
grafana mode and in the slice mode (arrow), must fail exactly the cases that read the perturbed
metric, and the written report must name them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.common.config import HarnessConfig
from fixtures.promql.client import PromClient
from fixtures.promql.compare import FAIL, PASS
from fixtures.promql.dashboards import parse_dashboard
from fixtures.promql.grafana_mode import GrafanaSession, load_datasources
from fixtures.promql.replay import CaseSpec, cases_for, collect_cases, run_case
from fixtures.promql.report import ComplianceReport
from fixtures.stacks.base import Endpoints
from fixtures.stacks.prometheus_proc import PrometheusProcess, backfill_openmetrics
from seeder.manifest import SeedManifest


def perturb_openmetrics(src: Path, dest: Path, metric: str) -> int:
    """Copy an OpenMetrics file, changing every sample of ``metric``; returns how many changed."""
    changed = 0
    with src.open() as fin, dest.open("w") as fout:
        for line in fin:
            if line.startswith((metric + "{", metric + " ")):
                series, value, ts = line.rstrip("\n").rsplit(" ", 2)
                line = f"{series} {float(value) * 1.001 + 0.01!r} {ts}\n"
                changed += 1
            fout.write(line)
    return changed


def probe_dashboard(manifest: SeedManifest) -> list[CaseSpec]:
    """One panel per seeded metric (grafana mode; slice mode instant + range, arrow), independent of
    manifests/."""
    panels = []
    for i, (name, info) in enumerate(sorted(manifest.metrics.items())):
        kind = str(info.get("type"))
        expr = f"sum(rate({name}[5m]))" if kind in ("counter", "histogram_bucket", "histogram_count",
                                                     "histogram_sum") else f"sum({name})"
        panels.append({"id": i + 1, "type": "timeseries", "title": name,
                       "targets": [{"refId": "A", "expr": expr}]})
    dash = parse_dashboard({"title": "probe", "panels": panels}, "probe", "generated")
    return [c for c in cases_for([dash]) if c.source != "otlp"]


@pytest.fixture(scope="module")
def wrong_target(stack_endpoints: Endpoints, harness_config: HarnessConfig,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, PromClient]]:
    files = stack_endpoints.extra.get("openmetrics")
    if not files:
        pytest.skip("needs the local stack's OpenMetrics files (stack local)")
    gauges = sorted(n for n, i in stack_endpoints.manifest.metrics.items() if i.get("type") == "gauge")
    assert gauges, "the seed manifest lists no gauge to perturb"
    metric = gauges[0]
    work = tmp_path_factory.mktemp("wrong-target")
    changed = 0
    copies = []
    for src in map(Path, files):
        copies.append(work / src.name)
        changed += perturb_openmetrics(src, copies[-1], metric)
    assert changed, f"no samples of {metric} found in the OpenMetrics files"
    backfill_openmetrics(copies, work / "data", harness_config.promtool_bin)
    with PrometheusProcess(harness_config.prometheus_bin, data_dir=work / "data") as prom:
        yield metric, PromClient(prom.url)


def test_harness_fails_exactly_the_cases_of_the_perturbed_metric(
    wrong_target: tuple[str, PromClient], stack_endpoints: Endpoints, reference_client: PromClient,
    harness_config: HarnessConfig, tmp_path: Path,
) -> None:
    metric, wrong = wrong_target
    manifest = stack_endpoints.manifest
    manifests = harness_config.rootdir / "manifests"
    specs = probe_dashboard(manifest) + [c for c in collect_cases(manifests) if c.source != "otlp"]
    grafana = GrafanaSession(wrong, reference_client, manifest, load_datasources(manifests))
    report = ComplianceReport()
    for spec in specs:
        report.add(run_case(spec, wrong, reference_client, manifest, grafana=grafana))
    assert {r.replay for r in report.results} == {"grafana", "slice"}
    report.write(tmp_path)
    failed = {r.case_id for r in report.results if r.status == FAIL}
    probe = [r for r in report.results if r.dashboard == "probe"]
    expected = {r.case_id for r in probe if r.panel == metric}
    assert expected <= failed, f"wrong data in {metric} not detected: {sorted(expected - failed)}"
    assert {r.case_id for r in probe if r.status != PASS} == expected, \
        "probe cases of unperturbed metrics must still pass"
    for r in report.results:
        if r.case_id in failed and r.dashboard != "probe":
            assert metric in r.expr or "both empty" in r.diff, f"{r.case_id} failed without reading {metric}"
    doc = json.loads((tmp_path / "promql.json").read_text())
    assert {c["case_id"] for c in doc["cases"] if c["status"] == FAIL} == failed
    md = (tmp_path / "promql.md").read_text()
    assert all(case_id in md for case_id in expected)
    plots = [c["plot"] for c in doc["cases"] if c["case_id"] in expected and c["mode"] == "range"]
    assert plots and all(p and (tmp_path / p).is_file() and f"]({p})" in md for p in plots)
