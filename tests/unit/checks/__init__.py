"""Tests of fixtures.checks, run over the real manifests."""
