"""Persistent platform PKI: CA/service key material and every certificate issued."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _


class PlatformKey(models.Model):
    """A platform role's certificate and wrapped private key (issuing CA, TSA, OCSP...).

    The root's row holds its certificate only: the root key is offline (``wrapped_key`` empty).
    Deployments made before the root went offline still hold it here until
    ``qianshu pki export-root-key`` moves it out.
    """

    class Role(models.TextChoices):
        ROOT = "root", _("根证书")
        ISSUING = "issuing", _("签发 CA")
        TSA = "tsa", _("时间戳服务")
        OCSP = "ocsp", _("OCSP 响应")
        PLATFORM = "platform", _("平台签章")

    role = models.CharField(max_length=16, choices=Role.choices, unique=True)
    certificate_der = models.BinaryField()
    # AES-GCM-wrapped PKCS#8 key (software key store), bound to the label "pki:<role>";
    # empty for the offline root.
    wrapped_key = models.BinaryField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("平台密钥")
        verbose_name_plural = _("平台密钥")

    def __str__(self) -> str:
        return self.role


class IssuedCertificate(models.Model):
    """Every certificate the issuing CA (or root) has signed, for OCSP and CRLs."""

    class Kind(models.TextChoices):
        CA = "ca", _("CA")
        SERVICE = "service", _("服务")
        PERSON = "person", _("个人")
        SEAL = "seal", _("印章")
        EVENT = "event", _("事件证书")

    class Reason(models.TextChoices):
        UNSPECIFIED = "unspecified", _("未指明")
        KEY_COMPROMISE = "key_compromise", _("密钥泄露")
        AFFILIATION_CHANGED = "affiliation_changed", _("隶属关系变更")
        SUPERSEDED = "superseded", _("已被取代")
        CESSATION_OF_OPERATION = "cessation_of_operation", _("停止使用")

    # Hex serial: certificate serials are up to 159 bits, more than BigIntegerField holds.
    serial_hex = models.CharField(max_length=42, unique=True)
    issuer_role = models.CharField(max_length=16)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    subject = models.CharField(max_length=500)
    certificate_der = models.BinaryField()
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=32, choices=Reason.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("已签发证书")
        verbose_name_plural = _("已签发证书")
        indexes = [models.Index(fields=["issuer_role", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.subject} ({self.serial_hex})"

    @property
    def serial_number(self) -> int:
        return int(self.serial_hex, 16)

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class RootRevocationList(models.Model):
    """A CRL signed by the offline root (``qianshu init-pki``, ``qianshu pki root-sign``).

    The platform cannot sign root CRLs itself, so it serves and embeds the newest one; each
    lives long (a year by default) and the operator signs the next before it runs out.
    """

    crl_der = models.BinaryField()
    crl_number = models.PositiveBigIntegerField()
    this_update = models.DateTimeField()
    next_update = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("根证书吊销列表")
        verbose_name_plural = _("根证书吊销列表")
        ordering: ClassVar[list[str]] = ["-crl_number"]

    def __str__(self) -> str:
        return f"root CRL #{self.crl_number} (next update {self.next_update:%Y-%m-%d})"
