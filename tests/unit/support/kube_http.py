"""A tiny Kubernetes API server behind the real kubernetes client, faked at the urllib3 layer.

The harness's code runs unchanged on real ``kubernetes.client`` / ``DynamicClient`` objects; only
``ApiClient.rest_client.pool_manager`` (the urllib3 PoolManager) is replaced. Every request is
recorded (method, path, query, content type, body), so a wrong path, verb, content type or
parameter fails a test. The server enforces what the real API server enforces for the calls we
make: server-side apply needs ``application/apply-patch+yaml`` and a ``fieldManager``; unknown
paths are 404; creating an existing object is 409. Exec (websocket): :mod:`kube_ws_fake`.

Example::

    server = FakeApiServer()
    api = server.client()
    k8s.CoreV1Api(api).read_namespaced_secret("x", "ns")   # -> ApiException 404
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import urllib3
from kubernetes import client as k8s

HOST = "https://fake-apiserver.invalid:6443"
# (group, version) -> [(plural, kind, namespaced)]: the resources of the manifests and the tests.
RESOURCES: dict[tuple[str, str], list[tuple[str, str, bool]]] = {
    ("", "v1"): [("namespaces", "Namespace", False), ("configmaps", "ConfigMap", True),
                 ("secrets", "Secret", True), ("services", "Service", True),
                 ("serviceaccounts", "ServiceAccount", True), ("pods", "Pod", True),
                 ("events", "Event", True)],
    ("apps", "v1"): [("deployments", "Deployment", True)],
    ("networking.k8s.io", "v1"): [("networkpolicies", "NetworkPolicy", True)],
    ("discovery.k8s.io", "v1"): [("endpointslices", "EndpointSlice", True)],
    ("rbac.authorization.k8s.io", "v1"): [("roles", "Role", True), ("rolebindings", "RoleBinding", True)],
}
SUBRESOURCES = {"pods": ("log", "exec", "status")}


@dataclass
class Request:
    """One recorded HTTP request."""

    method: str
    path: str
    query: list[tuple[str, str]]
    content_type: str | None
    body: Any

    def param(self, name: str) -> str | None:
        return dict(self.query).get(name)


@dataclass
class FakeApiServer:
    """Objects by API path; ``on_apply`` lets a test play the controllers (status, pods)."""

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    logs: dict[tuple[str, str, bool], str] = field(default_factory=dict)  # (pod, container, previous)
    exec_output: Callable[[str, list[str], str], str] = lambda pod, command, container: ""
    on_apply: Callable[[FakeApiServer, dict[str, Any]], None] | None = None
    reject: Callable[[Request], tuple[int, dict[str, Any]] | None] = lambda request: None  # admission
    uid: int = 0

    # -- client side ----------------------------------------------------------------------------

    def client(self) -> k8s.ApiClient:
        """A real ApiClient whose HTTP goes to this fake."""
        cfg = k8s.Configuration(host=HOST)
        cfg.api_key = {"BearerToken": "Bearer test-token"}
        api = k8s.ApiClient(cfg)
        api.rest_client.pool_manager = _Pool(self)
        return api

    def made(self, method: str, path_part: str = "") -> list[Request]:
        """Recorded requests with this method whose path contains ``path_part``."""
        return [r for r in self.requests if r.method == method and path_part in r.path]

    # -- object store ---------------------------------------------------------------------------

    @staticmethod
    def resource_of(kind: str, api_version: str) -> tuple[str, bool]:
        group, _, version = api_version.rpartition("/")
        for plural, k, namespaced in RESOURCES[(group, version)]:
            if k == kind:
                return plural, namespaced
        raise KeyError(kind)

    @staticmethod
    def path_of(obj: dict[str, Any]) -> str:
        plural, namespaced = FakeApiServer.resource_of(obj["kind"], obj["apiVersion"])
        prefix = "/api/v1" if obj["apiVersion"] == "v1" else f"/apis/{obj['apiVersion']}"
        ns = f"/namespaces/{obj['metadata']['namespace']}" if namespaced else ""
        return f"{prefix}{ns}/{plural}/{obj['metadata']['name']}"

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Store ``obj`` (as a controller or kubelet would write it)."""
        stored = copy.deepcopy(obj)
        meta = stored.setdefault("metadata", {})
        if "uid" not in meta:
            self.uid += 1
            meta["uid"] = f"uid-{self.uid}"
        meta.setdefault("generation", 1)
        self.objects[self.path_of(stored)] = stored
        return stored

    def get(self, kind: str, api_version: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        meta = {"name": name, **({"namespace": namespace} if namespace else {})}
        return self.objects.get(self.path_of({"kind": kind, "apiVersion": api_version, "metadata": meta}))

    # -- HTTP -----------------------------------------------------------------------------------

    def handle(self, method: str, url: str, headers: dict[str, str], body: Any) -> urllib3.HTTPResponse:
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == HOST, url
        assert headers.get("authorization") == "Bearer test-token" or headers.get(
            "Authorization") == "Bearer test-token", "no bearer token sent"
        content_type = headers.get("Content-Type")
        parsed = json.loads(body) if isinstance(body, (str, bytes)) and body else body
        request = Request(method, parts.path, parse_qsl(parts.query), content_type, parsed)
        self.requests.append(request)
        status, payload = self.route(request)
        if isinstance(payload, str):
            data, ctype = payload.encode(), "text/plain"
        else:
            data, ctype = json.dumps(payload).encode(), "application/json"
        return urllib3.HTTPResponse(body=data, status=status, headers={"content-type": ctype},
                                    preload_content=False, reason=HTTPStatus(status).phrase)

    def route(self, req: Request) -> tuple[int, Any]:
        segments = [s for s in req.path.split("/") if s]
        if req.path == "/version":
            return 200, {"major": "1", "minor": "33", "gitVersion": "v1.33.1"}
        if req.path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"]}
        if req.path == "/apis":
            return 200, {"kind": "APIGroupList", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                 "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}}
                for g, v in RESOURCES if g]}
        if (segments[0], len(segments)) in (("api", 2), ("apis", 3)):
            return self.resource_list(segments)
        return self.object_route(req, segments)

    def resource_list(self, segments: list[str]) -> tuple[int, Any]:
        group, version = ("", segments[1]) if segments[0] == "api" else (segments[1], segments[2])
        if (group, version) not in RESOURCES:
            return 404, status_body(404, "NotFound", f"no group {group}/{version}")
        resources = []
        for plural, kind, namespaced in RESOURCES[(group, version)]:
            verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
            resources.append({"name": plural, "singularName": "", "namespaced": namespaced, "kind": kind,
                              "verbs": verbs})
            resources += [{"name": f"{plural}/{sub}", "singularName": "", "namespaced": namespaced,
                           "kind": kind if sub == "status" else "Pod", "verbs": ["get", "create"]}
                          for sub in SUBRESOURCES.get(plural, ())]
        return 200, {"kind": "APIResourceList", "groupVersion": "/".join(filter(None, (group, version))),
                     "resources": resources}

    def object_route(self, req: Request, segments: list[str]) -> tuple[int, Any]:
        rejected = self.reject(req)
        if rejected is not None:
            return rejected
        if segments[0] == "api":
            api_version, rest = segments[1], segments[2:]
        else:
            api_version, rest = f"{segments[1]}/{segments[2]}", segments[3:]
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        plural, name, sub = rest[0], rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None
        kinds = {p: (k, ns) for p, k, ns in RESOURCES.get(tuple(api_version.rpartition("/")[::2]), [])}
        if plural not in kinds:
            return 404, status_body(404, "NotFound", f"the server could not find {req.path}")
        kind, namespaced = kinds[plural]
        if namespaced and namespace is None and name is not None:
            return 404, status_body(404, "NotFound", f"{plural} is namespaced: {req.path}")
        prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        base = f"{prefix}{f'/namespaces/{namespace}' if namespace else ''}/{plural}"
        if name is None:
            return self.collection(req, base, kind, api_version, namespace)
        path = f"{base}/{name}"
        if sub is not None:
            return self.subresource(req, path, name, sub, namespace or "")
        if req.method == "GET":
            obj = self.objects.get(path)
            return (200, obj) if obj else (404, status_body(404, "NotFound", f'{plural} "{name}" not found'))
        if req.method == "PATCH":
            return self.apply(req, path, kind, api_version, namespace, name)
        if req.method == "DELETE":
            obj = self.objects.pop(path, None)
            return (200, obj) if obj else (404, status_body(404, "NotFound", f'{plural} "{name}" not found'))
        return 405, status_body(405, "MethodNotAllowed", req.method)

    def collection(self, req: Request, base: str, kind: str, api_version: str,
                   namespace: str | None) -> tuple[int, Any]:
        if req.method == "POST":
            body = req.body
            if body.get("kind") not in (None, kind) or \
                    body["metadata"].get("namespace") not in (None, namespace):
                return 400, status_body(400, "BadRequest", "body kind/namespace differ from the URL")
            path = f"{base}/{body['metadata']['name']}"
            if path in self.objects:
                return 409, status_body(409, "AlreadyExists", f"{kind} {body['metadata']['name']} exists")
            obj = {**body, "kind": kind, "apiVersion": api_version}
            obj["metadata"] = {**body["metadata"], **({"namespace": namespace} if namespace else {})}
            if kind == "Secret" and "stringData" in obj:  # the API server folds stringData into data
                data = obj.setdefault("data", {})
                data.update({k: base64.b64encode(v.encode()).decode()
                             for k, v in obj.pop("stringData").items()})
            return 201, self.put(obj)
        if req.method != "GET":
            return 405, status_body(405, "MethodNotAllowed", req.method)
        items = [o for p, o in self.objects.items() if p.startswith(base + "/")]
        selector = req.param("labelSelector")
        if selector:
            wanted = dict(term.split("=", 1) for term in selector.split(","))
            items = [o for o in items if wanted.items() <= (o["metadata"].get("labels") or {}).items()]
        field_selector = req.param("fieldSelector")
        if field_selector:
            key, value = field_selector.split("=", 1)
            assert key == "involvedObject.name", f"unsupported field selector {key}"
            items = [o for o in items if o.get("involvedObject", {}).get("name") == value]
        return 200, {"kind": f"{kind}List", "apiVersion": api_version, "metadata": {}, "items": items}

    def apply(self, req: Request, path: str, kind: str, api_version: str, namespace: str | None,
              name: str) -> tuple[int, Any]:
        if req.content_type != "application/apply-patch+yaml":
            return 415, status_body(415, "UnsupportedMediaType", f"this fake only takes server-side apply, "
                                                              f"got {req.content_type}")
        if not req.param("fieldManager"):
            return 400, status_body(400, "BadRequest", "fieldManager is required for apply requests")
        body = req.body
        if body.get("kind") != kind or body.get("apiVersion") != api_version:
            return 400, status_body(400, "BadRequest", f"body is {body.get('apiVersion')}/{body.get('kind')}")
        if body["metadata"]["name"] != name or body["metadata"].get("namespace") not in (None, namespace):
            return 400, status_body(400, "BadRequest", "body name/namespace differ from the URL")
        old = self.objects.get(path)
        obj = copy.deepcopy(body)
        if old is not None:
            obj["metadata"]["uid"] = old["metadata"]["uid"]
            spec_changed = old.get("spec") != obj.get("spec")
            obj["metadata"]["generation"] = old["metadata"]["generation"] + (1 if spec_changed else 0)
            obj.setdefault("status", old.get("status"))
        if kind == "Namespace":  # the namespace controller's part
            obj.setdefault("status", {"phase": "Active"})
        stored = self.put(obj)
        if self.on_apply is not None:
            self.on_apply(self, stored)
        return 200, self.objects[path]

    def subresource(self, req: Request, path: str, name: str, sub: str, namespace: str) -> tuple[int, Any]:
        if path not in self.objects:
            return 404, status_body(404, "NotFound", f'pods "{name}" not found')
        if sub == "log" and req.method == "GET":
            key = (name, req.param("container") or "", req.param("previous") == "true")
            if key not in self.logs:
                return 400, status_body(400, "BadRequest", f"previous terminated container {key[1]} not found"
                                    if key[2] else f"container {key[1]} is not valid for pod {name}")
            text = self.logs[key]
            tail = req.param("tailLines")
            if tail is not None:
                text = "\n".join(text.splitlines()[-int(tail):]) + "\n"
            return 200, text
        return 404, status_body(404, "NotFound", f"subresource {sub}")


def status_body(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
            "reason": reason, "code": code}


class _Pool:
    """Stands in for urllib3.PoolManager: the one method the kubernetes RESTClientObject calls."""

    def __init__(self, server: FakeApiServer) -> None:
        self.server = server

    def request(self, method: str, url: str, *, body: Any = None, headers: dict[str, str] | None = None,
                fields: Any = None, **_: Any) -> urllib3.HTTPResponse:
        assert not fields, f"form fields sent to {url}: {fields}"
        return self.server.handle(method, url, headers or {}, body)
