"""Starting an envelope (发起签署): drafts, documents, recipients, fields, and sending.

A draft is edited freely by its initiator. :func:`do_send_envelope` then prepares every
document — declares the signature field of every field of every recipient and has the platform
sign it: a certification signature (DocMDP, form filling allowed) when every field is known, or
an approval signature when some recipient places its own fields while signing (a new signature
field after a certification signature would be an illegal change) — and starts the routing.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pikepdf
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.accounts.phones import normalize_phone
from qianshu.envelopes import audit, binding, convert, routing, sending
from qianshu.envelopes.errors import EnvelopeError
from qianshu.envelopes.geometry import fits
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
from qianshu.orgs.models import Organization, Seal
from qianshu.pki.platform import PkiNotInitialised, load_platform
from qianshu.signing import documents, stamps
from qianshu.signing.errors import (
    EncryptedPdfError,
    NotAPdfError,
    PdfError,
    PdfTooLargeError,
    SigningError,
)
from qianshu.signing.ingest import MIB, IngestLimits, ingest_pdf
from qianshu.storage.actions import do_store_blob

log = logging.getLogger(__name__)

MAX_DOCUMENTS = 10
MAX_RECIPIENTS = 30
MAX_TITLE = 100
DOCUMENT_LIMITS = IngestLimits(max_bytes=20 * MIB, max_pages=300)
MAX_DEADLINE_DAYS = 366 * 2

Role = Recipient.Role
Kind = Field.Kind
# Which field kinds each role may have.
KINDS_FOR_ROLE: dict[str, frozenset[str]] = {
    Role.SIGN: frozenset({Kind.SIGNATURE, Kind.DATE, Kind.TEXT}),
    Role.SEAL: frozenset({Kind.SEAL, Kind.CROSS_PAGE_SEAL, Kind.DATE}),
    Role.APPROVE: frozenset(),
    Role.CC: frozenset(),
}


def _new_number() -> str:
    """A task number (任务编号): QS + date (Beijing) + 8 random digits."""
    today = timezone.localdate()
    return f"QS{today:%Y%m%d}{secrets.randbelow(10**8):08d}"


def _clean_title(title: str) -> str:
    title = " ".join(str(title or "").split())
    if not title:
        raise EnvelopeError(_("请输入任务名称。"))
    if len(title) > MAX_TITLE:
        raise EnvelopeError(_("任务名称最多 %(n)d 个字。") % {"n": MAX_TITLE})
    return title


def _clean_deadline(deadline: dt.datetime | None) -> dt.datetime | None:
    if deadline is None:
        return None
    now = timezone.now()
    if deadline <= now:
        raise EnvelopeError(_("签署截止时间必须晚于现在。"))
    if deadline > now + dt.timedelta(days=MAX_DEADLINE_DAYS):
        raise EnvelopeError(_("签署截止时间最长为两年。"))
    return deadline


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
    request: HttpRequest | None = None,
) -> Envelope:
    """A new draft envelope of ``actor`` (for ``org`` when acting for an organisation)."""
    title = _clean_title(title)
    deadline = _clean_deadline(deadline)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                envelope = Envelope.objects.create(
                    number=_new_number(),
                    title=title,
                    scene=clean_scene(scene),
                    message=message.strip()[:500],
                    initiator=actor,
                    initiator_org=org,
                    deadline=deadline,
                    auto_remind=auto_remind,
                    allow_sms_signing=allow_sms_signing,
                )
                audit.record(envelope, "created", actor=actor, request=request, title=title)
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
    envelope.title = _clean_title(title)
    if scene is not None:
        envelope.scene = clean_scene(scene)
    envelope.message = message.strip()[:500]
    envelope.deadline = _clean_deadline(deadline)
    envelope.auto_remind = auto_remind
    envelope.allow_sms_signing = allow_sms_signing
    envelope.save(
        update_fields=["title", "scene", "message", "deadline", "auto_remind", "allow_sms_signing"]
    )
    return envelope


def _flatten_rotation(data: bytes) -> bytes:
    """Apply any /Rotate of an unsigned document to its pages' content, so that fields and page
    images share one orientation (signature widgets would otherwise turn with the page)."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        if not any(int(page.obj.get("/Rotate", 0)) % 360 for page in pdf.pages):
            return data
        for page in pdf.pages:
            page.flatten_rotation()
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()


def ingest_upload(data: bytes, filename: str) -> tuple[bytes, str]:
    """Turn an upload (PDF, or DOCX when LibreOffice is installed) into a PDF to sign, with its
    display name. Raises :class:`EnvelopeError` with a clear message for anything unusable."""
    name = (filename or "").strip() or "document.pdf"
    if convert.is_office_document(name, data):
        data = convert.docx_to_pdf(data)
        name = name.rsplit(".", 1)[0] + ".pdf"
    try:
        ingested = ingest_pdf(data, DOCUMENT_LIMITS)
    except NotAPdfError:
        raise EnvelopeError(
            _("“%(name)s”不是 PDF 文件，请上传 PDF（或 Word 文档）。") % {"name": name}
        ) from None
    except EncryptedPdfError:
        raise EnvelopeError(
            _("“%(name)s”有密码保护，请上传未加密的文件。") % {"name": name}
        ) from None
    except PdfTooLargeError:
        raise EnvelopeError(
            _("“%(name)s”太大：文件最大 20 MB，最多 300 页。") % {"name": name}
        ) from None
    except PdfError:
        raise EnvelopeError(
            _("“%(name)s”已损坏，无法打开，请检查后重新上传。") % {"name": name}
        ) from None
    if ingested.already_signed:
        raise EnvelopeError(_("“%(name)s”已含有数字签名，请上传未签名的文件。") % {"name": name})
    try:
        pdf = _flatten_rotation(ingested.data)
    except Exception as exc:  # pikepdf raises several types on odd page trees
        log.warning("cannot flatten page rotation of %s: %s", name, exc)
        raise EnvelopeError(
            _("“%(name)s”的页面无法处理，请另存为 PDF 后重新上传。") % {"name": name}
        ) from exc
    if not name.lower().endswith(".pdf"):
        name += ".pdf"
    return pdf, name[:200]


def do_add_document(
    envelope: Envelope,
    data: bytes,
    filename: str,
    *,
    actor: User,
    request: HttpRequest | None = None,
) -> Document:
    """Add a document to a draft (checked, normalised, stored as revision 0)."""
    pdf, name = ingest_upload(data, filename)
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
        document = Document.objects.create(
            envelope=locked,
            position=count,
            name=name,
            original=blob,
            current=blob,
            page_boxes=[[b.x1, b.y1, b.x2, b.y2] for b in boxes],
        )
        Revision.objects.create(
            document=document, number=0, blob=blob, action=Revision.Action.UPLOADED
        )
        audit.record(
            locked,
            "created",
            actor=actor,
            request=request,
            document_name=name,
            sha256_after=blob.sha256,
            step="document_added",
        )
    return document


def do_remove_document(document: Document, *, actor: User) -> None:
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


@dataclass(frozen=True)
class RecipientInput:
    role: str
    routing_order: int
    name: str
    phone: str = ""
    email: str = ""
    contact_name: str = ""
    org_credit_code: str = ""
    required_seal_kind: str = ""
    id: int | None = None  # an existing recipient of the draft to keep (with its fields)
    org_uuid: str = ""  # a seal recipient: the verified organisation chosen in the search


def _clean_recipient(item: RecipientInput, index: int) -> dict[str, object]:
    label = _("第 %(n)d 个签署方") % {"n": index + 1}
    if item.role not in Role.values:
        raise EnvelopeError(_("%(who)s：请选择签署方类型。") % {"who": label})
    name = " ".join(item.name.split())
    if not name:
        raise EnvelopeError(
            _("%(who)s：请输入组织名称。") % {"who": label}
            if item.role == Role.SEAL
            else _("%(who)s：请输入姓名。") % {"who": label}
        )
    if len(name) > (100 if item.role == Role.SEAL else 64):
        raise EnvelopeError(_("%(who)s：名称太长。") % {"who": label})
    if not 1 <= int(item.routing_order) <= 99:
        raise EnvelopeError(_("%(who)s：签署顺序应为 1–99。") % {"who": label})
    phone = ""
    if item.phone.strip():
        try:
            phone = normalize_phone(item.phone)
        except ValidationError:
            raise EnvelopeError(_("%(who)s：手机号码不正确。") % {"who": label}) from None
    email = item.email.strip()
    if email:
        from django.core.validators import validate_email

        try:
            validate_email(email)
        except ValidationError:
            raise EnvelopeError(_("%(who)s：电子邮箱不正确。") % {"who": label}) from None
    if not phone and not email:
        raise EnvelopeError(_("%(who)s：请填写手机号或电子邮箱。") % {"who": label})
    if item.role != Role.SEAL and (
        item.required_seal_kind or item.org_credit_code or item.org_uuid
    ):
        raise EnvelopeError(_("%(who)s：只有企业盖章方可以指定组织和印章。") % {"who": label})
    if item.required_seal_kind and item.required_seal_kind not in Seal.Kind.values:
        raise EnvelopeError(_("%(who)s：请选择正确的印章类型。") % {"who": label})
    org, code = None, ""
    if item.role == Role.SEAL:
        try:
            party = binding.resolve_seal_party(name, item.org_credit_code, item.org_uuid)
        except EnvelopeError as exc:
            raise EnvelopeError(
                _("%(who)s：%(problem)s") % {"who": label, "problem": str(exc)}
            ) from None
        org, name, code = party.org, party.name, party.credit_code
    return {
        "role": item.role,
        "routing_order": int(item.routing_order),
        "name": name,
        "phone": phone,
        "email": email,
        "contact_name": " ".join(item.contact_name.split())[:64],
        "org_credit_code": code,
        "required_seal_kind": item.required_seal_kind,
        "org": org,
    }


def do_set_recipients(
    envelope: Envelope, items: Sequence[RecipientInput], *, actor: User
) -> list[Recipient]:
    """Replace the draft's recipients. Recipients named by ``id`` are updated and keep their
    fields (unless their role no longer allows a field's kind); the others are removed."""
    if len(items) > MAX_RECIPIENTS:
        raise EnvelopeError(_("每个任务最多 %(n)d 个签署方。") % {"n": MAX_RECIPIENTS})
    cleaned = [_clean_recipient(item, i) for i, item in enumerate(items)]
    with transaction.atomic():
        locked = Envelope.objects.select_for_update().get(pk=envelope.pk)
        if not locked.is_editable():
            raise EnvelopeError(_("任务已发起，不能再修改签署方。"))
        existing = {r.pk: r for r in locked.recipients.all()}
        keep: list[Recipient] = []
        for item, values in zip(items, cleaned, strict=True):
            recipient = existing.get(item.id) if item.id is not None else None
            if recipient is None:
                recipient = Recipient(envelope=locked, **values)
            else:
                if _identity_changed(recipient, values):
                    # Someone else now: the account bound to the old party may not act.
                    recipient.user = None
                for key, value in values.items():
                    setattr(recipient, key, value)
            recipient.save()
            recipient.fields.exclude(kind__in=KINDS_FOR_ROLE[recipient.role]).delete()
            keep.append(recipient)
        Recipient.objects.filter(envelope=locked).exclude(pk__in=[r.pk for r in keep]).delete()
    return keep


def _identity_changed(recipient: Recipient, values: dict[str, object]) -> bool:
    return any(getattr(recipient, key) != values[key] for key in ("role", "name", "phone", "email"))


def check_field(item: FieldInput, recipient: Recipient, document: Document) -> dict[str, object]:
    """The model values of a field, or :class:`EnvelopeError` saying what is wrong with it."""
    if item.kind not in KINDS_FOR_ROLE[recipient.role]:
        raise EnvelopeError(
            _("“%(who)s”不能有“%(kind)s”。")
            % {
                "who": recipient.name,
                "kind": Kind(item.kind).label if item.kind in Kind.values else item.kind,
            }
        )
    boxes = document.boxes()
    if item.kind == Kind.CROSS_PAGE_SEAL:
        pages = sorted(set(item.pages))
        if len(pages) < 2:
            raise EnvelopeError(_("骑缝章至少需要跨两页。"))
        if pages[0] < 0 or pages[-1] >= len(boxes):
            raise EnvelopeError(_("骑缝章的页码超出了文件页数。"))
        page = pages[0]
        if not 40 <= item.rect.height <= 200:
            raise EnvelopeError(_("骑缝章的大小应在 40–200 磅之间。"))
    else:
        pages = []
        page = item.page
        if not 0 <= page < len(boxes):
            raise EnvelopeError(_("签署位置的页码超出了文件页数。"))
        if not fits(boxes[page], item.rect):
            raise EnvelopeError(_("签署位置超出了页面范围，或太小。"))
    label = " ".join(item.label.split())[:60]
    value = " ".join(item.value.split())[:200]
    return {
        "document": document,
        "recipient": recipient,
        "kind": item.kind,
        "page": page,
        "x1": item.rect.x1,
        "y1": item.rect.y1,
        "x2": item.rect.x2,
        "y2": item.rect.y2,
        "pages": pages,
        "label": label,
        "value": value,
    }


def _same_field(f: Field, values: dict[str, object]) -> bool:
    """Whether a stored field is the one ``values`` describe (placed where it was: the
    editor's page fractions move a field by far less than half a point)."""
    recipient = values["recipient"]
    document = values["document"]
    assert isinstance(recipient, Recipient) and isinstance(document, Document)
    if (f.recipient_id, f.document_id, f.kind) != (recipient.pk, document.pk, values["kind"]):
        return False
    if (f.label, f.value) != (values["label"], values["value"]):
        return False
    if f.kind == Kind.CROSS_PAGE_SEAL:
        coords = [(f.y1, values["y1"]), (f.y2, values["y2"])]
        if sorted(f.pages or []) != values["pages"]:
            return False
    else:
        if f.page != values["page"]:
            return False
        coords = [
            (f.x1, values["x1"]),
            (f.y1, values["y1"]),
            (f.x2, values["x2"]),
            (f.y2, values["y2"]),
        ]
    return all(abs(float(a) - float(b)) < 0.5 for a, b in coords)  # type: ignore[arg-type]


def do_set_fields(envelope: Envelope, items: Sequence[FieldInput], *, actor: User) -> list[Field]:
    """Replace the fields the initiator placed on the draft's documents. A field saved again
    where it was keeps its row (and its PDF field name): an envelope sent back (退回) keeps the
    signatures of a document whose fields did not change (see envelopes/returns.py)."""
    if len(items) > MAX_FIELDS:
        raise EnvelopeError(_("签署位置最多 %(n)d 个。") % {"n": MAX_FIELDS})
    with transaction.atomic():
        locked = Envelope.objects.select_for_update().get(pk=envelope.pk)
        if not locked.is_editable():
            raise EnvelopeError(_("任务已发起，不能再修改签署位置。"))
        recipients = {r.pk: r for r in locked.recipients.all()}
        docs = {d.pk: d for d in locked.documents.all()}
        values = []
        for item in items:
            recipient = recipients.get(item.recipient_id)
            document = docs.get(item.document_id)
            if recipient is None or document is None:
                raise EnvelopeError(_("签署位置对应的签署方或文件不存在，请刷新页面。"))
            values.append(check_field(item, recipient, document))
        existing = list(Field.objects.filter(envelope=locked).order_by("id"))
        kept: list[Field] = []
        result: list[Field] = []
        for v in values:
            match = next((f for f in existing if f not in kept and _same_field(f, v)), None)
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


def problems(envelope: Envelope) -> list[str]:
    """What keeps a draft from being sent, as messages for the initiator."""
    out: list[str] = []
    docs = list(envelope.documents.all())
    recipients = list(envelope.recipients.all())
    if not docs:
        out.append(_("请至少上传一份文件。"))
    if not any(r.acts for r in recipients):
        out.append(_("请至少添加一个签署方（抄送人不算）。"))
    if envelope.deadline is not None and envelope.deadline <= timezone.now():
        out.append(_("签署截止时间已过，请重新设置。"))
    return out


def cross_page_widgets(document: Document, f: Field) -> list[tuple[int, stamps.Rect]]:
    """Where a cross-page seal goes: a strip per page on the right edge, at the field's height
    (see :func:`qianshu.signing.stamps.cross_page_slices`)."""
    return stamps.cross_page_slices(
        document.boxes(),
        list(f.pages),
        seal_size_pt=f.y2 - f.y1,
        center_y_pt=(f.y1 + f.y2) / 2,
    )


def field_specs(document: Document, fields: Iterable[Field]) -> list[documents.FieldSpec]:
    """The PDF signature fields to declare before signing for ``fields`` on ``document``.

    A cross-page seal is not declared: its field, with a widget on every page, is made by the
    signature that fills it (:class:`qianshu.signing.documents.Placement`).
    """
    return [
        documents.FieldSpec(f.pdf_field_names()[0], f.page, stamps.Rect(f.x1, f.y1, f.x2, f.y2))
        for f in fields
        if f.kind != Kind.CROSS_PAGE_SEAL
    ]


def prepare_document_revision(
    envelope: Envelope,
    document: Document,
    source: bytes,
    certify: bool,
    *,
    step: str = "",
    request: HttpRequest | None = None,
) -> None:
    """Declare the document's fields on ``source`` and have the platform sign it (certify or
    approve); stored as a new ``prepared`` revision. The caller holds the document row lock."""
    platform = load_platform()
    try:
        prepared = documents.prepare_document(
            source,
            field_specs(document, document.fields.order_by("id")),
            certifier=platform.certifier,
            timestamper=platform.timestamper,
            details=documents.SignatureDetails(
                reason=f"{envelope.number} {envelope.title}"[:200], location="Qianshu"
            ),
            certify=certify,
        )
    except SigningError as exc:
        log.warning("preparing %s of %s failed: %s", document.pk, envelope.number, exc)
        raise EnvelopeError(
            _("文件“%(name)s”无法发起签署，请检查签署位置后重试。") % {"name": document.name}
        ) from exc
    before = append_revision(document, prepared, action=Revision.Action.PREPARED, certified=certify)
    extra: dict[str, Any] = {"step": step} if step else {}
    audit.record(
        envelope,
        "sent",
        actor=envelope.initiator,
        request=request,
        document_name=document.name,
        sha256_before=before,
        sha256_after=document.current_id,
        certified=certify,
        **extra,
    )


def _prepare(envelope: Envelope, certify: bool, request: HttpRequest | None) -> None:
    for document in envelope.documents.select_for_update().order_by("position", "id"):
        prepare_document_revision(
            envelope, document, document.current.read(), certify, request=request
        )


def do_send_envelope(
    envelope: Envelope, *, actor: User, request: HttpRequest | None = None
) -> Envelope:
    """Send a draft: prepare its documents and notify the first recipients in routing order.
    Only a verified sender may, in an organisation's name only as a current member of that
    verified organisation, and within the 24-hour limits (:mod:`qianshu.envelopes.sending`);
    a refusal leaves the draft as it was. An envelope sent back (退回) is resent with
    :func:`qianshu.envelopes.returns.do_resend_envelope`, not here."""
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
        sending.check_sender(locked, actor)
        found = problems(locked)
        if found:
            raise EnvelopeError(found[0])
        recipients = list(locked.recipients.all())
        # A recipient that places its own fields while signing rules out certification, and so
        # does a cross-page seal (its field is made when it is signed); the completion lock
        # protects these documents once everyone has signed.
        certify = (
            all(r.fields.exists() for r in recipients if r.role in (Role.SIGN, Role.SEAL))
            and not locked.fields.filter(kind=Kind.CROSS_PAGE_SEAL).exists()
        )
        try:
            _prepare(locked, certify, request)
        except PkiNotInitialised as exc:
            raise EnvelopeError(_("平台证书服务尚未初始化，请联系平台运营人员。")) from exc
        now = timezone.now()
        locked.status = Envelope.Status.IN_PROGRESS
        locked.sent_at = now
        locked.save(update_fields=["status", "sent_at"])
        audit.record(
            locked,
            "sent",
            actor=actor,
            request=request,
            recipients=len(recipients),
            deadline=locked.deadline.isoformat() if locked.deadline else "",
        )
        routing.advance(locked, now=now)
    return locked


def do_delete_draft(envelope: Envelope, *, actor: User) -> None:
    with transaction.atomic():
        locked = Envelope.objects.select_for_update().get(pk=envelope.pk)
        if not locked.is_draft():
            raise EnvelopeError(_("只能删除草稿。"))
        locked.delete()
