"""退回: what an envelope sent back to its initiator was, and what resending it keeps.

The fingerprints of documents and parties kept when an envelope comes back, and the plan of a
resend (:func:`resend_plan`). Sending back and resending, and the rules this module computes,
are stated in :mod:`qianshu.envelopes.actions.returns`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from qianshu.envelopes.errors import EnvelopeError
from qianshu.envelopes.models import Document, Envelope, Field, Recipient, Revision

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


def snapshot(envelope: Envelope, returned_by: Recipient, reason: str) -> dict[str, object]:
    """``Envelope.return_snapshot``: the documents and parties as they were sent back."""
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


def involved_recipients(envelope: Envelope) -> list[Recipient]:
    """Acting recipients who were told about the envelope (their turn came)."""
    return [
        r
        for r in envelope.recipients.select_related("user").order_by("routing_order", "id")
        if r.acts and r.status != Status.WAITING
    ]


def is_initiator(envelope: Envelope, recipient: Recipient) -> bool:
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
