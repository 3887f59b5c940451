"""Generated PromQL over the seeded universe: target vs reference, instant and range.

Fixed query times from the manifest, derandomized Hypothesis (same examples every run); the
number of examples is ``--hypothesis-examples`` (default small; scale it up for nightly runs).
The stream does not stop at the first difference: every failing query is collected, reduced to
a minimal repro (within ``REDUCE_BUDGET_S`` for the whole stream) and fed to the report's
findings; the test then fails once, listing the distinct findings.
"""

from __future__ import annotations

import time

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from fixtures.common.config import HarnessConfig
from fixtures.common.errors import QueryError
from fixtures.promql.client import PromClient
from fixtures.promql.compare import FAIL, compare
from fixtures.promql.findings import group_findings
from fixtures.promql.liveness import TargetGuard
from fixtures.promql.reduce import QueryTimes, Reducer, Repro
from fixtures.promql.report import ComplianceReport
from fixtures.promql_plugin import fail_fast_if_down
from fixtures.stacks.base import Endpoints
from tests.promql.promql_strategies import Universe, promql

REDUCE_BUDGET_S = 45.0  # all reductions of one run together; later failures keep their full query


def test_generated_queries_match_reference(
    stack_endpoints: Endpoints, target_client: PromClient, reference_client: PromClient,
    harness_config: HarnessConfig, promql_report: ComplianceReport, promql_reducer: Reducer,
    target_guard: TargetGuard,
) -> None:
    fail_fast_if_down(target_guard, promql_report, "generated")
    manifest = stack_endpoints.manifest
    universe = Universe.from_manifest(manifest)
    assert universe.counters or universe.gauges, "the seed manifest lists no counters or gauges"
    start, end = manifest.range_window()
    at, step = manifest.query_time(), manifest.interval_ms / 1000
    failures: dict[tuple[str, QueryTimes], Repro | None] = {}
    sent = [0]

    @settings(max_examples=harness_config.hypothesis_examples, deadline=None, derandomize=True,
              database=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data: st.DataObject) -> None:
        expr = data.draw(promql(universe), label="expr")
        mode = data.draw(st.sampled_from(("instant", "range")), label="mode")
        if target_guard.reason is not None:
            return  # the target died: nothing more to learn from this stream
        times = QueryTimes.instant(at) if mode == "instant" else QueryTimes.range_(start, end, step)
        try:
            t, r = times.send(target_client, expr), times.send(reference_client, expr)
        except QueryError:
            target_guard.down_reason("generated", after_transport_error=True)
            return
        sent[0] += 1
        outcome = compare(t, r, expr)
        if outcome.diff.startswith("both empty"):
            event("both empty (discarded)")
            assume(False)
        if outcome.status == FAIL:  # collected, not raised: the stream goes on
            promql_reducer.remember(expr, times, t, r, outcome)
            failures.setdefault((expr, times), None)

    check()
    assert target_guard.reason is None, target_guard.reason
    deadline = time.monotonic() + REDUCE_BUDGET_S
    items = []
    for i, (expr, times) in enumerate(failures, 1):
        budget = deadline - time.monotonic()
        if budget > 0:
            repro = promql_reducer.reduce(expr, times, max_seconds=min(budget, promql_reducer.max_seconds))
        else:
            repro = promql_reducer.unreduced(expr, times, "not reduced: the stream's budget is spent")
        items.append((f"generated/{i}/{times.mode}", repro))
        promql_report.add_generated(*items[-1])
    findings = group_findings(items, promql_report.metric_kinds)
    assert not failures, (
        f"{len(failures)} of {sent[0]} generated queries differ from the reference; "
        f"{len(findings)} distinct finding(s):\n" + "\n".join(
            f"  {f.title()}\n    target:    {f.repro.curl_target}\n    reference: {f.repro.curl_reference}"
            for f in findings))
