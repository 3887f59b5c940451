"""Tests of fixtures.stacks: local processes, images, kind, existing, docker and endpoints stacks."""
