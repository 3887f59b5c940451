"""Shared unit-test fixtures.

- Progress lines of the code under test go to (captured) stderr, not the terminal: the cluster
  plugin routes progress past pytest's capture so a long bring-up is visible; in unit tests that
  would print fake "loading image into kind" lines in the middle of the dots.
- ``prometheus``: a real, empty Prometheus 2.42 from PATH per module (the client's counterpart).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from fixtures.common.wait import set_progress_sink


@pytest.fixture(autouse=True)
def _captured_progress() -> Iterator[None]:
    previous = set_progress_sink(None)
    yield
    set_progress_sink(previous)


@pytest.fixture(scope="module")
def prometheus() -> Iterator[str]:
    """URL of an empty real Prometheus (skips with the install hint when it is not on PATH)."""
    if not shutil.which("prometheus"):
        pytest.skip("prometheus not on PATH (apt install prometheus)")
    from fixtures.stacks.prometheus_proc import PrometheusProcess

    with PrometheusProcess() as prom:
        yield prom.url
