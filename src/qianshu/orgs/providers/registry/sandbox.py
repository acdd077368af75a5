"""Sandbox business registry (沙箱): deterministic answers so organisation verification runs
without a registry data provider.

Never use it in production: it confirms any organisation that does not hit a rule below. It is
refused when ``QIANSHU_DEBUG`` is off unless ``QIANSHU_REGISTRY_SANDBOX_ALLOWED=1`` (system check
``qianshu.orgs.E005``, and ``RegistryUnavailable`` at run time).

Rules, on the five characters before the credit code's check character (the code must still
pass GB 32100, e.g. ``91110108MA01XXXX2`` + its check character):

==================  ===================================================
characters 13–17    answer
==================  ===================================================
``XXXX1``           failed (not found): 未查询到该统一社会信用代码的登记信息
``XXXX2``           failed (legal representative differs)
``XXXX3``           failed (name differs)
``XXXX4``           failed (not in business: 注销 / 吊销)
``XXXX9``           retryable provider error
anything else       passed
==================  ===================================================
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from qianshu.orgs.providers.registry.base import (
    LEGAL_REP_DIFFERS,
    NAME_DIFFERS,
    NOT_ACTIVE,
    NOT_FOUND,
    CheckResult,
    Company,
    Failed,
    Passed,
    ProviderError,
    RegistryProvider,
)

NOT_FOUND_MARK = "XXXX1"
LEGAL_REP_MARK = "XXXX2"
NAME_MARK = "XXXX3"
NOT_ACTIVE_MARK = "XXXX4"
ERROR_MARK = "XXXX9"


class SandboxRegistryProvider(RegistryProvider):
    name = "sandbox"

    def check_company(self, company: Company, *, request_id: str) -> CheckResult:
        mark = company.credit_code[12:17]
        if mark == NOT_FOUND_MARK:
            return Failed(
                _("未查询到该统一社会信用代码的工商登记信息，请核对营业执照。"), NOT_FOUND
            )
        if mark == LEGAL_REP_MARK:
            return Failed(
                _("法定代表人与工商登记的法定代表人不一致，请核对营业执照。"), LEGAL_REP_DIFFERS
            )
        if mark == NAME_MARK:
            return Failed(
                _("组织机构名称与工商登记的名称不一致，请按营业执照填写完整名称。"), NAME_DIFFERS
            )
        if mark == NOT_ACTIVE_MARK:
            return Failed(_("该组织的登记状态为注销或吊销，不能进行组织机构认证。"), NOT_ACTIVE)
        if mark == ERROR_MARK:
            return ProviderError(_("工商登记信息核验服务暂时不可用，请稍后再试。"))
        return Passed()
