"""Delivery of outbox messages: background tasks on the "notifications" queue.

A delivery claims the message (a short transaction that locks the row, checks it is due and
marks it ``sending``), sends it outside any transaction, then records the outcome. The claim is
what keeps two workers from sending one message twice; it is a lease (``SENDING_LEASE``): if the
worker dies mid-send, the message is due again when the lease ends, so nothing is lost. At
worst, a send that outlives its lease is repeated (at-least-once delivery).

Failures are retried with exponential backoff up to ``QIANSHU_NOTIFY_MAX_ATTEMPTS`` attempts.
Task backends that can defer (django-tasks-db) get the retry enqueued for its time; in any case
``qianshu deliver-outbox`` (cron) or the ``deliver_due_messages`` task sends whatever is due.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from email.utils import make_msgid
from functools import partial
from typing import Literal
from urllib.parse import urlparse

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django_tasks import task

from qianshu.core.outbox import due_ids, enqueue_at
from qianshu.notifications.models import DeliveryAttempt, OutboxMessage
from qianshu.notifications.sms import get_sms_backend
from qianshu.storage.blobs import get_blob_store

logger = logging.getLogger(__name__)

QUEUE = "notifications"
# Delay after the 1st, 2nd, ... failed attempt; the last one repeats.
BACKOFF = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(hours=24),
)
# Longer than any send can take (EMAIL_TIMEOUT, QIANSHU_SMS_GATEWAY_TIMEOUT).
SENDING_LEASE = timedelta(minutes=10)
SWEEP_LIMIT = 1000

Outcome = Literal["sent", "retry", "failed", "skipped", "stale"]


def retry_delay(failed_attempts: int) -> timedelta:
    """How long to wait after the ``failed_attempts``-th failure."""
    return BACKOFF[min(max(failed_attempts, 1), len(BACKOFF)) - 1]


def schedule_delivery(message_id: int, run_after: datetime | None = None) -> None:
    """Enqueue ``deliver_message`` (a retry at ``run_after``; see ``core.outbox.enqueue_at``)."""
    enqueue_at(deliver_message, message_id, run_after=run_after)


def schedule_deliveries(message_ids: list[int]) -> None:
    """Enqueue the delivery of messages queued together: one task for them all
    (``deliver_messages``), or ``deliver_message`` for one."""
    if len(message_ids) == 1:
        schedule_delivery(message_ids[0])
    elif message_ids:
        enqueue_at(deliver_messages, list(message_ids))


@task(queue_name=QUEUE)
def deliver_message(message_id: int) -> str:
    """Send one outbox message if it is due; a no-op for one already sent or being sent."""
    return deliver(message_id)


@task(queue_name=QUEUE)
def deliver_messages(message_ids: list[int]) -> dict[str, int]:
    """Send outbox messages queued together, one after another, each as ``deliver_message``
    sends it (a message already sent, being sent or gone is skipped)."""
    return dict(Counter(deliver(message_id) for message_id in message_ids))


@task(queue_name=QUEUE)
def deliver_due_messages(limit: int = SWEEP_LIMIT) -> dict[str, int]:
    """Send every due message (recovery after a worker died, retries on immediate backends)."""
    return dict(deliver_due(limit=limit))


def deliver_due(*, limit: int = SWEEP_LIMIT) -> Counter[str]:
    """Deliver up to ``limit`` due messages, oldest due first; count the outcomes."""
    due = OutboxMessage.objects.due(timezone.now())
    return Counter(deliver(message_id) for message_id in due_ids(due, limit))


def deliver(message_id: int) -> Outcome:
    """Claim, send and record one message; never raises for a failed send."""
    claimed = _claim(message_id)
    if claimed is None:
        return "skipped"
    message, attempt = claimed
    try:
        provider_id = _send(message)
    except Exception as exc:  # noqa: BLE001 - whatever broke, it is recorded and retried
        error = f"{type(exc).__name__}: {exc}"[:2000]
        # No recipient in the log: phone numbers and addresses stay in the database.
        logger.warning(
            "outbox message %s (%s), attempt %s failed: %s",
            message.pk,
            message.channel,
            attempt.number,
            error,
        )
        return _finish(message, attempt, error=error)
    return _finish(message, attempt, provider_id=provider_id)


def _claim(message_id: int) -> tuple[OutboxMessage, DeliveryAttempt] | None:
    now = timezone.now()
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .due(now)
            .filter(pk=message_id)
            .first()
        )
        if message is None:
            return None  # Sent, failed, not yet due, or claimed by another worker.
        message.status = OutboxMessage.Status.SENDING
        message.attempts += 1
        message.next_attempt_at = now + SENDING_LEASE
        message.save(update_fields=["status", "attempts", "next_attempt_at"])
        # Numbered over the message's whole history: "retry now" restarts ``attempts``.
        last = message.delivery_attempts.aggregate(last=Max("number"))["last"] or 0
        attempt = DeliveryAttempt.objects.create(message=message, number=last + 1, started_at=now)
    return message, attempt


def _send(message: OutboxMessage) -> str:
    if message.channel == OutboxMessage.Channel.SMS:
        return get_sms_backend().send(
            phone=message.recipient, text=message.body, message_id=str(message.uuid)
        )
    return _send_email(message)


def _send_email(message: OutboxMessage) -> str:
    domain = urlparse(settings.PUBLIC_URL).hostname or "qianshu.localhost"
    message_id_header = make_msgid(domain=domain)
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.recipient],
        headers={"Message-ID": message_id_header, "X-Qianshu-Message-Id": str(message.uuid)},
    )
    if message.html_body:
        email.attach_alternative(message.html_body, "text/html")
    store = get_blob_store()
    for item in message.attachments:
        email.attach(item["filename"], store.get(item["sha256"]), item["content_type"])
    if email.send(fail_silently=False) != 1:
        raise RuntimeError("the e-mail backend did not accept the message")
    return message_id_header


def _finish(
    message: OutboxMessage,
    attempt: DeliveryAttempt,
    *,
    provider_id: str = "",
    error: str | None = None,
) -> Outcome:
    now = timezone.now()
    ok = error is None
    with transaction.atomic():
        attempt.finished_at = now
        attempt.ok = ok
        attempt.error = error or ""
        attempt.save(update_fields=["finished_at", "ok", "error"])
        current = OutboxMessage.objects.select_for_update().get(pk=message.pk)
        if ok:
            if current.status == OutboxMessage.Status.SENT:
                return "stale"
            # Even if the lease ran out meanwhile: it was sent, a later claim must not resend.
            current.status = OutboxMessage.Status.SENT
            current.sent_at = now
            current.next_attempt_at = None
            current.last_error = ""
            current.provider_message_id = provider_id[:255]
            outcome: Outcome = "sent"
        else:
            taken_over = current.delivery_attempts.filter(number__gt=attempt.number).exists()
            if current.status != OutboxMessage.Status.SENDING or taken_over:
                return "stale"  # Our lease ran out and another worker took the message over.
            current.last_error = error or ""
            if current.attempts >= max(1, settings.QIANSHU_NOTIFY_MAX_ATTEMPTS):
                current.status = OutboxMessage.Status.FAILED
                current.next_attempt_at = None
                outcome = "failed"
                logger.error("outbox message %s failed for good: %s", current.pk, error)
            else:
                current.status = OutboxMessage.Status.PENDING
                current.next_attempt_at = now + retry_delay(current.attempts)
                transaction.on_commit(
                    partial(schedule_delivery, current.pk, current.next_attempt_at), robust=True
                )
                outcome = "retry"
        # A code is worthless once delivered or given up on: do not keep it around.
        if current.sensitive and outcome != "retry" and not settings.QIANSHU_OUTBOX_KEEP_SENSITIVE:
            current.redact()
        current.save()
    return outcome
