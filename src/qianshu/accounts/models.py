"""Users, one-time codes, rate limits, security events and handwritten signatures."""

from __future__ import annotations

import secrets
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from qianshu.accounts.phones import mask_phone
from qianshu.core.labels import event_kind_label
from qianshu.core.models import ChainedEvent


def _new_session_salt() -> str:
    return secrets.token_hex(16)


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, phone: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(phone=phone, **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, phone: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(phone, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person with a login. The phone number is the account; the real name comes from identity.

    ``is_staff`` marks platform operators (back office: manual identity review and the like).
    """

    phone = models.CharField(_("手机号"), max_length=20, unique=True)
    email = models.EmailField(_("电子邮箱"), blank=True)
    display_name = models.CharField(_("昵称"), max_length=64, blank=True)
    language = models.CharField(_("语言"), max_length=10, default="zh-hans")
    is_staff = models.BooleanField(_("平台运营人员"), default=False)
    is_active = models.BooleanField(_("有效"), default=True)
    date_joined = models.DateTimeField(_("注册时间"), default=timezone.now)
    # Part of the session hash: changing it ends every other session ("log out other sessions").
    session_salt = models.CharField(max_length=32, default=_new_session_salt, editable=False)
    # The last phone change and who made it (the user, or an operator): a new signing key is
    # held for a while after it (see identity.holds), so taking over a phone does not give one.
    phone_changed_at = models.DateTimeField(
        _("手机号更换时间"), null=True, blank=True, editable=False
    )
    phone_changed_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("手机号更换人"),
    )

    objects = UserManager()

    USERNAME_FIELD = "phone"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        return f"{self.display_name or mask_phone(self.phone)}"

    def get_absolute_url(self) -> str:
        return reverse("accounts:profile")

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # Django's hash covers the password only; ours also covers the session salt so that
        # rotating it logs out every session that was not updated with the new hash.
        key_salt = "qianshu.accounts.User.session_auth_hash"
        return salted_hmac(
            key_salt, f"{self.password}:{self.session_salt}", secret=secret, algorithm="sha256"
        ).hexdigest()

    def phone_changed_by_operator(self) -> bool:
        """Whether the last phone change was made by someone else (an operator)."""
        return self.phone_changed_at is not None and self.phone_changed_by_id != self.pk

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    def get_short_name(self) -> str:
        return self.display_name or self.masked_phone

    def get_full_name(self) -> str:
        return self.get_short_name()


class OneTimeCode(models.Model):
    """A 6-digit code sent by SMS: single use, short-lived, bound to phone, purpose and binding.

    Only an HMAC of the code is stored. ``binding`` ties a code to a context beyond the purpose
    (e.g. an envelope and a document hash), so a code for one thing never confirms another.
    """

    class Purpose(models.TextChoices):
        LOGIN = "login", _("登录")
        REAUTH = "reauth", _("身份确认")
        CHANGE_PHONE = "change_phone", _("更换手机号")
        PIN_RESET = "pin_reset", _("重置签署密码")
        IDENTITY_PHONE = "identity_phone", _("手机号实名认证")
        SIGN = "sign", _("签署确认")

    phone = models.CharField(max_length=20)
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    binding = models.CharField(max_length=200, blank=True, default="")
    code_hmac = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = _("短信验证码")
        verbose_name_plural = _("短信验证码")
        indexes = [models.Index(fields=["phone", "purpose", "created_at"])]

    def __str__(self) -> str:
        return f"{mask_phone(self.phone)} {self.purpose} {self.created_at:%Y-%m-%d %H:%M}"


class RateLimit(models.Model):
    """A fixed-window counter per key (``sms-send:phone:…``, ``code-fail:ip:…``), kept in the DB

    so that every web process shares it (no per-process memory)."""

    key = models.CharField(max_length=200, unique=True)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)
    last_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("频率限制")
        verbose_name_plural = _("频率限制")

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"


class SecurityAction(models.TextChoices):
    """The kinds of security events (``SecurityEvent.action``), with what people read.

    The stored value is what the event's MAC covers: never change a value, only add members
    (and keep those the code no longer writes, so old events still read in words)."""

    LOGIN_CODE_SENT = "login_code_sent", pgettext_lazy("security event", "发送登录验证码")
    LOGIN = "login", pgettext_lazy("security event", "登录")
    LOGIN_FAILED = "login_failed", pgettext_lazy("security event", "登录失败")
    LOGOUT = "logout", pgettext_lazy("security event", "退出登录")
    LOGOUT_OTHER_SESSIONS = "logout_other_sessions", pgettext_lazy("security event", "退出其他设备")
    REAUTH = "reauth", pgettext_lazy("security event", "再次验证身份")
    PHONE_CHANGED = "phone_changed", pgettext_lazy("security event", "更换手机号")
    EMAIL_CHANGED = "email_changed", pgettext_lazy("security event", "修改邮箱")
    PROFILE_CHANGED = "profile_changed", pgettext_lazy("security event", "修改个人资料")
    PASSWORD_SET = "password_set", pgettext_lazy("security event", "设置登录密码")
    SIGNATURE_SAVED = "signature_saved", pgettext_lazy("security event", "保存签名")
    SIGNATURE_DEFAULT_SET = "signature_default_set", pgettext_lazy("security event", "设为默认签名")
    SIGNATURE_DELETED = "signature_deleted", pgettext_lazy("security event", "删除签名")
    SIGNATURE_HANDOFF_STARTED = (
        "signature_handoff_started",
        pgettext_lazy("security event", "发起手机签名"),
    )
    SIGNING_PIN_SET = "signing_pin_set", pgettext_lazy("security event", "设置签署密码")
    SIGNING_PIN_CHANGED = "signing_pin_changed", pgettext_lazy("security event", "修改签署密码")
    SIGNING_PIN_WRONG = "signing_pin_wrong", pgettext_lazy("security event", "签署密码错误")
    SIGNING_PIN_LOCKED = "signing_pin_locked", pgettext_lazy("security event", "签署密码已锁定")
    PIN_RESET_CODE_SENT = (
        "pin_reset_code_sent",
        pgettext_lazy("security event", "发送重置签署密码验证码"),
    )
    SIGNING_PIN_RESET = "signing_pin_reset", pgettext_lazy("security event", "重置签署密码")
    SIGNING_PIN_RESET_REFUSED = (
        "signing_pin_reset_refused",
        pgettext_lazy("security event", "重置签署密码被拒绝"),
    )
    SIGNING_CREDENTIAL_REVOKED = (
        "signing_credential_revoked",
        pgettext_lazy("security event", "签署证书被吊销"),
    )
    IDENTITY_VERIFICATION_STARTED = (
        "identity_verification_started",
        pgettext_lazy("security event", "开始实名认证"),
    )
    IDENTITY_VERIFICATION_PASSED = (
        "identity_verification_passed",
        pgettext_lazy("security event", "实名认证成功"),
    )
    IDENTITY_VERIFICATION_FAILED = (
        "identity_verification_failed",
        pgettext_lazy("security event", "实名认证失败"),
    )
    IDENTITY_VERIFICATION_ERROR = (
        "identity_verification_error",
        pgettext_lazy("security event", "实名认证服务异常"),
    )
    IDENTITY_PHONE_CODE_SENT = (
        "identity_phone_code_sent",
        pgettext_lazy("security event", "发送实名认证验证码"),
    )
    IDENTITY_MANUAL_REVIEW_SUBMITTED = (
        "identity_manual_review_submitted",
        pgettext_lazy("security event", "提交人工审核"),
    )
    IDENTITY_MANUAL_REVIEW_APPROVED = (
        "identity_manual_review_approved",
        pgettext_lazy("security event", "人工审核通过"),
    )
    IDENTITY_MANUAL_REVIEW_REJECTED = (
        "identity_manual_review_rejected",
        pgettext_lazy("security event", "人工审核未通过"),
    )
    IDENTITY_HANDOFF_STARTED = (
        "identity_handoff_started",
        pgettext_lazy("security event", "发起手机实名认证"),
    )
    IDENTITY_HANDOFF_OPENED = (
        "identity_handoff_opened",
        pgettext_lazy("security event", "在手机上打开实名认证"),
    )
    IDENTITY_HANDOFF_REFUSED = (
        "identity_handoff_refused",
        pgettext_lazy("security event", "其他账号扫码实名认证被拒绝"),
    )
    IDENTITY_REVOKED = "identity_revoked", pgettext_lazy("security event", "实名认证被撤销")


class SecurityEvent(ChainedEvent):
    """Append-only record of security-relevant account events (logins, code sends, changes),
    chained with a keyed MAC per user (chain ``user:<id>``; events without a user in the chain
    ``anonymous``, see accounts/audit.py). ``user`` may become NULL when the user is deleted;
    the chain still names them."""

    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="security_events"
    )
    action = models.CharField(_("事件"), max_length=64, choices=SecurityAction.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta(ChainedEvent.Meta):
        verbose_name = _("安全事件")
        verbose_name_plural = _("安全事件")
        ordering: ClassVar[list[str]] = ["-created_at"]
        indexes = [models.Index(fields=["user", "action", "created_at"])]

    def __str__(self) -> str:
        return f"{self.action} {self.created_at:%Y-%m-%d %H:%M:%S}"

    @property
    def action_label(self) -> str:
        """The kind in words (from :class:`SecurityAction`); never the stored code, even for one no
        member knows."""
        return event_kind_label(SecurityAction, self.action)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("security events are append-only")
        super().save(*args, **kwargs)


class HandwrittenSignature(models.Model):
    """A saved handwritten signature image (transparent PNG in the blob store)."""

    class Source(models.TextChoices):
        DRAWN = "drawn", _("手写绘制")
        PHONE = "phone", _("手机扫码绘制")
        UPLOAD = "upload", _("上传图片")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="signatures")
    image = models.ForeignKey("storage.Blob", on_delete=models.PROTECT, related_name="+")
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    is_default = models.BooleanField(_("默认"), default=False)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)

    class Meta:
        verbose_name = _("手写签名")
        verbose_name_plural = _("手写签名")
        ordering: ClassVar[list[str]] = ["-is_default", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(is_default=True),
                name="accounts_one_default_signature",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} #{self.pk}"


class SignatureHandoff(models.Model):
    """A short-lived link (shown as a QR code) that lets a phone draw a signature for a desktop.

    Only a hash of the token is stored; the desktop page polls for ``signature``.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    signature = models.ForeignKey(
        HandwrittenSignature, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("扫码签名")
        verbose_name_plural = _("扫码签名")

    def __str__(self) -> str:
        return f"{self.user} {self.created_at:%Y-%m-%d %H:%M}"
