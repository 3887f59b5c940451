"""Exec over the websocket (v5 channel protocol) against :class:`kube_http_fake.FakeApiServer`.

Installed at ``kubernetes.stream.ws_client.create_websocket``, so the client's own WSClient reads
the frames (channel bytes, the status on channel 3, the close frame) as from a real API server.
"""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websocket import ABNF

from tests.unit.support.kube_http import FakeApiServer, Request


class FakeWebSocket:
    """What ``create_websocket`` returns: frames of one exec, on a socketpair so poll() works."""

    subprotocol = "v5.channel.k8s.io"

    def __init__(self, server: FakeApiServer, url: str) -> None:
        parts = urlsplit(url)
        assert parts.scheme == "wss", url
        query = parse_qsl(parts.query)
        segments = parts.path.split("/")  # /api/v1/namespaces/<ns>/pods/<pod>/exec
        assert segments[-1] == "exec" and segments[1:4] == ["api", "v1", "namespaces"], parts.path
        pod, command = segments[-2], [v for k, v in query if k == "command"]
        container = dict(query).get("container", "")
        server.requests.append(Request("WS", parts.path, query, None, None))
        out = server.exec_output(pod, command, container)
        status = json.dumps({"metadata": {}, "status": "Success"})
        self.frames = [bytes([1]) + out.encode(), bytes([3]) + status.encode()]
        self.sock, self._peer = socket.socketpair()
        self._peer.send(b"x" * len(self.frames))  # readable while frames remain
        self.connected = True

    def recv_data_frame(self, control_frame: bool = False) -> tuple[int, Any]:
        self.sock.recv(1)
        if not self.frames:
            self.connected = False
            return ABNF.OPCODE_CLOSE, ABNF(opcode=ABNF.OPCODE_CLOSE, data=b"")
        data = self.frames.pop(0)
        if not self.frames:
            self._peer.send(b"x")  # one more readable byte for the close frame
        return ABNF.OPCODE_BINARY, ABNF(opcode=ABNF.OPCODE_BINARY, data=data)

    def getheaders(self) -> dict[str, str]:
        return {"sec-websocket-protocol": self.subprotocol}

    def send(self, *_: Any, **__: Any) -> None:
        pass

    def close(self, **_: Any) -> None:
        self.connected = False
        self.sock.close()
        self._peer.close()
