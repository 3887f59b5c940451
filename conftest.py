"""Root conftest: loads the harness pytest plugins (kept out of entry points on purpose)."""

pytest_plugins = ["fixtures.plugin", "fixtures.promql_plugin", "fixtures.cluster_plugin"]
