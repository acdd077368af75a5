"""SMS one-time codes: issue and check, with send limits and lockout after wrong codes.

Every refusal says the same thing whether or not an account exists for the phone number.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts import throttles
from qianshu.accounts.models import OneTimeCode, RateLimit
from qianshu.core.errors import UserError

Purpose = OneTimeCode.Purpose

CODE_TTL = dt.timedelta(minutes=5)
SEND_COOLDOWN = 60  # seconds between two codes to one phone for one purpose and binding
MAX_WRONG_PER_CODE = 5  # then the code is burnt
LOCKOUT_WRONG = 5  # wrong codes per phone within LOCKOUT_WINDOW lock the phone
LOCKOUT_WINDOW = 15 * 60
IP_WRONG_LIMIT = 50  # wrong codes per IP per hour
MESSAGE_KINDS = {
    Purpose.LOGIN: "login_code",
    Purpose.REAUTH: "reauth_code",
    Purpose.CHANGE_PHONE: "change_phone_code",
    Purpose.PIN_RESET: "pin_reset_code",
    Purpose.IDENTITY_PHONE: "identity_phone_code",
    Purpose.SIGN: "sign_code",
}


class CodeError(UserError):
    """A user-facing refusal about a one-time code; ``str(exc)`` is the message to show."""

    code = "code_refused"
    field = "code"

    def __init__(self, message: str = "", *, retry_after: int = 0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CodeRateLimited(CodeError):
    code = "code_rate_limited"
    status = 429


class CodeInvalid(CodeError):
    code = "code_invalid"


class CodeLocked(CodeError):
    code = "code_locked"
    status = 429


def _hmac(phone: str, purpose: str, binding: str, code: str) -> str:
    message = f"{phone}\x1f{purpose}\x1f{binding}\x1f{code}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, "sha256").hexdigest()


def _cooldown_key(phone: str, purpose: str, binding: str) -> str:
    bound = hashlib.sha256(binding.encode()).hexdigest()[:16] if binding else "-"
    return f"sms-send:cooldown:{phone}:{purpose}:{bound}"


def _minutes(seconds: int) -> int:
    return max(1, (seconds + 59) // 60)


def _check_not_locked(phone: str, ip: str | None) -> None:
    verdict = throttles.exceeded(
        f"code-fail:phone:{phone}", limit=LOCKOUT_WRONG, window=LOCKOUT_WINDOW
    )
    if verdict and ip:
        verdict = throttles.exceeded(f"code-fail:ip:{ip}", limit=IP_WRONG_LIMIT, window=3600)
    if not verdict:
        raise CodeLocked(
            _("验证码错误次数过多，请 %(minutes)s 分钟后再试。")
            % {"minutes": _minutes(verdict.retry_after)},
            retry_after=verdict.retry_after,
        )


def issue_code(
    phone: str,
    purpose: str,
    *,
    binding: str = "",
    ip: str | None = None,
    language: str = "zh-hans",
) -> OneTimeCode:
    """Send a new code to ``phone`` (replacing any earlier one for the same purpose and binding).

    Raises ``CodeRateLimited`` (one code per 60 s per phone, purpose and binding while unused,
    and hourly caps per phone over every purpose and per IP) or ``CodeLocked`` after repeated
    wrong codes. A code only ever serves its own purpose and binding (see :func:`check_code`):
    a login code never confirms a signing, a phone change or a PIN reset, so a code of another
    purpose is sent rather than refused with the cooldown of the first one.
    """
    from qianshu.notifications.actions import do_queue_sms

    _check_not_locked(phone, ip)
    limits = settings.QIANSHU_SMS_LIMITS
    if ip:
        verdict = throttles.hit(f"sms-send:ip:{ip}", limit=limits["per_ip_hour"], window=3600)
        if not verdict:
            raise CodeRateLimited(
                _("请求过于频繁，请 %(minutes)s 分钟后再试。")
                % {"minutes": _minutes(verdict.retry_after)},
                retry_after=verdict.retry_after,
            )
    with transaction.atomic():
        # One code per minute for one purpose (and binding), while that code is outstanding
        # (check_code lifts the wait when it is used): the refusal below is then true, it was
        # sent less than a minute ago. Other purposes are not held up by it, nor is a login on
        # the phone right after the one on the computer; the hourly cap holds for them all.
        verdict = throttles.hit(
            _cooldown_key(phone, purpose, binding),
            limit=limits["per_phone_hour"],
            window=3600,
            cooldown=SEND_COOLDOWN,
        )
        if not verdict:
            raise CodeRateLimited(
                _("验证码已发送，请 %(seconds)s 秒后再重新获取。")
                % {"seconds": verdict.retry_after},
                retry_after=verdict.retry_after,
            )
        # Every purpose together stays under the hourly cap of the phone (abuse limit). A
        # refusal here rolls the cooldown above back: nothing was sent.
        verdict = throttles.hit(
            f"sms-send:phone:{phone}", limit=limits["per_phone_hour"], window=3600
        )
        if not verdict:
            raise CodeRateLimited(
                _("该手机号获取验证码过于频繁，请 %(minutes)s 分钟后再试。")
                % {"minutes": _minutes(verdict.retry_after)},
                retry_after=verdict.retry_after,
            )

    code = f"{secrets.randbelow(10**6):06d}"
    now = timezone.now()
    with transaction.atomic():
        OneTimeCode.objects.filter(
            phone=phone, purpose=purpose, binding=binding, used_at__isnull=True
        ).update(used_at=now)
        row = OneTimeCode.objects.create(
            phone=phone,
            purpose=purpose,
            binding=binding,
            code_hmac=_hmac(phone, purpose, binding, code),
            created_at=now,
            expires_at=now + CODE_TTL,
            ip=ip,
        )
        do_queue_sms(
            phone,
            MESSAGE_KINDS[Purpose(purpose)],
            {"code": code, "minutes": int(CODE_TTL.total_seconds() // 60)},
            language=language,
            sensitive=True,
        )
    return row


def check_code(
    phone: str, purpose: str, code: str, *, binding: str = "", ip: str | None = None
) -> None:
    """Accept ``code`` once, or raise ``CodeInvalid`` / ``CodeLocked``.

    A wrong, expired, used or other-purpose code gets the same message. Only a guess at an
    outstanding code (sent to this phone for this purpose and binding, unused, unexpired) counts
    against the phone: five wrong ones burn the code and lock the phone for 15 minutes, so that
    nobody can lock a phone out of every SMS flow by guessing codes that were never sent. Every
    wrong code counts against the client address (capped per hour).
    """
    _check_not_locked(phone, ip)
    code = (code or "").strip()
    now = timezone.now()
    ok = False
    with transaction.atomic():
        # The row lock serialises parallel guesses at one code: each is counted in turn.
        row = (
            OneTimeCode.objects.select_for_update()
            .filter(
                phone=phone,
                purpose=purpose,
                binding=binding,
                used_at__isnull=True,
                expires_at__gt=now,
            )
            .order_by("-created_at")
            .first()
        )
        if row is not None:
            expected = row.code_hmac
            ok = len(code) == 6 and hmac.compare_digest(
                expected, _hmac(phone, purpose, binding, code)
            )
            if ok:
                row.used_at = now
            else:
                row.failed_attempts += 1
                if row.failed_attempts >= MAX_WRONG_PER_CODE:
                    row.used_at = now
            row.save(update_fields=["used_at", "failed_attempts"])
    if ok:
        throttles.reset(f"code-fail:phone:{phone}")
        RateLimit.objects.filter(key=_cooldown_key(phone, purpose, binding)).update(last_at=None)
        return
    if row is not None:
        throttles.hit(f"code-fail:phone:{phone}", limit=LOCKOUT_WRONG, window=LOCKOUT_WINDOW)
    if ip:
        throttles.hit(f"code-fail:ip:{ip}", limit=IP_WRONG_LIMIT, window=3600)
    raise CodeInvalid(_("验证码错误或已失效，请重新获取。"))
