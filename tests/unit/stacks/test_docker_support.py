"""Docker stack logic that needs no engine: labels, orphans, pins, configs, probes, missing engine."""

from __future__ import annotations

import http.server
import os
import shlex
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fixtures.common.config import HarnessConfig
from fixtures.common.errors import PrerequisiteMissing
from fixtures.stack_session import is_cluster_stack
from fixtures.stacks import docker_support as ds
from fixtures.stacks.base import Endpoints
from fixtures.stacks.docker import DockerStack, target_image
from fixtures.stacks.docker_prometheus import pinned_reference_image, prometheus_config
from seeder.manifest import SeedManifest

ROOT = Path(__file__).resolve().parents[3]


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_labels_name_stack_session_role_owner_and_keep() -> None:
    got = ds.labels("abc123", "reference", keep=True)
    assert got[ds.LABEL_STACK] == ds.STACK_LABEL_VALUE
    assert got[ds.LABEL_SESSION] == "abc123"
    assert got[ds.LABEL_ROLE] == "reference"
    assert got[ds.LABEL_OWNER] == f"{socket.gethostname()}:{os.getpid()}"
    assert got[ds.LABEL_KEEP] == "true"
    assert ds.labels("abc123", "target", keep=False)[ds.LABEL_KEEP] == "false"


def test_orphan_only_when_owner_dead_on_this_host_and_not_kept() -> None:
    host = socket.gethostname()
    gone = f"{host}:{dead_pid()}"
    assert ds.is_orphan({ds.LABEL_OWNER: gone, ds.LABEL_KEEP: "false"})
    assert not ds.is_orphan({ds.LABEL_OWNER: gone, ds.LABEL_KEEP: "true"}), "kept on purpose"
    assert not ds.is_orphan({ds.LABEL_OWNER: f"{host}:{os.getpid()}"}), "this session"
    assert not ds.is_orphan({ds.LABEL_OWNER: f"other-host-{host}:{dead_pid()}"}), "pid of another host"
    assert not ds.is_orphan({}), "no owner label: not ours to judge"


def test_pinned_reference_image_comes_from_versions_yaml(tmp_path: Path) -> None:
    pins = yaml.safe_load((ROOT / "manifests" / "versions.yaml").read_text())
    assert pinned_reference_image(ROOT) == pins["images"]["prometheus"]
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "versions.yaml").write_text("images:\n  prometheus: example/prom:v9\n")
    assert pinned_reference_image(tmp_path) == "example/prom:v9"


def test_missing_pin_file_is_a_prerequisite_naming_the_option(tmp_path: Path) -> None:
    with pytest.raises(PrerequisiteMissing) as err:
        pinned_reference_image(tmp_path)
    assert "--reference-image" in str(err.value) and "\n" not in str(err.value)


def test_target_image_comes_from_the_option() -> None:
    assert target_image(HarnessConfig()) is None
    assert target_image(HarnessConfig(target_image="prom/prometheus:v2.42.0")) == "prom/prometheus:v2.42.0"


@pytest.mark.parametrize("window", [None, "3650d"])
def test_prometheus_config_scrapes_nothing_and_is_valid(window: str | None, tmp_path: Path) -> None:
    text = prometheus_config(window)
    parsed = yaml.safe_load(text)
    assert parsed["scrape_configs"] == []
    assert (parsed.get("storage", {}).get("tsdb", {}).get("out_of_order_time_window")) == window
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not on PATH: config not checked by the real parser")
    path = tmp_path / "prometheus.yml"
    path.write_bytes(text)
    done = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_engine_is_a_one_line_prerequisite(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    with pytest.raises(PrerequisiteMissing) as err:
        ds.engine_client(timeout=5)
    message = str(err.value)
    assert "\n" not in message and "absent.sock" in message and "start-engine.sh" in message


def test_stack_without_engine_skips_and_leaves_nothing(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    stack = DockerStack(HarnessConfig(stack="docker", rootdir=ROOT, artifacts=tmp_path / "art"))
    with pytest.raises(PrerequisiteMissing), stack:
        pytest.fail("entered a stack without an engine")
    assert stack.workdir is None and not stack.containers
    stack.stop()  # idempotent


# --- probes against real sockets on loopback ---------------------------------------------------


def _serve(hold: bool) -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stop = threading.Event()
    conns: list[socket.socket] = []

    def loop() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            if hold:
                conns.append(conn)  # keep it open like a real listener
            else:
                conn.close()  # like docker-proxy with nothing behind the published port

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(2)
        for conn in conns:
            conn.close()
        server.close()


@pytest.fixture
def holding_port() -> Iterator[int]:
    yield from _serve(hold=True)


@pytest.fixture
def closing_port() -> Iterator[int]:
    yield from _serve(hold=False)


def test_tcp_check_ready_only_when_the_connection_is_kept(holding_port: int, closing_port: int) -> None:
    assert ds.tcp_check("127.0.0.1", holding_port)() is None
    reason = ds.tcp_check("127.0.0.1", closing_port)()
    assert reason is not None and "closed at once" in reason
    free = socket.create_server(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    reason = ds.tcp_check("127.0.0.1", port)()
    assert reason is not None and reason.startswith("TCP connect")


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = {"/health": (200, b'{"status":"up"}'), "/-/ready": (503, b"not ready")}.get(
            self.path, (404, b""))
        self.send_response(status)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_http_check_status_and_body(http_port: int) -> None:
    base = f"http://127.0.0.1:{http_port}"
    assert ds.http_check(f"{base}/health", "up")() is None
    assert "lacks 'ready'" in (ds.http_check(f"{base}/health", "ready")() or "")
    assert "HTTP 503" in (ds.http_check(f"{base}/-/ready")() or "")


def test_published_host_prefers_ipv4_loopback() -> None:
    assert ds.published_host("localhost") == "127.0.0.1"
    assert ds.published_host("10.1.2.3") == "10.1.2.3"


def kept_stack(tmp_path: Path, *, keep: bool) -> DockerStack:
    stack = DockerStack(HarnessConfig(stack="docker", keep_cluster=keep, rootdir=ROOT, artifacts=tmp_path))
    manifest = SeedManifest(spec={}, seed=42, start_ms=0, end_ms=0, interval_ms=60000)
    stack.endpoints = Endpoints(stack="docker", target_url="http://127.0.0.1:40001",
                                reference_url="http://127.0.0.1:40002",
                                flight_location="grpc+tcp://127.0.0.1:40003", manifest=manifest)
    return stack


def test_describe_kept_only_when_kept_and_points_a_rerun_at_the_containers(tmp_path: Path) -> None:
    assert kept_stack(tmp_path, keep=False).describe_kept() == ""
    stack = kept_stack(tmp_path, keep=True)
    text = stack.describe_kept()
    rerun = next(line for line in text.splitlines() if "rerun:" in line).split("rerun:", 1)[1]
    args = shlex.split(rerun)
    assert args[:2] == ["pytest", "tests/promql"]
    assert args[2:] == stack.rerun_args(tmp_path / "docker-stack" / "manifest.json")
    assert "--target-url" in args and "http://127.0.0.1:40001" in args
    assert "grpc+tcp://127.0.0.1:40003" in text
    assert f"label={ds.LABEL_SESSION}={stack.session}" in text, "the remove line must select this session"


def test_docker_stack_offers_the_sharing_interface() -> None:
    assert is_cluster_stack(DockerStack(HarnessConfig())), "xdist workers would each start their own stack"
