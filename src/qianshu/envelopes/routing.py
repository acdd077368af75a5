"""Routing: whose turn it is, and telling people.

Recipients act in routing order; equal numbers act in parallel. When every acting recipient of
the current order is done, the next order's recipients become ``pending`` and get an SMS and/or
e-mail with their link. When nobody is left, completion (B-LTA, evidence report) is scheduled.

Every function here runs inside the caller's transaction, with the envelope row locked; the
outbox rows are part of that transaction, so nothing is sent if it rolls back.

批量签署 moves many envelopes at once, often to the same next person (a department head's
evaluation forms all go on to HR). Inside :func:`collecting_notices` the "your turn" and
progress messages are queued *held* (``hold_until``, in the step's transaction as always) and
collected (the caller keeps a step's notices only if the step committed, one
:func:`collecting_notices` block per step); :func:`send_collected` then
replaces the held messages of each person by one summary naming every envelope — or releases
them as they are when there is only one, or when one was sent already. If the batch dies
before that, the held messages are sent one by one when their hold runs out (``HOLD``): a
step never ends up without its message.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext as _
from django.utils.translation import override, pgettext_lazy

from qianshu.core.statements import Statement, Update
from qianshu.envelopes import audit
from qianshu.envelopes.links import recipient_link
from qianshu.envelopes.models import Envelope, Recipient
from qianshu.envelopes.signals import all_signed
from qianshu.notifications.actions import (
    InvalidRecipient,
    do_queue_email,
    do_queue_sms,
    do_release_held,
    do_take_held,
)

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


def batch_initiator_label(envelope: Envelope) -> str:
    """:func:`initiator_label` of an envelope read by :func:`qianshu.envelopes.access.
    batch_listed` (its initiator's columns as values, not objects)."""
    if envelope.initiator_org_id is not None:
        return str(envelope.initiator_org_name)  # type: ignore[attr-defined]
    return audit.person_label_of(
        envelope.initiator_identity_name,  # type: ignore[attr-defined]
        envelope.initiator_display_name,  # type: ignore[attr-defined]
        envelope.initiator_phone,  # type: ignore[attr-defined]
    )


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
    notices = _collecting.get()
    hold = timezone.now() + HOLD if notices is not None and kind in _SUMMARIES else None
    held = []
    try:
        if phone:
            sms = do_queue_sms(
                phone, kind, _only(kind, "sms", ctx), language=language, hold_until=hold
            )
            held.append(str(sms.uuid))
        if email:
            mail = do_queue_email(
                email,
                kind,
                _only(kind, "email", ctx),
                language=language,
                attachments=attachments,
                hold_until=hold,
            )
            held.append(str(mail.uuid))
    except InvalidRecipient:
        log.warning("cannot send %s to %s / %s", kind, phone, email)
    if notices is not None and hold is not None and held:
        notices.append(Notice(kind, phone, email, language, tuple(held), ctx))


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
    return _tally(envelope.recipients.values_list("role", "status"))


def _tally(rows: Iterable[tuple[str, str]]) -> tuple[int, int]:
    """(done, total) of ``(role, status)`` rows, CCs left out."""
    statuses = [status for role, status in rows if role != Recipient.Role.CC]
    return sum(1 for s in statuses if s == Status.DONE), len(statuses)


def locked_recipients(envelope_id: Any) -> QuerySet[Recipient]:
    """The envelope's recipients as the routing reads them: locked, with their users, in
    routing order (``envelope_id``: an id, or a statement's marker)."""
    return (
        Recipient.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(envelope_id=envelope_id)
        .order_by("routing_order", "id")
    )


# Built once (core/statements.py), for a caller that has not read them locked already (an
# approval, a return, sending); a signing step reads them with its own row (actions.turns).
_LOCKED_RECIPIENTS: Statement[Recipient] = Statement(
    lambda envelope: locked_recipients(envelope.as_int()), arity=1
)
# A recipient whose turn comes: its row saved by an UPDATE built once.
_SAVE_ACTIVATED: Update[Recipient] = Update(
    Recipient, set=("status", "activated_at"), where=("pk",)
)


def advance(
    envelope: Envelope,
    *,
    now: dt.datetime | None = None,
    recipients: Sequence[Recipient] | None = None,
) -> list[Recipient]:
    """Activate the next routing order if the current one is done; schedule completion when
    nobody is left. Returns the recipients activated now. ``recipients``: all of the
    envelope's, rows no other transaction can change (a draft made and sent in the caller's
    transaction), used instead of reading them locked."""
    return advance_with_progress(envelope, now=now, recipients=recipients)[0]


def advance_with_progress(
    envelope: Envelope,
    *,
    now: dt.datetime | None = None,
    recipients: Sequence[Recipient] | None = None,
) -> tuple[list[Recipient], tuple[int, int]]:
    """:func:`advance`, and the :func:`progress` after it from the same rows."""
    now = now or timezone.now()
    if recipients is not None:
        ordered = sorted(recipients, key=lambda r: (r.routing_order, r.pk))
    else:
        ordered = _LOCKED_RECIPIENTS.objects(envelope.pk, known={"envelope": envelope})
    progress = _tally((r.role, r.status) for r in ordered)
    acting = [r for r in ordered if r.acts]
    remaining = [r for r in acting if r.status != Status.DONE]
    if not remaining:
        if envelope.all_signed_at is None:
            envelope.all_signed_at = now
            envelope.save(update_fields=["all_signed_at"])
            all_signed.send(sender=Envelope, envelope=envelope)  # tasks.schedule_completion
        return [], progress
    current = remaining[0].routing_order
    activated = []
    for recipient in remaining:
        if recipient.routing_order != current or recipient.status != Status.WAITING:
            continue
        recipient.status = Status.PENDING
        recipient.activated_at = now
        _SAVE_ACTIVATED.save(recipient)
        notify_turn(recipient)
        audit.record(
            envelope,
            "notified",
            recipient=recipient,
            to=recipient.name,
            routing_order=recipient.routing_order,
        )
        activated.append(recipient)
    return activated, progress


# --- 批量签署: one message per person and batch ----------------------------------------------

HOLD = dt.timedelta(minutes=10)
_SUMMARIES = {
    "envelope_sign_request": "envelope_sign_request_batch",
    "envelope_progress": "envelope_progress_batch",
}
_TITLES_IN_SMS = 3


@dataclass(frozen=True)
class Notice:
    """A message queued held during a batch: its kind, to whom, the held outbox rows and the
    context it was rendered with (strings in ``language``)."""

    kind: str
    phone: str
    email: str
    language: str
    held: tuple[str, ...]  # the outbox messages' uuids
    context: Mapping[str, str]

    def group(self) -> tuple[str, ...]:
        """Notices summarised together: same kind and person; for progress, also the same
        signer and action (the summary says "王五 已签署 …")."""
        extra = (self.context["who"], self.context["action"]) if "who" in self.context else ()
        return (self.kind, self.phone, self.email, self.language, *extra)


_collecting: ContextVar[list[Notice] | None] = ContextVar("qianshu_notices", default=None)


@contextmanager
def collecting_notices() -> Iterator[list[Notice]]:
    """Collect the turn and progress messages of the steps committed inside the block (held
    in the outbox), to be sent by :func:`send_collected`."""
    notices: list[Notice] = []
    token = _collecting.set(notices)
    try:
        yield notices
    finally:
        _collecting.reset(token)


def send_collected(notices: Sequence[Notice]) -> None:
    """Send what a batch collected: per person one summary of the held messages, or the held
    message itself when it is the only one (or when one of a person's messages has been sent
    already: then every one goes as it is, so nothing is said twice)."""
    groups: dict[tuple[str, ...], list[Notice]] = defaultdict(list)
    for notice in notices:
        groups[notice.group()].append(notice)
    for group in groups.values():
        held = [uuid for notice in group for uuid in notice.held]
        with transaction.atomic():
            if len(group) > 1 and do_take_held(held):
                _queue_summary(group)
            else:
                do_release_held(held)


def _queue_summary(group: list[Notice]) -> None:
    first = group[0]
    with override(first.language):
        quoted = [_("“%(title)s”") % {"title": n.context["title"]} for n in group]
        titles = "、".join(quoted[:_TITLES_IN_SMS])
        if len(group) > _TITLES_IN_SMS:
            titles = _("%(titles)s等") % {"titles": titles}
        lines = "\n".join(_summary_line(n) for n in group)
        context: dict[str, object] = {"count": str(len(group)), "titles": titles, "items": lines}
        if first.kind == "envelope_progress":
            context.update(who=first.context["who"], action=first.context["action"])
        else:
            context["link"] = _todo_url()
    _queue(
        _SUMMARIES[first.kind],
        context,
        phone=first.phone,
        email=first.email,
        language=first.language,
    )


def _summary_line(notice: Notice) -> str:
    ctx = notice.context
    if notice.kind == "envelope_progress":
        return _("· “%(title)s”（编号 %(number)s），当前进度 %(progress)s：%(link)s") % ctx
    line = _(
        "· “%(title)s”（编号 %(number)s，%(initiator)s 发起），请您%(action)s%(deadline)s：%(link)s"
    )
    note = ctx.get("note", "")
    return line % ctx + (_("\n  留言：%(note)s") % {"note": note} if note else "")


def _todo_url() -> str:
    from django.conf import settings

    return settings.PUBLIC_URL.rstrip("/") + reverse("envelopes:list") + "?tab=todo"
