"""Completion and the early ends of an envelope: recall (撤回), expiry, reminders (催签), void
(作废 by a void statement every party signs), and downloads recorded in the audit trail.

:func:`do_complete_envelope` runs in a task once the last party has acted: it locks every
document (the platform's completion signature, see :mod:`qianshu.signing.documents`), embeds
validation data and a document timestamp (PAdES B-LTA), time-stamps the audit chain's head (a
completion anchor), writes the evidence report (签署报告, signed by the platform, with the head,
the count and the time-stamp token), marks the envelope completed and tells everyone. It is
idempotent and safe to repeat after a crash (the timers re-schedule a completion that did not
happen).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.core.meta import RequestMeta
from qianshu.envelopes import audit, events, routing, sending
from qianshu.envelopes.errors import EnvelopeError
from qianshu.envelopes.models import Document, Envelope, Recipient, Revision
from qianshu.envelopes.revisions import append_revision
from qianshu.envelopes.turns import check_managed
from qianshu.pki.platform import load_platform
from qianshu.signing import documents
from qianshu.signing.signers import to_asn1

log = logging.getLogger(__name__)

Status = Envelope.Status
REMIND_INTERVAL = dt.timedelta(hours=1)
AUTO_REMIND_BEFORE = dt.timedelta(hours=24)


def _turn_recipients(envelope: Envelope) -> list[Recipient]:
    return list(
        envelope.recipients.filter(
            status__in=(Recipient.Status.PENDING, Recipient.Status.VIEWED)
        ).exclude(role=Recipient.Role.CC)
    )


def _end(envelope: Envelope, status: str, reason: str = "") -> None:
    envelope.status = status
    envelope.ended_at = timezone.now()
    envelope.end_reason = reason[:300]
    envelope.save(update_fields=["status", "ended_at", "end_reason"])


def _involved(envelope: Envelope) -> list[Recipient]:
    """Recipients who were told about the envelope (their turn came) — not CCs."""
    return list(
        envelope.recipients.exclude(status=Recipient.Status.WAITING).exclude(role=Recipient.Role.CC)
    )


def _base_context(envelope: Envelope) -> dict[str, object]:
    return {
        "initiator": routing.sender_label(envelope),
        "title": envelope.title,
        "number": envelope.number,
        "link": routing.envelope_url(envelope),
    }


def do_recall(envelope: Envelope, *, reason: str = "", actor: User, meta: RequestMeta) -> None:
    """撤回: the initiator ends an envelope in progress; nobody can sign it any more (not a
    managed one: its app ends it, :func:`do_expire_managed`)."""
    check_managed(envelope, managed=False)
    with transaction.atomic():
        locked = Envelope.objects.select_for_update().get(pk=envelope.pk)
        if locked.initiator_id != actor.pk:
            raise EnvelopeError(_("只有发起人可以撤回。"))
        if not (locked.is_active() or locked.is_returned()):
            raise EnvelopeError(_("只能撤回签署中或已退回的任务。"))
        reason = " ".join(reason.split())
        _end(locked, Status.RECALLED, reason)
        audit.record(locked, "recalled", actor=actor, meta=meta, reason=reason)
        events.emit(locked, "envelope.recalled", reason=reason)
        for recipient in _involved(locked):
            if recipient.status != Recipient.Status.DONE:
                routing.send(recipient, "envelope_recalled", _base_context(locked))


def do_remind(envelope: Envelope, *, actor: User, meta: RequestMeta) -> int:
    """催签: remind everyone whose turn it is (at most once an hour each). Returns how many."""
    with transaction.atomic():
        locked = Envelope.objects.select_for_update().get(pk=envelope.pk)
        if locked.initiator_id != actor.pk:
            raise EnvelopeError(_("只有发起人可以催签。"))
        if not locked.is_active():
            raise EnvelopeError(_("只能催签签署中的任务。"))
        sending.check_sender(locked, actor)  # a reminder is an SMS in the platform's name too
        sent = _remind(locked, actor=actor, meta=meta, automatic=False)
        if not sent:
            raise EnvelopeError(_("刚刚已经提醒过，请一小时后再催签。"))
    return sent


def _remind(envelope: Envelope, *, actor: User | None, meta: RequestMeta, automatic: bool) -> int:
    now = timezone.now()
    sent = 0
    for recipient in _turn_recipients(envelope):
        if recipient.last_reminded_at and now - recipient.last_reminded_at < REMIND_INTERVAL:
            continue
        routing.notify_turn(recipient, "envelope_reminder")
        Recipient.objects.filter(pk=recipient.pk).update(last_reminded_at=now)
        audit.record(
            envelope,
            "reminded",
            actor=actor,
            recipient=recipient,
            meta=meta,
            to=recipient.name,
            automatic=automatic,
        )
        sent += 1
    return sent


def do_expire_overdue_envelopes(
    now: dt.datetime | None = None, limit: int = 500, *, meta: RequestMeta
) -> int:
    """End envelopes whose deadline has passed (过期), each in its own transaction (a timer:
    one envelope at a time, so that none waits for the others). Returns how many."""
    now = now or timezone.now()
    ids = list(
        Envelope.objects.filter(status=Status.IN_PROGRESS, deadline__lte=now).values_list(
            "pk", flat=True
        )[:limit]
    )
    count = 0
    for pk in ids:
        with transaction.atomic():
            envelope = Envelope.objects.select_for_update().get(pk=pk)
            if not envelope.is_active() or envelope.deadline is None or envelope.deadline > now:
                continue
            if envelope.all_signed_at is not None:
                continue  # everyone signed in time: completion is under way
            _expire(envelope, meta, {"deadline": envelope.deadline.isoformat()})
            count += 1
    return count


def _expire(envelope: Envelope, meta: RequestMeta, detail: dict[str, Any]) -> None:
    _end(envelope, Status.EXPIRED, _("已过签署截止时间"))
    audit.record(envelope, "expired", meta=meta, **detail)
    events.emit(envelope, "envelope.expired")
    routing.notify_initiator(envelope, "envelope_expired", {})
    for recipient in _turn_recipients(envelope):
        routing.send(recipient, "envelope_expired", _base_context(envelope))


def do_expire_managed(envelope: Envelope, *, reason: str, meta: RequestMeta) -> bool:
    """The app driving a managed envelope ends it as expired (its own deadline passed, e.g.
    an invitation's 反馈期限). Call inside that app's transaction. Returns False when the
    envelope had already ended."""
    if envelope.kind != Envelope.Kind.MANAGED:
        raise EnvelopeError(_("只能结束业务签署任务。"))
    locked = Envelope.objects.select_for_update().get(pk=envelope.pk)
    if not locked.is_active():
        return False
    _expire(locked, meta, {"reason": reason})
    return True


def do_remind_before_deadline(
    now: dt.datetime | None = None, limit: int = 500, *, meta: RequestMeta
) -> int:
    """Automatic reminder, once, a day before the deadline, each envelope in its own
    transaction (a timer). Returns how many envelopes."""
    now = now or timezone.now()
    ids = list(
        Envelope.objects.filter(
            status=Status.IN_PROGRESS,
            auto_remind=True,
            deadline_reminded_at__isnull=True,
            deadline__gt=now,
            deadline__lte=now + AUTO_REMIND_BEFORE,
        ).values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        with transaction.atomic():
            envelope = Envelope.objects.select_for_update().get(pk=pk)
            if envelope.deadline_reminded_at is not None or not envelope.is_active():
                continue
            _remind(envelope, actor=None, meta=meta, automatic=True)
            envelope.deadline_reminded_at = now
            envelope.save(update_fields=["deadline_reminded_at"])
    return len(ids)


def _finish_document(envelope: Envelope, document: Document, meta: RequestMeta) -> None:
    platform = load_platform()
    locked = Document.objects.select_for_update().select_related("current").get(pk=document.pk)
    if locked.finished:
        return
    data = locked.current.read()
    final = documents.finish_document(
        data,
        timestamper=platform.timestamper,
        revocation=platform.revocation,
        trust_roots=[to_asn1(platform.pki.root.certificate)],
        locker=platform.certifier,
    )
    before = append_revision(locked, final, action=Revision.Action.FINISHED, finished=True)
    audit.record(
        envelope,
        "completed",
        meta=meta,
        document_name=locked.name,
        sha256_before=before,
        sha256_after=locked.current_id,
        step="b_lta",
    )


def do_complete_envelope(envelope_id: int, *, meta: RequestMeta) -> bool:
    """Finish every document (B-LTA), write the signed evidence report, mark the envelope
    completed and notify everyone. Returns False when there is nothing to do."""
    from qianshu.envelopes.reports import build_signed_report

    with transaction.atomic():
        envelope = Envelope.objects.select_for_update().filter(pk=envelope_id).first()
        if envelope is None or not envelope.is_active() or envelope.all_signed_at is None:
            return False
        for document in envelope.documents.order_by("position", "id"):
            _finish_document(envelope, document, meta)
        now = timezone.now()
        envelope.status = Status.COMPLETED
        envelope.completed_at = now
        envelope.ended_at = now
        audit.record(envelope, "completed", meta=meta, step="envelope")
        # The time-stamp covers the chain up to the completion event; the report prints it.
        anchor = audit.completion_anchor(envelope)
        envelope.report = build_signed_report(envelope, anchor)
        envelope.save(update_fields=["status", "completed_at", "ended_at", "report"])
        events.emit(envelope, "envelope.completed")
        _notify_completed(envelope)
        if envelope.kind == Envelope.Kind.VOID_STATEMENT and envelope.voids_id is not None:
            _void_original(envelope, meta)
    return True


def _notify_completed(envelope: Envelope) -> None:
    context = _base_context(envelope)
    if envelope.kind == Envelope.Kind.STANDARD:
        routing.notify_initiator(envelope, "envelope_completed", {})
    recipients = list(envelope.recipients.all())
    # The signed files go to CCs by e-mail: read them only when someone gets them.
    attachments: tuple[tuple[str, bytes, str], ...] = ()
    if any(r.role == Recipient.Role.CC and r.email for r in recipients):
        attachments = tuple(
            (d.name, d.current.read(), "application/pdf")
            for d in envelope.documents.select_related("current")
        )
    initiator = envelope.initiator
    for recipient in recipients:
        if recipient.role == Recipient.Role.CC:
            routing.send(recipient, "envelope_cc", context, attachments=attachments)
        elif envelope.kind == Envelope.Kind.STANDARD:
            if recipient.user_id == initiator.pk or recipient.phone == initiator.phone:
                continue  # the initiator was told above
            routing.send(recipient, "envelope_completed", context)


def _void_original(statement: Envelope, meta: RequestMeta) -> None:
    original = Envelope.objects.select_for_update().get(pk=statement.voids_id or 0)
    if original.status != Status.COMPLETED:
        return
    original.status = Status.VOIDED
    original.ended_at = timezone.now()
    original.end_reason = statement.void_reason
    original.save(update_fields=["status", "ended_at", "end_reason"])
    # The platform voids the original once the last party signed the statement (in a task, so
    # no request): credited to the platform, as the completion is; the people who voided it
    # are the statement's signers, in its own trail, each with their IP and user agent.
    audit.record(
        original,
        "voided",
        meta=meta,
        statement=statement.number,
        reason=statement.void_reason,
    )
    events.emit(original, "envelope.voided", reason=statement.void_reason)
    routing.notify_initiator(original, "envelope_voided", {})
    for recipient in original.recipients.all():
        routing.send(
            recipient,
            "envelope_voided",
            {
                "title": original.title,
                "number": original.number,
                "link": routing.envelope_url(original),
            },
        )


def do_record_download(
    envelope: Envelope,
    what: str,
    *,
    actor: User,
    meta: RequestMeta,
    document: Document | None = None,
) -> None:
    """下载: every download of a document or the report is part of the audit trail."""
    with transaction.atomic():
        locked = Envelope.objects.select_for_update().get(pk=envelope.pk)
        audit.record(
            locked,
            "downloaded",
            actor=actor,
            meta=meta,
            document_name=document.name if document else "",
            sha256_after=document.current_id if document else "",
            what=what,
        )
