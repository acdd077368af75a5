"""Starting an envelope (发起签署): what a draft is made of and the checks of its parts.

The limits, the cleaning of a draft's title, deadline, uploads, recipients and fields, what
keeps a draft from being sent, and the PDF signature fields declared for its fields. The state
changes (drafts, documents, recipients, fields, sending) are in
:mod:`qianshu.envelopes.actions.compose`.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import pikepdf
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.phones import normalize_phone
from qianshu.envelopes import binding, convert
from qianshu.envelopes.errors import EnvelopeError
from qianshu.envelopes.geometry import fits
from qianshu.envelopes.models import (
    Document,
    Envelope,
    Field,
    Recipient,
)
from qianshu.envelopes.placement import FieldInput
from qianshu.orgs.models import Seal
from qianshu.signing import documents, stamps
from qianshu.signing.errors import (
    EncryptedPdfError,
    NotAPdfError,
    PdfError,
    PdfTooLargeError,
)
from qianshu.signing.ingest import MIB, IngestLimits, ingest_pdf

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


def new_number() -> str:
    """A task number (任务编号): QS + date (Beijing) + 8 random digits."""
    today = timezone.localdate()
    return f"QS{today:%Y%m%d}{secrets.randbelow(10**8):08d}"


def clean_title(title: str) -> str:
    title = " ".join(str(title or "").split())
    if not title:
        raise EnvelopeError(_("请输入任务名称。"))
    if len(title) > MAX_TITLE:
        raise EnvelopeError(_("任务名称最多 %(n)d 个字。") % {"n": MAX_TITLE})
    return title


def clean_deadline(deadline: dt.datetime | None) -> dt.datetime | None:
    if deadline is None:
        return None
    now = timezone.now()
    if deadline <= now:
        raise EnvelopeError(_("签署截止时间必须晚于现在。"))
    if deadline > now + dt.timedelta(days=MAX_DEADLINE_DAYS):
        raise EnvelopeError(_("签署截止时间最长为两年。"))
    return deadline


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


def clean_recipient(item: RecipientInput, index: int) -> dict[str, object]:
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


def identity_changed(recipient: Recipient, values: dict[str, object]) -> bool:
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


def same_field(f: Field, values: dict[str, object]) -> bool:
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


def problems(envelope: Envelope) -> list[str]:
    """What keeps a draft from being sent, as messages for the initiator."""
    return draft_problems(envelope, envelope.documents.all(), envelope.recipients.all())


def draft_problems(
    envelope: Envelope, docs: Iterable[Document], recipients: Iterable[Recipient]
) -> list[str]:
    """:func:`problems` of a draft whose documents and recipients the caller holds."""
    out: list[str] = []
    docs = list(docs)
    recipients = list(recipients)
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
