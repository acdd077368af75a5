"""A recipient's turn: view, sign or seal (提交签署), approve, reject (拒签 / 退回).

Signing is the one place where documents change, and it is serialised per envelope:

1. Outside any lock: the idempotency key is looked up (a retried submit returns the first
   result and signs nothing), the signer's confirmation is checked — the signing PIN unlocks the
   person's key (wrong PINs are counted even if signing later fails), or — for a signer who
   never had a PIN, where the envelope allows it — an SMS code bound to this envelope and the
   document hashes the signer saw — and the stamp images are prepared.
2. In one transaction: the envelope row is locked, then each document row; the document the
   signer saw must be the current revision or an earlier one (later revisions only add other
   parties' signatures in declared fields); the stamps are signed on top of the *latest*
   revision, stored as a new immutable blob, and the revision number is compare-and-swapped;
   the audit event, the seal usage, the routing step and the notifications are written; commit.

A crash anywhere before the commit leaves the previous revision as the current one (at most an
unreferenced blob remains), and the recipient can sign again.

批量签署 looks up once what every step would look up again (:func:`prepare_steps`: the
platform's keys, the signer's saved signature, the keys submitted before); each step still
checks its idempotency key again with the envelope locked, so a resubmitted batch signs
nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import HandwrittenSignature, User
from qianshu.core.errors import fill_message
from qianshu.core.meta import RequestMeta
from qianshu.envelopes import audit, events, routing
from qianshu.envelopes.access import seal_matches
from qianshu.envelopes.actions.confirmations import confirm_signing
from qianshu.envelopes.compose import check_field, cross_page_widgets, field_specs
from qianshu.envelopes.confirmations import (
    Confirmation,
    SignerKey,
    check_confirmation,
    confirmation_binding,
    person_signer,
    seal_signer,
)
from qianshu.envelopes.errors import DocumentChanged, EnvelopeError, NotYourTurn, SealNotAllowed
from qianshu.envelopes.models import Document, Envelope, Field, Recipient, Revision, Submission
from qianshu.envelopes.placement import FieldInput
from qianshu.envelopes.revisions import append_revision
from qianshu.envelopes.turns import (
    SignOutcome,
    SignRequest,
    StagedField,
    check_managed,
    check_signer,
    signing_date_text,
)
from qianshu.orgs.actions.grants import record_seal_use
from qianshu.orgs.models import Membership, Seal, SealGrant
from qianshu.orgs.seals import SealError
from qianshu.pki.platform import Platform, load_platform
from qianshu.signing import documents, stamps, textstamps
from qianshu.signing.errors import SigningError
from qianshu.signing.filltext import FillError
from qianshu.signing.signers import KeySigner

log = logging.getLogger(__name__)

Kind = Field.Kind
Role = Recipient.Role
MAX_TEXT_CHARS = 100


def _lock(recipient: Recipient) -> tuple[Envelope, Recipient]:
    envelope = _lock_envelope(recipient)
    return envelope, Recipient.objects.select_for_update().get(pk=recipient.pk)


def _lock_step(recipient: Recipient, key: str) -> tuple[Envelope, Recipient, bool]:
    """:func:`_lock`, and whether the submission ``key`` was signed already (read with the
    recipient row, under the lock)."""
    envelope = _lock_envelope(recipient)
    submitted = Submission.objects.filter(recipient=OuterRef("pk"), key=key)
    locked = (
        Recipient.objects.select_for_update()
        .annotate(submitted=Exists(submitted))
        .get(pk=recipient.pk)
    )
    return envelope, locked, bool(locked.submitted)


def _lock_envelope(recipient: Recipient) -> Envelope:
    return (
        Envelope.objects.select_for_update(of=("self",))
        .select_related("initiator__person_identity", "initiator_org")
        .get(pk=recipient.envelope_id)
    )


def _check_turn(envelope: Envelope, locked: Recipient, actor: User | None) -> None:
    if not envelope.is_active():
        raise NotYourTurn(
            _("该任务%(status)s，不能再签署。") % {"status": envelope.get_status_display()}
        )
    if not locked.is_turn:
        raise NotYourTurn(_("现在不是您的签署环节，或您已处理过该任务。"))
    if locked.role in (Role.SIGN, Role.APPROVE, Role.CC):
        if actor is None:
            raise NotYourTurn(_("该签署环节属于其他人。"))
        if locked.user_id is not None and locked.user_id != actor.pk:
            raise NotYourTurn(_("该签署环节属于其他人。"))
        if locked.user_id is None and locked.phone and locked.phone != actor.phone:
            raise NotYourTurn(_("该签署环节属于其他人。"))


def lock_turn(recipient: Recipient, actor: User) -> tuple[Envelope, Recipient]:
    """The envelope and recipient rows locked, once it is checked that it is ``actor``'s turn
    (raises ``NotYourTurn`` / ``EnvelopeError`` otherwise). Also used by 退回 (returns)."""
    envelope, locked = _lock(recipient)
    _check_turn(envelope, locked, actor)
    return envelope, locked


def _lock_seal(recipient: Recipient, seal_uuid: str | None, actor: User) -> tuple[Seal, SealGrant]:
    """The seal to apply, with the actor's current grant, both locked and re-checked."""
    if not seal_uuid:
        raise EnvelopeError(_("请选择要加盖的印章。"))
    seal = (
        Seal.objects.select_for_update()
        .select_related("org", "certificate", "image")
        .filter(uuid=seal_uuid)
        .first()
        if _is_uuid(seal_uuid)
        else None
    )
    now = timezone.now()
    grant = (
        SealGrant.objects.select_for_update()
        .filter(
            seal=seal,
            grantee=actor,
            status=SealGrant.Status.ACTIVE,
            valid_from__lte=now,
            valid_until__gt=now,
        )
        .first()
        if seal is not None
        else None
    )
    allowed = (
        seal is not None
        and grant is not None
        and seal.is_usable
        and Membership.objects.filter(org=seal.org, user=actor).exists()
        and seal_matches(recipient, seal)
    )
    if not allowed:
        raise EnvelopeError(_("您没有该印章的有效授权，或该印章不能用于本文件。"))
    assert seal is not None and grant is not None
    issued = seal.certificate
    if issued.revoked_at is not None or issued.not_after <= now:
        raise EnvelopeError(_("印章证书已失效，请联系组织管理员。"))
    return seal, grant


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


# --- stamps -----------------------------------------------------------------------------------


# Encoded stamp images by blob (content-addressed, so never stale) and by text: encoding an
# image for PDF costs milliseconds, and a batch applies the same signature or seal many times.
_TEXT_CACHE: dict[str, stamps.StampImage] = {}
_IMAGE_CACHE: dict[str, stamps.StampImage] = {}
_CACHE_SIZE = 256


def _remember(cache: dict[str, stamps.StampImage], key: str, image: stamps.StampImage) -> None:
    if len(cache) >= _CACHE_SIZE:
        cache.clear()
    cache[key] = image


def _blob_image(blob: Any) -> stamps.StampImage:
    image = _IMAGE_CACHE.get(blob.sha256)
    if image is None:
        image = stamps.StampImage.from_png(blob.read())
        _remember(_IMAGE_CACHE, blob.sha256, image)
    return image


def _signature_image(req: SignRequest, actor: User) -> stamps.StampImage:
    if req.signature_png is not None:
        return stamps.StampImage.from_png(req.signature_png)
    chosen = _saved_signature(actor, req.signature_id)
    if chosen is None:
        raise EnvelopeError(_("您还没有手写签名，请先绘制签名。"))
    return chosen


def _saved_signature(actor: User, signature_id: int | None = None) -> stamps.StampImage | None:
    signatures = HandwrittenSignature.objects.filter(user=actor).select_related("image")
    if signature_id is not None:
        signatures = signatures.filter(pk=signature_id)
    chosen = signatures.order_by("-is_default", "-created_at").first()
    return _blob_image(chosen.image) if chosen is not None else None


@dataclass(frozen=True)
class Prepared:
    """What a batch looks up once for all its steps (:func:`prepare_steps`)."""

    platform: Platform
    signature: stamps.StampImage | None  # the signer's default saved signature
    submitted: frozenset[tuple[int, str]]  # (recipient id, key) submitted before


def prepare_steps(steps: Sequence[tuple[Recipient, str]], actor: User) -> Prepared:
    """Look up once, for the steps ``(recipient, idempotency key)`` that ``actor`` is about to
    sign, what each would look up again."""
    keys = {key for _recipient, key in steps}
    submitted = Submission.objects.filter(
        recipient_id__in=[recipient.pk for recipient, _key in steps], key__in=keys
    ).values_list("recipient_id", "key")
    return Prepared(load_platform(), _saved_signature(actor), frozenset(submitted))


@dataclass
class _Plan:
    """What to apply to one document: new fields to declare, then placements to sign."""

    document: Document
    new_fields: list[Field] = field(default_factory=list)
    placements: list[tuple[Field, stamps.StampImage | textstamps.TextStamp]] = field(
        default_factory=list
    )


def _staged_by_id(req: SignRequest) -> dict[int, StagedField]:
    out = {}
    for staged in req.fields:
        if staged.field_id is not None:
            if staged.field_id in out:
                raise EnvelopeError(_("同一签署位置提交了两次，请刷新页面后重试。"))
            out[staged.field_id] = staged
    return out


def _plan(
    envelope: Envelope,
    recipient: Recipient,
    req: SignRequest,
    *,
    signature: stamps.StampImage | None,
    seal_image: stamps.StampImage | None,
) -> list[_Plan]:
    # Fields filled before the envelope was sent back (退回) on a document that kept its
    # signatures are signed already.
    declared = list(recipient.fields.filter(filled_at__isnull=True).select_related("document"))
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
    docs = {
        d.pk: d
        for d in Document.objects.select_for_update(of=("self",))
        .select_related("current")
        .filter(envelope=envelope)
        .order_by("pk")
    }
    plans: dict[int, _Plan] = {}
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
        plans.setdefault(document.pk, _Plan(document)).new_fields.append(new)
    if not declared and not free and recipient.role != Role.APPROVE:
        raise EnvelopeError(_("请先在文件上放置签名或印章。"))
    for f in declared:
        plans.setdefault(f.document_id, _Plan(docs[f.document_id]))
    for document_plan in plans.values():
        fields = [f for f in declared if f.document_id == document_plan.document.pk]
        fields += document_plan.new_fields
        for f in fields:
            value = staged[f.pk].value if f.pk in staged else f.value
            _add_placements(document_plan, f, value, signature, seal_image)
    return [plans[k] for k in sorted(plans)]


def _add_placements(
    plan: _Plan,
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
    revisions = list(
        Revision.objects.filter(document=document).values_list("number", "action", "blob_id")
    )
    prepared = max(
        (n for n, action, _blob in revisions if action == Revision.Action.PREPARED), default=0
    )
    if not sha or not any(n >= prepared and blob == sha for n, _action, blob in revisions):
        raise DocumentChanged(
            _("文件“%(name)s”已更新，请重新查看后再签署。") % {"name": document.name}
        )


def _placements(document: Document, data: bytes, plan: _Plan) -> list[documents.Placement]:
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
    plan: _Plan,
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
    Field.objects.filter(pk__in=set(filled) - {f.pk for f in texts}).update(filled_at=now)
    for f in texts:
        Field.objects.filter(pk=f.pk).update(filled_at=now, value=f.value)
    return document, before, str(document.current_id)


def do_sign(
    recipient: Recipient,
    req: SignRequest,
    *,
    pin: str | None = None,
    code: str | None = None,
    confirmation: Confirmation | None = None,
    prepared: Prepared | None = None,
    managed: bool = False,
    actor: User,
    meta: RequestMeta,
) -> SignOutcome:
    """提交签署: apply every field of ``recipient`` (and its free placements) in one revision
    per document, signed with the person's key (PIN, or an event key after an SMS code) or,
    for an organisation, with the granted seal's key after the member's own PIN or code.

    The signer confirms with ``pin`` or ``code`` (checked here), or the caller passes the
    ``confirmation`` it already checked (batch signing). Raises :class:`EnvelopeError`
    subclasses with a message for the signer; nothing changes then (a wrong PIN is still
    counted). ``managed``: the app driving a managed envelope is the caller
    (:func:`~qianshu.envelopes.turns.check_managed`). ``prepared``: what a batch looked up
    once for all its steps (:func:`prepare_steps`).
    """
    check_managed(recipient.envelope, managed)
    if not req.key or len(req.key) > 64:
        raise EnvelopeError(_("提交无效，请刷新页面后重试。"))
    if prepared is not None:
        earlier = (recipient.pk, req.key) in prepared.submitted
    else:
        earlier = Submission.objects.filter(recipient=recipient, key=req.key).exists()
    if earlier:
        return SignOutcome(recipient=recipient, repeated=True)
    if recipient.role not in (Role.SIGN, Role.SEAL):
        raise EnvelopeError(_("该环节无需签署。"))
    check_signer(recipient, actor)
    if confirmation is None:
        confirmation = confirm_signing(
            pin=pin,
            code=code,
            binding=confirmation_binding(recipient.envelope, req.seen),
            envelopes=[recipient.envelope],
            actor=actor,
            meta=meta,
        )
    else:
        check_confirmation(confirmation, recipient.envelope, actor)
    if prepared is not None and req.signature_png is None and req.signature_id is None:
        # A missing signature is refused by _plan if a field needs one.
        signature = prepared.signature if recipient.role == Role.SIGN else None
    elif _needs(recipient, req, Kind.SIGNATURE):
        signature = _signature_image(req, actor)
    else:
        signature = None
    try:
        with transaction.atomic():
            envelope, locked, submitted = _lock_step(recipient, req.key)
            if submitted:
                # The same submission, sent twice at once: the first one signed.
                return SignOutcome(recipient=locked, repeated=True)
            _check_turn(envelope, locked, actor)
            seal = grant = None
            seal_image = None
            platform = prepared.platform if prepared is not None else load_platform()
            if locked.role == Role.SEAL:
                seal, grant = _lock_seal(locked, req.seal_uuid, actor)
                seal_image = _blob_image(seal.image)
                key, signer = seal_signer(confirmation, seal, platform)
                name = f"{seal.org.name} {seal.name}"
            else:
                key, signer = person_signer(confirmation, locked, actor, platform)
                name = locked.name
            plans = _plan(envelope, locked, req, signature=signature, seal_image=seal_image)
            with audit.batched(envelope):
                signed_docs = _sign_step(
                    envelope,
                    locked,
                    plans,
                    _Signing(key, signer, name, seal, grant, confirmation.method),
                    req.seen,
                    platform,
                    actor=actor,
                    meta=meta,
                )
                Submission.objects.create(recipient=locked, key=req.key)
                _after_step(envelope, locked, actor)
    except (SealError, SigningError) as exc:
        raise _refusal(exc, recipient) from exc
    return SignOutcome(recipient=locked, documents=signed_docs)


def _lock_key_grant(
    envelope: Envelope, recipient: Recipient, grant: SealGrant
) -> tuple[Seal, SealGrant]:
    """The seal of an API key's grant and the grant, both locked and re-checked: the grant is
    current, its key not revoked and of the envelope's organisation, the seal usable, not a
    legal representative's seal, and right for the step (organisation, required type)."""
    seal = (
        Seal.objects.select_for_update()
        .select_related("org", "certificate", "image")
        .get(pk=grant.seal_id)
    )
    locked = (
        SealGrant.objects.select_for_update(of=("self",)).select_related("api_key").get(pk=grant.pk)
    )
    api_key = locked.api_key
    allowed = (
        api_key is not None
        and api_key.revoked_at is None
        and api_key.org_id == seal.org_id
        and envelope.initiator_org_id == seal.org_id
        and locked.is_current()
        and seal.is_usable
        and seal.kind != Seal.Kind.LEGAL_REP
        and seal_matches(recipient, seal)
    )
    if not allowed:
        raise SealNotAllowed()
    issued = seal.certificate
    if issued.revoked_at is not None or issued.not_after <= timezone.now():
        raise EnvelopeError(_("印章证书已失效，请联系组织管理员。"))
    return seal, locked


@dataclass(frozen=True)
class _Signing:
    """Who signs a step: the key and its pyHanko signer, the name in the signature, the seal
    and grant when an organisation seals, and how it was confirmed (pin, sms, api_key)."""

    key: SignerKey
    signer: KeySigner
    name: str
    seal: Seal | None
    grant: SealGrant | None
    method: str
    agent: str = ""  # names an actor that is not a person (an API key)


def _sign_step(
    envelope: Envelope,
    locked: Recipient,
    plans: list[_Plan],
    signing: _Signing,
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
    locked.save()
    return signed_docs


def do_seal_with_grant(
    recipient: Recipient, grant: SealGrant, *, key: str, agent: str, meta: RequestMeta
) -> SignOutcome:
    """API 用印 (契约锁's 静默签): the seal granted to an API key seals the organisation's own
    seal step ``recipient``, in the fields declared for it, without a person.

    ``grant`` is the key's grant (``SealGrant.api_key``); ``agent`` names the key in the audit
    trail; ``key`` makes a retried call return the first result. Everything that makes the use
    legitimate is checked again with the rows locked (:func:`_lock_key_grant`): a step of
    another organisation — even one with the same name — a revoked key or grant, a legal
    representative's seal, a step whose turn has not come, or an envelope that is not the
    key's organisation's own are refused; nothing changes then. A key places nothing itself:
    a step without declared seal fields is refused, and so is one that asks for text."""
    check_managed(recipient.envelope, managed=False)
    if not key or len(key) > 64:
        raise EnvelopeError(_("提交无效，请刷新页面后重试。"))
    if Submission.objects.filter(recipient=recipient, key=key).exists():
        return SignOutcome(recipient=recipient, repeated=True)
    if recipient.role != Role.SEAL:
        raise SealNotAllowed(_("API 密钥只能为本组织的企业盖章环节用印。"))
    try:
        with transaction.atomic():
            envelope, locked, submitted = _lock_step(recipient, key)
            if submitted:
                return SignOutcome(recipient=locked, repeated=True)
            _check_turn(envelope, locked, None)
            seal, held = _lock_key_grant(envelope, locked, grant)
            declared = list(locked.fields.filter(filled_at__isnull=True))
            if not declared:
                raise EnvelopeError(_("该盖章环节没有指定盖章位置，API 密钥不能自行放置印章。"))
            if any(f.kind not in (Kind.SEAL, Kind.CROSS_PAGE_SEAL, Kind.DATE) for f in declared):
                raise EnvelopeError(_("该盖章环节需要填写内容，不能由 API 密钥自动盖章。"))
            platform = load_platform()
            signer_key, signer = seal_signer(Confirmation(0, "api_key"), seal, platform)
            req = SignRequest(
                key=key,
                seen={},
                fields=tuple(StagedField(field_id=f.pk) for f in declared),
            )
            seal_image = _blob_image(seal.image)
            plans = _plan(envelope, locked, req, signature=None, seal_image=seal_image)
            # No person saw a revision: the step seals what is current now (the envelope row
            # is locked, so no other step can add a revision meanwhile).
            seen = {
                pk: str(blob)
                for pk, blob in Document.objects.filter(envelope=envelope).values_list(
                    "pk", "current_id"
                )
            }
            signing = _Signing(
                signer_key,
                signer,
                f"{seal.org.name} {seal.name}",
                seal,
                held,
                "api_key",
                agent=agent,
            )
            with audit.batched(envelope):
                signed_docs = _sign_step(
                    envelope, locked, plans, signing, seen, platform, actor=None, meta=meta
                )
                Submission.objects.create(recipient=locked, key=key)
                _after_step(envelope, locked, None)
    except (SealError, SigningError) as exc:
        raise _refusal(exc, recipient) from exc
    return SignOutcome(recipient=locked, documents=signed_docs)


def _refusal(exc: SealError | SigningError, recipient: Recipient) -> EnvelopeError:
    """What the signer is told when a step's signing failed (a seal's own reason, or a
    generic one for the signing core's failures, which are logged)."""
    if isinstance(exc, SealError):
        return EnvelopeError(str(exc))
    log.warning("signing %s for recipient %s failed: %s", recipient.envelope_id, recipient.pk, exc)
    return EnvelopeError(_("签署失败，请稍后重试。"))


def _needs(recipient: Recipient, req: SignRequest, kind: str) -> bool:
    if recipient.role != Role.SIGN:
        return False
    if any(s.field_id is None and s.kind == kind for s in req.fields):
        return True
    return recipient.fields.filter(kind=kind, filled_at__isnull=True).exists()


def _after_step(envelope: Envelope, recipient: Recipient, actor: User | None) -> None:
    """Routing and the initiator's notice after a recipient finished its step (``actor`` is
    None when an API key sealed)."""
    events.emit(envelope, "recipient.signed", recipient=recipient)
    _activated, (done, total) = routing.advance_with_progress(envelope)
    if (actor is None or envelope.initiator_id != actor.pk) and done < total:
        who = recipient.name if recipient.role == Role.SEAL else audit.person_label(actor)
        routing.notify_initiator(
            envelope,
            "envelope_progress",
            {"who": who, "action": routing.action_label(recipient), "progress": f"{done}/{total}"},
        )


def do_approve(recipient: Recipient, *, actor: User, meta: RequestMeta) -> None:
    """审批: an approver agrees; the routing moves on."""
    with transaction.atomic():
        envelope, locked = lock_turn(recipient, actor)
        if locked.role != Role.APPROVE:
            raise EnvelopeError(_("该环节需要签署，不是审批。"))
        locked.status = Recipient.Status.DONE
        locked.done_at = timezone.now()
        locked.acted_by = actor
        if locked.user_id is None:
            locked.user = actor
        locked.save()
        audit.record(envelope, "approved", actor=actor, recipient=locked, meta=meta)
        _after_step(envelope, locked, actor)


def do_reject(
    recipient: Recipient, reason: str, *, managed: bool = False, actor: User, meta: RequestMeta
) -> None:
    """拒签 / 退回: the recipient refuses with a reason; the envelope ends (rejected).
    ``managed`` as for :func:`do_sign`."""
    check_managed(recipient.envelope, managed)
    reason = " ".join((reason or "").split())
    if not reason:
        raise EnvelopeError(_("请填写拒签原因。"))
    if len(reason) > 300:
        raise EnvelopeError(_("拒签原因最多 300 个字。"))
    with transaction.atomic():
        envelope, locked = lock_turn(recipient, actor)
        now = timezone.now()
        locked.status = Recipient.Status.REJECTED
        locked.reason = reason
        locked.done_at = now
        locked.acted_by = actor
        if locked.role != Role.SEAL and locked.user_id is None:
            locked.user = actor
        locked.save()
        envelope.status = Envelope.Status.REJECTED
        envelope.ended_at = now
        envelope.end_reason = reason
        envelope.save(update_fields=["status", "ended_at", "end_reason"])
        audit.record(envelope, "rejected", actor=actor, recipient=locked, meta=meta, reason=reason)
        events.emit(envelope, "recipient.rejected", recipient=locked, reason=reason)
        who = locked.name if locked.role == Role.SEAL else audit.person_label(actor)
        context = {"who": who, "reason": reason}
        routing.notify_initiator(envelope, "envelope_rejected", context)
        for other in envelope.recipients.exclude(pk=locked.pk).exclude(
            status=Recipient.Status.WAITING
        ):
            if other.role != Role.CC:
                routing.send(
                    other,
                    "envelope_rejected",
                    {
                        **context,
                        "title": envelope.title,
                        "number": envelope.number,
                        "link": routing.envelope_url(envelope),
                    },
                )


def do_mark_viewed(recipient: Recipient, *, actor: User, meta: RequestMeta) -> None:
    """The recipient opened the document on their turn (查看): first view is recorded."""
    if recipient.status != Recipient.Status.PENDING:
        return
    with transaction.atomic():
        envelope = Envelope.objects.select_for_update().get(pk=recipient.envelope_id)
        locked = Recipient.objects.select_for_update().get(pk=recipient.pk)
        if locked.status != Recipient.Status.PENDING or not envelope.is_active():
            return
        locked.status = Recipient.Status.VIEWED
        locked.viewed_at = timezone.now()
        if locked.role != Role.SEAL and locked.user_id is None:
            locked.user = actor
        locked.save(update_fields=["status", "viewed_at", "user"])
        audit.record(envelope, "viewed", actor=actor, recipient=locked, meta=meta)
        events.emit(envelope, "recipient.viewed", recipient=locked)


def do_claim_recipient(recipient: Recipient, *, actor: User, meta: RequestMeta) -> None:
    """Bind a person recipient reached by its link to the logged-in account: the account with
    the recipient's phone, or — for a recipient known only by e-mail — whoever opened the link
    sent to that address (the link is the proof, as with e-mail signing elsewhere)."""
    with transaction.atomic():
        envelope, locked = _lock(recipient)
        if locked.user_id is not None or locked.role == Role.SEAL:
            return
        if locked.phone and locked.phone != actor.phone:
            return
        locked.user = actor
        locked.save(update_fields=["user"])
        if not locked.phone:
            audit.record(
                envelope, "viewed", actor=actor, recipient=locked, meta=meta, step="claimed"
            )
