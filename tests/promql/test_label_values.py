"""The label API agrees with the seed manifest: what variables are filled from is really there.

On the reference the values of every dimension are exactly the manifest's (main slice plus the
OTLP slice); on the target they include them (MyTSDB adds its own self-monitoring series).
"""

from __future__ import annotations

import pytest

from fixtures.promql.client import PromClient
from fixtures.promql.liveness import TargetGuard
from fixtures.promql.report import ComplianceReport
from fixtures.promql_plugin import fail_fast_if_down
from fixtures.stacks.base import Endpoints

DAY = 86400.0


def _expected(endpoints: Endpoints, name: str) -> set[str]:
    values = set(endpoints.manifest.label_values.get(name, []))
    otlp = endpoints.manifest.otlp or {}
    values |= set((otlp.get("label_values") or {}).get(name, []))
    if name == "cluster" and otlp.get("cluster"):
        values.add(otlp["cluster"])
    return values


def _window(endpoints: Endpoints) -> tuple[float, float]:
    start, end = endpoints.manifest.range_window()
    return max(start, end - DAY + 1), end  # MyTSDB rejects spans over 24 h


@pytest.mark.parametrize("side", ["reference", "target"])
def test_label_values_match_manifest(side: str, stack_endpoints: Endpoints, target_client: PromClient,
                                     reference_client: PromClient, target_guard: TargetGuard,
                                     promql_report: ComplianceReport) -> None:
    if side == "target":
        fail_fast_if_down(target_guard, promql_report, "label values of the target")
    client = reference_client if side == "reference" else target_client
    names = sorted(stack_endpoints.manifest.label_values)
    assert names, "the seed manifest records no label values"
    start, end = _window(stack_endpoints)
    problems = []
    for name in names:
        resp = client.label_values(name, start, end).raise_for_error()
        got, want = set(resp.result or []), _expected(stack_endpoints, name)
        if side == "reference" and got != want:
            problems.append(f"{name}: missing {sorted(want - got)[:5]}, extra {sorted(got - want)[:5]}")
        if side == "target" and not want <= got:
            problems.append(f"{name}: missing {sorted(want - got)[:5]} ({resp.request.curl()})")
    assert not problems, f"{side} label values differ from the manifest:\n" + "\n".join(problems)
