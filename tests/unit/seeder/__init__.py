"""Tests of seeder: spec, topology, generation, manifest, CLI."""
