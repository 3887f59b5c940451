"""Unit tests: progress lines of the code under test go to (captured) stderr, not the terminal.

The cluster plugin routes progress past pytest's capture so a long bring-up is visible; in unit
tests that would print fake "loading image into kind" lines in the middle of the dots.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fixtures.readiness import set_progress_sink


@pytest.fixture(autouse=True)
def _captured_progress() -> Iterator[None]:
    previous = set_progress_sink(None)
    yield
    set_progress_sink(previous)
