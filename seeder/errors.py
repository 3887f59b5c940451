"""Seeder errors: a usage error exits 2, anything else the seeder raises on purpose exits 1."""

from __future__ import annotations


class SeederError(Exception):
    """A runtime failure with a one-line, human-readable cause (exit code 1)."""


class SpecError(SeederError):
    """An invalid knob or preset value (exit code 2)."""


class SinkError(SeederError):
    """A sink could not accept or confirm the data; the message names the sink and the cause."""
