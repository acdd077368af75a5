"""What one signing step applies (:mod:`qianshu.envelopes.actions.turns` holds the protocol:
locks, confirmation, routing): the stamp images, the plan of each document — the declared
fields and the free placements to sign, text and dates checked to fit before anything is
signed — and the signing of each document on top of its latest revision, with the audit events
and seal uses of the step. Everything here runs inside the step's transaction, with the
envelope, recipient and document rows locked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import HandwrittenSignature, User
from qianshu.core.errors import fill_message
from qianshu.core.meta import RequestMeta
from qianshu.core.statements import Statement, Update
from qianshu.envelopes import audit
from qianshu.envelopes.compose import check_field, cross_page_widgets, field_specs
from qianshu.envelopes.confirmations import SignerKey
from qianshu.envelopes.errors import DocumentChanged, EnvelopeError
from qianshu.envelopes.models import Document, Envelope, Field, Recipient, Revision
from qianshu.envelopes.placement import FieldInput
from qianshu.envelopes.revisions import append_revision
from qianshu.envelopes.turns import SignRequest, StagedField, signing_date_text
from qianshu.orgs.actions.grants import record_seal_use
from qianshu.orgs.models import Seal, SealGrant
from qianshu.pki.platform import Platform
from qianshu.signing import documents, stamps, textstamps
from qianshu.signing.filltext import FillError
from qianshu.signing.signers import KeySigner

Kind = Field.Kind
Role = Recipient.Role
MAX_TEXT_CHARS = 100

# The step's recipient row, done: saved by an UPDATE built once (a batch saves one a step).
_SAVE_DONE: Update[Recipient] = Update(
    Recipient,
    set=("status", "done_at", "acted_by", "seal", "certificate", "org", "user"),
    where=("pk",),
)
# A document's one filled field (the usual step: one signature or seal), likewise; several are
# written by one queryset update.
_FILLED: Update[Field] = Update(Field, set=("filled_at",), where=("pk",))
_FILLED_TEXT: Update[Field] = Update(Field, set=("filled_at", "value"), where=("pk",))

# Encoded stamp images by blob (content-addressed, so never stale) and by text: encoding an
# image for PDF costs milliseconds, and a batch applies the same signature or seal many times.
_TEXT_CACHE: dict[str, stamps.StampImage] = {}
_IMAGE_CACHE: dict[str, stamps.StampImage] = {}
_CACHE_SIZE = 256


def _remember(cache: dict[str, stamps.StampImage], key: str, image: stamps.StampImage) -> None:
    if len(cache) >= _CACHE_SIZE:
        cache.clear()
    cache[key] = image


def blob_image(blob: Any) -> stamps.StampImage:
    image = _IMAGE_CACHE.get(blob.sha256)
    if image is None:
        image = stamps.StampImage.from_png(blob.read())
        _remember(_IMAGE_CACHE, blob.sha256, image)
    return image


def signature_image(req: SignRequest, actor: User) -> stamps.StampImage:
    if req.signature_png is not None:
        return stamps.StampImage.from_png(req.signature_png)
    chosen = saved_signature(actor, req.signature_id)
    if chosen is None:
        raise EnvelopeError(_("您还没有手写签名，请先绘制签名。"))
    return chosen


def saved_signature(actor: User, signature_id: int | None = None) -> stamps.StampImage | None:
    signatures = HandwrittenSignature.objects.filter(user=actor).select_related("image")
    if signature_id is not None:
        signatures = signatures.filter(pk=signature_id)
    chosen = signatures.order_by("-is_default", "-created_at").first()
    return blob_image(chosen.image) if chosen is not None else None


@dataclass
class Plan:
    """What to apply to one document: new fields to declare, then placements to sign."""

    document: Document
    new_fields: list[Field] = field(default_factory=list)
    placements: list[tuple[Field, stamps.StampImage | textstamps.TextStamp]] = field(
        default_factory=list
    )


# A step's reads, built once (core/statements.py): a recipient's unfilled fields, the
# envelope's documents locked, a document's revisions.
_UNFILLED: Statement[Field] = Statement(
    lambda recipient: Field.objects.filter(recipient_id=recipient.as_int(), filled_at__isnull=True),
    arity=1,
)
_LOCKED_DOCUMENTS: Statement[Document] = Statement(
    lambda envelope: (
        Document.objects.select_for_update(of=("self",))
        .select_related("current")
        .filter(envelope_id=envelope.as_int())
        .order_by("pk")
    ),
    arity=1,
)
_REVISIONS: Statement[Any] = Statement(
    lambda document: Revision.objects.filter(document_id=document.as_int()).values_list(
        "number", "action", "blob_id"
    ),
    arity=1,
)


def unfilled_fields(recipient: Recipient) -> list[Field]:
    """The recipient's fields not filled yet (those filled before the envelope was sent back
    — 退回 — on a document that kept its signatures are signed already)."""
    return _UNFILLED.objects(recipient.pk, known={"recipient": recipient})


def _staged_by_id(req: SignRequest) -> dict[int, StagedField]:
    out = {}
    for staged in req.fields:
        if staged.field_id is not None:
            if staged.field_id in out:
                raise EnvelopeError(_("同一签署位置提交了两次，请刷新页面后重试。"))
            out[staged.field_id] = staged
    return out


def plan_documents(
    envelope: Envelope,
    recipient: Recipient,
    req: SignRequest,
    *,
    signature: stamps.StampImage | None,
    seal_image: stamps.StampImage | None,
    declared: list[Field] | None = None,
) -> list[Plan]:
    """Each document's plan. ``declared``: the recipient's :func:`unfilled_fields`, when the
    caller read them already (under the same locks)."""
    if declared is None:
        declared = unfilled_fields(recipient)
    staged = _staged_by_id(req)
    unknown = set(staged) - {f.pk for f in declared}
    if unknown:
        raise EnvelopeError(_("提交的签署位置不属于您，请刷新页面后重试。"))
    missing = [f for f in declared if f.pk not in staged]
    if missing:
        raise EnvelopeError(
            _("还有 %(n)d 处签署位置未签署，请完成后再提交。") % {"n": len(missing)}
        )
    # Every document of the envelope, locked in one statement (in id order, under the
    # envelope's lock); each is signed on top of the revision read here.
    docs = {d.pk: d for d in _LOCKED_DOCUMENTS.objects(envelope.pk)}
    plans: dict[int, Plan] = {}
    free = [s for s in req.fields if s.field_id is None]
    for staged_free in free:
        document = docs.get(staged_free.document_id or 0)
        if document is None or staged_free.rect is None:
            raise EnvelopeError(_("签署位置对应的文件不存在，请刷新页面。"))
        if document.certified:
            raise EnvelopeError(_("该文件已锁定签署位置，只能在指定位置签署。"))
        values = check_field(
            FieldInput(
                recipient_id=recipient.pk,
                document_id=document.pk,
                kind=staged_free.kind,
                page=staged_free.page,
                rect=staged_free.rect,
                pages=staged_free.pages,
                value=staged_free.value,
            ),
            recipient,
            document,
        )
        new = Field(envelope=envelope, placed_by_signer=True, **values)
        plans.setdefault(document.pk, Plan(document)).new_fields.append(new)
    if not declared and not free and recipient.role != Role.APPROVE:
        raise EnvelopeError(_("请先在文件上放置签名或印章。"))
    for f in declared:
        plans.setdefault(f.document_id, Plan(docs[f.document_id]))
    for document_plan in plans.values():
        fields = [f for f in declared if f.document_id == document_plan.document.pk]
        fields += document_plan.new_fields
        for f in fields:
            value = staged[f.pk].value if f.pk in staged else f.value
            _add_placements(document_plan, f, value, signature, seal_image)
    return [plans[k] for k in sorted(plans)]


def _add_placements(
    plan: Plan,
    f: Field,
    value: str,
    signature: stamps.StampImage | None,
    seal_image: stamps.StampImage | None,
) -> None:
    if f.kind == Kind.SIGNATURE:
        if signature is None:
            raise EnvelopeError(_("您还没有手写签名，请先绘制签名。"))
        plan.placements.append((f, signature))
    elif f.kind in (Kind.SEAL, Kind.CROSS_PAGE_SEAL):
        assert seal_image is not None
        plan.placements.append((f, seal_image))
    elif f.kind == Kind.DATE:
        plan.placements.append((f, _date_stamp(f)))
    elif f.kind == Kind.TEXT:
        text = " ".join((value or "").split())
        label = f.label or _("文本")
        if not text:
            raise EnvelopeError(_("请填写“%(label)s”。") % {"label": label})
        if len(text) > MAX_TEXT_CHARS:
            raise EnvelopeError(_("填写的内容最多 %(n)d 个字。") % {"n": MAX_TEXT_CHARS})
        f.value = text
        plan.placements.append((f, _checked(textstamps.TextStamp(label, text), f)))


def _date_stamp(f: Field) -> textstamps.TextStamp | stamps.StampImage:
    """The signing date as text, shrunk to the box down to 4 pt; in a box too small even for
    that (a sender may draw one 12 pt wide) as a picture fitted to it, as before text."""
    text = signing_date_text()
    stamp = textstamps.TextStamp(str(_("签署日期")), text, multiline=False)
    try:
        textstamps.check(stamp, f.x2 - f.x1, f.y2 - f.y1)
    except FillError:
        image = _TEXT_CACHE.get(text)
        if image is None:
            image = stamps.StampImage.from_png(stamps.render_text_image(text, height_px=64))
            _remember(_TEXT_CACHE, text, image)
        return image
    return stamp


def _checked(stamp: textstamps.TextStamp, f: Field) -> textstamps.TextStamp:
    """``stamp`` once it is known to fit ``f``'s box, before anything is signed (a value that
    does not fit is refused with the field named, never drawn too small to read)."""
    try:
        textstamps.check(stamp, f.x2 - f.x1, f.y2 - f.y1)
    except FillError as exc:
        raise EnvelopeError(fill_message(exc, stamp.name)) from exc
    return stamp


def _check_seen(document: Document, seen: Mapping[int, str]) -> None:
    """The signer saw a revision since the document was last prepared (a document prepared
    again after 退回 may have other fields than the one seen before)."""
    sha = seen.get(document.pk, "")
    if sha and sha == str(document.current_id):
        # The current revision (read locked): the newest, so no preparation came after it.
        return
    revisions = _REVISIONS.rows(document.pk)
    prepared = max(
        (n for n, action, _blob in revisions if action == Revision.Action.PREPARED), default=0
    )
    if not sha or not any(n >= prepared and blob == sha for n, _action, blob in revisions):
        raise DocumentChanged(
            _("文件“%(name)s”已更新，请重新查看后再签署。") % {"name": document.name}
        )


def _placements(document: Document, data: bytes, plan: Plan) -> list[documents.Placement]:
    """What to sign: one placement per field; a cross-page seal makes its own field with a
    widget on each page — or, on a document sent before cross-page seals became one signature,
    fills its per-page fields with one slice each."""
    crossing = any(f.kind == Kind.CROSS_PAGE_SEAL for f, _image in plan.placements)
    existing = documents.signature_fields(data) if crossing else {}
    out = []
    for f, image in plan.placements:
        name = f.pdf_field_names()[0]
        legacy = f.legacy_pdf_field_names()
        if legacy and legacy[0] in existing and isinstance(image, stamps.StampImage):
            parts = stamps.slice_image(image, len(legacy))
            out += [documents.Placement(n, p) for n, p in zip(legacy, parts, strict=True)]
        elif f.kind == Kind.CROSS_PAGE_SEAL:
            widgets = tuple(cross_page_widgets(document, f))
            out.append(documents.Placement(name, image, new_widgets=widgets))
        else:
            out.append(documents.Placement(name, image))
    return out


def _sign_document(
    envelope: Envelope,
    recipient: Recipient,
    plan: Plan,
    signer: KeySigner,
    details: documents.SignatureDetails,
    seen: Mapping[int, str],
    platform: Platform,
) -> tuple[Document, str, str]:
    """Sign one document on top of its latest revision (locked by :func:`_plan`); returns it
    with (before, after)."""
    document = plan.document
    _check_seen(document, seen)
    data = document.current.read()
    for new in plan.new_fields:
        new.document = document
        new.save()
    specs = field_specs(document, plan.new_fields)
    if specs:
        data = documents.declare_fields(data, specs)
    signed = documents.sign_turn(
        data,
        _placements(document, data, plan),
        signer=signer,
        timestamper=platform.timestamper,
        details=details,
    )
    before = append_revision(document, signed, action=Revision.Action.SIGNED, recipient=recipient)
    now = timezone.now()
    filled = {f.pk: f for f, _image in plan.placements}
    texts = [f for f in filled.values() if f.kind == Kind.TEXT]
    stamped = set(filled) - {f.pk for f in texts}
    if len(stamped) == 1:
        _FILLED.run([now], [*stamped])
    elif stamped:
        Field.objects.filter(pk__in=stamped).update(filled_at=now)
    for f in texts:
        _FILLED_TEXT.run([now, f.value], [f.pk])
    return document, before, str(document.current_id)


@dataclass(frozen=True)
class Signing:
    """Who signs a step: the key and its pyHanko signer, the name in the signature, the seal
    and grant when an organisation seals, and how it was confirmed (pin, sms, api_key)."""

    key: SignerKey
    signer: KeySigner
    name: str
    seal: Seal | None
    grant: SealGrant | None
    method: str
    agent: str = ""  # names an actor that is not a person (an API key)


def sign_step(
    envelope: Envelope,
    locked: Recipient,
    plans: list[Plan],
    signing: Signing,
    seen: Mapping[int, str],
    platform: Platform,
    *,
    actor: User | None,
    meta: RequestMeta,
) -> list[Document]:
    """Sign each planned document, record the audit events and seal uses, and mark the step
    done (inside the transaction, with the envelope and recipient locked)."""
    seal, grant = signing.seal, signing.grant
    details = documents.SignatureDetails(
        reason=(_("%(who)s盖章") if seal else _("%(who)s签署")) % {"who": signing.name},
        location="Qianshu",
        name=signing.name,
    )
    signed_docs = []
    for plan in plans:
        document, before, after = _sign_document(
            envelope, locked, plan, signing.signer, details, seen, platform
        )
        signed_docs.append(document)
        audit.record(
            envelope,
            "sealed" if seal else "signed",
            actor=actor,
            actor_name=signing.agent,
            recipient=locked,
            meta=meta,
            document_name=document.name,
            sha256_before=before,
            sha256_after=after,
            fields=len(plan.placements),
            seal=seal.name if seal else "",
            certificate=format(signing.key.certificate.serial_number, "x"),
            confirmation=signing.method,
        )
        if seal is not None and grant is not None:
            record_seal_use(
                seal,
                grant,
                actor=actor,
                meta=meta,
                document_name=document.name,
                sha256=after,
                reference=envelope.number,
            )
    locked.status = Recipient.Status.DONE
    locked.done_at = timezone.now()
    locked.acted_by = actor
    locked.seal = seal
    locked.certificate = signing.key.issued
    if seal is not None:
        locked.org = seal.org
    elif locked.user_id is None:
        locked.user = actor
    _SAVE_DONE.save(locked)
    return signed_docs
