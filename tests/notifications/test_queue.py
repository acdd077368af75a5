"""Queueing: the outbox row belongs to the caller's transaction; bad kinds fail at queue time."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from qianshu.notifications.actions import InvalidRecipient, do_queue_email, do_queue_sms
from qianshu.notifications.messages import (
    KINDS,
    MessageContextError,
    MessageKind,
    UnknownMessageKind,
)
from qianshu.notifications.models import REDACTED, OutboxMessage
from qianshu.storage.blobs import get_blob_store

PHONE = "13800138000"
LOGIN_TEXT = "【签署】您的登录验证码为 123456，5 分钟内有效。如非本人操作，请忽略。"

pytestmark = pytest.mark.django_db


def test_rolled_back_transaction_queues_and_sends_nothing(
    django_capture_on_commit_callbacks: Any, sms_sent: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            do_queue_sms(PHONE, "login_code", {"code": "123456", "minutes": 5})
            raise RuntimeError("the caller's state change failed")
    assert callbacks == []
    assert not OutboxMessage.objects.exists()
    assert sms_sent() == []


def test_committed_sms_is_delivered_and_its_code_redacted(committed: Any, sms_sent: Any) -> None:
    message = committed(lambda: do_queue_sms(PHONE, "login_code", {"code": "123456", "minutes": 5}))
    assert sms_sent() == [
        {
            "time": sms_sent()[0]["time"],
            "phone": PHONE,
            "text": LOGIN_TEXT,
            "message_id": str(message.uuid),
        }
    ]
    assert message.status == OutboxMessage.Status.SENT
    assert message.attempts == 1
    assert message.sent_at is not None and message.next_attempt_at is None
    # Code kinds are sensitive whatever the caller says.
    assert message.sensitive and message.body == REDACTED
    attempt = message.delivery_attempts.get()
    assert attempt.ok is True and attempt.finished_at is not None and attempt.error == ""


def test_queued_row_holds_the_rendered_text_until_delivery() -> None:
    # The test transaction never commits, so nothing is delivered.
    message = do_queue_sms(PHONE, "login_code", {"code": "654321", "minutes": 10})
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.PENDING
    assert message.body == "【签署】您的登录验证码为 654321，10 分钟内有效。如非本人操作，请忽略。"
    assert (message.channel, message.recipient, message.kind) == ("sms", PHONE, "login_code")
    assert message.language == "zh-hans" and message.attempts == 0


def test_sms_signature_is_configurable(settings: Any) -> None:
    settings.QIANSHU_SMS_SIGNATURE = ""
    message = do_queue_sms(PHONE, "test_message", {})
    assert message.body == "这是一条测试短信，收到即表示短信通道配置正确。"


@pytest.mark.parametrize("language", ["en", "en-us", "fr"])
def test_other_languages_fill_placeholders(language: str) -> None:
    # No English catalogue yet: the Chinese source text is used, placeholders still filled.
    sms = do_queue_sms(
        PHONE, "verification_rejected", {"name": "张三", "reason": "照片模糊"}, language=language
    )
    assert "张三" in sms.body and "照片模糊" in sms.body and "%(" not in sms.body
    email = do_queue_email(
        "zhang@example.cn", "email_changed", {"email": "new@example.cn"}, language=language
    )
    assert "new@example.cn" in email.body and "%(" not in email.body + email.subject
    assert sms.language == email.language == ("zh-hans" if language == "fr" else "en")


def test_every_kind_renders_on_both_channels() -> None:
    for kind, spec in KINDS.items():
        context: dict[str, object] = {key: f"<{key}>" for key in spec.sms_keys()}
        sms = do_queue_sms(PHONE, kind, context)
        assert "%(" not in sms.body, kind
        context = {key: f"<{key}>" for key in spec.email_keys()}
        email = do_queue_email("li@example.cn", kind, context)
        assert email.subject and "%(" not in email.subject + email.body, kind
        # Values are escaped in the HTML part.
        assert "<code>" not in email.html_body, kind
    code_kinds = [kind for kind, spec in KINDS.items() if spec.sensitive]
    assert len(code_kinds) == 6  # login, reauth, change phone, PIN reset, identity, signing
    assert OutboxMessage.objects.filter(sensitive=True).count() == 2 * len(code_kinds)


def test_unknown_kind_and_wrong_context_fail_at_queue_time() -> None:
    with pytest.raises(UnknownMessageKind, match="no_such_kind"):
        do_queue_sms(PHONE, "no_such_kind", {})
    with pytest.raises(MessageContextError, match="minutes"):
        do_queue_sms(PHONE, "login_code", {"code": "123456"})
    with pytest.raises(MessageContextError, match="colour"):
        do_queue_email("li@example.cn", "test_message", {"colour": "red"})
    with pytest.raises(InvalidRecipient):
        do_queue_sms("138-not-a-phone", "test_message", {})
    with pytest.raises(InvalidRecipient):
        do_queue_email("not-an-address", "test_message", {})
    assert not OutboxMessage.objects.exists()


def test_email_attachments_go_to_the_blob_store() -> None:
    pdf = b"%PDF-1.7\n% test\n"
    message = do_queue_email(
        "li@example.cn",
        "test_message",
        {},
        attachments=[("合同.pdf", pdf, "application/pdf")],
    )
    message.refresh_from_db()
    [item] = message.attachments
    assert item["filename"] == "合同.pdf" and item["content_type"] == "application/pdf"
    assert get_blob_store().get(item["sha256"]) == pdf
    with pytest.raises(ValueError, match="plain name"):
        do_queue_email("li@example.cn", "test_message", {}, attachments=[("../x", b"x", "a/b")])


def test_a_new_kind_is_one_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        KINDS,
        "contract_ready",
        MessageKind(
            sms="请签署《%(title)s》：%(link)s",
            subject="待签署：%(title)s",
            body="请签署《%(title)s》：%(link)s",
            html='<p>请签署《%(title)s》：<a href="%(link)s">%(link)s</a></p>',
        ),
    )
    context: dict[str, object] = {"title": "采购合同 <A&B>", "link": "https://q.example/s/1"}
    sms = do_queue_sms(PHONE, "contract_ready", context)
    assert sms.body == "【签署】请签署《采购合同 <A&B>》：https://q.example/s/1"
    email = do_queue_email("li@example.cn", "contract_ready", context)
    assert email.subject == "待签署：采购合同 <A&B>"
    assert email.html_body == (
        "<p>请签署《采购合同 &lt;A&amp;B&gt;》："
        '<a href="https://q.example/s/1">https://q.example/s/1</a></p>'
    )
    assert not email.sensitive
