"""Port-forward reconnect, against a stand-in kubectl that behaves like a forward losing its pod.

The stand-in binds the requested local port, serves one connection with its pid, and exits, as
``kubectl port-forward`` does when the pod behind it is deleted. The real PortForward must bring
the same local port back each time.
"""

from __future__ import annotations

import socket
import stat
import sys
from pathlib import Path

import pytest

from fixtures.common.wait import Wait
from fixtures.kube.access import KubeAccess
from fixtures.kube.portforward import PortForward

FAKE_KUBECTL = """#!{python}
import os, socket, sys
with open({log!r}, "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
local = int(sys.argv[-1].split(":")[0])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", local))
srv.listen(1)
conn, _ = srv.accept()
conn.sendall(f"pid {{os.getpid()}}\\n".encode())
conn.close()
srv.close()
"""


class ReadsPid:
    """Probe: one connection to the forwarded port returns a pid line."""

    def __init__(self, port: int) -> None:
        self.port, self.pid = port, ""
        self.description = f"a forwarded answer on 127.0.0.1:{port}"

    def check(self) -> str | None:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
                self.pid = conn.makefile().readline().strip()
        except OSError as exc:
            return str(exc)
        return None if self.pid.startswith("pid ") else f"got {self.pid!r}"

    def details(self) -> str:
        return ""


@pytest.fixture
def kubectl(tmp_path: Path) -> tuple[str, Path]:
    log = tmp_path / "argv.log"
    script = tmp_path / "kubectl"
    script.write_text(FAKE_KUBECTL.format(python=sys.executable, log=str(log)))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script), log


def next_pid(port: int) -> str:
    probe = ReadsPid(port)
    Wait(probe).with_timeout(20).with_backoff(0.05, 0.2).with_progress(lambda _l: None).until_ready()
    return probe.pid


def test_forward_reconnects_on_the_same_local_port(kubectl: tuple[str, Path]) -> None:
    path, log = kubectl
    lines: list[str] = []
    forward = PortForward(path, KubeAccess(Path("/tmp/kc"), "kind-x", "mytsdb"), "svc/mytsdb", 9090,
                          backoff=0.05, max_backoff=0.2, progress=lines.append)
    with forward as port:
        first, second = next_pid(port), next_pid(port)
        assert first != second, "each answer came from a new kubectl process"
        assert forward.restarts >= 2
    assert any(f"reconnecting on 127.0.0.1:{port}" in line for line in lines)
    argv = log.read_text().splitlines()
    assert 3 <= len(argv) <= forward.restarts + 1  # a process spawned just before stop() may not log
    assert argv[0] == (f"--kubeconfig /tmp/kc --context kind-x -n mytsdb port-forward --address 127.0.0.1 "
                       f"svc/mytsdb {port}:9090")
    assert forward._proc is not None and forward._proc.poll() is not None, "stop() leaves no kubectl running"
    assert forward._thread is not None and not forward._thread.is_alive()
