"""Starting an envelope (发起签署): drafts, documents, recipients, fields, and sending.

A draft is edited freely by its initiator. :func:`do_send_envelope` then prepares every
document — declares the signature field of every field of every recipient and has the platform
sign it: a certification signature (DocMDP, form filling allowed) when every field is known, or
an approval signature when some recipient places its own fields while signing (a new signature
field after a certification signature would be an illegal change) — and starts the routing.
The checks of a draft's parts are :mod:`qianshu.envelopes.compose`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.core.meta import RequestMeta
from qianshu.envelopes import audit, compose, events, routing, sending
from qianshu.envelopes.compose import (
    KINDS_FOR_ROLE,
    MAX_DOCUMENTS,
    MAX_RECIPIENTS,
    RecipientInput,
    check_field,
    clean_deadline,
    clean_recipient,
    clean_title,
    identity_changed,
    ingest_upload,
    new_number,
    problems,
    same_field,
)
from qianshu.envelopes.errors import EnvelopeError
from qianshu.envelopes.models import (
    Document,
    Envelope,
    Field,
    Recipient,
    Revision,
    clean_scene,
)
from qianshu.envelopes.placement import MAX_FIELDS, FieldInput
from qianshu.envelopes.revisions import append_revision
from qianshu.orgs.models import Organization
from qianshu.pki.platform import PkiNotInitialised, Platform, load_platform
from qianshu.signing import documents
from qianshu.signing.errors import PdfError, SigningError
from qianshu.signing.stamps import Rect
from qianshu.storage.actions import do_put_blob_ahead, do_store_blob
from qianshu.storage.errors import BlobStoreError
from qianshu.storage.models import Blob

log = logging.getLogger(__name__)

Role = Recipient.Role
Kind = Field.Kind


def do_create_draft(
    *,
    title: str,
    actor: User,
    scene: str = "",
    message: str = "",
    deadline: dt.datetime | None = None,
    auto_remind: bool = True,
    allow_sms_signing: bool = True,
    org: Organization | None = None,
    managed: bool = False,
    meta: RequestMeta,
) -> Envelope:
    """A new draft envelope of ``actor`` (for ``org`` when acting for an organisation);
    ``managed``: one that another app drives (:data:`Envelope.Kind.MANAGED`)."""
    title = clean_title(title)
    deadline = clean_deadline(deadline)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                envelope = Envelope.objects.create(
                    number=new_number(),
                    title=title,
                    scene=clean_scene(scene),
                    message=message.strip()[:500],
                    initiator=actor,
                    initiator_org=org,
                    deadline=deadline,
                    auto_remind=auto_remind,
                    allow_sms_signing=allow_sms_signing,
                    kind=Envelope.Kind.MANAGED if managed else Envelope.Kind.STANDARD,
                )
                audit.record(envelope, "created", actor=actor, meta=meta, title=title)
            return envelope
        except IntegrityError:  # a task number taken: draw another
            continue
    raise EnvelopeError(_("系统繁忙，请稍后再试。"))


def do_update_draft(
    envelope: Envelope,
    *,
    title: str,
    message: str,
    deadline: dt.datetime | None,
    auto_remind: bool,
    allow_sms_signing: bool = True,
    scene: str | None = None,
    actor: User,
) -> Envelope:
    """Change the title, 场景 (None: unchanged), message, deadline, reminders or SMS-code
    signing of a draft."""
    envelope.title = clean_title(title)
    if scene is not None:
        envelope.scene = clean_scene(scene)
    envelope.message = message.strip()[:500]
    envelope.deadline = clean_deadline(deadline)
    envelope.auto_remind = auto_remind
    envelope.allow_sms_signing = allow_sms_signing
    with transaction.atomic():
        envelope.save(
            update_fields=[
                "title",
                "scene",
                "message",
                "deadline",
                "auto_remind",
                "allow_sms_signing",
            ]
        )
    return envelope


def do_add_document(
    envelope: Envelope,
    data: bytes,
    filename: str,
    *,
    ingested: bool = False,
    actor: User,
    meta: RequestMeta,
) -> Document:
    """Add a document to a draft (checked, normalised, stored as revision 0). ``ingested``:
    ``data`` is the platform's own output from a document that went through this check
    already (a template's document, with its data fields written in): not checked again."""
    pdf, name = (data, filename) if ingested else ingest_upload(data, filename)
    try:
        boxes = documents.page_boxes(pdf)
    except PdfError as exc:
        raise EnvelopeError(
            _("“%(name)s”已损坏，无法打开，请检查后重新上传。") % {"name": name}
        ) from exc
    blob = do_store_blob(pdf, content_type="application/pdf")
    with transaction.atomic():
        locked = Envelope.objects.select_for_update().get(pk=envelope.pk)
        if not locked.is_editable():
            raise EnvelopeError(_("任务已发起，不能再修改文件。"))
        count = locked.documents.count()
        if count >= MAX_DOCUMENTS:
            raise EnvelopeError(_("每个任务最多 %(n)d 份文件。") % {"n": MAX_DOCUMENTS})
        return _insert_document(locked, blob, name, boxes, count, actor=actor, meta=meta)


def _insert_document(
    envelope: Envelope,
    blob: Blob,
    name: str,
    boxes: Sequence[Rect],
    position: int,
    *,
    actor: User,
    meta: RequestMeta,
) -> Document:
    """The document row, its revision 0 and its audit event (the caller holds the envelope)."""
    document = Document.objects.create(
        envelope=envelope,
        position=position,
        name=name,
        original=blob,
        current=blob,
        page_boxes=[[b.x1, b.y1, b.x2, b.y2] for b in boxes],
    )
    Revision.objects.create(document=document, number=0, blob=blob, action=Revision.Action.UPLOADED)
    audit.record(
        envelope,
        "created",
        actor=actor,
        meta=meta,
        document_name=name,
        sha256_after=blob.sha256,
        step="document_added",
    )
    return document


def do_remove_document(document: Document, *, actor: User) -> None:
    """Take a document out of a draft (or of an envelope sent back: recorded in its audit
    trail); the others move up."""
    with transaction.atomic():
        envelope = Envelope.objects.select_for_update().get(pk=document.envelope_id)
        if not envelope.is_editable():
            raise EnvelopeError(_("任务已发起，不能再修改文件。"))
        if envelope.is_returned():
            audit.record(
                envelope,
                "created",
                actor=actor,
                document_name=document.name,
                sha256_before=document.current_id,
                step="document_removed",
            )
        document.delete()
        for position, doc in enumerate(envelope.documents.order_by("position", "id")):
            if doc.position != position:
                Document.objects.filter(pk=doc.pk).update(position=position)


def do_set_recipients(
    envelope: Envelope, items: Sequence[RecipientInput], *, actor: User
) -> list[Recipient]:
    """Replace the draft's recipients. Recipients named by ``id`` are updated and keep their
    fields (unless their role no longer allows a field's kind); the others are removed."""
    if len(items) > MAX_RECIPIENTS:
        raise EnvelopeError(_("每个任务最多 %(n)d 个签署方。") % {"n": MAX_RECIPIENTS})
    cleaned = [clean_recipient(item, i) for i, item in enumerate(items)]
    with transaction.atomic():
        locked = Envelope.objects.select_for_update().get(pk=envelope.pk)
        if not locked.is_editable():
            raise EnvelopeError(_("任务已发起，不能再修改签署方。"))
        existing = {r.pk: r for r in locked.recipients.all()}
        if not existing:  # a new draft: nothing to keep or remove
            return _insert_recipients(locked, cleaned)
        keep: list[Recipient] = []
        for item, values in zip(items, cleaned, strict=True):
            recipient = existing.get(item.id) if item.id is not None else None
            if recipient is None:
                recipient = Recipient(envelope=locked, **values)
            else:
                if identity_changed(recipient, values):
                    # Someone else now: the account bound to the old party may not act.
                    recipient.user = None
                for key, value in values.items():
                    setattr(recipient, key, value)
            recipient.save()
            recipient.fields.exclude(kind__in=KINDS_FOR_ROLE[recipient.role]).delete()
            keep.append(recipient)
        Recipient.objects.filter(envelope=locked).exclude(pk__in=[r.pk for r in keep]).delete()
    return keep


def _insert_recipients(envelope: Envelope, cleaned: Sequence[dict[str, Any]]) -> list[Recipient]:
    return Recipient.objects.bulk_create([Recipient(envelope=envelope, **v) for v in cleaned])


def do_set_fields(envelope: Envelope, items: Sequence[FieldInput], *, actor: User) -> list[Field]:
    """Replace the fields the initiator placed on the draft's documents. A field saved again
    where it was keeps its row (and its PDF field name): an envelope sent back (退回) keeps the
    signatures of a document whose fields did not change (see envelopes/actions/returns.py)."""
    if len(items) > MAX_FIELDS:
        raise EnvelopeError(_("签署位置最多 %(n)d 个。") % {"n": MAX_FIELDS})
    with transaction.atomic():
        locked = Envelope.objects.select_for_update().get(pk=envelope.pk)
        if not locked.is_editable():
            raise EnvelopeError(_("任务已发起，不能再修改签署位置。"))
        values = _checked_fields(items, locked.recipients.all(), locked.documents.all())
        existing = list(Field.objects.filter(envelope=locked).order_by("id"))
        if not existing:  # a new draft's fields: nothing to keep or remove
            return Field.objects.bulk_create([Field(envelope=locked, **v) for v in values])
        kept: list[Field] = []
        result: list[Field] = []
        for v in values:
            match = next((f for f in existing if f not in kept and same_field(f, v)), None)
            if match is not None:
                kept.append(match)
                result.append(match)
            else:
                result.append(Field(envelope=locked, **v))
        Field.objects.filter(envelope=locked).exclude(pk__in=[f.pk for f in kept]).delete()
        for f in result:
            if f.pk is None:
                f.save()
    return result


def _checked_fields(
    items: Sequence[FieldInput], recipients: Iterable[Recipient], docs: Iterable[Document]
) -> list[dict[str, object]]:
    """The model values of ``items`` on the draft's ``recipients`` and ``docs``."""
    by_pk = {r.pk: r for r in recipients}
    documents_by_pk = {d.pk: d for d in docs}
    values = []
    for item in items:
        recipient = by_pk.get(item.recipient_id)
        document = documents_by_pk.get(item.document_id)
        if recipient is None or document is None:
            raise EnvelopeError(_("签署位置对应的签署方或文件不存在，请刷新页面。"))
        values.append(check_field(item, recipient, document))
    return values


@dataclass(frozen=True)
class _Prepared:
    """A document prepared (signed by the platform) before the send's locks were taken, and
    what the preparation read (``made_from``: revision, its SHA-256, the signature fields,
    certification, the signature's reason): used only if the locked draft still has all of it."""

    made_from: tuple[object, ...]
    data: bytes


def _made_from(
    envelope: Envelope, document: Document, specs: tuple[documents.FieldSpec, ...], certify: bool
) -> tuple[object, ...]:
    return (document.revision, document.current_id, specs, certify, _reason(envelope))


def _reason(envelope: Envelope) -> str:
    return f"{envelope.number} {envelope.title}"[:200]


def _prepared_bytes(
    envelope: Envelope,
    document: Document,
    source: bytes,
    specs: Sequence[documents.FieldSpec],
    certify: bool,
    platform: Platform | None = None,
) -> bytes:
    """``source`` with ``specs`` declared, signed by the platform (certified or approved);
    ``platform``: as the caller loaded it (a batch run, once), else loaded now."""
    platform = platform or load_platform()
    try:
        return documents.prepare_document(
            source,
            list(specs),
            certifier=platform.certifier,
            timestamper=platform.timestamper,
            details=documents.SignatureDetails(reason=_reason(envelope), location="Qianshu"),
            certify=certify,
        )
    except SigningError as exc:
        log.warning("preparing %s of %s failed: %s", document.pk, envelope.number, exc)
        raise EnvelopeError(
            _("文件“%(name)s”无法发起签署，请检查签署位置后重试。") % {"name": document.name}
        ) from exc


def _store_prepared(
    envelope: Envelope,
    document: Document,
    prepared: bytes,
    certify: bool,
    *,
    step: str = "",
    meta: RequestMeta,
) -> None:
    before = append_revision(document, prepared, action=Revision.Action.PREPARED, certified=certify)
    extra: dict[str, Any] = {"step": step} if step else {}
    audit.record(
        envelope,
        "sent",
        actor=envelope.initiator,
        meta=meta,
        document_name=document.name,
        sha256_before=before,
        sha256_after=document.current_id,
        certified=certify,
        **extra,
    )


def prepare_document_revision(
    envelope: Envelope,
    document: Document,
    source: bytes,
    certify: bool,
    *,
    step: str = "",
    meta: RequestMeta,
) -> None:
    """Declare the document's fields on ``source`` and have the platform sign it (certify or
    approve); stored as a new ``prepared`` revision. The caller holds the document row lock."""
    # ``compose.field_specs`` is looked up when called (a test replaces it).
    specs = compose.field_specs(document, document.fields.order_by("id"))
    prepared = _prepared_bytes(envelope, document, source, specs, certify)
    _store_prepared(envelope, document, prepared, certify, step=step, meta=meta)


def _send_plan(
    envelope: Envelope, docs: Sequence[Document], recipients: Sequence[Recipient]
) -> tuple[bool, dict[int, tuple[documents.FieldSpec, ...]]]:
    """Whether the documents are certified, and each document's signature fields.

    A recipient that places its own fields while signing rules out certification, and so does
    a cross-page seal (its field is made when it is signed); the completion lock protects these
    documents once everyone has signed."""
    return _plan(docs, recipients, list(envelope.fields.order_by("id")))


def _plan(
    docs: Sequence[Document], recipients: Sequence[Recipient], fields: Sequence[Field]
) -> tuple[bool, dict[int, tuple[documents.FieldSpec, ...]]]:
    """:func:`_send_plan` of the draft's parts (``fields`` in id order)."""
    placed = {f.recipient_id for f in fields}
    certify = all(
        r.pk in placed for r in recipients if r.role in (Role.SIGN, Role.SEAL)
    ) and not any(f.kind == Kind.CROSS_PAGE_SEAL for f in fields)
    specs = {
        d.pk: tuple(compose.field_specs(d, [f for f in fields if f.document_id == d.pk]))
        for d in docs
    }
    return certify, specs


def _prepare_ahead(envelope: Envelope, actor: User) -> dict[int, _Prepared]:
    """Each document of the draft prepared without any lock (the platform's signature is most
    of a send's time; under the sender's allowance lock, sends in one organisation's name would
    wait for each other's). Nothing when the draft is not ready to send or the send would be
    refused anyway: the locked send then finds and reports why."""
    draft = Envelope.objects.select_related("initiator_org").filter(pk=envelope.pk).first()
    if draft is None or not draft.is_draft():
        return {}
    if sending.sender_problems(draft, actor) or not sending.within_allowance(
        actor, draft.initiator_org_id, now=timezone.now()
    ):
        return {}
    docs = list(draft.documents.select_related("current").order_by("position", "id"))
    recipients = list(draft.recipients.all())
    if not docs or not any(r.acts for r in recipients):
        return {}
    certify, specs = _send_plan(draft, docs, recipients)
    ahead = {}
    try:
        for document in docs:
            data = _prepared_bytes(
                draft, document, document.current.read(), specs[document.pk], certify
            )
            # Its bytes stored now: the locked send writes only the rows.
            do_put_blob_ahead(data)
            made_from = _made_from(draft, document, specs[document.pk], certify)
            ahead[document.pk] = _Prepared(made_from, data)
    except (EnvelopeError, PkiNotInitialised, BlobStoreError):
        return {}  # the locked send prepares again and reports it
    return ahead


def _prepare(
    envelope: Envelope,
    recipients: Sequence[Recipient],
    ahead: Mapping[int, _Prepared],
    meta: RequestMeta,
) -> bool:
    """Prepare every document (locked here); returns whether they were certified. A document
    prepared ahead is used when the draft still has what it was made from."""
    docs = list(
        envelope.documents.select_for_update(of=("self",))
        .select_related("current")
        .order_by("position", "id")
    )
    certify, specs = _send_plan(envelope, docs, recipients)
    for document in docs:
        ready = ahead.get(document.pk)
        made_from = _made_from(envelope, document, specs[document.pk], certify)
        if ready is not None and ready.made_from == made_from:
            prepared = ready.data
        else:
            source = document.current.read()
            prepared = _prepared_bytes(envelope, document, source, specs[document.pk], certify)
        _store_prepared(envelope, document, prepared, certify, meta=meta)
    return certify


def do_send_envelope(envelope: Envelope, *, actor: User, meta: RequestMeta) -> Envelope:
    """Send a draft: prepare its documents and notify the first recipients in routing order.
    Only a verified sender may, in an organisation's name only as a current member of that
    verified organisation, and within the 24-hour limits (:mod:`qianshu.envelopes.sending`);
    a refusal leaves the draft as it was. An envelope sent back (退回) is resent with
    :func:`qianshu.envelopes.actions.returns.do_resend_envelope`, not here.

    The documents are prepared — and their bytes stored — first, without locks
    (:func:`_prepare_ahead`); the sending transaction then takes the allowance lock, the
    envelope and its documents, and records what was prepared if the draft did not change
    meanwhile (else prepares again, under the locks). So the allowance lock is held for the
    bookkeeping only, not for the platform's signatures nor their durable writes."""
    ahead = _prepare_ahead(envelope, actor)
    with transaction.atomic():
        # The sender's rows first (see sending.lock_quota), then the envelope.
        sending.lock_quota(actor, envelope.initiator_org_id, now=timezone.now())
        locked = (
            Envelope.objects.select_for_update(of=("self",))
            .select_related("initiator_org")
            .get(pk=envelope.pk)
        )
        if not locked.is_draft():
            raise EnvelopeError(_("任务已经发起。"))
        if locked.initiator_id == actor.pk:
            locked.initiator = actor  # the audit events name them: looked up once
        sending.check_sender(locked, actor)
        found = problems(locked)
        if found:
            raise EnvelopeError(found[0])
        recipients = list(locked.recipients.all())
        try:
            _prepare(locked, recipients, ahead, meta)
        except PkiNotInitialised as exc:
            raise EnvelopeError(_("平台证书服务尚未初始化，请联系平台运营人员。")) from exc
        _start_routing(locked, recipients, held=False, actor=actor, meta=meta)
    return locked


def _start_routing(
    envelope: Envelope,
    recipients: Sequence[Recipient],
    *,
    held: bool,
    actor: User,
    meta: RequestMeta,
) -> None:
    """The envelope sent: its status, the event, the webhook, the first recipients notified.
    ``held``: ``recipients`` are rows no other transaction can change (a new draft's), used as
    they are; else routing reads them again, locked."""
    now = timezone.now()
    envelope.status = Envelope.Status.IN_PROGRESS
    envelope.sent_at = now
    envelope.save(update_fields=["status", "sent_at"])
    audit.record(
        envelope,
        "sent",
        actor=actor,
        meta=meta,
        recipients=len(recipients),
        deadline=envelope.deadline.isoformat() if envelope.deadline else "",
    )
    events.emit(envelope, "envelope.sent")
    routing.advance(envelope, now=now, recipients=recipients if held else None)


def do_delete_draft(envelope: Envelope, *, actor: User) -> None:
    """删除 a draft (never an envelope that was sent)."""
    with transaction.atomic():
        locked = Envelope.objects.select_for_update().get(pk=envelope.pk)
        if not locked.is_draft():
            raise EnvelopeError(_("只能删除草稿。"))
        locked.delete()
