"""The http identity provider against a real gateway on loopback that checks the signature."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from qianshu.accounts.models import User
from qianshu.identity.models import PersonIdentity, VerificationAttempt
from qianshu.identity.providers import (
    Failed,
    Passed,
    Person,
    ProviderError,
    ProviderUnavailable,
    get_provider,
)
from qianshu.identity.providers.http import HttpProvider
from tests.identity.helpers import GOOD_CARD, GOOD_ID, declare, logged_in
from tests.support.gateways import Gateway, running_gateway

SECRET = "identity-gateway-test-secret"
PERSON = Person(name="何建宇", id_type="resident_id", id_number=GOOD_ID)


@pytest.fixture
def gateway(settings: Any) -> Iterator[Gateway]:
    with running_gateway(SECRET, default=(200, {"result": "passed"})) as state:
        settings.QIANSHU_IDENTITY_PROVIDER = "http"
        settings.QIANSHU_IDENTITY_GATEWAY_URL = state.url
        settings.QIANSHU_IDENTITY_GATEWAY_SECRET = SECRET
        settings.QIANSHU_IDENTITY_GATEWAY_TIMEOUT = 2
        yield state


def provider() -> HttpProvider:
    instance = get_provider()
    assert isinstance(instance, HttpProvider)
    return instance


def test_checks_are_signed_and_answered(gateway: Gateway) -> None:
    assert provider().check_phone3(PERSON, "13700000007", request_id="r1") == Passed()
    gateway.answers["bank4"] = (200, {"result": "failed", "reason": "卡号与姓名不一致"})
    result = provider().check_bank4(PERSON, GOOD_CARD, "13700000007", request_id="r2")
    assert result == Failed("卡号与姓名不一致")
    assert gateway.requests == [
        (
            "phone3",
            {
                "request_id": "r1",
                "name": "何建宇",
                "id_type": "resident_id",
                "id_number": GOOD_ID,
                "phone": "13700000007",
            },
        ),
        (
            "bank4",
            {
                "request_id": "r2",
                "name": "何建宇",
                "id_type": "resident_id",
                "id_number": GOOD_ID,
                "card_number": GOOD_CARD,
                "phone": "13700000007",
            },
        ),
    ]


def test_face_start_and_result(gateway: Gateway) -> None:
    gateway.answers["face/start"] = (200, {"url": "https://face.example/s/abc", "token": "tok-1"})
    session = provider().start_face(PERSON, "https://qs.example/back", request_id="r3")
    assert session.url == "https://face.example/s/abc" and session.token == "tok-1"  # type: ignore[union-attr]
    gateway.answers["face/result"] = (200, {"result": "pending"})
    pending = provider().face_result("tok-1", request_id="r3")
    assert isinstance(pending, ProviderError) and pending.retryable
    gateway.answers["face/result"] = (200, {"result": "passed"})
    assert provider().face_result("tok-1", request_id="r3") == Passed()
    assert gateway.requests[-1] == ("face/result", {"request_id": "r3", "token": "tok-1"})
    gateway.answers["face/start"] = (200, {"url": "javascript:alert(1)", "token": "t"})
    assert isinstance(provider().start_face(PERSON, "https://x/", request_id="r4"), ProviderError)


@pytest.mark.parametrize(
    ("status", "answer", "retryable"),
    [
        (500, {"error": "down"}, True),
        (503, b"<html>maintenance</html>", True),
        (200, b"not json", True),
        (200, {"result": "maybe"}, True),
        (200, {"result": "error", "reason": "余额不足", "retryable": False}, False),
        (400, {"error": "bad request"}, False),
        (302, {}, False),  # redirects are not followed
    ],
)
def test_gateway_errors_are_typed(
    gateway: Gateway, status: int, answer: Any, retryable: bool
) -> None:
    gateway.answers["phone3"] = (status, answer)
    result = provider().check_phone3(PERSON, "13700000007", request_id="r")
    assert isinstance(result, ProviderError) and result.retryable is retryable


def test_wrong_secret_is_refused_by_the_gateway(gateway: Gateway, settings: Any) -> None:
    settings.QIANSHU_IDENTITY_GATEWAY_SECRET = "not-the-secret"
    result = provider().check_phone3(PERSON, "13700000007", request_id="r")
    assert isinstance(result, ProviderError) and not result.retryable
    assert gateway.rejected == 1 and gateway.requests == []


def test_timeout_and_unreachable_are_retryable(gateway: Gateway, settings: Any) -> None:
    gateway.delay = 3
    settings.QIANSHU_IDENTITY_GATEWAY_TIMEOUT = 0.3
    result = provider().check_phone3(PERSON, "13700000007", request_id="r")
    assert isinstance(result, ProviderError) and result.retryable
    settings.QIANSHU_IDENTITY_GATEWAY_URL = "http://127.0.0.1:9/idgw"
    result = provider().check_phone3(PERSON, "13700000007", request_id="r")
    assert isinstance(result, ProviderError) and result.retryable


def test_missing_configuration(settings: Any) -> None:
    settings.QIANSHU_IDENTITY_PROVIDER = "http"
    settings.QIANSHU_IDENTITY_GATEWAY_URL = ""
    settings.QIANSHU_IDENTITY_GATEWAY_SECRET = ""
    with pytest.raises(ProviderUnavailable):
        get_provider()
    with pytest.raises(SystemCheckError, match=r"qianshu\.identity\.E003"):
        call_command("check", deploy=True)
    settings.QIANSHU_IDENTITY_GATEWAY_URL = "file:///etc/passwd"
    settings.QIANSHU_IDENTITY_GATEWAY_SECRET = "s"
    with pytest.raises(ProviderUnavailable):
        get_provider()


@pytest.mark.django_db
def test_bank4_through_the_views_with_the_gateway(gateway: Gateway, alice: User) -> None:
    client = logged_in(alice)
    declare(client)
    client.post("/me/identity/bank-card/", {"card_number": GOOD_CARD, "phone": "13800000001"})
    attempt = VerificationAttempt.objects.get()
    assert attempt.provider == "http" and attempt.status == "passed"
    [(operation, payload)] = gateway.requests
    assert operation == "bank4" and payload["request_id"] == str(attempt.uuid)
    assert PersonIdentity.objects.filter(user=alice).exists()
