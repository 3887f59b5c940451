"""The PromQL client: error shapes (HTTP 4xx/5xx, error body with 200, non-JSON) and curl rendering,
against a real local Prometheus where it matters."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from fixtures.common.errors import QueryError
from fixtures.promql.client import PromClient, PromRequest, decode, fmt_time

T = 1_793_487_600.0


def test_success(prometheus: str) -> None:
    resp = PromClient(prometheus).instant("vector(1) * 2", T)
    assert resp.ok and resp.result_type == "vector" and resp.result[0]["value"] == [T, "2"]


def test_range_has_points_on_the_step_grid(prometheus: str) -> None:
    resp = PromClient(prometheus).range("vector(1)", T - 120, T, 60)
    assert [p[0] for p in resp.result[0]["values"]] == [T - 120, T - 60, T]


def test_parse_error_as_http_400(prometheus: str) -> None:
    resp = PromClient(prometheus).instant("sum(", T)
    assert not resp.ok and resp.http_status == 400 and resp.error_type == "bad_data"
    with pytest.raises(QueryError, match="HTTP 400 bad_data"):
        resp.raise_for_error()


def test_non_json_body(prometheus: str) -> None:
    resp = PromClient(prometheus).request("/-/ready", [], method="GET")
    assert not resp.ok and resp.error_type == "protocol" and "non-JSON body" in resp.error


def test_label_api(prometheus: str) -> None:
    resp = PromClient(prometheus).labels(T - 60, T).raise_for_error()
    assert isinstance(resp.result, list)


def test_refused_connection_is_query_error() -> None:
    from fixtures.stacks.prometheus_proc import free_port

    with pytest.raises(QueryError, match="reproduce with: curl"):
        PromClient(f"http://127.0.0.1:{free_port()}", timeout=2).instant("up", T)


def test_error_body_with_http_200_is_an_error() -> None:  # MyTSDB's way
    body = '{"status":"error","errorType":"execution","error":"Failed to parse query"}'
    resp = decode(PromRequest("http://x", "/api/v1/query", ()), 200, body)
    assert not resp.ok and resp.error == "Failed to parse query"


def test_http_500_without_status() -> None:  # MyTSDB's uncaught exceptions
    resp = decode(PromRequest("http://x", "/api/v1/query", ()), 500, '{"error": "std::bad_alloc"}')
    assert not resp.ok and resp.describe_error() == "HTTP 500 http: std::bad_alloc"


def test_times_are_plain_float_seconds() -> None:
    assert fmt_time(T) == "1793487600" and fmt_time(T + 0.5) == "1793487600.5"


def test_curl_reproduces_the_request(prometheus: str) -> None:
    resp = PromClient(prometheus).instant('label_replace(vector(3), "a", "x y", "", "")', T)
    cmd = shlex.split(resp.request.curl())
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=10)
    assert '"3"' in out.stdout
