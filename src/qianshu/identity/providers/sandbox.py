"""Sandbox identity provider (沙箱): deterministic answers so the whole flow runs locally.

Never use it in production: it confirms anybody. It is refused when ``QIANSHU_DEBUG`` is off
unless ``QIANSHU_IDENTITY_SANDBOX_ALLOWED=1`` (system check ``qianshu.identity.E001``, and a
``ProviderUnavailable`` at run time).

Rules (the same every time, for tests and demonstrations):

============================================  =================================================
declared data                                 answer
============================================  =================================================
居民身份证 whose sequence digits (characters     every check fails: 身份信息核验不一致
15–17) are ``999``, e.g. ``110101199003079993`` (phone3, bank4 and face)
居民身份证 whose sequence digits are ``998``      every check answers a retryable provider error
phone number ending in ``0000``                 phone3 fails: 手机号与姓名、证件号码不一致
bank card number ending in ``0000``             bank4 fails: 银行卡信息核验不一致
name containing ``失败``                         face fails: 人脸比对未通过
the sandbox face page's 模拟失败 button         face fails: 人脸比对未通过
anything else                                   passes (face: after 模拟成功 is clicked)
============================================  =================================================

The face comparison is a local page, ``/me/identity/sandbox/face/<token>/``, clearly labelled
沙箱, with 模拟成功 / 模拟失败 buttons; its state lives in ``SandboxFaceSession`` rows so any web
process can answer ``face_result``.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from qianshu.identity.idcards import IdType, mask_name
from qianshu.identity.providers.base import (
    CheckResult,
    FaceSession,
    Failed,
    IdentityProvider,
    Passed,
    Person,
    ProviderError,
)

FAIL_SEQUENCE = "999"
ERROR_SEQUENCE = "998"
FAIL_SUFFIX = "0000"
FAIL_NAME_PART = "失败"


def _person_rule(person: Person) -> CheckResult | None:
    if person.id_type != IdType.RESIDENT:
        return None
    sequence = person.id_number[14:17]
    if sequence == FAIL_SEQUENCE:
        return Failed(_("身份信息核验不一致，请确认姓名和证件号码。"))
    if sequence == ERROR_SEQUENCE:
        return ProviderError(_("身份核验服务暂时不可用，请稍后再试。"), retryable=True)
    return None


class SandboxProvider(IdentityProvider):
    name = "sandbox"

    def check_phone3(self, person: Person, phone: str, *, request_id: str) -> CheckResult:
        ruled = _person_rule(person)
        if ruled is not None:
            return ruled
        if phone.endswith(FAIL_SUFFIX):
            return Failed(_("手机号与姓名、证件号码不一致，请使用本人实名登记的手机号。"))
        return Passed()

    def check_bank4(
        self, person: Person, card_number: str, phone: str, *, request_id: str
    ) -> CheckResult:
        ruled = _person_rule(person)
        if ruled is not None:
            return ruled
        if card_number.endswith(FAIL_SUFFIX):
            return Failed(_("银行卡信息核验不一致，请确认卡号和银行预留手机号。"))
        return Passed()

    def start_face(
        self, person: Person, return_url: str, *, request_id: str
    ) -> FaceSession | ProviderError:
        from qianshu.identity.models import SandboxFaceSession

        ruled = _person_rule(person)
        if isinstance(ruled, ProviderError):
            return ruled
        forced = ruled.reason if isinstance(ruled, Failed) else ""
        if not forced and FAIL_NAME_PART in person.name:
            forced = _("人脸比对未通过，请确认是本人操作并在光线充足处重试。")
        token = secrets.token_urlsafe(24)
        SandboxFaceSession.objects.create(
            token=token,
            masked_name=mask_name(person.name),
            return_url=return_url,
            forced_reason=forced,
        )
        url = settings.PUBLIC_URL + reverse("identity:sandbox-face", args=[token])
        return FaceSession(url=url, token=token)

    def face_result(self, token: str, *, request_id: str) -> CheckResult:
        from qianshu.identity.models import SandboxFaceSession

        session = SandboxFaceSession.objects.filter(token=token).first()
        if session is None:
            return ProviderError(_("人脸识别记录不存在。"), retryable=False)
        if not session.outcome:
            return ProviderError(_("尚未完成人脸识别。"), retryable=True)
        if session.forced_reason:
            return Failed(session.forced_reason)
        if session.outcome == SandboxFaceSession.Outcome.FAILED:
            return Failed(_("人脸比对未通过，请确认是本人操作并在光线充足处重试。"))
        return Passed()


def record_face_outcome(token: str, *, passed: bool) -> str | None:
    """The sandbox page's button: remember the outcome once; return where to send the user
    (the platform's return URL), or None for an unknown token."""
    from qianshu.identity.models import SandboxFaceSession

    session = SandboxFaceSession.objects.filter(token=token).first()
    if session is None:
        return None
    if not session.outcome:
        outcome = SandboxFaceSession.Outcome.PASSED if passed else SandboxFaceSession.Outcome.FAILED
        SandboxFaceSession.objects.filter(pk=session.pk, outcome="").update(outcome=outcome)
    return session.return_url
