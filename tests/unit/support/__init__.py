"""Test doubles shared by the unit tests: fake runner, fake API server, seeder tables, receivers."""
