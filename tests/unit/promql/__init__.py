"""Tests of fixtures.promql: client, comparison, dashboards, variables, replay, report."""
