"""A signed-JSON gateway on loopback (bank, business registry) for the http providers' tests.

The ``gateway`` fixture (``tests/orgs/conftest.py``) serves ``http://127.0.0.1:<port>/gw``:
every POST must carry a fresh ``X-Qianshu-Timestamp`` and the ``X-Qianshu-Signature`` of
:data:`SECRET` over ``timestamp.body`` (else 401, counted in ``rejected``); the operation is the
path after ``/gw/``; the answer is ``answers[operation]`` (status, JSON or raw bytes), 500 by
default; ``requests`` keeps (operation, body) in order.
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
    url: str = ""
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    rejected: int = 0
    answers: dict[str, tuple[int, Any]] = field(default_factory=dict)


def _handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            timestamp = self.headers.get("X-Qianshu-Timestamp", "")
            expected = hmac.new(
                SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256
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
            status, answer = gateway.answers.get(operation, (500, {"result": "error"}))
            self._answer(status, answer)

        def _answer(self, status: int, payload: Any) -> None:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running_gateway() -> Iterator[Gateway]:
    state = Gateway()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}/gw"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
