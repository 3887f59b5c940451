"""Named failures of the stand-in, so callers branch on the kind of failure, not on message text."""

from __future__ import annotations


class StandinError(Exception):
    """Base of every stand-in failure."""


class FlagError(StandinError, ValueError):
    """A command line MyTSDB would refuse (unknown flag, missing or bad value): exit 1."""


class PrometheusStartError(StandinError):
    """The backing Prometheus is missing, exited, or did not become ready in time."""


class ForwardError(StandinError):
    """Received data could not be written on to the backing Prometheus (never swallowed)."""
