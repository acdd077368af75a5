"""Production adapter: a bank gateway reached over HTTPS with signed JSON requests.

Banks' corporate APIs (银企直联) differ from bank to bank; a small gateway in front of the
platform's bank speaks this one contract, and Qianshu only speaks the contract. The signing
scheme is the identity gateway's (``qianshu.identity.providers.http``).

Contract (what the gateway must implement)::

    POST <QIANSHU_BANK_GATEWAY_URL>/<operation>
    Content-Type: application/json; charset=utf-8
    X-Qianshu-Timestamp: <Unix time in seconds>
    X-Qianshu-Request-Id: <request_id, also in the body>
    X-Qianshu-Signature: sha256=<hex HMAC-SHA256(QIANSHU_BANK_GATEWAY_SECRET,
                                                 timestamp + "." + raw request body)>

    operation       body                                               answer (JSON, 200)
    micro-deposit   {request_id, bank_name, account_name,              {"result": "paid",
                     account_number, amount_fen, memo}                   "reference": "..."}
                                                                      | {"result": "refused",
                                                                         "reason": "..."}
                                                                      | error answer
    incoming        {request_id, reference, amount_fen, payer_name}    {"result": "received"}
                                                                      | {"result": "not_received"}
                                                                      | error answer

    error answer: {"result": "error", "reason": "...", "retryable": true|false}

``micro-deposit`` pays ``amount_fen`` fen (1–99) from the platform's account to the given
account, with ``memo`` as the transfer note; it must be idempotent on ``request_id`` (a retried
call must not pay twice). ``incoming`` answers whether the platform's account received exactly
``amount_fen`` fen with ``reference`` in the memo, from an account named ``payer_name``.
``reason`` texts are shown to users (Chinese).

A 5xx answer, a timeout (``QIANSHU_BANK_GATEWAY_TIMEOUT``), a network error or a malformed answer
is a retryable ``BankError``; any other non-2xx status is a non-retryable one. Redirects are not
followed.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils.translation import gettext as _

from qianshu.core.gateways import (
    GatewayConfigError,
    GatewayError,
    check_gateway,
    json_object,
    sign_request,
    signed_post,
)
from qianshu.orgs.providers.base import (
    BankAccount,
    BankError,
    BankProvider,
    Paid,
    PayResult,
    Refused,
)

log = logging.getLogger(__name__)


__all__ = ["BankGatewayConfigError", "HttpBankProvider", "sign_request"]


# The old name, kept for the provider factory.
BankGatewayConfigError = GatewayConfigError


def _unavailable() -> BankError:
    return BankError(_("银行服务暂时不可用，请稍后再试。"), retryable=True)


def _refused_request() -> BankError:
    return BankError(_("银行服务拒绝了请求，请联系平台管理员。"), retryable=False)


class HttpBankProvider(BankProvider):
    name = "http"

    def __init__(self, url: str, secret: str, *, timeout: float = 15.0) -> None:
        self.url = check_gateway(
            url,
            secret,
            url_setting="QIANSHU_BANK_GATEWAY_URL",
            key_setting="QIANSHU_BANK_GATEWAY_SECRET",
        )
        self.secret = secret
        self.timeout = timeout

    def _post(self, operation: str, payload: dict[str, Any]) -> dict[str, Any] | BankError:
        try:
            answer = signed_post(
                f"{self.url}/{operation}",
                self.secret,
                payload,
                timeout=self.timeout,
                user_agent="Qianshu-Bank/1",
                request_id=str(payload["request_id"]),
            )
        except GatewayError as exc:
            log.warning("bank gateway %s: %s", operation, exc)
            return _unavailable() if exc.retryable else _refused_request()
        data = json_object(answer)
        if data is None:
            log.warning("bank gateway %s answered a non-JSON body", operation)
            return _unavailable()
        return data

    @staticmethod
    def _error(data: dict[str, Any]) -> BankError:
        if data.get("result") == "error":
            reason = str(data.get("reason") or "")[:300]
            return BankError(
                reason or _("银行服务暂时不可用，请稍后再试。"),
                retryable=bool(data.get("retryable", True)),
            )
        log.warning("bank gateway answered an unknown result %r", data.get("result"))
        return _unavailable()

    def pay_micro_deposit(
        self, account: BankAccount, amount_fen: int, *, memo: str, request_id: str
    ) -> PayResult:
        data = self._post(
            "micro-deposit",
            {
                "request_id": request_id,
                "bank_name": account.bank_name,
                "account_name": account.account_name,
                "account_number": account.account_number,
                "amount_fen": amount_fen,
                "memo": memo,
            },
        )
        if isinstance(data, BankError):
            return data
        result = data.get("result")
        if result == "paid":
            reference = data.get("reference")
            if not isinstance(reference, str) or not reference:
                return _unavailable()
            return Paid(reference[:100])
        if result == "refused":
            reason = str(data.get("reason") or "")[:300]
            return Refused(reason or _("账户信息有误，打款失败，请核对后重试。"))
        return self._error(data)

    def check_incoming(
        self, reference: str, amount_fen: int, *, payer_name: str, request_id: str
    ) -> bool | BankError:
        data = self._post(
            "incoming",
            {
                "request_id": request_id,
                "reference": reference,
                "amount_fen": amount_fen,
                "payer_name": payer_name,
            },
        )
        if isinstance(data, BankError):
            return data
        result = data.get("result")
        if result == "received":
            return True
        if result == "not_received":
            return False
        return self._error(data)
