"""CI self-test of the failure path: a readiness check that cannot pass leaves a diagnostics bundle.

Run only by .ci/kind/e2e.sh, against the kept cluster (``--stack endpoints --kubeconfig ...``);
it is expected to FAIL, and the script then checks the bundle: the failure, pod logs, events and
``kubectl describe`` output. It waits for a Deployment that does not exist (the probe fails fast:
a missing Deployment is a mistake, not something to wait for), so it changes nothing.
"""

from __future__ import annotations

import pytest

from fixtures.cluster_plugin import Cluster
from fixtures.common.wait import Wait
from fixtures.kube.readiness import DeploymentReady

pytestmark = pytest.mark.cluster
NEVER_READY = "harness-selftest-never-ready"


def test_a_readiness_check_that_cannot_pass_is_diagnosed(cluster: Cluster) -> None:
    probe = DeploymentReady(cluster.core, cluster.apps, cluster.namespace, NEVER_READY)
    Wait(probe).with_timeout(5).with_backoff(1.0, 1.0).with_hint(
        "expected: this CI self-test fails on purpose").until_ready()
