"""Tests of fixtures.kube against a fake API server speaking the real client's wire format."""
