"""Helpers of the cluster tests: run a command in a pod, count seeded series, talk to Grafana."""

from __future__ import annotations

import math
from typing import Any

import requests
from kubernetes import client as k8s
from kubernetes.stream import stream

from fixtures.common.loopback import is_loopback
from fixtures.promql.client import PromClient
from seeder.manifest import SeedManifest

EXEC_TIMEOUT_S = 60  # without a timeout a stalled exec websocket waits forever
SELECTOR_CAP = 1000  # MyTSDB returns at most 1000 series per selector, silently
# Dimensions to split a count by when one selector would hit the cap (coarse to fine).
SPLIT_DIMENSIONS = ("cluster", "namespace", "node", "service", "pod", "container")


def exec_in(core: k8s.CoreV1Api, pod: str, namespace: str, container: str, script: str) -> str:
    """Run ``sh -c script`` in a container and return its output (stdout and stderr)."""
    return stream(core.connect_get_namespaced_pod_exec, pod, namespace, container=container,
                  command=["/bin/sh", "-c", script], stderr=True, stdin=False, stdout=True, tty=False,
                  _preload_content=True, _request_timeout=EXEC_TIMEOUT_S)


class ExecInRunning:
    """Probe: run ``script`` in the first *running* container of ``candidates`` (exec into a
    crash-looping container fails, so a sidecar between restarts is skipped for a peer that
    mounts the same volume)."""

    def __init__(self, core: k8s.CoreV1Api, pod: str, namespace: str, candidates: list[str],
                 script: str) -> None:
        self.core, self.pod, self.namespace = core, pod, namespace
        self.candidates, self.script = candidates, script
        self.description = f"{script!r} in one of {candidates} of pod {pod}"
        self.output, self.last = "", ""

    def check(self) -> str | None:
        live = self.core.read_namespaced_pod(self.pod, self.namespace)
        running = {s.name for s in live.status.container_statuses or [] if s.state and s.state.running}
        for container in (c for c in self.candidates if c in running):
            try:
                self.output = exec_in(self.core, self.pod, self.namespace, container, self.script)
                return None
            except k8s.ApiException as exc:
                self.last = f"exec in {container}: {exc.reason}"
        return self.last or f"none of {self.candidates} is running"

    def details(self) -> str:
        return self.last


class Answers:
    """Probe: ``GET url`` answers HTTP 200. kube-proxy routes a NodePort to a new pod's endpoint a
    moment after the pod turned Ready; until then the host port accepts and resets."""

    def __init__(self, url: str, what: str) -> None:
        self.url, self.description, self.last = url, what, ""

    def check(self) -> str | None:
        try:
            status = requests.get(self.url, timeout=5.0).status_code
        except requests.RequestException as exc:
            return f"GET {self.url}: {type(exc).__name__}"
        return None if status == 200 else f"GET {self.url}: HTTP {status}"

    def details(self) -> str:
        return ""


def file_exists(core: k8s.CoreV1Api, pod: str, namespace: str, container: str, path: str) -> bool:
    return exec_in(core, pod, namespace, container, f"test -e {path} && echo yes || echo no").strip() == "yes"


def live_pods(pods: list[k8s.V1Pod]) -> list[k8s.V1Pod]:
    """Pods that are not terminating and not finished (a leftover Evicted pod is not the pod)."""
    return [p for p in pods if p.metadata.deletion_timestamp is None
            and not (p.status and p.status.phase in ("Failed", "Succeeded"))]


def pod_ready(pod: k8s.V1Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def ready_service_endpoints(api: k8s.ApiClient, namespace: str, service: str) -> int:
    """Ready endpoints of a Service over its EndpointSlices."""
    slices = k8s.DiscoveryV1Api(api).list_namespaced_endpoint_slice(
        namespace, label_selector=f"kubernetes.io/service-name={service}").items
    return sum(1 for s in slices for e in (s.endpoints or []) if e.conditions and e.conditions.ready)


def _count(client: PromClient, metric: str, matchers: list[str], at: float) -> int:
    selector = ",".join([f'__name__="{metric}"', *matchers])
    result = client.instant(f"count({{{selector}}})", at).raise_for_error().result
    return int(float(result[0]["value"][1])) if result else 0


def count_series(client: PromClient, metric: str, manifest: SeedManifest,
                 matchers: list[str] | None = None) -> int:
    """Series of ``metric`` in the main slice at the manifest's query time.

    The OTLP slice's cluster is excluded; a count that reaches the selector cap is split by the
    next label dimension (values from the manifest) so the cap can never hide series.
    """
    if matchers is None:
        otlp_cluster = (manifest.otlp or {}).get("cluster")
        matchers = [f'cluster!="{otlp_cluster}"'] if otlp_cluster else []
    n = _count(client, metric, matchers, manifest.query_time())
    if n < SELECTOR_CAP:
        return n
    used = {m.split("=")[0].rstrip("!") for m in matchers}
    labels = manifest.metrics[metric].get("labels") or []
    dims = [d for d in SPLIT_DIMENSIONS if d in labels and d not in used and manifest.label_values.get(d)]
    if not dims:
        return n
    return sum(count_series(client, metric, manifest, [*matchers, f'{dims[0]}="{v}"'])
               for v in manifest.label_values[dims[0]])


def main_slice_series(manifest: SeedManifest, metric: str) -> int:
    """How many series of ``metric`` the manifest says the main (Arrow-seeded) slice holds."""
    info = manifest.metrics[metric]
    slices = info.get("slices") or {}
    return int(slices.get("main", info["series"]))


class Grafana:
    """The few Grafana HTTP API calls the tests make, with basic auth."""

    def __init__(self, url: str, auth: tuple[str, str]) -> None:
        self.url, self.session = url.rstrip("/"), requests.Session()
        self.session.auth = auth
        # NodePorts and port-forwards are on loopback: never through an HTTP(S)_PROXY from the env
        self.session.trust_env = not is_loopback(self.url)

    def get(self, path: str, **params: Any) -> Any:
        resp = self.session.get(self.url + path, params=params, timeout=30)
        resp.raise_for_status()
        return resp.json()

    def resource(self, datasource_uid: str, path: str, params: list[tuple[str, str]]) -> tuple[int, Any]:
        """GET through the datasource's resource proxy, as the frontend's metadata requests go."""
        resp = self.session.get(f"{self.url}/api/datasources/uid/{datasource_uid}/resources{path}",
                                params=params, timeout=60)
        try:
            return resp.status_code, resp.json()
        except ValueError:
            return resp.status_code, {"status": "error", "error": resp.text[:500]}

    def post_query(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/ds/query`` with a prepared body; returns the result of refId A."""
        resp = self.session.post(self.url + "/api/ds/query", json=body, timeout=120)
        if resp.status_code >= 400 and "application/json" not in resp.headers.get("Content-Type", ""):
            resp.raise_for_status()
        results = resp.json().get("results") or {}
        if "A" not in results:
            raise AssertionError(f"Grafana answered HTTP {resp.status_code} without a result: "
                                 f"{resp.text[:500]}")
        return results["A"]

    def query(self, datasource_uid: str, expr: str, *, start_ms: int, end_ms: int, step_ms: int,
              instant: bool, max_data_points: int) -> dict[str, Any]:
        """``POST /api/ds/query`` the way a panel sends it; returns the result of refId A."""
        body = {"from": str(start_ms), "to": str(end_ms), "queries": [{
            "refId": "A", "datasource": {"type": "prometheus", "uid": datasource_uid}, "expr": expr,
            "range": not instant, "instant": instant, "interval": f"{step_ms // 1000}s",
            "intervalMs": step_ms, "maxDataPoints": max_data_points, "format": "time_series"}]}
        resp = self.session.post(self.url + "/api/ds/query", json=body, timeout=60)
        resp.raise_for_status()
        return resp.json()["results"]["A"]


def panel_query_body(datasource_uid: str, expr: str, *, start_ms: int, end_ms: int, instant: bool,
                     interval: str, interval_ms: int, max_data_points: int) -> dict[str, Any]:
    """The ``/api/ds/query`` body a dashboard panel sends (Grafana's frontend, UTC dashboard).

    ``expr`` has the dashboard variables expanded and the built-ins (``$__interval``,
    ``$__rate_interval``, ``$__range``...) left for the backend; ``interval`` is the target's Min
    step as templated by the frontend ("" when unset), never a forced step; ``interval_ms`` and
    ``max_data_points`` are what the frontend computed for the panel.
    """
    return {"from": str(start_ms), "to": str(end_ms), "queries": [{
        "refId": "A", "datasource": {"type": "prometheus", "uid": datasource_uid}, "expr": expr,
        "range": not instant, "instant": instant, "interval": interval, "intervalMs": interval_ms,
        "maxDataPoints": max_data_points, "format": "time_series", "exemplar": False, "utcOffsetSec": 0}]}


def executed_queries(result: dict[str, Any]) -> set[str]:
    """The ``executedQueryString`` of every frame (``Expr: <expr>\nStep: <Go duration>``)."""
    return {str(((frame.get("schema") or {}).get("meta") or {}).get("executedQueryString"))
            for frame in result.get("frames") or []}


def frames_to_series(result: dict[str, Any]) -> dict[frozenset[tuple[str, str]], dict[int, float]]:
    """Grafana data frames -> {labels without __name__: {timestamp ms: value}} (null = NaN)."""
    series: dict[frozenset[tuple[str, str]], dict[int, float]] = {}
    for frame in result.get("frames") or []:
        fields, values = frame["schema"]["fields"], frame["data"]["values"]
        for index, field in enumerate(fields[1:], start=1):
            labels = frozenset((k, v) for k, v in (field.get("labels") or {}).items() if k != "__name__")
            points = series.setdefault(labels, {})
            for t, v in zip(values[0], values[index], strict=True):
                points[int(t)] = math.nan if v is None else float(v)
    return series


def prom_to_series(result: list[dict[str, Any]]) -> dict[frozenset[tuple[str, str]], dict[int, float]]:
    """A Prometheus matrix/vector result in the same shape as :func:`frames_to_series`."""
    series: dict[frozenset[tuple[str, str]], dict[int, float]] = {}
    for item in result:
        labels = frozenset((k, v) for k, v in item["metric"].items() if k != "__name__")
        pairs = item.get("values") or [item["value"]]
        series[labels] = {round(float(t) * 1000): float(v) for t, v in pairs}
    return series


def same_value(a: float, b: float) -> bool:
    """MyTSDB prints 6 decimals: absolute 1e-6 plus relative 1e-9; NaN equals NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= 1e-6 + 1e-9 * max(abs(a), abs(b))


def series_diff(grafana: dict[frozenset[tuple[str, str]], dict[int, float]],
                direct: dict[frozenset[tuple[str, str]], dict[int, float]]) -> list[str]:
    """Differences between what Grafana showed and what the direct query returned."""
    problems = [f"only via Grafana: {dict(k)}" for k in grafana.keys() - direct.keys()]
    problems += [f"only in the direct query: {dict(k)}" for k in direct.keys() - grafana.keys()]
    for key in grafana.keys() & direct.keys():
        g, d = grafana[key], direct[key]
        if g.keys() != d.keys():
            problems.append(f"{dict(key)}: timestamps differ ({len(g)} via Grafana, {len(d)} direct)")
            continue
        bad = [(t, g[t], d[t]) for t in sorted(g) if not same_value(g[t], d[t])]
        if bad:
            problems.append(f"{dict(key)}: {len(bad)} values differ, first at {bad[0][0]}: "
                            f"Grafana {bad[0][1]!r} vs direct {bad[0][2]!r}")
    return problems
