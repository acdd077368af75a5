"""A draft made and sent in one transaction: from a template (使用模板) and a 批量发起 row.

The caller makes the draft in its open transaction (:class:`NewDraft`: the envelope, then
:func:`add_new_document`, :func:`set_new_recipients`, :func:`set_new_fields`) and may send it in
the same transaction (:func:`send_new_draft`; or in two halves, :func:`prepare_new_draft` for
each of several drafts, then :func:`send_prepared_drafts` for all of them under one lock of the
sender's allowance: a 批量发起 group). No other transaction sees these rows before the
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
from qianshu.notifications.actions import delivered_together
from qianshu.pki.platform import PkiNotInitialised, Platform
from qianshu.signing.documents import FieldSpec
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


@dataclass
class Prepared:
    """What :func:`prepare_new_draft` made ready before the allowance lock: the draft's problems
    (refused under the lock, after the sender's), the sending plan, and the documents as the
    platform signed them (by document id; none when a refusal was expected)."""

    found: list[str]
    certify: bool
    specs: dict[int, tuple[FieldSpec, ...]]
    data: dict[int, bytes]


def prepare_new_draft(
    draft: NewDraft, *, platform: Platform | None = None, hint: bool = False, actor: User
) -> Prepared:
    """The first half of :func:`send_new_draft`, without locks: the draft checked, and its
    documents prepared from their bytes (the platform's signatures) and written ahead —
    unless there are problems, or ``hint`` and the allowance is used up."""
    envelope = draft.envelope
    if not envelope.is_draft():
        raise EnvelopeError(_("任务已经发起。"))
    if envelope.initiator_id == actor.pk:
        envelope.initiator = actor  # the audit events name them
    found = compose.draft_problems(envelope, draft.documents, draft.recipients)
    certify, specs = compose_actions._plan(draft.documents, draft.recipients, draft.fields)
    ready = Prepared(found, certify, specs, {})
    if found or (
        hint and not sending.within_allowance(actor, envelope.initiator_org_id, now=timezone.now())
    ):
        return ready
    for document in draft.documents:
        data = ready.data[document.pk] = _prepared(draft, ready, document, platform)
        do_put_blob_ahead(data)  # the durable write before the allowance lock
    return ready


def _prepared(
    draft: NewDraft, ready: Prepared, document: Document, platform: Platform | None
) -> bytes:
    try:
        return compose_actions._prepared_bytes(
            draft.envelope,
            document,
            draft.sources[document.pk],
            ready.specs[document.pk],
            ready.certify,
            platform,
        )
    except PkiNotInitialised as exc:
        raise EnvelopeError(_("平台证书服务尚未初始化，请联系平台运营人员。")) from exc


def send_prepared_drafts(
    items: Sequence[tuple[NewDraft, Prepared]],
    *,
    platform: Platform | None = None,
    actor: User,
    meta: RequestMeta,
) -> None:
    """The second half of :func:`send_new_draft` for drafts that ``actor`` sends in one name (a
    批量发起 group: one transaction for several rows): the allowance locked once and counted
    for all of them (:class:`~qianshu.envelopes.sending.SendLimitReached` unless all fit), the
    sender checked once against the organisation row as locked, then each draft refused for
    its problems or its prepared revisions recorded and its routing started. A refusal
    refuses them all (the caller's block rolls back)."""
    first = items[0][0].envelope
    org_id = first.initiator_org_id
    if any(draft.envelope.initiator_org_id != org_id for draft, _ready in items):
        raise ValueError("the drafts are not sent in one name")
    # The first signers' messages of all the drafts go out in one delivery task.
    with transaction.atomic(savepoint=False), delivered_together():
        org = sending.lock_quota(actor, org_id, now=timezone.now(), sends=len(items))
        if org is not None:
            for draft, _ready in items:
                draft.envelope.initiator_org = org  # verified or not as of the lock
        sending.check_sender(first, actor)
        for draft, ready in items:
            if ready.found:
                raise EnvelopeError(ready.found[0])
            envelope = draft.envelope
            for document in draft.documents:
                # Not prepared ahead: the hint was wrong.
                data = ready.data.get(document.pk) or _prepared(draft, ready, document, platform)
                compose_actions._store_prepared(envelope, document, data, ready.certify, meta=meta)
            compose_actions._start_routing(
                envelope, draft.recipients, held=True, actor=actor, meta=meta
            )


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
    from their bytes first (:func:`prepare_new_draft`), then the sender's allowance is locked
    and counted (:func:`sending.lock_quota`), the sender checked against the organisation row
    as locked, and the prepared revisions recorded (:func:`send_prepared_drafts`).
    ``platform``: the platform's keys as the caller loaded them (a batch run, once for its
    rows), else loaded now. ``hint``: the caller expects a refusal (the previous row of its
    batch was over the allowance): the allowance is counted first without a lock
    (:func:`sending.within_allowance`), and a send over it is refused without the platform's
    signatures."""
    ready = prepare_new_draft(draft, platform=platform, hint=hint, actor=actor)
    send_prepared_drafts([(draft, ready)], platform=platform, actor=actor, meta=meta)
    return draft.envelope
