"""E-mail through Django's SMTP backend to a real SMTP server on loopback."""

from __future__ import annotations

from typing import Any

import pytest

from qianshu.notifications.actions import do_queue_email
from qianshu.notifications.models import OutboxMessage
from qianshu.notifications.tasks import deliver_due
from tests.notifications.conftest import SmtpServer, free_port, make_due

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n"


def test_chinese_email_with_attachment_arrives(smtp_server: SmtpServer, committed: Any) -> None:
    message = committed(
        lambda: do_queue_email(
            "student@example.edu.cn",
            "verification_rejected",
            {"name": "李四", "reason": "身份证照片不清晰 <请重拍>"},
            attachments=[("就业协议书.pdf", PDF, "application/pdf")],
        )
    )
    assert message.status == OutboxMessage.Status.SENT
    [envelope] = smtp_server.handler.received
    assert envelope.rcpt_tos == ["student@example.edu.cn"]
    [email] = smtp_server.handler.messages()
    assert email["Subject"] == "实名认证未通过"
    assert email["Message-ID"] == message.provider_message_id
    assert email["X-Qianshu-Message-Id"] == str(message.uuid)
    plain = email.get_body(preferencelist=("plain",))
    html = email.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    text = plain.get_content()
    assert "李四，您好" in text and "原因：身份证照片不清晰 <请重拍>" in text
    assert "身份证照片不清晰 &lt;请重拍&gt;" in html.get_content()
    [attachment] = email.iter_attachments()
    assert attachment.get_filename() == "就业协议书.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF


def test_smtp_failures_are_retried_until_delivered(
    smtp_server: SmtpServer, settings: Any, committed: Any
) -> None:
    # First nothing listens on the configured port, then the server answers 451, then it works.
    settings.EMAIL_PORT = free_port()
    message = committed(lambda: do_queue_email("hr@example.cn", "test_message", {}))
    assert message.status == OutboxMessage.Status.PENDING and message.attempts == 1
    assert "ConnectionRefusedError" in message.last_error
    first_retry_at = message.next_attempt_at
    assert first_retry_at > message.created_at

    settings.EMAIL_PORT = smtp_server.port
    smtp_server.handler.failures_left = 1
    make_due(message)
    assert deliver_due() == {"retry": 1}
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.PENDING and message.attempts == 2
    assert "451" in message.last_error and "temporary failure" in message.last_error
    assert smtp_server.handler.received == []

    make_due(message)
    assert deliver_due() == {"sent": 1}
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT and message.attempts == 3
    assert message.last_error == ""
    assert [a.ok for a in message.delivery_attempts.all()] == [False, False, True]
    assert len(smtp_server.handler.received) == 1


def test_smtp_gives_up_after_max_attempts(
    smtp_server: SmtpServer, settings: Any, committed: Any
) -> None:
    settings.QIANSHU_NOTIFY_MAX_ATTEMPTS = 2
    smtp_server.handler.failures_left = 10
    message = committed(lambda: do_queue_email("hr@example.cn", "test_message", {}))
    make_due(message)
    assert deliver_due() == {"failed": 1}
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.FAILED and message.attempts == 2
    assert message.delivery_attempts.filter(ok=False).count() == 2
    assert smtp_server.handler.received == []
