"""Webhook endpoints of organisations, the messages for them (an outbox) and every attempt.

A message is written in the transaction of the change it reports (:func:`qianshu.webhooks.
actions.events.do_emit_event`) and delivered after commit by the workers
(:mod:`qianshu.webhooks.delivery`): at least once, retried on :data:`~qianshu.webhooks.delivery.
SCHEDULE` for more than a day, each attempt recorded. The body is stored exactly as it is sent
and signed, so a redelivery carries the same ``webhook-id`` and bytes (receivers deduplicate on
the id).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qianshu.accounts.models import User
from qianshu.orgs.models import Organization

#: Event types an endpoint can subscribe to (Standard Webhooks ``type`` values).
EVENT_TYPES = (
    "envelope.sent",
    "recipient.viewed",
    "recipient.signed",
    "recipient.rejected",
    "recipient.returned",
    "envelope.completed",
    "envelope.recalled",
    "envelope.expired",
    "envelope.voided",
)


class Endpoint(models.Model):
    """Where an organisation wants its events POSTed, and the secret they are signed with.

    The secret is stored encrypted (:mod:`qianshu.webhooks.secrets`). After a rotation the
    previous secret stays valid until ``previous_secret_until`` and messages carry a signature
    by each.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("启用中")
        DISABLED = "disabled", _("已停用")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(_("接收地址"), max_length=500)
    description = models.CharField(_("说明"), max_length=100, blank=True)
    events = models.JSONField(_("订阅事件"), default=list)
    secret_encrypted = models.BinaryField()
    previous_secret_encrypted = models.BinaryField(null=True, blank=True)
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        _("状态"), max_length=8, choices=Status.choices, default=Status.ACTIVE
    )
    disabled_reason = models.CharField(_("停用原因"), max_length=200, blank=True)
    # The first failure since the last success; an endpoint failing for days is disabled.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("Webhook 接收地址")
        verbose_name_plural = _("Webhook 接收地址")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["org", "status"], name="webhook_endpoint_org")]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return self.status == self.Status.ACTIVE and event_type in self.events


class MessageQuerySet(models.QuerySet["Message"]):
    def due(self, now: datetime) -> MessageQuerySet:
        """Messages a worker may (re)claim now; a ``sending`` one whose lease ran out belongs
        to a worker that died mid-send."""
        return self.filter(
            status__in=[Message.Status.PENDING, Message.Status.SENDING],
            next_attempt_at__lte=now,
        )


class Message(models.Model):
    """One event for one endpoint."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待发送")
        SENDING = "sending", _("发送中")
        DELIVERED = "delivered", _("已送达")
        FAILED = "failed", _("发送失败")

    msg_id = models.CharField(max_length=40, unique=True)  # the webhook-id header
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="messages")
    event_type = models.CharField(_("事件"), max_length=40)
    body = models.TextField()  # exactly the bytes sent (UTF-8 JSON)
    status = models.CharField(
        _("状态"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, editable=False)
    delivered_at = models.DateTimeField(_("送达时间"), null=True, blank=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_message_due"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_message_endpoint"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.msg_id}"


class Attempt(models.Model):
    """One try to deliver a message: when, what the receiver answered, or why it failed."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="delivery_attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response = models.CharField(max_length=500, blank=True)  # the start of the answer
    error = models.CharField(max_length=500, blank=True)
    ok = models.BooleanField(default=False)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["message", "number"], name="webhook_attempt_number")
        ]

    def __str__(self) -> str:
        return f"{self.message_id} #{self.number}"
