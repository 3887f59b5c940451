"""The seeding commands written in the manifests, run for real with this repo's seeder and promtool.

Why: a typo in a container's args only shows up in a cluster otherwise. Here the exact argv of the
MyTSDB seed sidecar and of the reference Prometheus' initContainers is taken from the YAML, with
Kubernetes' ``$(VAR)`` expansion from the ``seed-spec`` ConfigMap (preset shrunk to ``tiny``), and
run: the sidecar's as a dry run, the reference chain end to end into real TSDB blocks.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fixtures.checks.manifests import container, find, load_manifests
from seeder.manifest import SeedManifest

PROMTOOL = shutil.which("promtool")


def expand(argv: list[str], env: dict[str, str]) -> list[str]:
    """Kubernetes' $(VAR) expansion in command/args (unknown names stay as written)."""
    return [
        re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), a) for a in argv
    ]


def container_env(c: dict[str, Any], seed_spec: dict[str, str]) -> dict[str, str]:
    env = {}
    for e in c.get("env") or []:
        ref = (e.get("valueFrom") or {}).get("configMapKeyRef")
        if ref:
            assert ref["name"] == "seed-spec", f"{c['name']}: env {e['name']} reads ConfigMap {ref['name']}"
            env[e["name"]] = seed_spec[ref["key"]]
        elif "value" in e:
            env[e["name"]] = e["value"]
    return env


@pytest.fixture(scope="module")
def docs() -> list[Any]:
    return load_manifests()


@pytest.fixture(scope="module")
def seed_spec(docs: list[Any]) -> dict[str, str]:
    cm = find(docs, "ConfigMap", "seed-spec", "mytsdb")
    assert cm is not None
    return {**cm.obj["data"], "PRESET": "tiny"}  # the real preset's plan is checked by the dry run


def pod(docs: list[Any], name: str) -> dict[str, Any]:
    d = find(docs, "Deployment", name, "mytsdb")
    assert d is not None, f"Deployment mytsdb/{name} missing"
    return d.obj["spec"]["template"]["spec"]


def run_seeder(argv: list[str]) -> subprocess.CompletedProcess[str]:
    assert argv[:3] == ["python", "-m", "seeder"] or not argv[0].startswith("python"), argv
    args = argv[3:] if argv[:3] == ["python", "-m", "seeder"] else argv
    return subprocess.run(
        [sys.executable, "-m", "seeder", *args], capture_output=True, text=True, timeout=300
    )


def test_sidecar_argv_is_a_valid_seeder_command_for_the_real_preset(docs: list[Any], tmp_path: Path) -> None:
    """The seed sidecar's argv (seed-20m as in the ConfigMap) parses and plans; --dry-run sends nothing."""
    cm = find(docs, "ConfigMap", "seed-spec", "mytsdb")
    assert cm is not None
    seed = container(pod(docs, "mytsdb"), "seed")
    argv = expand(seed["args"], container_env(seed, cm.obj["data"]))
    argv = [a.replace("/ready/", f"{tmp_path}/") for a in argv]
    result = run_seeder([*argv, "--dry-run"])
    assert result.returncode == 0, result.stderr
    assert "sinks: flight, otlp" in result.stdout
    manifest = SeedManifest.load(tmp_path / "seed-manifest.json")
    assert manifest.spec["preset"] == cm.obj["data"]["PRESET"]
    assert abs(manifest.samples_total - 20_000_000) <= 0.05 * 20_000_000


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not on PATH (Debian package prometheus)")
def test_reference_init_chain_backfills_exactly_the_seeded_samples(
    docs: list[Any], seed_spec: dict[str, str], tmp_path: Path
) -> None:
    spec = pod(docs, "reference-prometheus")
    staging, data = tmp_path / "staging", tmp_path / "prometheus"
    staging.mkdir()
    data.mkdir()
    (data / "stale-block").mkdir()  # a re-run initContainer must not keep earlier blocks

    seeder = container(spec, "seed-openmetrics")
    argv = [
        a.replace("/staging", str(staging)) for a in expand(seeder["args"], container_env(seeder, seed_spec))
    ]
    result = run_seeder(argv)
    assert result.returncode == 0, result.stderr

    cm = find(docs, "ConfigMap", "reference-prometheus", "mytsdb")
    assert cm is not None
    backfill = container(spec, "backfill")
    assert backfill["command"] == ["/bin/sh", "/etc/prometheus/backfill.sh"]
    script = tmp_path / "backfill.sh"
    script.write_text(
        cm.obj["data"]["backfill.sh"].replace("/staging", str(staging)).replace("/prometheus", str(data))
    )
    result = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert not (staging / "om").exists(), "the OpenMetrics text must be deleted once backfilled"
    assert not (data / "stale-block").exists()

    listing = subprocess.run(
        [PROMTOOL, "tsdb", "list", str(data)], capture_output=True, text=True, timeout=60
    )
    assert listing.returncode == 0, listing.stderr
    header, *rows = [line.split() for line in listing.stdout.splitlines() if line.strip()]
    # columns: BLOCK ULID | MIN TIME | MAX TIME | DURATION | NUM SAMPLES | ... (two-word names)
    assert header[:9] == ["BLOCK", "ULID", "MIN", "TIME", "MAX", "TIME", "DURATION", "NUM", "SAMPLES"], header
    samples = sum(int(row[4]) for row in rows)
    manifest = SeedManifest.load(staging / "seed-manifest.json")
    assert rows, "promtool created no block"
    assert samples == manifest.samples_total


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not on PATH (Debian package prometheus)")
def test_reference_prometheus_config_is_valid_and_scrapes_nothing(docs: list[Any], tmp_path: Path) -> None:
    cm = find(docs, "ConfigMap", "reference-prometheus", "mytsdb")
    assert cm is not None
    config = tmp_path / "prometheus.yml"
    config.write_text(cm.obj["data"]["prometheus.yml"])
    result = subprocess.run(
        [PROMTOOL, "check", "config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    args = container(pod(docs, "reference-prometheus"), "prometheus")["args"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in args
    retention = next(a.split("=", 1)[1] for a in args if a.startswith("--storage.tsdb.retention.time="))
    assert retention.endswith("d") and int(retention[:-1]) >= 365, "a past seeded window must not expire"
