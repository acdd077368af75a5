"""退回: a signer sends an envelope back to its initiator for correction, who edits and resends.

Sending back (:func:`do_send_back`) is a step of the recipient whose turn it is, like signing: it
locks the envelope row, then the recipient row, checks the turn, and moves the envelope to
``returned``. A co-signer signing at the same moment locks the same envelope row first, so one of
the two waits and then finds the other's outcome (the envelope no longer in progress, or the
recipient no longer at its turn): a document is never signed in a returned envelope.

While returned the envelope is edited with the draft's editor (``Envelope.is_editable``). What
the documents and recipients were when it came back is kept in ``Envelope.return_snapshot``:
for each document a fingerprint of its fields and of the identity of every party whose
signature it carries since it was last prepared. Resending (:func:`do_resend_envelope`) then
decides per document (:func:`resend_plan`):

* **kept**: the same document row (same bytes: a replaced file is a new row) with the same
  fingerprint, and its certification still fits — its current revision, with the signatures
  already made, goes on unchanged;
* **reset**: anything else — the document is prepared again from its uploaded bytes (a new
  ``prepared`` revision on top of the history; the old signed revisions stay in the history but
  are no longer current), fields filled before are emptied, fields placed by signers removed;
* **new**: a document added while returned is prepared as at the first send.

A signing party stays done when it still has a field, every one of its fields is still filled
and no document it signed was reset; an approver stays done when no document changed at all;
everyone else (and the party who sent it back) waits for their turn again, which the routing
gives them in order. Everybody who was involved is told, the parties whose signatures were
lost with the names of the documents; the audit trail records the return (reason, actor, IP)
and the resend (documents kept and reset).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.core.meta import RequestMeta
from qianshu.envelopes import audit, events, routing, sending
from qianshu.envelopes.access import can_act_as
from qianshu.envelopes.actions.compose import prepare_document_revision
from qianshu.envelopes.actions.turns import lock_turn
from qianshu.envelopes.compose import problems
from qianshu.envelopes.errors import EnvelopeError, NotYourTurn
from qianshu.envelopes.models import Document, Envelope, Field, Recipient
from qianshu.envelopes.returns import (
    ResendPlan,
    clean_reason,
    involved_recipients,
    is_initiator,
    resend_plan,
    snapshot,
)
from qianshu.envelopes.turns import check_managed

Role = Recipient.Role
Status = Recipient.Status


def do_send_back(recipient: Recipient, reason: str, *, actor: User, meta: RequestMeta) -> Envelope:
    """退回: the recipient whose turn it is sends the envelope back to its initiator with a
    reason. Signatures already made stay; the initiator edits and resends
    (:func:`do_resend_envelope`). Raises :class:`NotYourTurn` when ``actor`` cannot act as
    ``recipient`` now (not their turn, a CC, already acted, the envelope not in progress).
    A managed envelope cannot be returned: its app offers 拒绝 instead."""
    check_managed(recipient.envelope, managed=False)
    reason = clean_reason(reason)
    with transaction.atomic():
        envelope, locked = lock_turn(recipient, actor)
        if not locked.acts:
            raise NotYourTurn(_("抄送人不能退回。"))
        if not can_act_as(actor, locked):
            raise NotYourTurn(_("该签署环节属于其他人。"))
        locked.status = Status.RETURNED
        locked.reason = reason
        locked.acted_by = actor
        if locked.role != Role.SEAL and locked.user_id is None:
            locked.user = actor
        locked.save(update_fields=["status", "reason", "acted_by", "user"])
        envelope.status = Envelope.Status.RETURNED
        envelope.end_reason = reason
        envelope.return_snapshot = snapshot(envelope, locked, reason)
        envelope.save(update_fields=["status", "end_reason", "return_snapshot"])
        audit.record(envelope, "returned", actor=actor, recipient=locked, meta=meta, reason=reason)
        events.emit(envelope, "recipient.returned", recipient=locked, reason=reason)
        who = locked.name if locked.role == Role.SEAL else audit.person_label(actor)
        routing.notify_initiator(envelope, "envelope_returned", {"who": who, "reason": reason})
        context: dict[str, object] = {
            "who": who,
            "reason": reason,
            "title": envelope.title,
            "number": envelope.number,
            "link": routing.envelope_url(envelope),
        }
        for other in involved_recipients(envelope):
            if other.pk != locked.pk and not is_initiator(envelope, other):
                routing.send(other, "envelope_returned_party", context)
    return envelope


def _reset_document(
    envelope: Envelope, document: Document, certify: bool, meta: RequestMeta
) -> None:
    locked = Document.objects.select_for_update().select_related("original").get(pk=document.pk)
    locked.fields.filter(placed_by_signer=True).delete()
    Field.objects.filter(document=locked).update(filled_at=None)
    prepare_document_revision(
        envelope, locked, locked.original.read(), certify, step="reset", meta=meta
    )


def do_resend_envelope(envelope: Envelope, *, actor: User, meta: RequestMeta) -> Envelope:
    """Resend an envelope sent back to its initiator (退回), after the initiator's corrections:
    see the module docstring for what is kept. Only the initiator, as a sender still allowed to
    send (:mod:`qianshu.envelopes.sending`); a refusal leaves the envelope returned as it was.
    Not counted against the sending allowance: it is the same envelope, sent once."""
    from qianshu.pki.platform import PkiNotInitialised

    with transaction.atomic():
        locked = (
            Envelope.objects.select_for_update(of=("self",))
            .select_related("initiator", "initiator_org")
            .get(pk=envelope.pk)
        )
        if locked.initiator_id != actor.pk:
            raise EnvelopeError(_("只有发起人可以修改并重新发起。"))
        if not locked.is_returned():
            raise EnvelopeError(_("任务不是退回状态，不能重新发起。"))
        sending.check_sender(locked, actor)
        found = problems(locked)
        if found:
            raise EnvelopeError(found[0])
        involved = {r.pk for r in involved_recipients(locked)}
        plan = resend_plan(locked)
        try:
            for document in plan.reset:
                _reset_document(locked, document, plan.certify, meta)
            for document in plan.new:
                doc = (
                    Document.objects.select_for_update()
                    .select_related("current")
                    .get(pk=document.pk)
                )
                prepare_document_revision(locked, doc, doc.current.read(), plan.certify, meta=meta)
        except PkiNotInitialised as exc:
            raise EnvelopeError(_("平台证书服务尚未初始化，请联系平台运营人员。")) from exc
        stay = {r.pk for r in plan.stay_done}
        for recipient in locked.recipients.select_for_update():
            if recipient.pk in stay or not recipient.acts:
                continue
            recipient.status = Status.WAITING
            recipient.reason = ""
            recipient.activated_at = recipient.viewed_at = recipient.done_at = None
            recipient.acted_by = None
            recipient.seal = None
            recipient.certificate = None
            recipient.save()
        now = timezone.now()
        locked.status = Envelope.Status.IN_PROGRESS
        locked.end_reason = ""
        locked.return_snapshot = {}
        locked.all_signed_at = None
        locked.deadline_reminded_at = None
        locked.save(
            update_fields=[
                "status",
                "end_reason",
                "return_snapshot",
                "all_signed_at",
                "deadline_reminded_at",
            ]
        )
        audit.record(
            locked,
            "resent",
            actor=actor,
            meta=meta,
            kept=[d.name for d in plan.kept],
            reset=[d.name for d in plan.reset],
            added=[d.name for d in plan.new],
            removed=plan.removed,
        )
        events.emit(locked, "envelope.sent", resent=True)
        activated = {r.pk for r in routing.advance(locked, now=now)}
        _notify_resent(locked, plan, involved, activated)
    return locked


def _names(names: list[str]) -> str | Promise:
    """“a”、“b” — lazy: rendered in the recipient's language when the message is queued."""

    def text() -> str:
        return _("、").join(_("“%(name)s”") % {"name": name} for name in names)

    return lazy(text, str)()


def _notify_resent(
    envelope: Envelope, plan: ResendPlan, involved: set[int], activated: set[int]
) -> None:
    base: dict[str, object] = {
        "initiator": routing.sender_label(envelope),
        "title": envelope.title,
        "number": envelope.number,
        "link": routing.envelope_url(envelope),
    }
    stay = {r.pk for r in plan.stay_done}
    for recipient in envelope.recipients.select_related("user").filter(pk__in=involved):
        if is_initiator(envelope, recipient):
            continue
        if recipient.pk in stay:
            routing.send(recipient, "envelope_resent_kept", base)
        elif recipient.pk in plan.lose:
            routing.send(
                recipient, "envelope_resign", {**base, "documents": _names(plan.lose[recipient.pk])}
            )
        elif recipient.pk not in activated:
            routing.send(recipient, "envelope_resent", base)
