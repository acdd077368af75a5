from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from qianshu.notifications.actions import do_retry_messages
from qianshu.notifications.models import DeliveryAttempt, OutboxMessage

SENSITIVE_HIDDEN = _("（含一次性验证码，不向运营人员显示）")


class DeliveryAttemptInline(admin.TabularInline[DeliveryAttempt, OutboxMessage]):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ["number", "started_at", "finished_at", "ok", "error"]
    readonly_fields = ["number", "started_at", "finished_at", "ok", "error"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin[OutboxMessage]):
    """Read-only: messages are written by ``do_queue_*``; operators can only retry them."""

    list_display = [
        "created_at",
        "status",
        "channel",
        "recipient",
        "kind",
        "attempts",
        "next_attempt_at",
        "sent_at",
    ]
    list_filter = ["status", "channel", "kind"]
    search_fields = ["=recipient", "=uuid", "=provider_message_id"]
    date_hierarchy = "created_at"
    inlines = [DeliveryAttemptInline]
    actions = ["retry_now"]
    readonly_fields = [
        "uuid",
        "channel",
        "recipient",
        "kind",
        "language",
        "shown_subject",
        "shown_body",
        "attachments",
        "sensitive",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "sent_at",
        "created_at",
        "provider_message_id",
    ]

    exclude = ["subject", "body", "html_body"]

    # A one-time code (login, re-authentication, signing …) is never shown to an operator, not
    # even before it is delivered: with it an operator could sign in as the person.
    @admin.display(description=_("主题"))
    def shown_subject(self, obj: OutboxMessage) -> str:
        return str(SENSITIVE_HIDDEN) if obj.sensitive else obj.subject

    @admin.display(description=_("内容"))
    def shown_body(self, obj: OutboxMessage) -> str:
        return str(SENSITIVE_HIDDEN) if obj.sensitive else obj.body

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Saving a form would write back a stale status over a worker's update.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("notifications.change_outboxmessage")

    @admin.action(description=_("立即重试所选消息"), permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        count = do_retry_messages(queryset.values_list("pk", flat=True))
        self.message_user(
            request,
            ngettext("已安排重试 %(count)d 条消息。", "已安排重试 %(count)d 条消息。", count)
            % {"count": count},
            messages.SUCCESS,
        )
