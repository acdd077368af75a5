"""The notification outbox: every SMS and e-mail the platform sends, and each attempt to send it."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

REDACTED = "[redacted]"


class OutboxMessageQuerySet(models.QuerySet["OutboxMessage"]):
    def due(self, now: datetime) -> OutboxMessageQuerySet:
        """Messages a worker may (re)claim now.

        A ``sending`` message whose lease (``next_attempt_at``) ran out belongs to a worker that
        died mid-send: it is due again, so nothing is lost (at-least-once delivery).
        """
        return self.filter(
            status__in=[OutboxMessage.Status.PENDING, OutboxMessage.Status.SENDING],
            next_attempt_at__lte=now,
        )


class OutboxMessage(models.Model):
    """One rendered notification, written in the transaction of the state change it reports.

    Delivery happens after commit (``tasks.deliver_message``); the row records the outcome.
    ``next_attempt_at`` is when a pending message is due, or, while ``sending``, when the
    worker's claim expires.
    """

    class Channel(models.TextChoices):
        SMS = "sms", _("短信")
        EMAIL = "email", _("电子邮件")

    class Status(models.TextChoices):
        PENDING = "pending", _("待发送")
        SENDING = "sending", _("发送中")
        SENT = "sent", _("已发送")
        FAILED = "failed", _("发送失败")

    uuid = models.UUIDField(_("消息编号"), default=uuid.uuid4, unique=True, editable=False)
    channel = models.CharField(_("渠道"), max_length=8, choices=Channel.choices)
    recipient = models.CharField(_("接收方"), max_length=254)
    kind = models.CharField(_("消息类型"), max_length=64)
    language = models.CharField(_("语言"), max_length=16)
    subject = models.CharField(_("主题"), max_length=255, blank=True)
    body = models.TextField(_("正文"))
    html_body = models.TextField(_("HTML 正文"), blank=True)
    # [{"filename", "content_type", "sha256"}]; the bytes are in the blob store.
    attachments = models.JSONField(_("附件"), default=list, blank=True)
    sensitive = models.BooleanField(_("含敏感内容"), default=False)
    status = models.CharField(
        _("状态"), max_length=8, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试时间"), null=True, blank=True)
    last_error = models.TextField(_("最近错误"), blank=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, editable=False)
    provider_message_id = models.CharField(_("服务商消息编号"), max_length=255, blank=True)

    objects = OutboxMessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("外发消息")
        verbose_name_plural = _("外发消息")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="notif_outbox_due"),
            models.Index(fields=["recipient", "-created_at"], name="notif_outbox_recipient"),
            models.Index(fields=["-created_at"], name="notif_outbox_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(channel__in=["sms", "email"]), name="notif_outbox_channel"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "sending", "sent", "failed"]),
                name="notif_outbox_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.kind} → {self.recipient} ({self.status})"

    def redact(self) -> None:
        """Forget the text (one-time codes) once it no longer needs to be sent."""
        self.body = REDACTED
        if self.html_body:
            self.html_body = REDACTED


class DeliveryAttempt(models.Model):
    """One try to hand a message to the mail server or SMS gateway.

    Written when a worker claims the message and completed when the try ends; an attempt
    without ``finished_at`` is one whose worker died mid-send.
    """

    message = models.ForeignKey(
        OutboxMessage,
        on_delete=models.CASCADE,
        related_name="delivery_attempts",
        verbose_name=_("消息"),
    )
    number = models.PositiveIntegerField(_("第几次"))
    started_at = models.DateTimeField(_("开始时间"), default=timezone.now)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    ok = models.BooleanField(_("成功"), null=True)
    error = models.TextField(_("错误"), blank=True)

    class Meta:
        verbose_name = _("发送尝试")
        verbose_name_plural = _("发送尝试")
        ordering = ["message", "number"]
        constraints = [
            models.UniqueConstraint(fields=["message", "number"], name="notif_attempt_number"),
        ]

    def __str__(self) -> str:
        outcome = {True: "ok", False: "failed", None: "unfinished"}[self.ok]
        return f"#{self.number} of message {self.message_id}: {outcome}"
