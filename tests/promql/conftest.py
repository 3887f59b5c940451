"""tests/promql: differential PromQL checks of the session stack against the reference Prometheus.

Every test here gets the ``promql`` marker; fixtures come from ``fixtures.promql_plugin``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.promql)
