"""Production adapter: a business-registry gateway reached over HTTPS with signed JSON requests.

Registry data (企业三要素 / 工商核验) is sold by several licensed providers with different APIs;
a small gateway in front of the chosen one speaks this one contract, and Qianshu only speaks the
contract. The signing scheme is the other gateways' (``qianshu.core.gateways``).

Contract (what the gateway must implement)::

    POST <QIANSHU_REGISTRY_GATEWAY_URL>/company
    Content-Type: application/json; charset=utf-8
    X-Qianshu-Timestamp: <Unix time in seconds>
    X-Qianshu-Request-Id: <request_id, also in the body>
    X-Qianshu-Signature: sha256=<hex HMAC-SHA256(QIANSHU_REGISTRY_GATEWAY_SECRET,
                                                 timestamp + "." + raw request body)>

    body:   {"request_id", "name", "credit_code", "legal_rep_name"}
    answer: {"result": "passed"}
          | {"result": "failed", "code": "not_found" | "name_differs" | "legal_rep_differs"
                                      | "not_active",
             "reason": "<message for the user, Chinese>"}
          | {"result": "error", "reason": "...", "retryable": true|false}

``passed`` means the registry holds an organisation with exactly this unified social credit code
and this name (the gateway may ignore full-width / half-width bracket differences), whose
current legal representative (or 负责人 / 经营者 of organisations that have no legal
representative) has this name, and whose registration is in business (存续 / 在业 / 开业, not
注销 or 吊销). ``failed`` names the first part that does not match. The gateway must verify the
signature over the raw body bytes in constant time and refuse timestamps more than a few minutes
off. ``request_id`` identifies the verification attempt: use it for billing reconciliation.

A 5xx answer, a timeout (``QIANSHU_REGISTRY_GATEWAY_TIMEOUT``, seconds), a network error or a
malformed answer is a retryable ``ProviderError``; any other non-2xx status is a non-retryable
one. Redirects are not followed. A missing URL or secret is a deployment error
(``qianshu check --deploy``: ``qianshu.orgs.E006``).
"""

from __future__ import annotations

import logging

from django.utils.translation import gettext as _

from qianshu.core.gateways import GatewayError, check_gateway, json_object, signed_post
from qianshu.orgs.providers.registry.base import (
    FAILURE_CODES,
    NOT_FOUND,
    CheckResult,
    Company,
    Failed,
    Passed,
    ProviderError,
    RegistryProvider,
)

log = logging.getLogger(__name__)


def _unavailable() -> ProviderError:
    return ProviderError(_("工商登记信息核验服务暂时不可用，请稍后再试。"), retryable=True)


class HttpRegistryProvider(RegistryProvider):
    name = "http"

    def __init__(self, url: str, secret: str, *, timeout: float = 15.0) -> None:
        self.url = check_gateway(
            url,
            secret,
            url_setting="QIANSHU_REGISTRY_GATEWAY_URL",
            key_setting="QIANSHU_REGISTRY_GATEWAY_SECRET",
        )
        self.secret = secret
        self.timeout = timeout

    def check_company(self, company: Company, *, request_id: str) -> CheckResult:
        payload = {
            "request_id": request_id,
            "name": company.name,
            "credit_code": company.credit_code,
            "legal_rep_name": company.legal_rep_name,
        }
        try:
            answer = signed_post(
                f"{self.url}/company",
                self.secret,
                payload,
                timeout=self.timeout,
                user_agent="Qianshu-Registry/1",
                request_id=request_id,
            )
        except GatewayError as exc:
            log.warning("registry gateway: %s", exc)
            if exc.retryable:
                return _unavailable()
            return ProviderError(
                _("工商登记信息核验请求被拒绝，请联系平台管理员。"), retryable=False
            )
        data = json_object(answer)
        if data is None:
            log.warning("registry gateway answered a non-JSON body")
            return _unavailable()
        result = data.get("result")
        reason = str(data.get("reason") or "")[:300]
        if result == "passed":
            return Passed()
        if result == "failed":
            code = data.get("code")
            return Failed(
                reason or _("组织机构信息与工商登记信息不一致，请核对营业执照。"),
                code if code in FAILURE_CODES else NOT_FOUND,
            )
        if result == "error":
            return ProviderError(
                reason or _("工商登记信息核验服务暂时不可用，请稍后再试。"),
                retryable=bool(data.get("retryable", True)),
            )
        log.warning("registry gateway answered an unknown result %r", result)
        return _unavailable()
