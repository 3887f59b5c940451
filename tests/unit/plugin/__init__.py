"""Tests of the pytest layer (options, plugins, session sharing), many through pytester."""
