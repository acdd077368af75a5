"""A draft made and sent in one transaction: from a template (使用模板) and a 批量发起 row.

The caller makes the draft in its open transaction (:class:`NewDraft`: the envelope, then
:func:`add_new_document`, :func:`set_new_recipients`, :func:`set_new_fields`) and may send it in
the same transaction (:func:`send_new_draft`). No other transaction sees these rows before the
caller commits, so nothing can change them meanwhile: unlike the compose actions on a draft
being edited (:mod:`qianshu.envelopes.actions.compose`), these neither lock the envelope nor
read back what was just written — the same checks, rows, audit events and routing, in about
half the statements. A failure rolls the caller's block back with the draft.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.core.meta import RequestMeta
from qianshu.envelopes import compose, sending
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.compose import MAX_DOCUMENTS, MAX_RECIPIENTS
from qianshu.envelopes.errors import EnvelopeError
from qianshu.envelopes.models import Document, Envelope, Field, Recipient
from qianshu.envelopes.placement import MAX_FIELDS, FieldInput
from qianshu.pki.platform import PkiNotInitialised, Platform
from qianshu.signing.stamps import Rect
from qianshu.storage.actions import do_put_blob_ahead, do_store_blob


@dataclass
class NewDraft:
    """A draft made in the caller's open transaction, its parts as they were written and each
    document's bytes (by document id). No other transaction sees these rows before the caller
    commits, so nothing can change them meanwhile: :func:`send_new_draft` neither locks nor
    reads them back (what ``select_for_update`` would guard against cannot happen)."""

    envelope: Envelope
    documents: list[Document]
    recipients: list[Recipient]
    fields: list[Field]
    sources: dict[int, bytes]


def add_new_document(
    draft: NewDraft,
    data: bytes,
    name: str,
    boxes: Sequence[Rect],
    *,
    actor: User,
    meta: RequestMeta,
) -> Document:
    """:func:`compose.do_add_document` of the platform's own output (``ingested``) to a new draft,
    with the page boxes of ``data`` known already (a template's document with its data fields
    written in has its template's pages)."""
    if len(draft.documents) >= MAX_DOCUMENTS:
        raise EnvelopeError(_("每个任务最多 %(n)d 份文件。") % {"n": MAX_DOCUMENTS})
    blob = do_store_blob(data, content_type="application/pdf")
    position = len(draft.documents)
    document = compose_actions._insert_document(
        draft.envelope, blob, name, boxes, position, actor=actor, meta=meta
    )
    document.current = blob
    draft.documents.append(document)
    draft.sources[document.pk] = data
    return document


def set_new_recipients(draft: NewDraft, cleaned: Sequence[dict[str, Any]]) -> list[Recipient]:
    """The new draft's recipients, from values as :func:`compose.clean_recipient` gives them."""
    if draft.recipients:
        raise ValueError("the new draft has its recipients already")
    if len(cleaned) > MAX_RECIPIENTS:
        raise EnvelopeError(_("每个任务最多 %(n)d 个签署方。") % {"n": MAX_RECIPIENTS})
    draft.recipients = compose_actions._insert_recipients(draft.envelope, cleaned)
    return draft.recipients


def set_new_fields(draft: NewDraft, items: Sequence[FieldInput]) -> list[Field]:
    """The new draft's fields, checked as :func:`compose.do_set_fields` checks them."""
    if draft.fields:
        raise ValueError("the new draft has its fields already")
    if len(items) > MAX_FIELDS:
        raise EnvelopeError(_("签署位置最多 %(n)d 个。") % {"n": MAX_FIELDS})
    values = compose_actions._checked_fields(items, draft.recipients, draft.documents)
    envelope = draft.envelope
    draft.fields = Field.objects.bulk_create([Field(envelope=envelope, **v) for v in values])
    return draft.fields


def send_new_draft(
    draft: NewDraft,
    *,
    platform: Platform | None = None,
    hint: bool = False,
    actor: User,
    meta: RequestMeta,
) -> Envelope:
    """:func:`compose.do_send_envelope` of a draft made in the caller's open transaction (which it
    joins: a refusal rolls the caller's block back with the draft). The same checks, events
    and routing, without reading back what the caller just wrote: the documents are prepared
    from their bytes first, then the sender's allowance is locked and counted
    (:func:`sending.lock_quota`), the sender checked against the organisation row as locked,
    and the prepared revisions recorded. ``platform``: the platform's keys as the caller loaded
    them (a batch run, once for its rows), else loaded now. ``hint``: the caller expects a
    refusal (the previous row of its batch was over the allowance): the allowance is counted
    first without a lock (:func:`sending.within_allowance`), and a send over it is refused
    without the platform's signatures."""
    envelope = draft.envelope
    if not envelope.is_draft():
        raise EnvelopeError(_("任务已经发起。"))
    if envelope.initiator_id == actor.pk:
        envelope.initiator = actor  # the audit events name them
    found = compose.draft_problems(envelope, draft.documents, draft.recipients)
    certify, specs = compose_actions._plan(draft.documents, draft.recipients, draft.fields)
    ahead = not found and not (
        hint and not sending.within_allowance(actor, envelope.initiator_org_id, now=timezone.now())
    )

    def prepared(document: Document) -> bytes:
        source = draft.sources[document.pk]
        try:
            return compose_actions._prepared_bytes(
                envelope, document, source, specs[document.pk], certify, platform
            )
        except PkiNotInitialised as exc:
            raise EnvelopeError(_("平台证书服务尚未初始化，请联系平台运营人员。")) from exc

    ready = {}
    for document in draft.documents if ahead else ():
        ready[document.pk] = prepared(document)
        do_put_blob_ahead(ready[document.pk])  # the durable write before the allowance lock
    with transaction.atomic(savepoint=False):
        org = sending.lock_quota(actor, envelope.initiator_org_id, now=timezone.now())
        if org is not None:
            envelope.initiator_org = org  # verified or not as of the lock
        sending.check_sender(envelope, actor)
        if found:
            raise EnvelopeError(found[0])
        for document in draft.documents:
            data = ready.get(document.pk) or prepared(document)  # the hint was wrong
            compose_actions._store_prepared(envelope, document, data, certify, meta=meta)
        compose_actions._start_routing(
            envelope, draft.recipients, held=True, actor=actor, meta=meta
        )
    return envelope
