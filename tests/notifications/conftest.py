"""Notification fixtures: real receivers on loopback (an SMTP server, an SMS gateway).

Every test gets the ``file`` SMS backend in its own directory and its own blob directory.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.db import transaction

from qianshu.notifications.models import OutboxMessage

GATEWAY_SECRET = "gateway-test-secret"


@pytest.fixture(autouse=True)
def notification_settings(settings: Any, tmp_path: Path) -> Any:
    settings.QIANSHU_SMS_BACKEND = "file"
    settings.QIANSHU_SMS_FILE = tmp_path / "sms.log"
    settings.QIANSHU_SMS_SIGNATURE = "【签署】"
    settings.QIANSHU_STORAGE = "local"
    settings.QIANSHU_STORAGE_DIR = tmp_path / "blobs"
    settings.QIANSHU_NOTIFY_MAX_ATTEMPTS = 8
    settings.QIANSHU_OUTBOX_KEEP_SENSITIVE = False
    settings.EMAIL_TIMEOUT = 5
    settings.QIANSHU_SMS_GATEWAY_TIMEOUT = 5
    return settings


@pytest.fixture
def sms_sent(notification_settings: Any) -> Callable[[], list[dict[str, str]]]:
    """The SMS the file backend has written so far."""

    def read() -> list[dict[str, str]]:
        path = Path(notification_settings.QIANSHU_SMS_FILE)
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    return read


@pytest.fixture
def committed(
    django_capture_on_commit_callbacks: Any,
) -> Callable[[Callable[[], OutboxMessage]], OutboxMessage]:
    """Run ``queue`` in a transaction that commits, running its on-commit delivery."""

    def run(queue: Callable[[], OutboxMessage]) -> OutboxMessage:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            message = queue()
        message.refresh_from_db()
        return message

    return run


def make_due(message: OutboxMessage) -> None:
    """Move a message's next attempt to now, as if its backoff had passed."""
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=message.created_at)


def free_port() -> int:
    """A loopback port with nothing listening on it (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- SMTP -----------------------------------------------------------------------------------


@dataclass
class SmtpHandler:
    received: list[Any] = field(default_factory=list)
    # Answer 451 to this many DATA commands before accepting.
    failures_left: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.failures_left > 0:
            self.failures_left -= 1
            return "451 4.3.0 temporary failure"
        self.received.append(envelope)
        return "250 2.0.0 OK"

    def messages(self) -> list[EmailMessage]:
        parser = BytesParser(policy=policy.default)
        return [parser.parsebytes(envelope.content) for envelope in self.received]  # type: ignore[misc]


@dataclass
class SmtpServer:
    port: int
    handler: SmtpHandler


@pytest.fixture
def smtp_server(notification_settings: Any) -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1, used through Django's SMTP backend."""
    handler = SmtpHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=5)
    controller.start()
    notification_settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    notification_settings.EMAIL_HOST = "127.0.0.1"
    notification_settings.EMAIL_PORT = port
    notification_settings.EMAIL_HOST_USER = ""
    notification_settings.EMAIL_HOST_PASSWORD = ""
    notification_settings.EMAIL_USE_TLS = False
    notification_settings.EMAIL_USE_SSL = False
    try:
        yield SmtpServer(port=port, handler=handler)
    finally:
        controller.stop()


# --- SMS gateway ----------------------------------------------------------------------------


@dataclass
class Gateway:
    url: str
    secret: str
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    # Statuses to answer (one per request) before answering 200 again.
    statuses: list[int] = field(default_factory=list)
    # Seconds to wait before answering (to make sends overlap).
    delay: float = 0.0


def _gateway_handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            timestamp = self.headers.get("X-Qianshu-Timestamp", "")
            signature = self.headers.get("X-Qianshu-Signature", "")
            expected = hmac.new(
                gateway.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
            ).hexdigest()
            fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 300
            if not (fresh and hmac.compare_digest(signature, f"sha256={expected}")):
                gateway.rejected.append(signature)
                self._answer(401, {"error": "bad signature"})
                return
            if gateway.statuses:
                self._answer(gateway.statuses.pop(0), {"error": "upstream carrier error"})
                return
            time.sleep(gateway.delay)
            data = json.loads(body)
            gateway.accepted.append(data)
            self._answer(200, {"id": f"gw-{len(gateway.accepted)}"})

        def _answer(self, status: int, payload: dict[str, str]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def sms_gateway(notification_settings: Any) -> Iterator[Gateway]:
    """A real HTTP SMS gateway on 127.0.0.1 that checks the request signature."""
    gateway = Gateway(url="", secret=GATEWAY_SECRET)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _gateway_handler(gateway))
    gateway.url = f"http://127.0.0.1:{server.server_address[1]}/sms/send"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    notification_settings.QIANSHU_SMS_BACKEND = "http"
    notification_settings.QIANSHU_SMS_GATEWAY_URL = gateway.url
    notification_settings.QIANSHU_SMS_GATEWAY_SECRET = GATEWAY_SECRET
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
