"""The stand-in's HTTP port: ``GET /health`` and MyTSDB's PromQL API, answered by its Prometheus.

Served (GET and form POST, as MyTSDB): ``/api/v1/query``, ``/api/v1/query_range``,
``/api/v1/labels``, ``/api/v1/label/<name>/values``, ``/api/v1/series``; plus ``POST
/api/v1/write`` (MyTSDB takes remote write v1 too). Requests go to the internal Prometheus
verbatim (query string, form body, content type) and its answer comes back verbatim (status,
content type, body). Every other path is a 404, as in MyTSDB (no ``/-/ready``, no
``/api/v1/status/*``, no ``/api/v1/metadata``). Extra JSON routes (a double's own diagnostics)
can be added by the caller. Without a Prometheus (record-only doubles) the API answers 503.
"""

from __future__ import annotations

import http.client
import http.server
import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

API_PATHS = frozenset({"/api/v1/query", "/api/v1/query_range", "/api/v1/labels", "/api/v1/series"})
LABEL_VALUES = re.compile(r"^/api/v1/label/[^/]+/values$")
WRITE_PATH = "/api/v1/write"
_FORWARDED_HEADERS = ("Content-Type", "Content-Encoding", "X-Prometheus-Remote-Write-Version")
PROXY_TIMEOUT_S = 300.0


def is_api(path: str) -> bool:
    """A PromQL API path MyTSDB serves (queried with GET or form POST)."""
    return path in API_PATHS or bool(LABEL_VALUES.match(path))


def make_handler(upstream: str | None, routes: Mapping[str, Callable[[], Any]],
                 log: Callable[[str, str], None]) -> type[http.server.BaseHTTPRequestHandler]:
    """A request handler class proxying the API to ``upstream`` (``http://127.0.0.1:PORT`` or None)."""
    target = urlsplit(upstream) if upstream else None

    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "mytsdb-standin"

        def do_GET(self) -> None:
            path = self.path.partition("?")[0]
            if path == "/health":
                self._json(200, {"status": "up"})
            elif path in routes:
                self._json(200, routes[path]())
            elif is_api(path):
                self._proxy()
            else:
                self._json(404, {"status": "error", "errorType": "not_found", "error": f"no route {path}"})

        def do_POST(self) -> None:
            path = self.path.partition("?")[0]
            if is_api(path) or path == WRITE_PATH:
                self._proxy()
            else:
                self._json(404, {"status": "error", "errorType": "not_found", "error": f"no route {path}"})

        def _proxy(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if target is None:
                self._json(503, {"status": "error", "errorType": "unavailable",
                                 "error": "this stand-in runs without Prometheus (it only records)"})
                return
            headers = {h: self.headers[h] for h in _FORWARDED_HEADERS if self.headers.get(h)}
            conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port,
                                              timeout=PROXY_TIMEOUT_S)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                log("error", f"{self.command} {self.path}: the stand-in's Prometheus did not answer: {exc}")
                self._json(502, {"status": "error", "errorType": "unavailable",
                                 "error": f"the stand-in's Prometheus did not answer: {exc}"})
                return
            finally:
                conn.close()
            self._send(resp.status, resp.getheader("Content-Type") or "application/json", data)

        def _json(self, status: int, body: Any) -> None:
            self._send(status, "application/json", json.dumps(body).encode())

        def _send(self, status: int, content_type: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log("debug", "http: " + format % args)

    return Handler
