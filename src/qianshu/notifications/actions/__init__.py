"""State changes of the notifications app: queueing messages and retrying them.

``do_queue_sms`` and ``do_queue_email`` are meant to be called inside the caller's own
transaction: the outbox row is part of it, and delivery is scheduled only once it commits —
one task per message, or one for all the messages queued inside :func:`delivered_together`;
those queued inside :func:`written_together` are written in one INSERT when it ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from functools import partial

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from qianshu.core.savepoints import Held
from qianshu.core.statements import Insert
from qianshu.notifications.messages import (
    MessageError,
    get_kind,
    render_email,
    render_sms,
    resolve_language,
)
from qianshu.notifications.models import REDACTED, OutboxMessage
from qianshu.notifications.tasks import schedule_deliveries, schedule_delivery
from qianshu.storage.actions import do_store_blob

__all__ = [
    "InvalidRecipient",
    "delivered_together",
    "do_queue_email",
    "do_queue_sms",
    "do_release_held",
    "do_retry_messages",
    "do_take_held",
    "written_together",
]

# Digits with an optional leading +: mainland numbers (13800138000) and E.164 (+85291234567).
_PHONE_RE = re.compile(r"\+?[0-9]{5,20}")


class InvalidRecipient(MessageError, ValueError):
    """The phone number or e-mail address cannot receive messages (validate input earlier)."""


# The ids of the messages queued inside delivered_together(), in this context.
_together: ContextVar[list[int] | None] = ContextVar("qianshu_outbox_together", default=None)


@contextmanager
def delivered_together() -> Iterator[None]:
    """Inside the block (in the caller's transaction), the messages queued to go out now are
    delivered by one task once the transaction commits, instead of one task each: a 批量发起
    group sends ten envelopes, each a first signer's SMS, with one task row. The task is
    registered with the transaction when the block ends, also when it raises: a rollback
    (of the transaction, or of a savepoint the block is in) discards it with the messages; an
    exception caught without one leaves the messages to commit and to be delivered. A block
    inside another joins it."""
    if _together.get() is not None:
        yield
        return
    ids: list[int] = []
    token = _together.set(ids)
    try:
        yield
    finally:
        _together.reset(token)
        if ids:
            transaction.on_commit(partial(schedule_deliveries, ids), robust=True)


_INSERT: Insert[OutboxMessage] = Insert(OutboxMessage)  # built once

# The messages queued inside written_together(), in this context, not yet written (and
# whether each is held).
_written: ContextVar[Held[tuple[OutboxMessage, bool]] | None] = ContextVar(
    "qianshu_outbox_written", default=None
)


@contextmanager
def written_together() -> Iterator[None]:
    """Inside the block (in the caller's transaction), the messages queued are written when it
    ends, all in one INSERT, and their delivery then scheduled as ``_queue`` does: a signing
    step's "your turn" and progress messages. Until then a queued message has its ``uuid``
    but no ``pk``. Nothing is written when the block raises: use it inside a transaction
    that then rolls back (its audit events and every other write of the step with it); nor a
    message queued inside a savepoint that was rolled back there, its error caught
    (:mod:`qianshu.core.savepoints`). A block inside another joins it."""
    if _written.get() is not None:
        yield
        return
    queued: Held[tuple[OutboxMessage, bool]] = Held()
    token = _written.set(queued)
    try:
        yield
    except BaseException:
        queued.withdraw()
        raise
    finally:
        _written.reset(token)
    pending = queued.standing()
    if pending:
        with transaction.atomic(savepoint=False):
            _INSERT.save([message for message, _ in pending])
            for message, held in pending:
                if not held:
                    _schedule(message)


def do_queue_sms(
    phone: str,
    kind: str,
    context: dict[str, object],
    *,
    language: str = "zh-hans",
    sensitive: bool = False,
    hold_until: datetime | None = None,
) -> OutboxMessage:
    """Queue the SMS of message ``kind`` to ``phone``, rendered now in ``language``.

    The outbox row is written in the current transaction and delivered after it commits; if
    it rolls back, nothing is sent. Raises ``UnknownMessageKind`` / ``MessageContextError``
    (bad kind or context keys) and ``InvalidRecipient`` here, never at delivery. ``sensitive``
    (always on for code kinds) redacts the stored text once it is delivered. ``hold_until``
    holds the message back until then (no delivery is scheduled; the outbox sweep sends it
    when due), so that the caller can replace it by a summary (:func:`do_take_held`) or
    release it (:func:`do_release_held`); if the caller dies first, it is sent as it is.
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
        hold_until=hold_until,
    )


def do_queue_email(
    address: str,
    kind: str,
    context: dict[str, object],
    *,
    language: str = "zh-hans",
    sensitive: bool = False,
    attachments: Sequence[tuple[str, bytes, str]] = (),
    hold_until: datetime | None = None,
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
        hold_until=hold_until,
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
    hold_until: datetime | None = None,
) -> OutboxMessage:
    message = OutboxMessage(
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
        next_attempt_at=hold_until or timezone.now(),
    )
    queued = _written.get()
    if queued is not None:
        queued.append((message, hold_until is not None))
        return message
    # No savepoint: the row is all or nothing anyway, and a batch queues hundreds of them.
    with transaction.atomic(savepoint=False):
        message.save(force_insert=True)
        if hold_until is None:
            _schedule(message)
    return message


def _schedule(message: OutboxMessage) -> None:
    """The delivery of a message just written (not held): with the other messages of
    :func:`delivered_together`, or its own task once the transaction commits."""
    together = _together.get()
    if together is not None:
        together.append(message.pk)
        return
    # robust: a failure to enqueue must not fail the caller's committed request; the
    # periodic deliver-outbox sweep picks the message up anyway.
    transaction.on_commit(partial(schedule_delivery, message.pk), robust=True)


def _held(message_uuids: Iterable[str]) -> list[OutboxMessage]:
    """The held messages among ``message_uuids`` that nobody sent or claimed yet, locked."""
    return list(
        OutboxMessage.objects.select_for_update()
        .filter(
            uuid__in=list(message_uuids),
            status=OutboxMessage.Status.PENDING,
            attempts=0,
            next_attempt_at__gt=timezone.now(),
        )
        .order_by("pk")
    )


def do_take_held(message_uuids: Sequence[str]) -> bool:
    """Delete the held messages ``message_uuids`` (queued with ``hold_until``) to send a summary
    of them instead, in the caller's transaction. Only all or none: returns False, deleting
    nothing, when any of them is no longer held (the sweep sent it when its hold ran out)."""
    with transaction.atomic():
        held = _held(message_uuids)
        if len(held) != len(set(message_uuids)):
            return False
        OutboxMessage.objects.filter(pk__in=[m.pk for m in held]).delete()
    return True


def do_release_held(message_uuids: Iterable[str]) -> int:
    """Send the held messages ``message_uuids`` as they are: due now, delivery scheduled once
    the caller's transaction commits. Returns how many were still held."""
    now = timezone.now()
    with transaction.atomic():
        held = _held(message_uuids)
        OutboxMessage.objects.filter(pk__in=[m.pk for m in held]).update(next_attempt_at=now)
        for message in held:
            transaction.on_commit(partial(schedule_delivery, message.pk), robust=True)
    return len(held)
