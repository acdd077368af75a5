"""State changes of the notifications app: queueing messages and retrying them.

``do_queue_sms`` and ``do_queue_email`` are meant to be called inside the caller's own
transaction: the outbox row is part of it, and delivery is scheduled only once it commits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import partial

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from qianshu.notifications.messages import (
    MessageError,
    get_kind,
    render_email,
    render_sms,
    resolve_language,
)
from qianshu.notifications.models import REDACTED, OutboxMessage
from qianshu.notifications.tasks import schedule_delivery
from qianshu.storage.actions import do_store_blob

__all__ = ["InvalidRecipient", "do_queue_email", "do_queue_sms", "do_retry_messages"]

# Digits with an optional leading +: mainland numbers (13800138000) and E.164 (+85291234567).
_PHONE_RE = re.compile(r"\+?[0-9]{5,20}")


class InvalidRecipient(MessageError, ValueError):
    """The phone number or e-mail address cannot receive messages (validate input earlier)."""


def do_queue_sms(
    phone: str,
    kind: str,
    context: dict[str, object],
    *,
    language: str = "zh-hans",
    sensitive: bool = False,
) -> OutboxMessage:
    """Queue the SMS of message ``kind`` to ``phone``, rendered now in ``language``.

    The outbox row is written in the current transaction and delivered after it commits; if
    it rolls back, nothing is sent. Raises ``UnknownMessageKind`` / ``MessageContextError``
    (bad kind or context keys) and ``InvalidRecipient`` here, never at delivery. ``sensitive``
    (always on for code kinds) redacts the stored text once it is delivered.
    """
    phone = phone.strip()
    if not _PHONE_RE.fullmatch(phone):
        raise InvalidRecipient(f"not a phone number: {phone!r}")
    text = render_sms(kind, context, language=language)
    return _queue(
        channel=OutboxMessage.Channel.SMS,
        recipient=phone,
        kind=kind,
        language=language,
        sensitive=sensitive,
        subject="",
        body=text,
        html_body="",
        attachments=[],
    )


def do_queue_email(
    address: str,
    kind: str,
    context: dict[str, object],
    *,
    language: str = "zh-hans",
    sensitive: bool = False,
    attachments: Sequence[tuple[str, bytes, str]] = (),
) -> OutboxMessage:
    """Queue the e-mail of message ``kind`` to ``address``, rendered now in ``language``.

    ``attachments`` are ``(filename, content, content_type)``; their bytes go to the blob store
    now and the row names them by SHA-256. Same transaction, errors and ``sensitive`` as
    ``do_queue_sms``.
    """
    address = address.strip()
    try:
        validate_email(address)
    except ValidationError:
        raise InvalidRecipient(f"not an e-mail address: {address!r}") from None
    rendered = render_email(kind, context, language=language)
    stored = []
    for filename, content, content_type in attachments:
        if not filename or "/" in filename or "\\" in filename:
            raise ValueError(f"attachment file name must be a plain name: {filename!r}")
        blob = do_store_blob(content, content_type=content_type)
        stored.append({"filename": filename, "content_type": content_type, "sha256": blob.sha256})
    return _queue(
        channel=OutboxMessage.Channel.EMAIL,
        recipient=address,
        kind=kind,
        language=language,
        sensitive=sensitive,
        subject=rendered.subject,
        body=rendered.body,
        html_body=rendered.html_body,
        attachments=stored,
    )


def do_retry_messages(message_ids: Iterable[int]) -> int:
    """Make these pending or failed messages due now (admin "retry now"); return how many.

    A failed message gets a fresh series of attempts; its earlier attempts stay recorded.
    Sent messages, messages being sent and redacted ones (an expired code) are left alone.
    """
    now = timezone.now()
    ids = list(message_ids)
    with transaction.atomic():
        messages = list(
            OutboxMessage.objects.select_for_update()
            .filter(
                pk__in=ids,
                status__in=[OutboxMessage.Status.PENDING, OutboxMessage.Status.FAILED],
            )
            .exclude(body=REDACTED)
            .order_by("pk")
        )
        for message in messages:
            if message.status == OutboxMessage.Status.FAILED:
                message.attempts = 0
            message.status = OutboxMessage.Status.PENDING
            message.next_attempt_at = now
            message.save(update_fields=["status", "attempts", "next_attempt_at"])
            transaction.on_commit(partial(schedule_delivery, message.pk), robust=True)
    return len(messages)


def _queue(
    *,
    channel: str,
    recipient: str,
    kind: str,
    language: str,
    sensitive: bool,
    subject: str,
    body: str,
    html_body: str,
    attachments: Sequence[Mapping[str, str]],
) -> OutboxMessage:
    with transaction.atomic():
        message = OutboxMessage.objects.create(
            channel=channel,
            recipient=recipient,
            kind=kind,
            language=resolve_language(language),
            subject=subject,
            body=body,
            html_body=html_body,
            attachments=list(attachments),
            sensitive=sensitive or get_kind(kind).sensitive,
            status=OutboxMessage.Status.PENDING,
            next_attempt_at=timezone.now(),
        )
        # robust: a failure to enqueue must not fail the caller's committed request; the
        # periodic deliver-outbox sweep picks the message up anyway.
        transaction.on_commit(partial(schedule_delivery, message.pk), robust=True)
    return message
