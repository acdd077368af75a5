"""Refusals of the identity actions; ``str(exc)`` is a message for the user, in their language
(see :class:`qianshu.core.errors.UserError`)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from qianshu.core.errors import UserError


class IdentityError(UserError):
    """Base class: a refusal with a user-facing message."""

    code = "identity_refused"


class VerificationRefused(IdentityError):
    """A new verification attempt is not allowed (already verified, review pending, ...)."""

    code = "verification_refused"


class AlreadyVerified(VerificationRefused):
    code = "already_verified"
    default_message = gettext_noop("您已完成实名认证，无需重复认证。")


class ReviewPending(VerificationRefused):
    code = "review_pending"
    default_message = gettext_noop("您的人工审核申请正在处理中，请耐心等待审核结果。")


class MethodNotAllowed(VerificationRefused):
    code = "method_not_allowed"
    default_message = gettext_noop("该证件类型不支持此认证方式，请选择人工审核。")


class IdentityTaken(VerificationRefused):
    code = "identity_taken"
    default_message = gettext_noop("该证件已用于其他账户的实名认证，如有疑问请联系平台客服。")


class AttemptsExhausted(VerificationRefused):
    code = "attempts_exhausted"
    default_message = gettext_noop("今日认证次数已用完，请明天再试。")


class AttemptNotActive(IdentityError):
    code = "attempt_not_active"
    default_message = gettext_noop("本次认证已结束，请重新发起认证。")


class ReviewAlreadyDecided(IdentityError):
    code = "review_already_decided"
    default_message = gettext_noop("该申请已由其他运营人员处理。")


class OwnReview(IdentityError):
    code = "own_review"
    default_message = gettext_noop("不能审核自己的实名认证申请，请由其他运营人员审核。")


class NotVerified(IdentityError):
    code = "not_verified"
    default_message = gettext_noop("请先完成个人实名认证。")


class PinError(IdentityError):
    """Base class of signing PIN refusals."""

    code = "pin_refused"


class NoCredential(PinError):
    code = "no_credential"
    default_message = gettext_noop("您尚未设置签署密码。")


class CertificateExpired(NoCredential):
    code = "certificate_expired"
    default_message = gettext_noop("您的个人证书已过期，请重置签署密码以签发新证书。")


class CredentialExists(PinError):
    code = "credential_exists"
    default_message = gettext_noop("您已设置签署密码，如需更改请使用修改或重置。")


class SamePin(PinError):
    code = "same_pin"
    default_message = gettext_noop("新签署密码不能与原密码相同。")


class IdNumberMismatch(PinError):
    code = "id_number_mismatch"
    default_message = gettext_noop("证件号码与实名认证信息不一致。")


class ResetLocked(PinError):
    code = "reset_locked"
    default_message = gettext_noop("证件号码错误次数过多，请 15 分钟后再试。")


def until_text(until: dt.datetime) -> str:
    """A time limit as users read it (local time, to the minute)."""
    return date_format(timezone.localtime(until), "Y-m-d H:i")


class PinUntil(PinError):
    """A refusal that lasts until ``until`` (the message says when)."""

    code = "pin_until"
    template = ""

    def __init__(self, until: dt.datetime) -> None:
        self.until = until
        super().__init__(_(self.template) % {"time": until_text(until)})


class PinLocked(PinUntil):
    """Too many wrong PINs: signing is locked until ``until``."""

    code = "pin_locked"

    template = gettext_noop("签署密码错误次数过多，已锁定至 %(time)s，请稍后再试或重置签署密码。")


class NewPinByReset(PinError):
    """The person had a credential (revoked since): a new key only through the reset."""

    code = "new_pin_by_reset"

    default_message = gettext_noop(
        "您的个人数字证书已吊销，请通过“重置签署密码”设置新的签署密码（需短信验证码和证件号码）。"
    )


class ResetHeld(PinUntil):
    """A PIN reset shortly after a phone change waits until ``until``."""

    code = "reset_held"

    template = gettext_noop(
        "账号绑定手机号近期已更换，为保护您的签署密钥，%(time)s 之后才能重置签署密码。"
        "如非本人操作，请立即联系平台客服。"
    )


class NewKeyHeld(PinUntil):
    """After an operator changed the phone: no first PIN and no SMS-code signing until ``until``."""

    code = "new_key_held"

    template = gettext_noop(
        "账号绑定手机号已由平台运营人员更换，为保护您的签署权限，%(time)s 之前"
        "不能设置签署密码或使用短信验证码签署。"
    )


class WrongPin(PinError):
    """The PIN is wrong; ``remaining_attempts`` more wrong PINs lock signing."""

    code = "wrong_pin"
    default_message = gettext_noop("签署密码错误。")

    def __init__(self, remaining_attempts: int) -> None:
        self.remaining_attempts = remaining_attempts
        super().__init__(
            _("签署密码错误，还可以尝试 %(count)s 次。") % {"count": remaining_attempts}
        )


class HandoffUnusable(IdentityError):
    """A QR code of 手机扫码认证 that cannot be used; ``reason`` says why (``invalid``,
    ``expired``, ``used`` or ``other_user``) and gives the HTTP status."""

    code = "identity_handoff_unusable"

    messages = {
        "invalid": gettext_noop("二维码无效，请在电脑上刷新实名认证页面后重新扫码。"),
        "expired": gettext_noop("二维码已过期，请在电脑上刷新实名认证页面后重新扫码。"),
        "used": gettext_noop("二维码已使用过，请在电脑上刷新实名认证页面后重新扫码。"),
        "other_user": gettext_noop(
            "该二维码属于另一个账号。请在手机上退出当前账号，用电脑上登录的账号重新扫码。"
        ),
    }
    statuses = {"invalid": 404, "expired": 410, "used": 410, "other_user": 403}

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.status = self.statuses[reason]
        super().__init__(_(self.messages[reason]))


class TooManyHandoffs(IdentityError):
    code = "too_many_handoffs"
    default_message = gettext_noop("二维码生成过于频繁，请稍后刷新页面再试。")
