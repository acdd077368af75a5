"""Envelopes (签署任务): documents and their revisions, recipients, fields, the audit trail.

An envelope moves ``draft → in_progress → completed``, or ends early as ``rejected``,
``recalled`` or ``expired``; a completed envelope becomes ``voided`` when its void statement (a
separate envelope of kind ``void_statement``, signed by all parties) completes.

A document's bytes never change in place: every signing turn adds a :class:`Revision` (a new
immutable blob that extends the previous one as an incremental update), and
``Document.revision`` is bumped by compare-and-swap while the document row is locked.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from qianshu.core.models import GENESIS
from qianshu.signing.stamps import Rect

AUDIT_FIELDS = frozenset({"audit_count", "audit_head", "audit_anchored_count"})


#: The longest 场景 (scene) of an envelope.
MAX_SCENE = 30


def clean_scene(scene: object) -> str:
    """A 场景 as stored and searched: one line, at most ``MAX_SCENE`` characters (a NUL never
    arrives: core.middleware.NulCharacterMiddleware refuses it)."""
    return " ".join(str(scene or "").split())[:MAX_SCENE]


class Envelope(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        IN_PROGRESS = "in_progress", _("签署中")
        # 退回: a signer sent it back to the initiator for correction (returns.py).
        RETURNED = "returned", _("已退回")
        COMPLETED = "completed", _("已完成")
        REJECTED = "rejected", _("已拒签")
        RECALLED = "recalled", _("已撤回")
        EXPIRED = "expired", _("已过期")
        VOIDED = "voided", _("已作废")

    class Kind(models.TextChoices):
        STANDARD = "standard", _("签署任务")
        VOID_STATEMENT = "void_statement", _("作废声明")
        # Driven by another app (就业协议): its steps are taken only through that app's
        # actions (``managed=True``), which also send its messages.
        MANAGED = "managed", _("业务签署")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(_("任务编号"), max_length=24, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.STANDARD)
    title = models.CharField(_("任务名称"), max_length=100)
    # 场景 (seed 000: 企业签约, 年度考核 …): the sender's category, shown and filtered in the lists.
    scene = models.CharField(_("场景"), max_length=MAX_SCENE, blank=True)
    message = models.CharField(_("签署说明"), max_length=500, blank=True)
    initiator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="initiated_envelopes"
    )
    # The organisation the initiator acted for (发起方), if any.
    initiator_org = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    deadline = models.DateTimeField(_("签署截止"), null=True, blank=True)
    auto_remind = models.BooleanField(_("截止前自动提醒"), default=True)
    # Off: every signer confirms with a signing PIN (one without a PIN sets one first); on, a
    # signer who never had a PIN may confirm with an SMS code (one-time event certificate).
    allow_sms_signing = models.BooleanField(
        _("允许未设置签署密码的签署人使用短信验证码签署"), default=True
    )
    # A void statement points at the completed envelope it voids.
    voids = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="void_statements"
    )
    void_reason = models.CharField(_("作废原因"), max_length=300, blank=True)
    # While returned (退回): what the documents and the recipients were when it came back, to
    # tell at resending which documents keep their signatures (see envelopes/returns.py).
    return_snapshot = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    sent_at = models.DateTimeField(_("发起时间"), null=True, blank=True)  # indexed: env_sent_walk
    # Set when the last party has acted; completion (B-LTA, report) follows in a task.
    all_signed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    end_reason = models.CharField(_("结束原因"), max_length=300, blank=True)
    deadline_reminded_at = models.DateTimeField(null=True, blank=True)
    report = models.ForeignKey(
        "storage.Blob", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The audit chain (envelopes/audit.py): how many events, the last one's MAC, and how many
    # the last periodic anchor covered. Written only by the audit trail's own UPDATEs.
    audit_count = models.PositiveIntegerField(default=0)
    audit_head = models.CharField(max_length=64, default=GENESIS)
    audit_anchored_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("签署任务")
        verbose_name_plural = _("签署任务")
        ordering: ClassVar[list[str]] = ["-sent_at", "-created_at"]
        indexes = [
            models.Index(fields=["status", "deadline"], name="env_status_deadline"),
            # The user's own envelopes of a tab: newest first, and their ids from the index
            # alone (a list's sample of a user's envelopes; PostgreSQL).
            models.Index(
                fields=["initiator", "status", "-sent_at"],
                include=["id"],
                name="env_initiator_status",
            ),
            # The periodic audit anchor looks for chains that moved since it last ran.
            models.Index(
                fields=["id"],
                condition=~models.Q(audit_count=models.F("audit_anchored_count")),
                name="env_audit_unanchored",
            ),
            # The organisation's 24-hour send limit counts its envelopes by sending time.
            models.Index(fields=["initiator_org", "sent_at"], name="env_org_sent"),
            # The organisation's envelopes newest first (GET /api/v1/envelopes), all or by status.
            models.Index(fields=["initiator_org", "id"], name="env_org_id"),
            models.Index(fields=["initiator_org", "status", "id"], name="env_org_status_id"),
            # An administrator's range of a list, newest first within a status (queries.py).
            models.Index(
                fields=["initiator_org", "status", "-sent_at", "-id"], name="env_org_status_sent"
            ),
            # A list of many envelopes walks those of one status newest first, testing the
            # initiator and the organisation on the index (envelopes/queries.py).
            models.Index(
                fields=["status", "-sent_at", "-id", "initiator", "initiator_org"],
                name="env_status_sent",
            ),
            models.Index(
                fields=["-sent_at", "-id", "status", "initiator", "initiator_org"],
                name="env_sent_walk",
            ),
            # The envelopes of a list known by id (the user's, from the recipient indexes):
            # their status, sending time and 场景 from the index alone (PostgreSQL), not from
            # a thousand scattered rows.
            models.Index(fields=["id"], include=["status", "sent_at", "scene"], name="env_id_list"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A full save of a copy loaded before an event was recorded must not move the audit
        # head back: the chain fields are left to the audit trail unless named explicitly.
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name not in AUDIT_FIELDS
            ]
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("envelopes:detail", args=[self.uuid])

    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    def is_active(self) -> bool:
        return self.status == self.Status.IN_PROGRESS

    def is_returned(self) -> bool:
        return self.status == self.Status.RETURNED

    def is_editable(self) -> bool:
        """A draft, or an envelope sent back to its initiator (退回) for correction."""
        return self.status in (self.Status.DRAFT, self.Status.RETURNED)


class Document(models.Model):
    envelope = models.ForeignKey(Envelope, on_delete=models.CASCADE, related_name="documents")
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(_("文件名称"), max_length=200)
    original = models.ForeignKey("storage.Blob", on_delete=models.PROTECT, related_name="+")
    # The current revision: its number and bytes (compare-and-swap on ``revision``).
    revision = models.PositiveIntegerField(default=0)
    current = models.ForeignKey("storage.Blob", on_delete=models.PROTECT, related_name="+")
    # [[width, height], …] of each page's visible box in PDF points (unrotated user space),
    # and each page's /Rotate, for placing fields on page images.
    page_boxes = models.JSONField(default=list)
    page_rotations = models.JSONField(default=list)
    # Certified (DocMDP) at send time when every field was known; otherwise the platform's
    # signature is an approval signature and signers may add fields (指定位置签署).
    certified = models.BooleanField(default=False)
    finished = models.BooleanField(default=False)
    # What the newest document time-stamp relies on, for archive renewal (envelopes/archives.py):
    # its TSA certificate's end, and algorithm names as ",sha256,ec-p256,"; "" = not read yet.
    archive_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    archive_algorithms = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("签署文件")
        verbose_name_plural = _("签署文件")
        ordering: ClassVar[list[str]] = ["envelope_id", "position", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def page_count(self) -> int:
        return len(self.page_boxes)

    def boxes(self) -> list[Rect]:
        """Each page's visible area in PDF points (see ``page_boxes``)."""
        return [Rect(*box) for box in self.page_boxes]

    @property
    def sha256(self) -> str:
        return self.current_id


class Revision(models.Model):
    """One immutable state of a document: 0 is the upload, then prepared, signed …, finished."""

    class Action(models.TextChoices):
        UPLOADED = "uploaded", pgettext_lazy("revision", "上传")
        PREPARED = "prepared", pgettext_lazy("revision", "发起")
        SIGNED = "signed", pgettext_lazy("revision", "签署")
        FINISHED = "finished", pgettext_lazy("revision", "归档")
        RENEWED = "renewed", pgettext_lazy("revision", "续期")

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    blob = models.ForeignKey("storage.Blob", on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=16, choices=Action.choices)
    recipient = models.ForeignKey(
        "Recipient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("文件版本")
        verbose_name_plural = _("文件版本")
        ordering: ClassVar[list[str]] = ["document_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="env_revision_unique")
        ]

    def __str__(self) -> str:
        return f"{self.document} r{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("revisions are immutable")
        super().save(*args, **kwargs)


class Recipient(models.Model):
    class Role(models.TextChoices):
        SIGN = "sign", _("个人签署")
        SEAL = "seal", _("企业盖章")
        APPROVE = "approve", _("审批")
        CC = "cc", _("抄送")

    class Status(models.TextChoices):
        WAITING = "waiting", _("待处理")
        PENDING = "pending", _("待签署")
        VIEWED = "viewed", _("已查看")
        DONE = "done", _("已完成")
        REJECTED = "rejected", _("已拒签")
        RETURNED = "returned", _("已退回")

    envelope = models.ForeignKey(Envelope, on_delete=models.CASCADE, related_name="recipients")
    routing_order = models.PositiveSmallIntegerField(_("签署顺序"), default=1)
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices)
    # A person's name, or the organisation's name for a seal recipient (as chosen or typed; a
    # bound recipient shows its organisation's name, and only ``org`` decides who may seal).
    name = models.CharField(_("名称"), max_length=100)
    phone = models.CharField(_("手机号"), max_length=20, blank=True, db_index=True)
    email = models.EmailField(_("电子邮箱"), blank=True)
    # Seal recipients: the contact person's name, the credit code and an optional seal type.
    contact_name = models.CharField(_("联系人"), max_length=64, blank=True)
    org_credit_code = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    required_seal_kind = models.CharField(_("指定印章类型"), max_length=16, blank=True)
    # Who the recipient turned out to be: the person once they act; for a seal recipient, the
    # verified organisation it is bound to (chosen when composing, or bound when the
    # organisation it named by credit code and name verified). Unbound: nobody may seal.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="envelope_recipients",
    )
    org = models.ForeignKey(
        "orgs.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="envelope_recipients",
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.WAITING
    )
    # Who acted, with which seal (for an organisation: the member holding the grant).
    acted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    seal = models.ForeignKey(
        "orgs.Seal", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    certificate = models.ForeignKey(
        "pki.IssuedCertificate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(_("原因"), max_length=300, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    viewed_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    last_reminded_at = models.DateTimeField(null=True, blank=True)
    # The envelope's status and sending time, copied onto its recipients by the database
    # itself (triggers of migration 0016: when the envelope's status or sending time
    # changes, and whenever a recipient row is written, whatever values the write carried), so
    # that the lists find a user's rows of a tab, newest first, from the recipient indexes
    # alone. Never read for a decision: an instance loaded before a change holds the old
    # values (a save writes them back, and the database puts the current ones in their place).
    envelope_status = models.CharField(max_length=16, default="", editable=False)
    envelope_sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("签署方")
        verbose_name_plural = _("签署方")
        ordering: ClassVar[list[str]] = ["envelope_id", "routing_order", "id"]
        indexes = [
            # The lists (envelopes/queries.py): a user's rows by status, with the role and the
            # envelope in the key so that the lists read the index only.
            models.Index(fields=["user", "status", "role", "envelope"], name="env_recipient_user"),
            models.Index(fields=["phone", "status"], name="env_recipient_phone"),
            models.Index(
                fields=["phone", "status", "role", "envelope"],
                name="env_recipient_unbound_phone",
                condition=models.Q(user__isnull=True),
            ),
            # Seal recipients bound to an organisation (its administrators' and seal keepers'
            # lists): the required seal type too, for 待我签署 from the index alone.
            models.Index(
                fields=["org", "status", "role", "envelope"],
                include=["required_seal_kind"],
                name="env_recipient_org",
                condition=models.Q(org__isnull=False),
            ),
            # The lists' own rows of a tab, by the envelope's status (envelopes/queries.py
            # ``_ids``): read from these indexes alone, without looking up each row's envelope.
            # Newest first within a status: a page is read from the index in order.
            models.Index(
                fields=["user", "envelope_status", "-envelope_sent_at", "-envelope"],
                include=["status", "role"],
                name="env_recipient_user_tab",
                condition=models.Q(user__isnull=False),
            ),
            models.Index(
                fields=["phone", "envelope_status", "-envelope_sent_at", "-envelope"],
                include=["status", "role"],
                name="env_recipient_phone_tab",
                condition=models.Q(user__isnull=True),
            ),
            models.Index(
                fields=["org", "envelope_status", "-envelope_sent_at", "-envelope"],
                include=["status", "role", "required_seal_kind"],
                name="env_recipient_org_tab",
                condition=models.Q(org__isnull=False),
            ),
            # Unbound seal recipients are found by credit code when an organisation verifies.
            models.Index(
                fields=["org_credit_code"],
                name="env_recipient_unbound_code",
                condition=models.Q(role="seal", org__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.envelope.number} #{self.routing_order} {self.name}"

    @property
    def is_turn(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.VIEWED)

    @property
    def required_seal_label(self) -> str:
        """The required seal type as users know it (合同专用章 …), or ""."""
        from qianshu.orgs.models import Seal

        if self.required_seal_kind in Seal.Kind.values:
            return str(Seal.Kind(self.required_seal_kind).label)
        return ""

    @property
    def acts(self) -> bool:
        """Whether the recipient has a step in the routing (CCs only receive copies)."""
        return self.role != self.Role.CC


class Field(models.Model):
    """A place on a page where a recipient signs, seals, dates or writes."""

    class Kind(models.TextChoices):
        SIGNATURE = "signature", _("签名")
        SEAL = "seal", _("印章")
        CROSS_PAGE_SEAL = "cross_page_seal", _("骑缝章")
        DATE = "date", _("签署日期")
        TEXT = "text", _("文本")

    envelope = models.ForeignKey(Envelope, on_delete=models.CASCADE, related_name="fields")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="fields")
    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="fields")
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    # Zero-based page and rectangle in PDF points (origin bottom-left of the unrotated page).
    # A cross-page seal lists its pages and uses y1/y2 as its vertical position on each.
    page = models.PositiveIntegerField(default=0)
    x1 = models.FloatField()
    y1 = models.FloatField()
    x2 = models.FloatField()
    y2 = models.FloatField()
    pages = models.JSONField(default=list, blank=True)
    label = models.CharField(_("说明"), max_length=60, blank=True)
    value = models.CharField(_("内容"), max_length=200, blank=True)
    # Placed by the signer while signing (指定位置签署) rather than by the initiator.
    placed_by_signer = models.BooleanField(default=False)
    filled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("签署位置")
        verbose_name_plural = _("签署位置")
        ordering: ClassVar[list[str]] = ["document_id", "page", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} p{self.page + 1}"

    def pdf_field_names(self) -> list[str]:
        """The PDF signature field this field becomes: one, also for a cross-page seal (one
        signature whose field has a widget on each of its pages)."""
        return [f"QS-F{self.pk}"]

    def legacy_pdf_field_names(self) -> list[str]:
        """The per-page fields a cross-page seal was declared as before it became one signature
        (documents sent before the upgrade still carry them)."""
        if self.kind == self.Kind.CROSS_PAGE_SEAL:
            return [f"QS-F{self.pk}-P{page + 1}" for page in self.pages]
        return []


class AuditEvent(models.Model):
    """Append-only log of an envelope, chained with a keyed MAC (see envelopes/audit.py): each
    row's MAC covers its content and the previous row's MAC; the envelope keeps the count and
    the head, anchors and the evidence report keep copies of heads."""

    class Action(models.TextChoices):
        CREATED = "created", pgettext_lazy("audit action", "创建")
        SENT = "sent", pgettext_lazy("audit action", "发起")
        NOTIFIED = "notified", pgettext_lazy("audit action", "通知")
        VIEWED = "viewed", pgettext_lazy("audit action", "查看")
        SIGNED = "signed", pgettext_lazy("audit action", "签署")
        SEALED = "sealed", pgettext_lazy("audit action", "盖章")
        APPROVED = "approved", pgettext_lazy("audit action", "审批通过")
        REJECTED = "rejected", pgettext_lazy("audit action", "拒签")
        RECALLED = "recalled", pgettext_lazy("audit action", "撤回")
        RETURNED = "returned", pgettext_lazy("audit action", "退回")
        RESENT = "resent", pgettext_lazy("audit action", "重新发起")
        EXPIRED = "expired", pgettext_lazy("audit action", "过期")
        REMINDED = "reminded", pgettext_lazy("audit action", "催签")
        COMPLETED = "completed", pgettext_lazy("audit action", "完成")
        VOID_REQUESTED = "void_requested", pgettext_lazy("audit action", "发起作废")
        VOIDED = "voided", pgettext_lazy("audit action", "作废")
        DOWNLOADED = "downloaded", pgettext_lazy("audit action", "下载")
        # A seal recipient named by credit code and name, bound (or not: another name) when
        # that organisation verified.
        ORG_BOUND = "org_bound", pgettext_lazy("audit action", "绑定盖章组织")
        ORG_NOT_BOUND = "org_not_bound", pgettext_lazy("audit action", "盖章组织名称不符")
        ARCHIVE_RENEWED = "archive_renewed", pgettext_lazy("audit action", "归档续期")

    envelope = models.ForeignKey(Envelope, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    action = models.CharField(max_length=24, choices=Action.choices)
    # The ids stay as recorded when the user or recipient row goes (no database constraint,
    # nothing set to NULL): the MAC covers them.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # Names as they were at the time (the chain must not depend on other tables).
    actor_name = models.CharField(max_length=100, blank=True)
    recipient = models.ForeignKey(
        Recipient,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    document_name = models.CharField(max_length=200, blank=True)
    sha256_before = models.CharField(max_length=64, blank=True)
    sha256_after = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    key_id = models.CharField(max_length=16)
    prev_mac = models.CharField(max_length=64)
    mac = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("签署日志")
        verbose_name_plural = _("签署日志")
        ordering: ClassVar[list[str]] = ["envelope_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["envelope", "seq"], name="env_audit_seq_unique")
        ]

    def __str__(self) -> str:
        return f"{self.envelope_id} #{self.seq} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("audit events are append-only")
        super().save(*args, **kwargs)


class Submission(models.Model):
    """A signing submission, by idempotency key: a retried submit signs once."""

    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="submissions")
    key = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("签署提交")
        verbose_name_plural = _("签署提交")
        constraints = [
            models.UniqueConstraint(fields=["recipient", "key"], name="env_submission_unique")
        ]

    def __str__(self) -> str:
        return f"{self.recipient_id} {self.key}"


class PageImage(models.Model):
    """A rendered page of a document revision (content-addressed, so shared by every web
    process and never stale: a new revision has a new SHA-256)."""

    source_sha256 = models.CharField(max_length=64)
    page = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    image = models.ForeignKey("storage.Blob", on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("页面图片")
        verbose_name_plural = _("页面图片")
        constraints = [
            models.UniqueConstraint(
                fields=["source_sha256", "page", "width"], name="env_page_image_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source_sha256[:12]} p{self.page + 1} {self.width}px"
