"""Generated PromQL over the seeded universe: target vs reference, instant and range.

Fixed query times from the manifest, derandomized Hypothesis (same examples every run); the
number of examples is ``--hypothesis-examples`` (default small; scale it up for nightly runs).
"""

from __future__ import annotations

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from fixtures.common.config import HarnessConfig
from fixtures.promql.client import PromClient
from fixtures.promql.compare import FAIL, compare
from fixtures.stacks.base import Endpoints
from tests.promql.promql_strategies import Universe, promql


def test_generated_queries_match_reference(
    stack_endpoints: Endpoints, target_client: PromClient, reference_client: PromClient,
    harness_config: HarnessConfig,
) -> None:
    manifest = stack_endpoints.manifest
    universe = Universe.from_manifest(manifest)
    assert universe.counters or universe.gauges, "the seed manifest lists no counters or gauges"
    start, end = manifest.range_window()
    at, step = manifest.query_time(), manifest.interval_ms / 1000

    @settings(max_examples=harness_config.hypothesis_examples, deadline=None, derandomize=True,
              database=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data: st.DataObject) -> None:
        expr = data.draw(promql(universe), label="expr")
        mode = data.draw(st.sampled_from(("instant", "range")), label="mode")
        if mode == "instant":
            t, r = target_client.instant(expr, at), reference_client.instant(expr, at)
        else:
            t, r = target_client.range(expr, start, end, step), reference_client.range(expr, start, end, step)
        outcome = compare(t, r, expr)
        if outcome.diff.startswith("both empty"):
            event("both empty (discarded)")
            assume(False)
        assert outcome.status != FAIL, (f"{mode} {expr}: {outcome.diff}\n  target:    {t.request.curl()}"
                                        f"\n  reference: {r.request.curl()}")

    check()
