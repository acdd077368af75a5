"""The development outbox page, the admin "retry now" action and the system checks."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import Client
from django.urls import reverse

from qianshu.notifications.actions import do_queue_email, do_queue_sms
from qianshu.notifications.models import OutboxMessage

pytestmark = pytest.mark.django_db


def test_outbox_page_is_404_without_debug(client: Client, settings: Any) -> None:
    settings.DEBUG = False
    do_queue_sms("13600136000", "test_message", {})
    response = client.get("/dev/outbox/")
    assert response.status_code == 404
    assert "测试短信".encode() not in response.content


def test_outbox_page_lists_messages_newest_first(client: Client, settings: Any) -> None:
    settings.DEBUG = True
    do_queue_sms("13600136000", "login_code", {"code": "135790", "minutes": 5})
    do_queue_email("chen@example.cn", "email_changed", {"email": "<new@example.cn>"})
    response = client.get(reverse("notifications:outbox"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "13600136000" in html and "135790" in html and "chen@example.cn" in html
    assert "绑定邮箱已更改" in html and "&lt;new@example.cn&gt;" in html
    assert html.index("chen@example.cn") < html.index("13600136000")
    assert 'http-equiv="refresh"' in html
    assert response["Cache-Control"].startswith("max-age=0")

    filtered = client.get("/dev/outbox/", {"recipient": "136001", "refresh": "0"})
    html = filtered.content.decode()
    assert "135790" in html and "chen@example.cn" not in html
    assert 'http-equiv="refresh"' not in html


def test_admin_lists_messages_and_retries_them(client: Client, django_user_model: Any) -> None:
    admin = django_user_model._default_manager.create_superuser(
        **{django_user_model.USERNAME_FIELD: "13500135000", "password": "admin-password"}
    )
    client.force_login(admin)
    message = do_queue_sms("13600136000", "test_message", {})
    response = client.get(reverse("admin:notifications_outboxmessage_changelist"))
    assert response.status_code == 200 and "13600136000" in response.content.decode()
    detail = client.get(reverse("admin:notifications_outboxmessage_change", args=[message.pk]))
    assert detail.status_code == 200

    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxMessage.Status.FAILED, attempts=8, next_attempt_at=None
    )
    response = client.post(
        reverse("admin:notifications_outboxmessage_changelist"),
        {"action": "retry_now", "_selected_action": [message.pk]},
    )
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.PENDING and message.attempts == 0


def test_admin_never_shows_a_pending_code(client: Client, django_user_model: Any) -> None:
    """An operator with /admin/ must not read a login code that is still waiting to be sent:
    with it they could sign in as the person."""
    admin = django_user_model._default_manager.create_superuser(
        **{django_user_model.USERNAME_FIELD: "13500135000", "password": "admin-password"}
    )
    client.force_login(admin)
    code = do_queue_sms("13600136000", "login_code", {"code": "135790", "minutes": 5})
    plain = do_queue_sms("13600136000", "test_message", {})
    assert OutboxMessage.objects.get(pk=code.pk).body.count("135790") == 1  # not yet redacted
    detail = client.get(reverse("admin:notifications_outboxmessage_change", args=[code.pk]))
    assert detail.status_code == 200
    html = detail.content.decode()
    assert "135790" not in html and "不向运营人员显示" in html
    listing = client.get(reverse("admin:notifications_outboxmessage_changelist"))
    assert "135790" not in listing.content.decode()
    other = client.get(reverse("admin:notifications_outboxmessage_change", args=[plain.pk]))
    assert "测试短信" in other.content.decode()


def _check_ids(deploy: bool = False) -> set[str]:
    return {
        message.id
        for message in run_checks(include_deployment_checks=deploy)
        if message.id and message.id.startswith("qianshu.notifications.")
    }


def test_system_checks(settings: Any) -> None:
    settings.QIANSHU_SMS_BACKEND = "carrier-pigeon"
    assert _check_ids() == {"qianshu.notifications.E002"}
    settings.QIANSHU_SMS_BACKEND = "qianshu.notifications.sms.FileSmsBackend"
    assert _check_ids(deploy=True) == set()
    settings.QIANSHU_SMS_BACKEND = "http"
    settings.QIANSHU_SMS_GATEWAY_URL = ""
    settings.QIANSHU_SMS_GATEWAY_SECRET = "secret"
    assert _check_ids() == set()
    assert _check_ids(deploy=True) == {"qianshu.notifications.E001"}
    settings.QIANSHU_SMS_GATEWAY_URL = "ftp://sms.example.cn/"
    assert _check_ids(deploy=True) == {"qianshu.notifications.E001"}
    settings.QIANSHU_SMS_GATEWAY_URL = "https://sms.example.cn/send"
    assert _check_ids(deploy=True) == set()
