"""Manifest substitution on the real manifests: only images and the seed spec change."""

from __future__ import annotations

import base64
import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from fixtures.common.config import HarnessConfig
from fixtures.kube import apply as ka
from fixtures.stacks.kube_deploy import pinned_images, seed_spec_values

ROOT = Path(__file__).resolve().parents[3]
CONFIG = HarnessConfig(rootdir=ROOT)
SEED = {"PRESET": "tiny", "SEED": "7", "END_TIME": "1793491200"}


@pytest.fixture(scope="module")
def docs() -> list[ka.Doc]:
    return ka.load_documents(ROOT / "manifests")


@pytest.fixture(scope="module")
def built() -> dict[str, str]:
    """Each image this repo substitutes -> a content-tagged ref, keyed by manifest repository."""
    pinned = pinned_images(CONFIG)
    return {ka.split_repository(pinned[name]): f"{ka.split_repository(pinned[name])}:h-{i:016x}"
            for i, name in enumerate(("mytsdb", "seeder", "sample-app"))}


def find(docs: list[ka.Doc], kind: str, name: str) -> ka.Doc:
    [doc] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def without_substituted_fields(doc: ka.Doc) -> dict[str, Any]:
    """The object with images, seed values and the seed annotation blanked (what must not change)."""
    clone = copy.deepcopy(doc)
    spec = ka.pod_spec(clone)
    if spec is not None:
        for container in ka.containers(spec):
            container["image"] = "-"
        meta = clone["spec"].get("template", {}).get("metadata") or {}
        meta.get("annotations", {}).pop(ka.SEED_SPEC_ANNOTATION, None)
        if meta.get("annotations") == {}:
            del meta["annotations"]
    if clone["kind"] == "ConfigMap" and clone["metadata"]["name"] == ka.SEED_SPEC_CONFIGMAP:
        clone["data"] = {k: "-" for k in clone["data"]}
    return clone


def test_images_and_seed_spec_are_the_only_changes(docs: list[ka.Doc], built: dict[str, str]) -> None:
    original = copy.deepcopy(docs)
    out = ka.substitute(docs, ka.Substitutions(images=built, seed_spec=SEED))
    assert docs == original, "substitute() must not modify its input"
    assert [without_substituted_fields(d) for d in out] == [without_substituted_fields(d) for d in docs]
    images = {c["image"] for d in out if (s := ka.pod_spec(d)) for c in ka.containers(s)}
    assert set(built.values()) <= images
    for image in images:
        repository = ka.split_repository(image)
        assert image == built.get(repository, image), f"{image} kept its static tag"
        assert not image.endswith(":latest")
    assert find(out, "ConfigMap", ka.SEED_SPEC_CONFIGMAP)["data"] == SEED


def test_every_pod_template_reading_the_seed_spec_carries_its_digest(docs: list[ka.Doc]) -> None:
    out = ka.substitute(docs, ka.Substitutions(seed_spec=SEED))
    readers = [d for d in out if d["kind"] == "Deployment"
               and ka.reads_configmap(ka.pod_spec(d) or {}, ka.SEED_SPEC_CONFIGMAP)]
    assert {d["metadata"]["name"] for d in readers} >= {"mytsdb"}, "the seeded deployment reads seed-spec"
    for doc in readers:
        assert doc["spec"]["template"]["metadata"]["annotations"][ka.SEED_SPEC_ANNOTATION] == \
            ka.seed_spec_digest(SEED)
    changed = ka.substitute(docs, ka.Substitutions(seed_spec={**SEED, "SEED": "8"}))
    assert find(changed, "Deployment", "mytsdb")["spec"]["template"]["metadata"]["annotations"] != \
        find(out, "Deployment", "mytsdb")["spec"]["template"]["metadata"]["annotations"]
    others = [d for d in out if d["kind"] == "Deployment" and d not in readers]
    assert all(ka.SEED_SPEC_ANNOTATION not in (d["spec"]["template"].get("metadata") or {}).get(
        "annotations", {}) for d in others)


def test_substitution_that_matches_nothing_is_an_error(docs: list[ka.Doc]) -> None:
    with pytest.raises(ka.ManifestError, match="no container uses image repository example/unused"):
        ka.substitute(docs, ka.Substitutions(images={"example/unused": "example/unused:h-1"}))
    no_seed_map = [d for d in docs if d["metadata"]["name"] != ka.SEED_SPEC_CONFIGMAP]
    with pytest.raises(ka.ManifestError, match="no ConfigMap seed-spec"):
        ka.substitute(no_seed_map, ka.Substitutions(seed_spec=SEED))


@pytest.mark.parametrize(("image", "repository"), [
    ("mytsdb:harness", "mytsdb"), ("mytsdb-harness/seeder:0.1.0", "mytsdb-harness/seeder"),
    ("localhost:5000/me/mytsdb:v1", "localhost:5000/me/mytsdb"),
    ("localhost:5000/mytsdb", "localhost:5000/mytsdb"),
    ("grafana/grafana:11.6.0@sha256:" + "a" * 64, "grafana/grafana"), ("busybox", "busybox"),
])
def test_repository_of_an_image_reference(image: str, repository: str) -> None:
    assert ka.split_repository(image) == repository


def test_apply_order_puts_namespaces_first_and_workloads_last(docs: list[ka.Doc]) -> None:
    kinds = [d["kind"] for d in ka.apply_order(docs)]
    assert kinds[: kinds.count("Namespace")] == ["Namespace"] * kinds.count("Namespace")
    first_workload = min(i for i, k in enumerate(kinds) if k == "Deployment")
    assert {"ConfigMap", "Service", "ServiceAccount"}.isdisjoint(kinds[first_workload:])


def test_every_kustomization_resource_is_loaded_and_the_kind_config_is_not(docs: list[ka.Doc]) -> None:
    files = ka.manifest_files(ROOT / "manifests")
    assert all(f.is_file() for f in files) and not any("kind" in f.relative_to(ROOT / "manifests").parts[:1]
                                                          for f in files)
    assert not any(d["apiVersion"].startswith("kind.x-k8s.io") for d in docs)


def test_missing_kustomization_resource_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: [a.yaml, gone.yaml]\n")
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
    with pytest.raises(ka.ManifestError, match=r"gone\.yaml"):
        ka.load_documents(tmp_path)


def test_grafana_secret_is_created_where_grafana_reads_it(docs: list[ka.Doc]) -> None:
    namespaces = ka.secret_namespaces(docs)
    assert namespaces == sorted({d["metadata"]["namespace"] for d in docs if d["kind"] == "Deployment"
                                 and ka.references_secret(ka.pod_spec(d) or {}, ka.GRAFANA_SECRET)})
    assert namespaces, "a workload must read Secret grafana-admin"
    first, second = ka.new_grafana_secret(namespaces[0]), ka.new_grafana_secret(namespaces[0])
    assert set(first.string_data) == {"admin-user", "admin-password"}
    assert first.string_data["admin-password"] != second.string_data["admin-password"]
    assert len(first.string_data["admin-password"]) >= 24


def test_grafana_credentials_are_decoded_from_the_api_secret() -> None:
    secret = k8s.V1Secret(data={"admin-user": base64.b64encode(b"admin").decode(),
                                "admin-password": base64.b64encode(b"s3cret").decode()})
    assert ka.grafana_credentials(secret) == ("admin", "s3cret")
    with pytest.raises(ka.ManifestError, match="admin-password"):
        ka.grafana_credentials(k8s.V1Secret(data={"admin-user": "YWRtaW4="}))


class FakeDynamic:
    """DynamicClient stand-in that enforces namespaced vs cluster-scoped like the API server."""

    def __init__(self) -> None:
        self.applied: list[tuple[str, str, str | None]] = []
        self.resources = self

    def get(self, api_version: str, kind: str) -> Any:
        return type("Resource", (), {"kind": kind, "namespaced": kind not in ("Namespace", "ClusterRole")})()

    def server_side_apply(self, resource: Any, body: ka.Doc, name: str, namespace: str | None,
                          field_manager: str, force_conflicts: bool) -> None:
        assert (namespace is None) != resource.namespaced and field_manager == ka.FIELD_MANAGER
        self.applied.append((resource.kind, name, namespace))


def test_apply_is_server_side_in_order_and_requires_namespaces(docs: list[ka.Doc]) -> None:
    dyn = FakeDynamic()
    applied = ka.apply_documents(dyn, docs)
    assert len(applied) == len(docs) and dyn.applied[0][0] == "Namespace"
    bare = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    with pytest.raises(ka.ManifestError, match=r"ConfigMap/x lacks metadata\.namespace"):
        ka.apply_documents(FakeDynamic(), [bare])


def config(**kw: object) -> HarnessConfig:
    return dataclasses.replace(CONFIG, **kw)  # type: ignore[arg-type]


def test_seed_spec_values_keep_a_seeded_cluster_unchanged() -> None:
    now = 1_793_491_234.9
    fresh = seed_spec_values(config(), None, now)
    assert fresh == {"PRESET": "seed-20m", "SEED": "42", "END_TIME": "1793491200"}
    assert seed_spec_values(config(), {**fresh, "END_TIME": "1700000000"}, now)["END_TIME"] == "1700000000"
    other_preset = seed_spec_values(config(seed_preset="tiny"), {**fresh, "END_TIME": "1700000000"}, now)
    assert other_preset["END_TIME"] == "1793491200"
    explicit = seed_spec_values(config(seed_end_time="2026-11-01T00:00:00Z"), fresh, now)
    assert explicit["END_TIME"] == "2026-11-01T00:00:00Z"
