"""Organisations, their verification, members, seals, seal grants and seal usage."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from qianshu.core.labels import event_kind_label
from qianshu.core.models import ChainedEvent
from qianshu.orgs.names import fold_name


class Organization(models.Model):
    """An organisation (企业, 政府, 事业单位 …). Only a verified one gets seals."""

    class Kind(models.TextChoices):
        ENTERPRISE = "enterprise", _("企业")
        INDIVIDUAL_BUSINESS = "individual_business", _("个体工商户")
        GOVERNMENT = "government", _("政府")
        INSTITUTION = "institution", _("事业单位")
        OTHER = "other", _("其他大陆组织")
        OVERSEAS = "overseas", _("港澳台及海外组织")

    class Status(models.TextChoices):
        DRAFT = "draft", _("待认证")
        PENDING = "pending", _("认证中")
        VERIFIED = "verified", _("已认证")
        REJECTED = "rejected", _("认证未通过")

    class Method(models.TextChoices):
        LEGAL_REP = "legal_rep", _("法定代表人认证")
        DEPOSIT_TO_ORG = "deposit_to_org", _("对公打款（平台给我打款）")
        DEPOSIT_TO_PLATFORM = "deposit_to_platform", _("对公打款（我给平台打款）")
        OPERATOR = "operator", _("人工审核")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("组织类型"), max_length=32, choices=Kind.choices)
    name = models.CharField(_("组织机构名称"), max_length=100)
    # fold_name(name), kept by save(): organisations with the same name are found by it.
    name_key = models.CharField(max_length=100, blank=True, db_index=True, editable=False)
    # 18-character unified social credit code; overseas organisations use registration_number.
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    registration_number = models.CharField(_("注册号码"), max_length=64, blank=True)
    legal_rep_name = models.CharField(_("法定代表人"), max_length=64)
    licence = models.ForeignKey(
        "storage.Blob", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The image pages show for the licence, made once at upload (orgs.licences): a PDF's first
    # page, or the picture itself. Naming the licence PDF itself means "cannot be rendered"
    # (never tried again). Empty only for licences stored before previews were kept.
    licence_preview = models.ForeignKey(
        "storage.Blob", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        _("认证状态"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    method = models.CharField(_("认证方式"), max_length=32, choices=Method.choices, blank=True)
    rejected_reason = models.CharField(_("驳回原因"), max_length=300, blank=True)
    # Set when an operator must look at it (licence review) in the back office.
    needs_review = models.BooleanField(_("待运营审核"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    verified_at = models.DateTimeField(_("认证时间"), null=True, blank=True)
    # The creator's consent to 《隐私保护协议》: when, and which version (core.legal) was shown.
    # Empty for organisations created before consent was asked.
    privacy_consent_at = models.DateTimeField(_("同意隐私保护协议时间"), null=True, blank=True)
    privacy_version = models.CharField(_("隐私保护协议版本"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("组织机构")
        verbose_name_plural = _("组织机构")
        constraints = [
            # A credit code names one verified organisation.
            models.UniqueConstraint(
                fields=["credit_code"],
                condition=models.Q(status="verified") & ~models.Q(credit_code=""),
                name="orgs_one_verified_org_per_credit_code",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.name_key = fold_name(self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "name_key"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("orgs:detail", args=[self.uuid])

    @property
    def is_verified(self) -> bool:
        return self.status == self.Status.VERIFIED

    @property
    def is_overseas(self) -> bool:
        return self.kind == self.Kind.OVERSEAS

    @property
    def identifier(self) -> str:
        """The credit code, or the registration number of an overseas organisation."""
        return self.credit_code or self.registration_number


class PendingLicence(models.Model):
    """A licence that passed its checks on 创建组织 while another field did not: kept so the
    person does not upload it again. Usable only by its uploader from the browser session that
    uploaded it (the session holds ``uuid``; the row holds ``user``; both must match) and for
    ``orgs.licences.PENDING_LICENCE_HOURS``. Stored encrypted like every licence."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    licence = models.ForeignKey("storage.Blob", on_delete=models.PROTECT, related_name="+")
    preview = models.ForeignKey("storage.Blob", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class OrgVerification(models.Model):
    """One attempt to verify an organisation: a legal-representative authorisation, a
    corporate bank transfer in either direction or a manual review.

    Every attempt also carries the business-registry check of the organisation's name, credit
    code and legal representative (``registry_*``, see ``qianshu.orgs.registry_checks``) and,
    once the method's own proof is in, what that proof was (``evidence*``). An attempt whose
    proof is in but that cannot verify the organisation by itself (no registry pass, a verified
    organisation of the same name, an overseas organisation) waits in ``review`` for an
    operator.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("进行中")
        REVIEW = "review", _("待人工审核")
        SUCCEEDED = "succeeded", _("已通过")
        FAILED = "failed", _("未通过")
        EXPIRED = "expired", _("已失效")
        CANCELLED = "cancelled", _("已取消")

    class Registry(models.TextChoices):
        PASSED = "passed", _("工商登记信息一致")
        FAILED = "failed", _("工商登记信息不一致")
        ERROR = "error", _("工商登记信息暂时无法核验")
        UNAVAILABLE = "unavailable", _("未接入工商登记核验")
        OVERSEAS = "overseas", _("境外组织，需人工审核")

    class Evidence(models.TextChoices):
        LEGAL_REP_APPROVED = "legal_rep_approved", _("法定代表人已确认授权")
        DEPOSIT_CONFIRMED = "deposit_confirmed", _("打款金额已确认")
        PLATFORM_DEPOSIT_RECEIVED = "platform_deposit_received", _("平台已收到对公打款")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="verifications")
    method = models.CharField(max_length=32, choices=Organization.Method.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=300, blank=True)
    # Legal-representative authorisation: an SMS link (only the token's hash is stored).
    legal_rep_phone = models.CharField(max_length=20, blank=True)
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Corporate transfer: the declared account (number encrypted, shown masked).
    bank_name = models.CharField(max_length=100, blank=True)
    account_name = models.CharField(max_length=100, blank=True)
    account_number_encrypted = models.BinaryField(null=True, blank=True)
    account_number_masked = models.CharField(max_length=40, blank=True)
    # Platform -> organisation: HMAC of the amount paid, the organisation must enter it.
    # Organisation -> platform: the unique amount (in fen) and memo code it must pay.
    amount_hmac = models.CharField(max_length=64, blank=True)
    amount_fen = models.PositiveIntegerField(null=True, blank=True)
    reference_code = models.CharField(max_length=32, blank=True)
    tries = models.PositiveSmallIntegerField(default=0)
    provider_ref = models.CharField(max_length=100, blank=True)
    # The business-registry check (企业三要素) of the data in ``registry_checked``.
    registry_result = models.CharField(max_length=16, choices=Registry.choices, blank=True)
    registry_reason = models.CharField(max_length=300, blank=True)
    registry_provider = models.CharField(max_length=16, blank=True)
    registry_checked = models.JSONField(default=dict, blank=True)
    registry_checked_at = models.DateTimeField(null=True, blank=True)
    # The method's own proof, once it is in (kept when the attempt waits for an operator).
    evidence = models.CharField(max_length=32, choices=Evidence.choices, blank=True)
    evidence_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    evidence_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("组织认证记录")
        verbose_name_plural = _("组织认证记录")
        ordering: ClassVar[list[str]] = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.org} {self.method} {self.status}"


class Membership(models.Model):
    """A person's place in an organisation."""

    class Role(models.TextChoices):
        ADMIN = "admin", _("管理员")
        SEAL_KEEPER = "seal_keeper", pgettext_lazy("role", "用印人")
        MEMBER = "member", pgettext_lazy("role", "成员")

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(_("加入时间"), default=timezone.now)

    class Meta:
        verbose_name = _("组织成员")
        verbose_name_plural = _("组织成员")
        constraints = [
            models.UniqueConstraint(fields=["org", "user"], name="orgs_one_membership_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.org} ({self.role})"


class Invitation(models.Model):
    """An invitation by phone (SMS link); the invitee accepts after logging in."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待接受")
        ACCEPTED = "accepted", _("已接受")
        DECLINED = "declined", _("已拒绝")
        REVOKED = "revoked", _("已撤销")
        EXPIRED = "expired", _("已过期")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    phone = models.CharField(_("手机号"), max_length=20)
    role = models.CharField(_("角色"), max_length=16, choices=Membership.Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("成员邀请")
        verbose_name_plural = _("成员邀请")
        ordering: ClassVar[list[str]] = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.org} → {self.phone}"


class Seal(models.Model):
    """An electronic seal: image, its own key in the key store and a certificate."""

    class Kind(models.TextChoices):
        OFFICIAL = "official", _("公章")
        CONTRACT = "contract", _("合同专用章")
        FINANCE = "finance", _("财务专用章")
        HR = "hr", _("人事专用章")
        LEGAL_REP = "legal_rep", _("法定代表人章")
        CUSTOM = "custom", _("其他印章")

    class Source(models.TextChoices):
        GENERATED = "generated", pgettext_lazy("seal source", "自动生成")
        PHOTO = "photo", _("上传图片")

    class Status(models.TextChoices):
        ACTIVE = "active", pgettext_lazy("seal status", "启用")
        DISABLED = "disabled", pgettext_lazy("seal status", "停用")
        DESTROYED = "destroyed", _("已销毁")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="seals")
    kind = models.CharField(_("印章类型"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("印章名称"), max_length=40)
    source = models.CharField(_("制作方式"), max_length=16, choices=Source.choices)
    # The generator specification (shape, size, font size, spacing, code …) when generated.
    spec = models.JSONField(default=dict, blank=True)
    image = models.ForeignKey("storage.Blob", on_delete=models.PROTECT, related_name="+")
    key_store = models.CharField(max_length=16)  # "software" | "pkcs11"
    key_reference = models.BinaryField()  # wrapped key (software) or object id (pkcs11)
    certificate = models.ForeignKey(
        "pki.IssuedCertificate", on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    destroyed_at = models.DateTimeField(_("销毁时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("印章")
        verbose_name_plural = _("印章")
        ordering: ClassVar[list[str]] = ["created_at"]

    def __str__(self) -> str:
        return f"{self.org} {self.name}"

    @property
    def is_usable(self) -> bool:
        return self.status == self.Status.ACTIVE


class SealGrantQuerySet(models.QuerySet["SealGrant"]):
    def current(self, now: dt.datetime | None = None) -> SealGrantQuerySet:
        """The grants that allow a use at ``now``: active and within their period (the query
        of :meth:`SealGrant.is_current`)."""
        now = now or timezone.now()
        return self.filter(status=SealGrant.Status.ACTIVE, valid_from__lte=now, valid_until__gt=now)


class SealGrant(models.Model):
    """印章授权: a member may use a seal for a period. A legal representative's seal is granted
    only with the legal representative's own approval.

    Or an API key may (API 用印, 契约锁's 静默签): ``api_key`` is set and ``grantee`` is empty;
    the key seals its organisation's own seal steps without a person. Exactly one of the two is
    set (a database constraint)."""

    class Status(models.TextChoices):
        AWAITING_LEGAL_REP = "awaiting_legal_rep", _("待法定代表人同意")
        ACTIVE = "active", _("有效")
        REFUSED = "refused", _("法定代表人已拒绝")
        REVOKED = "revoked", _("已撤销")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    seal = models.ForeignKey(Seal, on_delete=models.CASCADE, related_name="grants")
    grantee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="seal_grants",
    )
    # The organisation's API key this seal is granted to (the api app's model: an organisation
    # credential, referenced by name so that this app does not import the API layer).
    api_key = models.ForeignKey(
        "api.ApiKey", null=True, blank=True, on_delete=models.PROTECT, related_name="seal_grants"
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    valid_from = models.DateTimeField(_("生效时间"))
    valid_until = models.DateTimeField(_("截止时间"))
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.ACTIVE)
    legal_rep_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    legal_rep_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = SealGrantQuerySet.as_manager()

    class Meta:
        verbose_name = _("印章授权")
        verbose_name_plural = _("印章授权")
        ordering: ClassVar[list[str]] = ["-created_at"]
        indexes = [models.Index(fields=["grantee", "status", "valid_until"])]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(grantee__isnull=False, api_key__isnull=True)
                    | models.Q(grantee__isnull=True, api_key__isnull=False)
                ),
                name="seal_grant_one_holder",
            ),
            # One seal per API key at a time (a key that seals is narrow on purpose).
            models.UniqueConstraint(
                fields=["api_key"],
                condition=models.Q(status="active", api_key__isnull=False),
                name="seal_grant_one_per_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.seal} → {self.api_key or self.grantee}"

    @property
    def for_api_key(self) -> bool:
        return self.api_key_id is not None

    def is_current(self, now: Any = None) -> bool:
        now = now or timezone.now()
        return self.status == self.Status.ACTIVE and self.valid_from <= now < self.valid_until


class SealUsage(models.Model):
    """用印记录: who used which seal on which document, when (append-only). ``user`` is empty
    for a use by an API key: its grant names the key."""

    seal = models.ForeignKey(Seal, on_delete=models.PROTECT, related_name="usages")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    grant = models.ForeignKey(
        SealGrant, null=True, blank=True, on_delete=models.PROTECT, related_name="usages"
    )
    document_name = models.CharField(_("文件名称"), max_length=200)
    document_sha256 = models.CharField(_("文件摘要"), max_length=64)
    # Set by the envelopes app when the use was part of an envelope (a later issue).
    reference = models.CharField(max_length=100, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(_("用印时间"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("用印记录")
        verbose_name_plural = _("用印记录")
        ordering: ClassVar[list[str]] = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.seal} {self.document_name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("seal usage records are append-only")
        super().save(*args, **kwargs)


class OrgAction(models.TextChoices):
    """The kinds of organisation events (``OrgEvent.action``), with what people read.

    The stored value is what the event's MAC covers: never change a value, only add members
    (and keep those the code no longer writes, so old events still read in words)."""

    ORG_CREATED = "org_created", pgettext_lazy("org event", "创建组织")
    ORG_UPDATED = "org_updated", pgettext_lazy("org event", "修改组织信息")
    REGISTRY_CHECKED = "registry_checked", pgettext_lazy("org event", "查询工商信息")
    REGISTRY_REFUSED = "registry_refused", pgettext_lazy("org event", "工商信息核验未通过")
    REGISTRY_RECHECKED = "registry_rechecked", pgettext_lazy("org event", "重新核验工商信息")
    SAME_NAME_CLAIMED = "same_name_claimed", pgettext_lazy("org event", "申请同名组织认证")
    VERIFICATION_CANCELLED = "verification_cancelled", pgettext_lazy("org event", "取消组织认证")
    REVIEW_REQUIRED = "review_required", pgettext_lazy("org event", "需人工审核")
    MANUAL_REVIEW_REQUESTED = "manual_review_requested", pgettext_lazy("org event", "申请人工审核")
    OPERATOR_APPROVED = "operator_approved", pgettext_lazy("org event", "人工审核通过")
    OPERATOR_REJECTED = "operator_rejected", pgettext_lazy("org event", "人工审核驳回")
    ORG_VERIFIED = "org_verified", pgettext_lazy("org event", "组织认证通过")
    DEPOSIT_PAID = "deposit_paid", pgettext_lazy("org event", "平台已向组织打款")
    DEPOSIT_FAILED = "deposit_failed", pgettext_lazy("org event", "平台打款失败")
    DEPOSIT_CONFIRMED = "deposit_confirmed", pgettext_lazy("org event", "打款金额正确")
    DEPOSIT_AMOUNT_WRONG = "deposit_amount_wrong", pgettext_lazy("org event", "打款金额错误")
    DEPOSIT_VOID = "deposit_void", pgettext_lazy("org event", "打款已失效")
    PLATFORM_DEPOSIT_REQUESTED = (
        "platform_deposit_requested",
        pgettext_lazy("org event", "申请向平台打款"),
    )
    PLATFORM_DEPOSIT_CHECKED = (
        "platform_deposit_checked",
        pgettext_lazy("org event", "平台尚未收到打款"),
    )
    PLATFORM_DEPOSIT_RECEIVED = (
        "platform_deposit_received",
        pgettext_lazy("org event", "平台已收到打款"),
    )
    LEGAL_REP_REQUESTED = "legal_rep_requested", pgettext_lazy("org event", "请求法定代表人授权")
    LEGAL_REP_APPROVED = "legal_rep_approved", pgettext_lazy("org event", "法定代表人已授权")
    LEGAL_REP_REFUSED = "legal_rep_refused", pgettext_lazy("org event", "法定代表人拒绝授权")
    LEGAL_REP_MISMATCH = "legal_rep_mismatch", pgettext_lazy("org event", "法定代表人信息不符")
    MEMBER_INVITED = "member_invited", pgettext_lazy("org event", "邀请成员")
    INVITATION_REVOKED = "invitation_revoked", pgettext_lazy("org event", "撤回邀请")
    INVITATION_ACCEPTED = "invitation_accepted", pgettext_lazy("org event", "接受邀请")
    INVITATION_DECLINED = "invitation_declined", pgettext_lazy("org event", "拒绝邀请")
    MEMBER_ROLE_CHANGED = "member_role_changed", pgettext_lazy("org event", "变更成员角色")
    MEMBER_REMOVED = "member_removed", pgettext_lazy("org event", "移除成员")
    MEMBER_LEFT = "member_left", pgettext_lazy("org event", "成员退出组织")
    ADMIN_TRANSFERRED = "admin_transferred", pgettext_lazy("org event", "转让管理员")
    SEAL_CREATED = "seal_created", pgettext_lazy("org event", "创建印章")
    SEAL_DISABLED = "seal_disabled", pgettext_lazy("org event", "停用印章")
    SEAL_ENABLED = "seal_enabled", pgettext_lazy("org event", "启用印章")
    SEAL_DESTROYED = "seal_destroyed", pgettext_lazy("org event", "销毁印章")
    SEAL_USED = "seal_used", pgettext_lazy("org event", "使用印章")
    SEAL_GRANT_REQUESTED = "seal_grant_requested", pgettext_lazy("org event", "申请用印权限")
    SEAL_GRANT_APPROVED = "seal_grant_approved", pgettext_lazy("org event", "批准用印申请")
    SEAL_GRANT_REFUSED = "seal_grant_refused", pgettext_lazy("org event", "拒绝用印申请")
    SEAL_GRANTED = "seal_granted", pgettext_lazy("org event", "授予用印权限")
    SEAL_GRANT_REVOKED = "seal_grant_revoked", pgettext_lazy("org event", "收回用印权限")
    WEBHOOK_CREATED = "webhook_created", pgettext_lazy("org event", "添加 Webhook 接收地址")
    WEBHOOK_UPDATED = "webhook_updated", pgettext_lazy("org event", "修改 Webhook 接收地址")
    WEBHOOK_SECRET_ROTATED = (
        "webhook_secret_rotated",
        pgettext_lazy("org event", "更换 Webhook 签名密钥"),
    )
    WEBHOOK_DISABLED = "webhook_disabled", pgettext_lazy("org event", "停用 Webhook 接收地址")
    WEBHOOK_ENABLED = "webhook_enabled", pgettext_lazy("org event", "启用 Webhook 接收地址")
    WEBHOOK_DELETED = "webhook_deleted", pgettext_lazy("org event", "删除 Webhook 接收地址")
    WEBHOOK_REDELIVERED = "webhook_redelivered", pgettext_lazy("org event", "重新推送 Webhook 消息")
    API_KEY_CREATED = "api_key_created", pgettext_lazy("org event", "创建 API 密钥")
    API_KEY_REVOKED = "api_key_revoked", pgettext_lazy("org event", "吊销 API 密钥")


class OrgEvent(ChainedEvent):
    """Append-only audit of an organisation (verification steps, members, seals, grants),
    chained with a keyed MAC per organisation (chain ``org:<id>``, see orgs/audit.py)."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="events")
    # The id stays as recorded when the user goes (no constraint, nothing set to NULL): the
    # MAC covers it.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    action = models.CharField(_("事件"), max_length=64, choices=OrgAction.choices)
    detail = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta(ChainedEvent.Meta):
        verbose_name = _("组织日志")
        verbose_name_plural = _("组织日志")
        ordering: ClassVar[list[str]] = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.org} {self.action}"

    @property
    def action_label(self) -> str:
        """The kind in words (from :class:`OrgAction`); never the stored code, even for one no
        member knows."""
        return event_kind_label(OrgAction, self.action)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("organisation events are append-only")
        super().save(*args, **kwargs)
