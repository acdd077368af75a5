"""A signed-JSON gateway on loopback (identity, bank, business registry) for the tests of the
http providers (``qianshu.core.gateways`` clients).

:func:`running_gateway` serves ``http://127.0.0.1:<port>/gw``: every POST must carry a fresh
``X-Qianshu-Timestamp`` and the ``X-Qianshu-Signature`` of the gateway's ``secret`` over
``timestamp.body`` (else 401, counted in ``rejected``); the operation is the path after
``/gw/``; the answer is ``answers[operation]`` (status, JSON or raw bytes), else ``default``;
``requests`` keeps (operation, body) in order; ``delay`` seconds pass before each answer; a 301
or 302 answer redirects elsewhere (clients must not follow it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET = "gateway-test-secret"


@dataclass
class Gateway:
    secret: str = SECRET
    default: tuple[int, Any] = (500, {"result": "error"})
    url: str = ""
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    rejected: int = 0
    answers: dict[str, tuple[int, Any]] = field(default_factory=dict)
    delay: float = 0.0


def _handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            timestamp = self.headers.get("X-Qianshu-Timestamp", "")
            expected = hmac.new(
                gateway.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
            ).hexdigest()
            fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 300
            signature = self.headers.get("X-Qianshu-Signature", "")
            if not (fresh and hmac.compare_digest(signature, f"sha256={expected}")):
                gateway.rejected += 1
                self._answer(401, {"error": "bad signature"})
                return
            operation = self.path.removeprefix("/gw/")
            payload = json.loads(body)
            assert self.headers["X-Qianshu-Request-Id"] == payload["request_id"]
            gateway.requests.append((operation, payload))
            time.sleep(gateway.delay)
            status, answer = gateway.answers.get(operation, gateway.default)
            self._answer(status, answer)

        def _answer(self, status: int, payload: Any) -> None:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            if status in (301, 302):
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running_gateway(
    secret: str = SECRET, default: tuple[int, Any] = (500, {"result": "error"})
) -> Iterator[Gateway]:
    state = Gateway(secret=secret, default=default)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}/gw"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
