"""The http SMS backend against a real gateway on loopback that checks the HMAC signature."""

from __future__ import annotations

from typing import Any

import pytest

from qianshu.notifications.actions import do_queue_sms
from qianshu.notifications.models import OutboxMessage
from qianshu.notifications.sms import HttpSmsBackend, SmsError
from qianshu.notifications.tasks import deliver_due
from tests.notifications.conftest import Gateway, free_port, make_due

pytestmark = pytest.mark.django_db

PHONE = "13700137000"


def test_signed_request_is_accepted(sms_gateway: Gateway, committed: Any) -> None:
    message = committed(lambda: do_queue_sms(PHONE, "login_code", {"code": "246810", "minutes": 5}))
    assert sms_gateway.accepted == [
        {
            "phone": PHONE,
            "text": "【签署】您的登录验证码为 246810，5 分钟内有效。如非本人操作，请忽略。",
            "message_id": str(message.uuid),
        }
    ]
    assert message.status == OutboxMessage.Status.SENT
    assert message.provider_message_id == "gw-1"


def test_gateway_error_is_retried_with_the_same_message_id(
    sms_gateway: Gateway, committed: Any
) -> None:
    sms_gateway.statuses = [500]
    message = committed(lambda: do_queue_sms(PHONE, "test_message", {}))
    assert message.status == OutboxMessage.Status.PENDING
    assert "HTTP 500" in message.last_error and "upstream carrier error" in message.last_error
    assert sms_gateway.accepted == []
    make_due(message)
    assert deliver_due() == {"sent": 1}
    [accepted] = sms_gateway.accepted
    assert accepted["message_id"] == str(message.uuid)


def test_receiver_rejects_a_wrong_signature(
    sms_gateway: Gateway, settings: Any, committed: Any
) -> None:
    settings.QIANSHU_SMS_GATEWAY_SECRET = "not-the-gateway-secret"
    message = committed(lambda: do_queue_sms(PHONE, "test_message", {}))
    assert message.status == OutboxMessage.Status.PENDING
    assert "HTTP 401" in message.last_error
    assert sms_gateway.accepted == [] and len(sms_gateway.rejected) == 1
    assert sms_gateway.rejected[0].startswith("sha256=")


def test_unreachable_or_misconfigured_gateway_is_a_recorded_failure(
    settings: Any, committed: Any
) -> None:
    settings.QIANSHU_SMS_BACKEND = "http"
    settings.QIANSHU_SMS_GATEWAY_SECRET = "s"
    settings.QIANSHU_SMS_GATEWAY_URL = f"http://127.0.0.1:{free_port()}/sms"
    unreachable = committed(lambda: do_queue_sms(PHONE, "test_message", {}))
    assert "unreachable" in unreachable.last_error
    settings.QIANSHU_SMS_GATEWAY_URL = ""
    missing = committed(lambda: do_queue_sms(PHONE, "test_message", {}))
    assert "QIANSHU_SMS_GATEWAY_URL" in missing.last_error
    assert missing.status == unreachable.status == OutboxMessage.Status.PENDING
    with pytest.raises(SmsError, match="http"):
        HttpSmsBackend("file:///etc/passwd", "s")
