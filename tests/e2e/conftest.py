"""tests/e2e: cluster behaviour on the session's kind (or existing) cluster.

Every test here needs the ``cluster`` fixture (``fixtures.cluster_plugin``), which skips with
one line naming what is missing when this machine cannot run a cluster. Tests that restart or
add pods are marked ``disruptive``; under pytest-xdist they skip, because other workers would
query a store that is being reseeded.
"""

from __future__ import annotations

import os

import pytest

from fixtures.cluster_plugin import Cluster
from fixtures.promql.client import PromClient


@pytest.fixture(autouse=True)
def _serial_for_disruptive(request: pytest.FixtureRequest) -> None:
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if request.node.get_closest_marker("disruptive") and workers > 1:
        pytest.skip(f"restarts pods of the shared cluster while {workers} xdist workers query it: "
                    "run without -n")


@pytest.fixture(scope="session")
def target(cluster: Cluster) -> PromClient:
    """MyTSDB's PromQL API on the cluster."""
    return PromClient(cluster.endpoints.target_url)


@pytest.fixture(scope="session")
def reference(cluster: Cluster) -> PromClient:
    """The reference Prometheus on the cluster (same seed spec)."""
    return PromClient(cluster.endpoints.reference_url)
