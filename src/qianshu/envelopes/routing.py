"""Routing: whose turn it is, and telling people.

Recipients act in routing order; equal numbers act in parallel. When every acting recipient of
the current order is done, the next order's recipients become ``pending`` and get an SMS and/or
e-mail with their link. When nobody is left, completion (B-LTA, evidence report) is scheduled.

Every function here runs inside the caller's transaction, with the envelope row locked; the
outbox rows are part of that transaction, so nothing is sent if it rolls back.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext as _
from django.utils.translation import override, pgettext_lazy

from qianshu.envelopes import audit
from qianshu.envelopes.links import recipient_link
from qianshu.envelopes.models import Envelope, Recipient
from qianshu.envelopes.signals import all_signed
from qianshu.notifications.actions import InvalidRecipient, do_queue_email, do_queue_sms

log = logging.getLogger(__name__)

Status = Recipient.Status
LANGUAGE = "zh-hans"


def envelope_url(envelope: Envelope) -> str:
    from django.conf import settings

    return settings.PUBLIC_URL.rstrip("/") + envelope.get_absolute_url()


def initiator_label(envelope: Envelope) -> str:
    """发起方: the organisation the envelope was sent for, else the initiator's name."""
    if envelope.initiator_org_id is not None:
        return envelope.initiator_org.name  # type: ignore[union-attr]
    return audit.person_label(envelope.initiator)


def initiator_verified(envelope: Envelope) -> bool:
    """Whether 发起方 is verified: the organisation it was sent for, else the initiator's
    real-name identity. Envelopes sent before sending needed it are shown marked 未认证."""
    if envelope.initiator_org_id is not None:
        return envelope.initiator_org.is_verified  # type: ignore[union-attr]
    return audit.person_identity(envelope.initiator) is not None


def sender_label(envelope: Envelope) -> str | Promise:
    """Who sent it, as notifications name them: the verified person, and the verified
    organisation they sent for — marked 未认证 when either is not (older envelopes)."""
    person = audit.person_label(envelope.initiator)
    person_ok = audit.person_identity(envelope.initiator) is not None
    org = envelope.initiator_org if envelope.initiator_org_id is not None else None

    def text() -> str:
        who = person if person_ok else _("%(name)s（未认证）") % {"name": person}
        if org is None:
            return who
        org_name = org.name if org.is_verified else _("%(name)s（未认证）") % {"name": org.name}
        return _("%(org)s（经办人：%(person)s）") % {"org": org_name, "person": who}

    return lazy(text, str)()


_ACTIONS = {
    Recipient.Role.SIGN: pgettext_lazy("action", "签署"),
    Recipient.Role.SEAL: pgettext_lazy("action", "盖章"),
    Recipient.Role.APPROVE: pgettext_lazy("action", "审批"),
    Recipient.Role.CC: pgettext_lazy("action", "查看"),
}


def action_label(recipient: Recipient) -> Promise:
    """What the recipient does, as a verb (lazy: messages render it in their own language)."""
    return _ACTIONS[Recipient.Role(recipient.role)]


def _deadline_text(envelope: Envelope) -> str | Promise:
    if envelope.deadline is None:
        return ""
    local = date_format(timezone.localtime(envelope.deadline), "Y-m-d H:i")
    return lazy(lambda: _("，截止时间 %(deadline)s") % {"deadline": local}, str)()


def _only(kind: str, channel: str, context: dict[str, str]) -> dict[str, object]:
    """The context keys that the kind's text for ``channel`` uses (SMS texts use fewer)."""
    from qianshu.notifications.messages import get_kind

    spec = get_kind(kind)
    keys = spec.sms_keys() if channel == "sms" else spec.email_keys()
    return {k: v for k, v in context.items() if k in keys}


def _queue(
    kind: str,
    context: dict[str, object],
    *,
    phone: str,
    email: str,
    language: str,
    attachments: tuple[tuple[str, bytes, str], ...] = (),
) -> None:
    with override(language):
        ctx = {k: str(v) for k, v in context.items()}
    try:
        if phone:
            do_queue_sms(phone, kind, _only(kind, "sms", ctx), language=language)
        if email:
            do_queue_email(
                email, kind, _only(kind, "email", ctx), language=language, attachments=attachments
            )
    except InvalidRecipient:
        log.warning("cannot send %s to %s / %s", kind, phone, email)


def send(
    recipient: Recipient,
    kind: str,
    context: dict[str, object],
    attachments: tuple[tuple[str, bytes, str], ...] = (),
) -> None:
    """Queue ``kind`` to the recipient's phone and e-mail (whichever it has); nothing for a
    managed envelope (the app driving it sends its own messages)."""
    if recipient.envelope.kind == Envelope.Kind.MANAGED:
        return
    user = recipient.user if recipient.user_id else None
    _queue(
        kind,
        context,
        phone=recipient.phone,
        email=recipient.email,
        language=(user.language if user else "") or LANGUAGE,
        attachments=attachments,
    )


def notify_turn(recipient: Recipient, kind: str = "envelope_sign_request") -> None:
    envelope = recipient.envelope
    # Lazy labels: rendered in the recipient's language when the message is queued.
    context: dict[str, object] = {
        "initiator": sender_label(envelope),
        "title": envelope.title,
        "number": envelope.number,
        "action": action_label(recipient),
        "deadline": _deadline_text(envelope),
        "link": recipient_link(recipient),
    }
    if kind == "envelope_sign_request":
        context["note"] = envelope.message
    send(recipient, kind, context)


def notify_initiator(envelope: Envelope, kind: str, context: Mapping[str, object]) -> None:
    """Tell the initiator (SMS to their login phone, and e-mail if they have one); not for a
    managed envelope."""
    if envelope.kind == Envelope.Kind.MANAGED:
        return
    user = envelope.initiator
    ctx: dict[str, object] = {
        "title": envelope.title,
        "number": envelope.number,
        "link": envelope_url(envelope),
        **context,
    }
    _queue(kind, ctx, phone=user.phone, email=user.email, language=user.language or LANGUAGE)


def progress(envelope: Envelope) -> tuple[int, int]:
    """(done, total) of the acting recipients: the list's "1/4"."""
    rows = envelope.recipients.exclude(role=Recipient.Role.CC).values_list("status", flat=True)
    statuses = list(rows)
    return sum(1 for s in statuses if s == Status.DONE), len(statuses)


def advance(envelope: Envelope, *, now: dt.datetime | None = None) -> list[Recipient]:
    """Activate the next routing order if the current one is done; schedule completion when
    nobody is left. Returns the recipients activated now."""
    now = now or timezone.now()
    rows = envelope.recipients.select_for_update(of=("self",)).select_related("user")
    acting = [r for r in rows.order_by("routing_order", "id") if r.acts]
    remaining = [r for r in acting if r.status != Status.DONE]
    if not remaining:
        if envelope.all_signed_at is None:
            envelope.all_signed_at = now
            envelope.save(update_fields=["all_signed_at"])
            all_signed.send(sender=Envelope, envelope=envelope)  # tasks.schedule_completion
        return []
    current = remaining[0].routing_order
    activated = []
    for recipient in remaining:
        if recipient.routing_order != current or recipient.status != Status.WAITING:
            continue
        recipient.status = Status.PENDING
        recipient.activated_at = now
        recipient.save(update_fields=["status", "activated_at"])
        notify_turn(recipient)
        audit.record(
            envelope,
            "notified",
            recipient=recipient,
            to=recipient.name,
            routing_order=recipient.routing_order,
        )
        activated.append(recipient)
    return activated
