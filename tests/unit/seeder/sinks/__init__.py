"""Tests of seeder.sinks against real peers (promtool, Prometheus) or contract-enforcing doubles."""
