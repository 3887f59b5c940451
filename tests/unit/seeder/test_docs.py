"""The runnable examples in the seeder's docstrings stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["seeder.spec", "seeder.topology", "seeder.catalog", "seeder.generate",
                                    "seeder.manifest"])
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
