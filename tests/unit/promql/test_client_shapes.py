"""The client against the answer shapes MyTSDB really produces, served by a tiny in-process HTTP
server, and side by side with a real Prometheus (the comparison must see through the spelling).

Shapes (../shared/mytsdb-contract.md, "PromQL HTTP API"): errors as HTTP 200 with
``{"status":"error"}``; uncaught exceptions as HTTP 500 ``{"error": ...}`` without ``status``;
values formatted ``"nan"``/``"inf"``/``"-inf"``; plus what proxies do (HTML, empty bodies) and a
server slower than the client's timeout.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse

import pytest

from fixtures.common.errors import QueryError
from fixtures.promql.client import PromClient
from fixtures.promql.compare import FAIL, PASS, UNSUPPORTED, compare

T = 1_793_487_600.0
SLOW_S = 1.5  # how long the "slow" answer takes; the client's timeout is below it

ERROR_200 = {"status": "error", "errorType": "execution", "error": "Failed to parse query"}
SPECIAL = {"status": "success", "data": {"resultType": "vector", "result": [
    {"metric": {"k": "nan"}, "value": [T, "nan"]}, {"metric": {"k": "inf"}, "value": [T, "inf"]},
    {"metric": {"k": "-inf"}, "value": [T, "-inf"]}, {"metric": {"k": "six"}, "value": [T, "0.003333"]}]}}
SEEN: list[tuple[str, str, dict[str, str]]] = []  # (method, path, params) of every request served
SHAPES: dict[str, tuple[int, str, str]] = {  # query -> (HTTP status, content type, body)
    "error200": (200, "application/json", json.dumps(ERROR_200)),
    "error500": (500, "application/json", json.dumps({"error": "std::out_of_range: vector::_M_range_check"})),
    "html502": (502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>"),
    "text200": (200, "text/plain", "OK"),
    "empty200": (200, "application/json", ""),
    "list200": (200, "application/json", "[]"),
    "special": (200, "application/json", json.dumps(SPECIAL)),
}


class _Handler(BaseHTTPRequestHandler):
    server: _ShapeServer

    def _answer(self, params: dict[str, str]) -> None:
        SEEN.append((self.command, urlparse(self.path).path, params))
        query = params.get("query", "")
        if query == "slow":
            time.sleep(SLOW_S)  # a server that is slower than the client's timeout
            query = "special"
        code, ctype, body = SHAPES.get(query, (404, "text/plain", "404 page not found"))
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer(dict(parse_qsl(urlparse(self.path).query)))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(dict(parse_qsl(self.rfile.read(length).decode())))

    def log_message(self, *args: object) -> None:
        """Keep test output quiet."""


class _ShapeServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """The timeout test hangs up on purpose; a broken pipe then is expected."""


@pytest.fixture(scope="module")
def shapes() -> Iterator[str]:
    server = _ShapeServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_error_with_http_200_is_an_error(shapes: str) -> None:
    resp = PromClient(shapes).instant("error200", T)
    assert not resp.ok and resp.http_status == 200
    assert (resp.error_type, resp.error) == ("execution", "Failed to parse query")
    with pytest.raises(QueryError, match="HTTP 200 execution: Failed to parse query"):
        resp.raise_for_error()


def test_http_500_without_status_is_an_error(shapes: str) -> None:
    resp = PromClient(shapes).range("error500", T - 60, T, 60)
    assert not resp.ok and resp.http_status == 500 and "vector::_M_range_check" in resp.error
    assert resp.describe_error().startswith("HTTP 500 http: std::out_of_range")


@pytest.mark.parametrize(("query", "fragment"), [
    ("html502", "non-JSON body: '<html><body><h1>502 Bad Gateway"), ("text200", "non-JSON body: 'OK'"),
    ("empty200", "non-JSON body: ''"), ("list200", "JSON body is not an object")])
def test_non_json_or_non_object_bodies_are_protocol_errors(shapes: str, query: str, fragment: str) -> None:
    resp = PromClient(shapes).instant(query, T)
    assert not resp.ok and resp.error_type == "protocol" and fragment in resp.error


def test_timeout_raises_query_error_naming_the_request(shapes: str) -> None:
    client = PromClient(shapes, timeout=0.3)
    with pytest.raises(QueryError, match=r"ReadTimeout talking to http://127\.0\.0\.1:\d+/api/v1/query.*curl"):
        client.instant("slow", T)


def test_requests_carry_explicit_float_seconds_as_form_post(shapes: str) -> None:
    PromClient(shapes).range("special", T - 3600.5, T, 15)
    assert SEEN[-1] == ("POST", "/api/v1/query_range",
                        {"query": "special", "start": "1793483999.5", "end": "1793487600", "step": "15"})
    PromClient(shapes).label_values("pod", T - 60, T)
    assert SEEN[-1] == ("GET", "/api/v1/label/pod/values", {"start": "1793487540", "end": "1793487600"})


def test_curl_of_a_post_reproduces_the_answer(shapes: str) -> None:
    resp = PromClient(shapes).instant("error200", T)
    cmd = shlex.split(resp.request.curl())
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=True)
    assert json.loads(out.stdout) == ERROR_200


def test_mytsdb_spellings_equal_prometheus_values(shapes: str, prometheus: str) -> None:
    ref_expr = " or ".join(f'label_replace(vector({v}), "k", "{k}", "", "")'
                           for k, v in (("nan", "0/0"), ("inf", "1/0"), ("-inf", "-1/0"), ("six", "1/300")))
    target = PromClient(shapes).instant("special", T)
    reference = PromClient(prometheus).instant(ref_expr, T).raise_for_error()
    assert compare(target, reference, ref_expr).status == PASS


def test_mytsdb_error_shapes_against_real_prometheus(shapes: str, prometheus: str) -> None:
    prom = PromClient(prometheus)
    parse_error = prom.instant("sum(", T)
    assert parse_error.http_status == 400 and not parse_error.ok
    assert compare(PromClient(shapes).instant("error200", T), parse_error, "sum(").status == UNSUPPORTED
    ok = prom.instant("vector(1)", T)
    for shape in ("error200", "error500", "html502"):
        out = compare(PromClient(shapes).instant(shape, T), ok, "vector(1)")
        assert out.status == FAIL and out.diff.startswith("target failed: HTTP ")
