"""Events become webhook messages; a message can be sent again by hand."""

from __future__ import annotations

import json
import uuid
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.core.meta import RequestMeta
from qianshu.core.statements import Statement
from qianshu.orgs.audit import record_org_event
from qianshu.orgs.models import OrgAction, Organization
from qianshu.webhooks.delivery import schedule
from qianshu.webhooks.errors import EndpointDisabled
from qianshu.webhooks.models import EVENT_TYPES, Endpoint, Message

# Built once (core/statements.py): every signing step of an organisation's envelope emits.
_ACTIVE: Statement[Endpoint] = Statement(
    lambda org: Endpoint.objects.filter(org_id=org.as_int(), status=Endpoint.Status.ACTIVE),
    arity=1,
)


def do_emit_event(org: Organization, event_type: str, data: dict[str, Any]) -> list[Message]:
    """One message per active endpoint of ``org`` subscribed to ``event_type``, written in
    the caller's transaction (the change being reported) and scheduled after it commits; if
    it rolls back, nothing is sent. ``data`` must be JSON-serialisable."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    endpoints = [e for e in _ACTIVE.objects(org.pk) if e.wants(event_type)]
    if not endpoints:
        return []
    now = timezone.now()
    messages = []
    for endpoint in endpoints:
        msg_id = "msg_" + uuid.uuid4().hex
        body = json.dumps(
            {
                "type": event_type,
                "timestamp": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "data": data,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        messages.append(
            Message(
                msg_id=msg_id,
                endpoint=endpoint,
                event_type=event_type,
                body=body,
                next_attempt_at=now,
                created_at=now,
            )
        )
    created = Message.objects.bulk_create(messages)
    for message in created:
        transaction.on_commit(partial(schedule, message.pk), robust=True)
    return created


def do_redeliver_message(message: Message, *, actor: User, meta: RequestMeta) -> Message:
    """Send a message again now, with its id and body unchanged (a new series of attempts)."""
    with transaction.atomic():
        current = Message.objects.select_for_update().select_related("endpoint").get(pk=message.pk)
        if current.endpoint.status != Endpoint.Status.ACTIVE:
            raise EndpointDisabled()
        if current.status == Message.Status.SENDING:
            return current  # being sent right now
        current.status = Message.Status.PENDING
        current.attempts = 0
        current.next_attempt_at = timezone.now()
        current.save(update_fields=["status", "attempts", "next_attempt_at"])
        record_org_event(
            current.endpoint.org,
            OrgAction.WEBHOOK_REDELIVERED,
            actor=actor,
            meta=meta,
            endpoint=str(current.endpoint.uuid),
            message=current.msg_id,
        )
        transaction.on_commit(partial(schedule, current.pk), robust=True)
    return current
