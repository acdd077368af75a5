"""Contracts of the procurement system, their signing steps, and the webhook events received."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.db import models
from django.urls import reverse
from django.utils import timezone


class Contract(models.Model):
    """A contract approved here and signed on Qianshu (one envelope)."""

    class Status(models.TextChoices):
        DRAFT = "draft", "待审批"
        PUSH_FAILED = "push_failed", "推送失败"
        SIGNING = "signing", "签署中"
        COMPLETED = "completed", "已完成"
        REJECTED = "rejected", "已拒签"
        RECALLED = "recalled", "已撤回"
        EXPIRED = "expired", "已过期"
        VOIDED = "voided", "已作废"

    # Names the contract towards Qianshu (the envelope's Idempotency-Key): unique even if this
    # system's database is started afresh, unlike the number.
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField("合同编号", max_length=32, unique=True)
    title = models.CharField("合同名称", max_length=100)
    amount = models.DecimalField("合同金额（元）", max_digits=14, decimal_places=2)
    supplier_name = models.CharField("供应商名称", max_length=100)
    supplier_credit_code = models.CharField("统一社会信用代码", max_length=18)
    supplier_rep_name = models.CharField("乙方履约代表", max_length=64)
    supplier_rep_phone = models.CharField("乙方手机号码", max_length=11)
    buyer_rep_name = models.CharField("甲方履约人", max_length=64)
    buyer_rep_phone = models.CharField("甲方履约人手机号码", max_length=11)
    document = models.FileField("合同文本", upload_to="contracts/")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    push_error = models.TextField(blank=True)
    # Qianshu's ids: the uploaded file (kept so that a repeated push reuses it) and the envelope.
    upload_id = models.CharField(max_length=36, blank=True)
    envelope_id = models.CharField(max_length=36, blank=True, db_index=True)
    envelope_number = models.CharField("签署编号", max_length=32, blank=True)
    # 合同盖章终稿 and 签署报告, downloaded when the envelope is completed.
    signed_pdf = models.FileField("合同盖章终稿", upload_to="signed/", blank=True)
    report_pdf = models.FileField("签署报告", upload_to="reports/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.number:
            self.number = f"CG{timezone.localdate():%Y%m%d}-{self.key.hex[:6].upper()}"
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("contract", args=[self.pk])

    def can_push(self) -> bool:
        return self.status in (self.Status.DRAFT, self.Status.PUSH_FAILED)


class Step(models.Model):
    """One party's turn on Qianshu, in the contract's fixed order; updated by webhooks."""

    class Status(models.TextChoices):
        WAITING = "waiting", "等待中"
        VIEWED = "viewed", "已查看"
        DONE = "done", "已签署"
        REJECTED = "rejected", "已拒签"
        RETURNED = "returned", "已退回"

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=32)  # e.g. 乙方（供应商）盖章
    party = models.CharField(max_length=100)  # the person's or the organisation's name
    recipient_id = models.BigIntegerField(null=True)  # Qianshu's recipient id
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAITING)
    viewed_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["contract", "order"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["contract", "order"], name="one_step_per_order")
        ]

    def __str__(self) -> str:
        return f"{self.order}. {self.label} {self.party}"


class WebhookEvent(models.Model):
    """A webhook message whose signature checked out, as it was received. Messages may come
    more than once: ``message_id`` (``webhook-id``) is unique, a repeat is acknowledged and
    not applied again."""

    message_id = models.CharField(max_length=64, unique=True)
    event_type = models.CharField(max_length=40)
    contract = models.ForeignKey(
        Contract, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    body = models.TextField()
    signature = models.TextField()  # the webhook-signature header
    timestamp = models.BigIntegerField()  # the webhook-timestamp header
    received_at = models.DateTimeField(auto_now_add=True)
    # Set once the event changed the contract (a failed download is retried on redelivery).
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["received_at", "id"]

    def __str__(self) -> str:
        return f"{self.message_id} {self.event_type}"


class WebhookSubscription(models.Model):
    """The endpoint registered on Qianshu for this system, with its signing secret (one row).
    A real system keeps the secret encrypted or in its secret store."""

    endpoint_id = models.CharField(max_length=36)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100)
    registered_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.url
