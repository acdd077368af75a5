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

import hashlib
import json
from dataclasses import dataclass, field

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.envelopes import audit, routing, sending
from qianshu.envelopes.access import can_act_as
from qianshu.envelopes.compose import prepare_document_revision, problems
from qianshu.envelopes.errors import EnvelopeError, NotYourTurn
from qianshu.envelopes.models import Document, Envelope, Field, Recipient, Revision
from qianshu.envelopes.turns import lock_turn

Role = Recipient.Role
Status = Recipient.Status
MAX_REASON = 300


# --- fingerprints ---------------------------------------------------------------------------


def _identity(recipient: Recipient | None) -> list[object]:
    """Who a party is, as far as a signature it made depends on it."""
    if recipient is None:
        return ["gone"]
    return [
        recipient.role,
        recipient.name,
        recipient.phone,
        recipient.email,
        recipient.org_id,
        recipient.org_credit_code,
        recipient.required_seal_kind,
    ]


def _last_prepared(document: Document) -> int:
    number = (
        Revision.objects.filter(document=document, action=Revision.Action.PREPARED)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    return number or 0


def signer_ids(document: Document) -> set[int]:
    """The recipients whose signatures the document carries since it was last prepared."""
    return {
        pk
        for pk in Revision.objects.filter(
            document=document,
            action=Revision.Action.SIGNED,
            number__gt=_last_prepared(document),
        ).values_list("recipient_id", flat=True)
        if pk is not None
    }


def _field_key(f: Field) -> list[object]:
    return [
        f.pk,
        f.recipient_id,
        f.kind,
        f.page,
        [round(v, 1) for v in (f.x1, f.y1, f.x2, f.y2)],
        sorted(f.pages or []),
        f.label,
        f.value,
        f.placed_by_signer,
    ]


def document_fingerprint(document: Document) -> str:
    """What must not change for the document's signatures to stay: its fields, and who the
    parties that signed it are."""
    recipients = {r.pk: r for r in document.envelope.recipients.all()}
    content = {
        "current": document.current_id,
        "fields": sorted((_field_key(f) for f in document.fields.all()), key=json.dumps),
        "signers": sorted(
            ([pk, _identity(recipients.get(pk))] for pk in signer_ids(document)), key=json.dumps
        ),
    }
    raw = json.dumps(content, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()


def _snapshot(envelope: Envelope, returned_by: Recipient, reason: str) -> dict[str, object]:
    documents = list(envelope.documents.select_related("current"))
    return {
        "documents": {str(d.pk): document_fingerprint(d) for d in documents},
        # Who signed what: a document removed while returned is gone with its revisions.
        "signed": {
            str(d.pk): {"name": d.name, "signers": sorted(signer_ids(d))} for d in documents
        },
        "recipients": {str(r.pk): _identity(r) for r in envelope.recipients.all()},
        "by": returned_by.pk,
        "reason": reason,
    }


# --- 退回 -------------------------------------------------------------------------------------


def clean_reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise EnvelopeError(_("请填写退回原因。"))
    if len(reason) > MAX_REASON:
        raise EnvelopeError(_("退回原因最多 %(n)d 个字。") % {"n": MAX_REASON})
    return reason


def do_send_back(
    recipient: Recipient, reason: str, *, actor: User, request: HttpRequest | None = None
) -> Envelope:
    """退回: the recipient whose turn it is sends the envelope back to its initiator with a
    reason. Signatures already made stay; the initiator edits and resends
    (:func:`do_resend_envelope`). Raises :class:`NotYourTurn` when ``actor`` cannot act as
    ``recipient`` now (not their turn, a CC, already acted, the envelope not in progress)."""
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
        envelope.return_snapshot = _snapshot(envelope, locked, reason)
        envelope.save(update_fields=["status", "end_reason", "return_snapshot"])
        audit.record(
            envelope, "returned", actor=actor, recipient=locked, request=request, reason=reason
        )
        who = locked.name if locked.role == Role.SEAL else audit.person_label(actor)
        routing.notify_initiator(envelope, "envelope_returned", {"who": who, "reason": reason})
        context: dict[str, object] = {
            "who": who,
            "reason": reason,
            "title": envelope.title,
            "number": envelope.number,
            "link": routing.envelope_url(envelope),
        }
        for other in _involved(envelope):
            if other.pk != locked.pk and not _is_initiator(envelope, other):
                routing.send(other, "envelope_returned_party", context)
    return envelope


def _involved(envelope: Envelope) -> list[Recipient]:
    """Acting recipients who were told about the envelope (their turn came)."""
    return [
        r
        for r in envelope.recipients.select_related("user").order_by("routing_order", "id")
        if r.acts and r.status != Status.WAITING
    ]


def _is_initiator(envelope: Envelope, recipient: Recipient) -> bool:
    initiator = envelope.initiator
    return recipient.role != Role.SEAL and (
        recipient.user_id == initiator.pk
        or (bool(recipient.phone) and recipient.phone == initiator.phone)
    )


# --- resending --------------------------------------------------------------------------------


@dataclass
class ResendPlan:
    """What resending will do (shown on the confirmation page, then done)."""

    kept: list[Document] = field(default_factory=list)
    reset: list[Document] = field(default_factory=list)
    new: list[Document] = field(default_factory=list)
    certify: bool = False
    removed: list[str] = field(default_factory=list)  # names of documents taken out
    # Recipients who stay done, and those whose signatures are lost (with the documents'
    # names: reset, or removed).
    stay_done: list[Recipient] = field(default_factory=list)
    lose: dict[int, list[str]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.reset or self.new)


def certify_now(envelope: Envelope) -> bool:
    """Whether documents prepared now are certified (as at the first send, compose.py)."""
    recipients = list(envelope.recipients.all())
    return (
        all(r.fields.exists() for r in recipients if r.role in (Role.SIGN, Role.SEAL))
        and not envelope.fields.filter(kind=Field.Kind.CROSS_PAGE_SEAL).exists()
    )


def resend_plan(envelope: Envelope) -> ResendPlan:
    """Which documents keep their signatures and which parties stay done, if resent now."""
    snapshot = envelope.return_snapshot or {}
    before_docs: dict[str, str] = dict(snapshot.get("documents") or {})
    before_people: dict[str, list[object]] = dict(snapshot.get("recipients") or {})
    plan = ResendPlan(certify=certify_now(envelope))
    documents = list(envelope.documents.select_related("current").order_by("position", "id"))
    for document in documents:
        if document.revision == 0 or str(document.pk) not in before_docs:
            plan.new.append(document)
        elif before_docs[str(document.pk)] != document_fingerprint(document) or (
            document.certified and not plan.certify
        ):
            plan.reset.append(document)
        else:
            plan.kept.append(document)
    reset_ids = {d.pk for d in plan.reset}
    signed_before: dict[str, dict[str, object]] = dict(snapshot.get("signed") or {})
    removed = set(before_docs) - {str(d.pk) for d in documents}
    plan.removed = [str(signed_before.get(pk, {}).get("name", "")) for pk in sorted(removed)]
    anything_changed = bool(plan.reset or plan.new or removed)
    for recipient in envelope.recipients.order_by("routing_order", "id"):
        if not recipient.acts:
            continue
        signed_docs = [d for d in plan.reset if recipient.pk in signer_ids(d)]
        removed_names = [
            str(signed_before[pk]["name"])
            for pk in sorted(removed)
            if recipient.pk in list(signed_before.get(pk, {}).get("signers") or [])  # type: ignore[call-overload]
        ]
        if signed_docs or removed_names:
            plan.lose[recipient.pk] = [d.name for d in signed_docs] + removed_names
        if recipient.status != Status.DONE:
            continue
        if before_people.get(str(recipient.pk)) != _identity(recipient):
            continue
        if recipient.role == Role.APPROVE:
            if not anything_changed:
                plan.stay_done.append(recipient)
            continue
        fields = [f for f in recipient.fields.all() if f.document_id not in reset_ids]
        if signed_docs or not fields or any(f.filled_at is None for f in fields):
            continue
        plan.stay_done.append(recipient)
    return plan


def _reset_document(
    envelope: Envelope, document: Document, certify: bool, request: HttpRequest | None
) -> None:
    locked = Document.objects.select_for_update().select_related("original").get(pk=document.pk)
    locked.fields.filter(placed_by_signer=True).delete()
    Field.objects.filter(document=locked).update(filled_at=None)
    prepare_document_revision(
        envelope, locked, locked.original.read(), certify, step="reset", request=request
    )


def do_resend_envelope(
    envelope: Envelope, *, actor: User, request: HttpRequest | None = None
) -> Envelope:
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
        involved = {r.pk for r in _involved(locked)}
        plan = resend_plan(locked)
        try:
            for document in plan.reset:
                _reset_document(locked, document, plan.certify, request)
            for document in plan.new:
                doc = (
                    Document.objects.select_for_update()
                    .select_related("current")
                    .get(pk=document.pk)
                )
                prepare_document_revision(
                    locked, doc, doc.current.read(), plan.certify, request=request
                )
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
            request=request,
            kept=[d.name for d in plan.kept],
            reset=[d.name for d in plan.reset],
            added=[d.name for d in plan.new],
            removed=plan.removed,
        )
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
        if _is_initiator(envelope, recipient):
            continue
        if recipient.pk in stay:
            routing.send(recipient, "envelope_resent_kept", base)
        elif recipient.pk in plan.lose:
            routing.send(
                recipient, "envelope_resign", {**base, "documents": _names(plan.lose[recipient.pk])}
            )
        elif recipient.pk not in activated:
            routing.send(recipient, "envelope_resent", base)


def lost_documents(recipient: Recipient) -> list[Document]:
    """Documents the recipient signed before they were prepared again after a 退回 (their
    signature there is no longer part of the document): shown when they sign again."""
    out = []
    for document in recipient.envelope.documents.order_by("position", "id"):
        signed = Revision.objects.filter(
            document=document, recipient=recipient, action=Revision.Action.SIGNED
        ).values_list("number", flat=True)
        if signed and max(signed) < _last_prepared(document):
            out.append(document)
    return out
