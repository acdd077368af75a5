"""Production adapter: an identity gateway reached over HTTPS with signed JSON requests.

Most identity services (carrier three-factor, UnionPay four-factor, face comparison) are sold
by different vendors with different APIs; a small gateway service in front of them speaks this
one contract, and Qianshu only speaks the contract.

Contract (what the gateway must implement)::

    POST <QIANSHU_IDENTITY_GATEWAY_URL>/<operation>
    Content-Type: application/json; charset=utf-8
    X-Qianshu-Timestamp: <Unix time in seconds>
    X-Qianshu-Request-Id: <request_id, also in the body>
    X-Qianshu-Signature: sha256=<hex HMAC-SHA256(QIANSHU_IDENTITY_GATEWAY_SECRET,
                                                 timestamp + "." + raw request body)>

    operation     body                                                   answer (JSON, 200)
    phone3        {request_id, name, id_type, id_number, phone}          check answer
    bank4         {request_id, name, id_type, id_number, card_number,    check answer
                   phone}
    face/start    {request_id, name, id_type, id_number, return_url}     {"url", "token"}
    face/result   {request_id, token}                                    check answer

    check answer: {"result": "passed"}
                | {"result": "failed", "reason": "<message for the user, Chinese>"}
                | {"result": "pending"}                  (face/result only: not finished yet)
                | {"result": "error", "reason": "...", "retryable": true|false}

The gateway must verify the signature over the raw body bytes in constant time and refuse
timestamps more than a few minutes off. ``id_type`` is one of ``resident_id``, ``passport``,
``hk_macau_permit``, ``taiwan_permit``, ``foreign_pr``. ``face/start``'s ``url`` is where the
user's browser goes; the gateway's face page sends the user back to ``return_url`` (a GET, no
parameters needed) and Qianshu then asks ``face/result`` — the return request is never trusted.
``request_id`` identifies the attempt (the same on every call of one attempt): use it for
idempotency and billing reconciliation.

A 5xx answer, a timeout (``QIANSHU_IDENTITY_GATEWAY_TIMEOUT``), a network error or a malformed
answer is a retryable ``ProviderError``; any other non-2xx status is a non-retryable one.
Redirects are not followed.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlparse

from django.utils.translation import gettext as _

from qianshu.core.gateways import (
    GatewayError,
    check_gateway,
    json_object,
    signed_post,
)
from qianshu.identity.providers.base import (
    CheckResult,
    FaceSession,
    Failed,
    IdentityProvider,
    Passed,
    Person,
    ProviderError,
)

log = logging.getLogger(__name__)


def _unavailable() -> ProviderError:
    return ProviderError(_("身份核验服务暂时不可用，请稍后再试。"), retryable=True)


class HttpProvider(IdentityProvider):
    name = "http"

    def __init__(self, url: str, secret: str, *, timeout: float = 15.0) -> None:
        self.url = check_gateway(
            url,
            secret,
            url_setting="QIANSHU_IDENTITY_GATEWAY_URL",
            key_setting="QIANSHU_IDENTITY_GATEWAY_SECRET",
        )
        self.secret = secret
        self.timeout = timeout

    def _post(self, operation: str, payload: dict[str, str]) -> dict[str, Any] | ProviderError:
        try:
            answer = signed_post(
                f"{self.url}/{operation}",
                self.secret,
                payload,
                timeout=self.timeout,
                user_agent="Qianshu-Identity/1",
                request_id=payload["request_id"],
            )
        except GatewayError as exc:
            log.warning("identity gateway %s: %s", operation, exc)
            if exc.retryable:
                return _unavailable()
            return ProviderError(_("身份核验请求被拒绝，请联系平台管理员。"), retryable=False)
        data = json_object(answer)
        if data is None:
            log.warning("identity gateway %s answered a non-JSON body", operation)
            return _unavailable()
        return data

    @staticmethod
    def _check_answer(data: dict[str, Any] | ProviderError, *, pending_ok: bool) -> CheckResult:
        if isinstance(data, ProviderError):
            return data
        result = data.get("result")
        reason = str(data.get("reason") or "")[:300]
        if result == "passed":
            return Passed()
        if result == "failed":
            return Failed(reason or _("身份信息核验不一致。"))
        if result == "pending" and pending_ok:
            return ProviderError(_("核验结果尚未返回，请稍后刷新。"), retryable=True)
        if result == "error":
            return ProviderError(
                reason or _("身份核验服务暂时不可用，请稍后再试。"),
                retryable=bool(data.get("retryable", True)),
            )
        log.warning("identity gateway answered an unknown result %r", result)
        return _unavailable()

    def check_phone3(self, person: Person, phone: str, *, request_id: str) -> CheckResult:
        payload = {
            "request_id": request_id,
            "name": person.name,
            "id_type": person.id_type,
            "id_number": person.id_number,
            "phone": phone,
        }
        return self._check_answer(self._post("phone3", payload), pending_ok=False)

    def check_bank4(
        self, person: Person, card_number: str, phone: str, *, request_id: str
    ) -> CheckResult:
        payload = {
            "request_id": request_id,
            "name": person.name,
            "id_type": person.id_type,
            "id_number": person.id_number,
            "card_number": card_number,
            "phone": phone,
        }
        return self._check_answer(self._post("bank4", payload), pending_ok=False)

    def start_face(
        self, person: Person, return_url: str, *, request_id: str
    ) -> FaceSession | ProviderError:
        payload = {
            "request_id": request_id,
            "name": person.name,
            "id_type": person.id_type,
            "id_number": person.id_number,
            "return_url": return_url,
        }
        data = self._post("face/start", payload)
        if isinstance(data, ProviderError):
            return data
        url, token = data.get("url"), data.get("token")
        if not isinstance(url, str) or not isinstance(token, str) or not token:
            return _unavailable()
        if urlparse(url).scheme not in ("http", "https"):
            log.warning("identity gateway gave a face URL that is not http(s)")
            return _unavailable()
        return FaceSession(url=url, token=token[:200])

    def face_result(self, token: str, *, request_id: str) -> CheckResult:
        data = self._post("face/result", {"request_id": request_id, "token": token})
        return self._check_answer(data, pending_ok=True)
