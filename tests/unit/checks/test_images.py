"""One file pins every image and tool; manifests and Dockerfiles agree with it; Dockerfiles are sane."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from fixtures.checks.manifests import MANIFESTS_DIR, containers, load_manifests, workloads
from fixtures.common.pins import PINS, load_pins, repository_of, tag_of
from fixtures.stacks.images import is_ignored, parse_dockerignore

ROOT = MANIFESTS_DIR.parent
DOCKERFILES = {
    "seeder": MANIFESTS_DIR / "images" / "seeder" / "Dockerfile",
    "sample-app": MANIFESTS_DIR / "sample-app" / "Dockerfile",
}
# The MyTSDB stand-in (--mytsdb-standin, CI only) is deployed in MyTSDB's place, so no manifest
# names it; its second stage copies the binary out of the pinned reference Prometheus image.
STANDIN_DOCKERFILE = MANIFESTS_DIR / "images" / "mytsdb-standin" / "Dockerfile"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per Dockerfile instruction, continuation lines joined."""
    text = re.sub(
        r"\\\n", " ", "\n".join(ln for ln in path.read_text().splitlines() if not ln.lstrip().startswith("#"))
    )
    return [
        (ln.split(None, 1)[0].upper(), ln.split(None, 1)[1] if " " in ln.strip() else "")
        for ln in text.splitlines()
        if ln.strip()
    ]


def test_pins_load_and_refuse_latest(tmp_path: Path) -> None:
    assert tag_of(PINS.image("prometheus")) == "v2.42.0", (
        "the reference must match the oracle Prometheus 2.42"
    )
    assert repository_of("registry:5000/a/b:1.0@sha256:ab") == "registry:5000/a/b"
    bad = tmp_path / "versions.yaml"
    bad.write_text("images:\n  grafana: grafana/grafana:latest\ntools: {}\n")
    with pytest.raises(ValueError, match="latest"):
        load_pins(bad)
    with pytest.raises(KeyError, match="pins no image"):
        PINS.image("nope")


def test_every_pinned_image_is_used_and_every_used_image_is_pinned() -> None:
    used = {c["image"] for _d, _l, spec in workloads(load_manifests()) for c in containers(spec)}
    pinned = set(PINS.images.values())
    assert used <= pinned, f"images not in manifests/versions.yaml: {used - pinned}"
    from_lines = {
        args.split()[0] for path in DOCKERFILES.values() for ins, args in instructions(path) if ins == "FROM"
    }
    assert pinned - used == from_lines == {PINS.image("python-base")}, "stale pin or unpinned base image"
    standin_from = [args.split()[0] for ins, args in instructions(STANDIN_DOCKERFILE) if ins == "FROM"]
    assert standin_from == [PINS.image("prometheus"), PINS.image("python-base")]


def test_standin_image_runs_as_the_mytsdb_pod_user_and_holds_the_reference_prometheus() -> None:
    steps = instructions(STANDIN_DOCKERFILE)
    copies = [args for ins, args in steps if ins == "COPY"]
    assert copies[0].startswith("--from=prometheus /bin/prometheus ")
    assert [c.split()[0] for c in copies[1:]] == ["pyproject.toml", "seeder/", "standin/"]
    assert [args for ins, args in steps if ins == "USER"][-1] == "65532:65532"
    assert dict(steps)["ENTRYPOINT"] == '["python", "-m", "standin"]'
    assert "ADD" not in [ins for ins, _ in steps]


def test_kind_config_uses_the_pinned_node_image() -> None:
    kind = next(d for d in load_manifests() if d.kind == "Cluster")
    assert {n.get("image") for n in kind.obj["nodes"]} == {PINS.tool("kind-node-image")}


def test_seed_sidecar_and_wipe_use_this_repos_seeder_image() -> None:
    images = {
        (d.name, c["name"]): c["image"]
        for d, _l, spec in workloads(load_manifests())
        for c in containers(spec)
    }
    for key in (("mytsdb", "wipe"), ("mytsdb", "seed"), ("reference-prometheus", "seed-openmetrics")):
        assert images[key] == PINS.image("seeder")
    assert images[("mytsdb", "mytsdb")] == PINS.image("mytsdb")
    assert images[("sample-app", "sample-app")] == PINS.image("sample-app")


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_dockerfile_is_pinned_small_and_non_root(name: str) -> None:
    steps = instructions(DOCKERFILES[name])
    assert steps[0] == ("FROM", PINS.image("python-base")), "base must be the pinned python:3.11-slim"
    assert sum(1 for ins, _ in steps if ins == "FROM") == 1
    users = [args for ins, args in steps if ins == "USER"]
    assert users and re.fullmatch(r"[1-9]\d{3,}:[1-9]\d{3,}", users[-1]), (
        "USER must be a numeric non-root uid:gid"
    )
    order = [ins for ins, _ in steps]
    assert order.index("USER") < order.index("ENTRYPOINT")
    assert "PIP_NO_CACHE_DIR=1" in dict(steps).get("ENV", ""), "pip's cache must not end up in the image"
    assert "ADD" not in order, "use COPY (ADD fetches URLs and unpacks archives)"


def test_seeder_image_installs_this_repo_and_runs_the_cli() -> None:
    steps = instructions(DOCKERFILES["seeder"])
    copies = [args.split()[0] for ins, args in steps if ins == "COPY"]
    assert copies == ["pyproject.toml", "seeder/"]
    assert dict(steps)["ENTRYPOINT"] == '["python", "-m", "seeder"]'


def test_sample_app_requirements_match_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for req in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
        name, _, version = req.partition("==")
        pins[name.lower()] = version
    reqs = (MANIFESTS_DIR / "sample-app" / "requirements.txt").read_text().splitlines()
    for line in (ln for ln in reqs if ln.strip() and not ln.startswith("#")):
        name, _, version = line.partition("==")
        assert version, f"{line}: not pinned with =="
        assert pins.get(name.lower()) == version, (
            f"{name}=={version} differs from pyproject.toml ({pins.get(name.lower())})"
        )


def test_dockerignore_sends_exactly_what_the_dockerfiles_copy() -> None:
    rules = parse_dockerignore((ROOT / ".dockerignore").read_text())
    needed = [
        "pyproject.toml",
        "seeder/__init__.py",
        "seeder/cli.py",
        "seeder/sinks/base.py",
        "standin/__main__.py",
        "manifests/sample-app/sample_app.py",
        "manifests/sample-app/requirements.txt",
    ]
    for path in needed:
        assert not is_ignored(path, rules), f"{path} is needed by a Dockerfile but excluded by .dockerignore"
    for path in (
        "tests/unit/checks/test_hardening.py",
        "fixtures/plugin.py",
        "README.md",
        ".venv/bin/python",
        "seeder/__pycache__/cli.cpython-311.pyc",
        "manifests/grafana/deployment.yaml",
    ):
        assert is_ignored(path, rules), f"{path} should not be in the build context"
