"""The PromQL suite on the session cluster: `pytest tests/e2e` checks every dashboard query too.

The tests are those of tests/promql, collected here again so the main job is one command; they
share the session's ``stack_endpoints`` (the same cluster, no second setup). Marked ``cluster``,
so without a cluster they skip like every other e2e test. Run ``pytest tests/e2e`` or ``pytest
tests/promql --stack ...``, not both paths in one session.
"""

from __future__ import annotations

import pytest

from tests.promql.test_dashboards import test_dashboard_query, test_variable_options_match_the_reference
from tests.promql.test_generated import test_generated_queries_match_reference
from tests.promql.test_label_values import test_label_values_match_manifest

pytestmark = pytest.mark.cluster

__all__ = ["test_dashboard_query", "test_generated_queries_match_reference",
           "test_label_values_match_manifest", "test_variable_options_match_the_reference"]
