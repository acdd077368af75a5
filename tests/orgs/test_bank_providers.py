"""Bank providers: the sandbox's documented rules, the choice of provider, the system checks, and
the http adapter against a real gateway on loopback that checks the signature."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from qianshu.accounts.models import User
from qianshu.orgs.checks import check_bank_gateway, check_bank_provider
from qianshu.orgs.models import Organization, OrgVerification
from qianshu.orgs.providers import (
    BankAccount,
    BankError,
    BankUnavailable,
    Paid,
    Refused,
    get_bank_provider,
)
from qianshu.orgs.providers import sandbox as bank_sandbox
from qianshu.orgs.providers.http import HttpBankProvider
from qianshu.orgs.providers.sandbox import SandboxBankProvider
from tests.support.gateways import SECRET, Gateway

ACCOUNT = BankAccount("中国工商银行北京分行", "北京星河测试科技有限公司", "6222020012345678")


# --- sandbox --------------------------------------------------------------------------


def test_sandbox_pays_and_keeps_a_ledger() -> None:
    result = SandboxBankProvider().pay_micro_deposit(
        ACCOUNT, 37, memo="签署组织认证", request_id="r1"
    )
    assert isinstance(result, Paid)
    entry = bank_sandbox.micro_deposit(result.reference)
    assert entry is not None
    assert (entry["amount_fen"], entry["account_tail"], entry["memo"]) == (
        37,
        "5678",
        "签署组织认证",
    )


def test_sandbox_refuses_accounts_ending_0000_and_errors_on_9999() -> None:
    provider = SandboxBankProvider()
    refused = provider.pay_micro_deposit(
        BankAccount("银行", "名称", "6222020012340000"), 5, memo="m", request_id="r"
    )
    assert isinstance(refused, Refused) and "账户信息有误" in refused.reason
    error = provider.pay_micro_deposit(
        BankAccount("银行", "名称", "6222020012349999"), 5, memo="m", request_id="r"
    )
    assert isinstance(error, BankError) and error.retryable


def test_sandbox_incoming_payment_is_received_once_marked() -> None:
    provider = SandboxBankProvider()
    check = provider.check_incoming
    assert check("QSTEST01", 42, payer_name="某公司", request_id="r") is False
    bank_sandbox.mark_incoming("QSTEST01", 42, "某公司")
    assert check("QSTEST01", 42, payer_name="某公司", request_id="r") is True
    assert check("QSTEST01", 43, payer_name="某公司", request_id="r") is False  # wrong amount
    assert check("QSTEST01", 42, payer_name="别的公司", request_id="r") is False  # wrong payer


def test_the_sandbox_is_refused_without_debug(settings: Any) -> None:
    settings.DEBUG = False
    settings.QIANSHU_BANK_PROVIDER = "sandbox"
    settings.QIANSHU_BANK_SANDBOX_ALLOWED = False
    with pytest.raises(BankUnavailable, match="refused when QIANSHU_DEBUG is off"):
        get_bank_provider()
    assert [m.id for m in check_bank_provider()] == ["qianshu.orgs.E001"]
    settings.DEBUG = True
    assert isinstance(get_bank_provider(), SandboxBankProvider)
    assert check_bank_provider() == []


def test_unknown_and_unconfigured_providers(settings: Any) -> None:
    settings.QIANSHU_BANK_PROVIDER = "paypal"
    with pytest.raises(BankUnavailable, match="unknown QIANSHU_BANK_PROVIDER"):
        get_bank_provider()
    assert [m.id for m in check_bank_provider()] == ["qianshu.orgs.E002"]
    settings.QIANSHU_BANK_PROVIDER = "http"
    settings.QIANSHU_BANK_GATEWAY_URL = ""
    settings.QIANSHU_BANK_GATEWAY_SECRET = ""
    with pytest.raises(BankUnavailable, match="needs QIANSHU_BANK_GATEWAY_URL"):
        get_bank_provider()
    assert [m.id for m in check_bank_gateway()] == ["qianshu.orgs.E003"]
    settings.QIANSHU_BANK_GATEWAY_URL = "ftp://bank.example"
    settings.QIANSHU_BANK_GATEWAY_SECRET = SECRET
    with pytest.raises(BankUnavailable, match="http"):
        get_bank_provider()
    settings.QIANSHU_BANK_GATEWAY_URL = "https://bank.example/gw"
    assert isinstance(get_bank_provider(), HttpBankProvider)
    assert check_bank_gateway() == []
    settings.QIANSHU_PLATFORM_ACCOUNT_NUMBER = ""
    assert [m.id for m in check_bank_gateway()] == ["qianshu.orgs.W001"]


# --- http adapter ----------------------------------------------------------------------


def test_http_micro_deposit(gateway: Gateway) -> None:
    provider = HttpBankProvider(gateway.url, SECRET, timeout=5)
    gateway.answers["micro-deposit"] = (200, {"result": "paid", "reference": "B2024-1"})
    assert provider.pay_micro_deposit(ACCOUNT, 37, memo="签署组织认证", request_id="v1") == Paid(
        "B2024-1"
    )
    operation, payload = gateway.requests[-1]
    assert operation == "micro-deposit"
    assert payload == {
        "request_id": "v1",
        "bank_name": ACCOUNT.bank_name,
        "account_name": ACCOUNT.account_name,
        "account_number": ACCOUNT.account_number,
        "amount_fen": 37,
        "memo": "签署组织认证",
    }
    gateway.answers["micro-deposit"] = (200, {"result": "refused", "reason": "户名不符"})
    assert provider.pay_micro_deposit(ACCOUNT, 37, memo="m", request_id="v2") == Refused("户名不符")
    gateway.answers["micro-deposit"] = (503, {"result": "error"})
    error = provider.pay_micro_deposit(ACCOUNT, 37, memo="m", request_id="v3")
    assert isinstance(error, BankError) and error.retryable
    gateway.answers["micro-deposit"] = (400, {"result": "error"})
    error = provider.pay_micro_deposit(ACCOUNT, 37, memo="m", request_id="v4")
    assert isinstance(error, BankError) and not error.retryable
    gateway.answers["micro-deposit"] = (200, b"not json")
    assert isinstance(provider.pay_micro_deposit(ACCOUNT, 1, memo="m", request_id="v5"), BankError)
    gateway.answers["micro-deposit"] = (200, {"result": "paid"})  # no reference
    assert isinstance(provider.pay_micro_deposit(ACCOUNT, 1, memo="m", request_id="v6"), BankError)
    assert gateway.rejected == 0


def test_http_incoming(gateway: Gateway) -> None:
    provider = HttpBankProvider(gateway.url, SECRET, timeout=5)
    gateway.answers["incoming"] = (200, {"result": "not_received"})
    assert provider.check_incoming("QSABC234", 42, payer_name="某公司", request_id="v") is False
    gateway.answers["incoming"] = (200, {"result": "received"})
    assert provider.check_incoming("QSABC234", 42, payer_name="某公司", request_id="v") is True
    assert gateway.requests[-1] == (
        "incoming",
        {"request_id": "v", "reference": "QSABC234", "amount_fen": 42, "payer_name": "某公司"},
    )
    gateway.answers["incoming"] = (
        200,
        {"result": "error", "reason": "银行维护中", "retryable": False},
    )
    assert provider.check_incoming("QSABC234", 42, payer_name="x", request_id="v") == BankError(
        "银行维护中", retryable=False
    )


def test_a_wrong_secret_is_rejected_by_the_gateway(gateway: Gateway) -> None:
    provider = HttpBankProvider(gateway.url, "another-secret", timeout=5)
    result = provider.check_incoming("QSABC234", 42, payer_name="x", request_id="v")
    assert isinstance(result, BankError) and not result.retryable
    assert gateway.rejected == 1


def test_an_unreachable_gateway_is_a_retryable_error() -> None:
    provider = HttpBankProvider("http://127.0.0.1:9/gw", SECRET, timeout=2)
    result = provider.pay_micro_deposit(ACCOUNT, 1, memo="m", request_id="v")
    assert isinstance(result, BankError) and result.retryable


@pytest.mark.django_db
def test_the_deposit_flow_through_the_http_gateway(
    gateway: Gateway,
    settings: Any,
    verified_person: Callable[..., User],
    verified_org: Callable[..., Organization],
) -> None:
    settings.QIANSHU_BANK_PROVIDER = "http"
    settings.QIANSHU_BANK_GATEWAY_URL = gateway.url
    settings.QIANSHU_BANK_GATEWAY_SECRET = SECRET
    admin = verified_person("alice")
    org = verified_org(admin, name=ACCOUNT.account_name, status=Organization.Status.DRAFT)
    gateway.answers["micro-deposit"] = (200, {"result": "paid", "reference": "B-77"})
    client = Client()
    client.force_login(admin)
    response = client.post(
        f"/orgs/{org.uuid}/verify/deposit/",
        {
            "action": "request",
            "bank_name": ACCOUNT.bank_name,
            "account_name": ACCOUNT.account_name,
            "account_number": ACCOUNT.account_number,
        },
    )
    assert response.status_code == 302
    transfer = OrgVerification.objects.get(org=org)
    _operation, payload = gateway.requests[-1]
    assert payload["request_id"] == str(transfer.uuid)
    assert 1 <= payload["amount_fen"] <= 99
    assert transfer.provider_ref == "B-77"
    client.post(
        f"/orgs/{org.uuid}/verify/deposit/",
        {"action": "confirm", "amount": f"0.{payload['amount_fen']:02d}"},
    )
    org.refresh_from_db()
    assert org.status == Organization.Status.VERIFIED
    # A gateway that is down: the page says so, nothing is paid.
    settings.QIANSHU_BANK_GATEWAY_URL = "http://127.0.0.1:9/gw"
    org2 = verified_org(admin, name="第二家公司", status=Organization.Status.DRAFT)
    response = client.post(
        f"/orgs/{org2.uuid}/verify/deposit/",
        {
            "action": "request",
            "bank_name": "某银行",
            "account_name": "第二家公司",
            "account_number": "6222020012345678",
        },
    )
    assert "银行服务暂时不可用" in client.get(response["Location"]).content.decode()
    assert OrgVerification.objects.get(org=org2).status == OrgVerification.Status.FAILED
    settings.QIANSHU_BANK_PROVIDER = "nonsense"
    response = client.post(
        f"/orgs/{org2.uuid}/verify/deposit/",
        {
            "action": "request",
            "bank_name": "某银行",
            "account_name": "第二家公司",
            "account_number": "6222020012345678",
        },
    )
    assert "对公打款服务暂不可用" in client.get(response["Location"]).content.decode()
