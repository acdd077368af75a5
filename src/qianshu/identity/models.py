"""Real-name verification records and the person's signing credential (PIN-wrapped key)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qianshu.identity import crypto
from qianshu.identity.idcards import IdType


class Method(models.TextChoices):
    FACE = "face", _("人脸识别")
    PHONE3 = "phone3", _("手机号认证")
    BANK4 = "bank4", _("银行卡认证")
    MANUAL = "manual", _("人工审核")


def methods_for(id_type: str) -> list[Method]:
    """The verification methods offered for a document type: online checks need a 居民身份证
    (the sources they query know nothing else); every other document goes to manual review."""
    if id_type == IdType.RESIDENT:
        return [Method.FACE, Method.PHONE3, Method.BANK4, Method.MANUAL]
    return [Method.MANUAL]


class VerificationAttemptQuerySet(models.QuerySet["VerificationAttempt"]):
    def pending_review(self) -> VerificationAttemptQuerySet:
        """The back-office queue: manual reviews not yet decided, oldest first."""
        return self.filter(status=VerificationAttempt.Status.PENDING_REVIEW).order_by(
            "created_at", "id"
        )


class VerificationAttempt(models.Model):
    """One try at real-name verification, whatever its method and outcome (never deleted).

    The declared number is kept encrypted (``number_encrypted``, associated with the user) with
    a keyed HMAC for lookups and a masked form for display; the phone and card numbers typed
    for a check are kept the same way in ``inputs_encrypted`` / ``inputs_masked``.
    """

    class Status(models.TextChoices):
        STARTED = "started", _("进行中")
        PASSED = "passed", _("核验成功")
        FAILED = "failed", _("核验失败")
        ERROR = "error", _("服务异常")
        PENDING_REVIEW = "pending_review", _("人工审核中")
        APPROVED = "approved", _("审核通过")
        REJECTED = "rejected", _("审核未通过")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="verification_attempts"
    )
    method = models.CharField(_("认证方式"), max_length=16, choices=Method.choices)
    provider = models.CharField(_("服务商"), max_length=32, blank=True)
    provider_ref = models.CharField(_("服务商流水号"), max_length=200, blank=True)
    id_type = models.CharField(_("证件类型"), max_length=20, choices=IdType.choices)
    name = models.CharField(_("姓名"), max_length=64)
    number_encrypted = models.BinaryField()
    number_hmac = models.CharField(max_length=64, db_index=True)
    number_masked = models.CharField(_("证件号码"), max_length=40)
    inputs_encrypted = models.BinaryField(null=True, blank=True)
    inputs_masked = models.JSONField(_("核验信息"), default=dict, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices)
    reason = models.CharField(_("原因"), max_length=300, blank=True)
    front_photo = models.ForeignKey(
        "storage.Blob", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    handheld_photo = models.ForeignKey(
        "storage.Blob", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("审核人"),
    )
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(_("提交时间"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    objects = VerificationAttemptQuerySet.as_manager()

    class Meta:
        verbose_name = _("实名认证记录")
        verbose_name_plural = _("实名认证记录")
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "status", "created_at"]),
            models.Index(fields=["status", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.number_masked} {self.get_status_display()}"

    def get_absolute_url(self) -> str:
        return reverse("identity:result", args=[self.uuid])

    def id_number(self) -> str:
        """The declared number in clear (for the reviewing operator and the final record)."""
        return crypto.decrypt(bytes(self.number_encrypted), user_id=self.user_id)

    def secret_inputs(self) -> dict[str, str]:
        if not self.inputs_encrypted:
            return {}
        return crypto.decrypt_json(
            bytes(self.inputs_encrypted), user_id=self.user_id, purpose="attempt-inputs"
        )

    @property
    def is_success(self) -> bool:
        return self.status in (self.Status.PASSED, self.Status.APPROVED)


class PersonIdentity(models.Model):
    """A user's verified identity: at most one per user, and one account per document."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="person_identity"
    )
    id_type = models.CharField(_("证件类型"), max_length=20, choices=IdType.choices)
    name = models.CharField(_("姓名"), max_length=64)
    number_encrypted = models.BinaryField()
    # Keyed HMAC of type + number: unique, so one document verifies one account only.
    number_hmac = models.CharField(max_length=64, unique=True)
    number_masked = models.CharField(_("证件号码"), max_length=40)
    birth_date = models.DateField(_("出生日期"), null=True, blank=True)
    method = models.CharField(_("认证方式"), max_length=16, choices=Method.choices)
    attempt = models.OneToOneField(
        VerificationAttempt, on_delete=models.PROTECT, related_name="+", null=True
    )
    verified_at = models.DateTimeField(_("认证时间"), default=timezone.now)

    class Meta:
        verbose_name = _("实名身份")
        verbose_name_plural = _("实名身份")

    def __str__(self) -> str:
        return f"{self.name} {self.number_masked}"

    def get_absolute_url(self) -> str:
        return reverse("identity:status")

    def id_number(self) -> str:
        return crypto.decrypt(bytes(self.number_encrypted), user_id=self.user_id)


class SigningCredential(models.Model):
    """A person's long-term signing key (wrapped under their PIN) and its certificate.

    A PIN reset replaces the credential: the old row keeps ``replaced_at`` and its certificate is
    revoked. Wrong PINs count on the active credential (``failed_attempts``) whether typed to
    sign or to change the PIN; five lock it until ``locked_until``.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signing_credentials"
    )
    key_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Certificate subject serialNumber: a pseudonym, never the ID number.
    subject_id = models.CharField(max_length=64)
    wrapped_key = models.BinaryField()
    certificate = models.OneToOneField(
        "pki.IssuedCertificate", on_delete=models.PROTECT, related_name="signing_credential"
    )
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    replaced_at = models.DateTimeField(_("停用时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("签署密钥")
        verbose_name_plural = _("签署密钥")
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(replaced_at__isnull=True),
                name="identity_one_active_credential",
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject_id} ({self.certificate.serial_hex})"

    def get_absolute_url(self) -> str:
        return reverse("identity:certificate")

    @property
    def key_label(self) -> str:
        """Associated data binding the wrapped key to this credential."""
        return f"person-key:{self.key_id}"

    def locked_at(self, now: dt.datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


class SandboxFaceSession(models.Model):
    """A face check of the sandbox provider: what the sandbox page was asked and answered.

    Kept in the database (not in process memory) so any web process can answer the result.
    """

    class Outcome(models.TextChoices):
        NONE = "", _("未完成")
        PASSED = "passed", _("模拟成功")
        FAILED = "failed", _("模拟失败")

    token = models.CharField(max_length=64, unique=True)
    masked_name = models.CharField(max_length=64)
    return_url = models.CharField(max_length=500)
    # Set at start by the sandbox rules (name with 失败, sequence 999): the result, whatever
    # button is clicked.
    forced_reason = models.CharField(max_length=200, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("沙箱人脸识别")
        verbose_name_plural = _("沙箱人脸识别")

    def __str__(self) -> str:
        return f"{self.masked_name} {self.outcome or '-'}"


class IdentityHandoff(models.Model):
    """手机扫码认证: a QR code on a computer that lets the same account finish real-name
    verification on a phone (face recognition needs the phone's camera).

    The token in the QR code is a random nonce signed with a timestamp; only the SHA-256 of the
    nonce is stored. It is single-use (``used_at``), short-lived (``expires_at``) and bound to
    ``user``: the phone must be logged in as that account. It grants nothing by itself — the
    phone still logs in with its own SMS code — so a leaked QR code cannot verify anybody.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    nonce_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("扫码实名认证")
        verbose_name_plural = _("扫码实名认证")

    def __str__(self) -> str:
        return f"{self.user_id} {self.created_at:%Y-%m-%d %H:%M}"
