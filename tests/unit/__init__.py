"""Fast tests of the harness, one folder per package tested; shared doubles live in support/."""
