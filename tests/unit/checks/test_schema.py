"""Every applied manifest validates against the OpenAPI schemas of the pinned Kubernetes version."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest

from fixtures.checks.manifests import Doc, k8s_objects, load_manifests
from fixtures.common.pins import PINS

K8S_VERSION = PINS.tool("kubernetes-schema")
DOCS = k8s_objects(load_manifests())


def validate(obj: dict) -> None:
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_pinned_version_has_schemas() -> None:
    assert K8S_VERSION.split(".")[:2] == PINS.tool("kind-node-image").rsplit(":v", 1)[1].split(".")[:2], (
        "tools.kubernetes-schema must match the minor version of tools.kind-node-image"
    )
    validate({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "probe"}})


@pytest.mark.parametrize("doc", DOCS, ids=[f"{d.path}:{d.kind}/{d.name}" for d in DOCS])
def test_manifest_validates(doc: Doc) -> None:
    try:
        validate(doc.obj)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{doc.where()}: {exc.message} at {'.'.join(map(str, exc.path))}")


def test_every_kind_of_object_is_covered() -> None:
    kinds = {d.kind for d in DOCS}
    assert {"Namespace", "Deployment", "Service", "ConfigMap", "NetworkPolicy", "ServiceAccount"} <= kinds


@pytest.mark.parametrize(
    "mutate",
    [
        lambda o: o["spec"]["template"]["spec"]["containers"][0].__setitem__("imagePulPolicy", "Never"),
        lambda o: o["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"].__setitem__(
            "cpu", []
        ),
        lambda o: o["spec"].__setitem__("replicas", "one"),
    ],
    ids=["unknown-field", "wrong-type", "string-replicas"],
)
def test_validator_rejects_broken_objects(mutate) -> None:
    """The schema check is real: a typo'd field or a wrong type fails (strict mode)."""
    deployment = copy.deepcopy(next(d.obj for d in DOCS if d.kind == "Deployment"))
    mutate(deployment)
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)
