"""Seed completeness: MyTSDB holds exactly the series per metric that the seed manifest lists."""

from __future__ import annotations

import pytest

from fixtures.cluster_plugin import Cluster
from fixtures.promql.client import PromClient
from tests.e2e.helpers import count_series, main_slice_series

pytestmark = pytest.mark.cluster


def test_every_metric_holds_the_manifests_series(cluster: Cluster, target: PromClient,
                                                 reference: PromClient) -> None:
    manifest = cluster.endpoints.manifest
    assert manifest.metrics, "the seed manifest lists no metrics"
    problems = []
    for metric in sorted(manifest.metrics):
        expected = main_slice_series(manifest, metric)
        in_reference = count_series(reference, metric, manifest)
        in_target = count_series(target, metric, manifest)
        if in_reference != expected:
            problems.append(f"{metric}: the reference holds {in_reference} series, the manifest lists "
                            f"{expected} (the test data itself is wrong)")
        if in_target != expected:
            problems.append(f"{metric}: MyTSDB holds {in_target} series, the manifest lists {expected}")
    assert not problems, (f"at t={manifest.query_time()} (seed {manifest.seed}, digest {manifest.digest}):\n"
                          + "\n".join(problems))
