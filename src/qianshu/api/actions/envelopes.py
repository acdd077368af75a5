"""Documents and envelopes through the open API: the same actions as the web pages, one
transaction per call.

An API key acts for its organisation: the envelope is sent in the organisation's name by the
key's owner (an administrator who created it), who must still be a member of that verified
organisation (the sending rules check it). Fields come in PDF points with the origin at the
page's top-left corner and are converted once, by :mod:`qianshu.envelopes.placement`.
"""

from __future__ import annotations

import pydantic
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from qianshu.api.errors import NotFound, uuid_or_404
from qianshu.api.models import ApiKey, Upload
from qianshu.api.schemas import EnvelopeIn, FieldIn, RecipientIn
from qianshu.core.errors import UserError
from qianshu.core.meta import RequestMeta
from qianshu.doctemplates.actions.templates import do_use_template
from qianshu.doctemplates.models import Template
from qianshu.doctemplates.snapshots import Party
from qianshu.envelopes import compose, placement
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.models import Document, Envelope
from qianshu.signing import documents, pages
from qianshu.signing.errors import PdfError
from qianshu.storage.actions import do_store_blob

ROLES = {"signer": "sign", "seal": "seal", "approver": "approve", "cc": "cc"}


class BadEnvelope(UserError):
    code = "invalid_envelope"


def do_upload_document(key: ApiKey, data: bytes, filename: str, *, meta: RequestMeta) -> Upload:
    """A checked, normalised PDF kept for ``POST /envelopes`` (the web upload's rules)."""
    pdf, name = compose.ingest_upload(data, filename)
    try:
        pages = len(documents.page_boxes(pdf))
    except PdfError as exc:
        raise BadEnvelope(
            _("“%(name)s”已损坏，无法打开，请检查后重新上传。") % {"name": name}, field="file"
        ) from exc
    blob = do_store_blob(pdf, content_type="application/pdf")
    return Upload.objects.create(org=key.org, key=key, name=name[:200], blob=blob, pages=pages)


def _uploads(key: ApiKey, ids: list[str]) -> dict[str, Upload]:
    found: dict[str, Upload] = {}
    for value in ids:
        missing = _("找不到文件 %(id)s。") % {"id": value}
        upload = Upload.objects.filter(org=key.org, uuid=uuid_or_404(value, missing)).first()
        if upload is None:
            raise NotFound(missing)
        found[value] = upload
    return found


def _recipient_input(item: RecipientIn) -> compose.RecipientInput:
    role = ROLES[item.role]
    if role == "seal":
        if item.org is None:
            raise BadEnvelope(_("盖章方需要填写组织名称和统一社会信用代码。"), field="recipients")
        return compose.RecipientInput(
            role=role,
            routing_order=item.order,
            name=item.org.name,
            phone=item.phone,
            email=item.email,
            contact_name=item.name,
            org_credit_code=item.org.credit_code,
            required_seal_kind=item.seal_kind,
        )
    if item.seal_kind:
        raise BadEnvelope(_("只有盖章方可以指定印章类型。"), field="recipients")
    if item.org is not None:
        raise BadEnvelope(_("只有盖章方可以指定组织。"), field="recipients")
    return compose.RecipientInput(
        role=role, routing_order=item.order, name=item.name, phone=item.phone, email=item.email
    )


# The usual size of a field of each type, in points, when the caller gives none.
SIZES = {
    "signature": (120.0, 48.0),
    "seal": (119.0, 119.0),  # a 42 mm round seal
    "cross_page_seal": (119.0, 119.0),
    "date": (110.0, 22.0),
    "text": (140.0, 22.0),
}


def _anchored(spec: FieldIn, document: Document, width: float, height: float) -> FieldIn:
    """``spec`` with ``page``, ``x`` and ``y`` found from its anchor text."""
    assert spec.anchor is not None
    try:
        hit = pages.find_text(document.current.read(), spec.anchor)
    except PdfError:
        hit = None
    if hit is None:
        raise BadEnvelope(
            _("在文件中找不到关键字“%(anchor)s”。") % {"anchor": spec.anchor}, field="fields"
        )
    centre = hit.page_top - (hit.y1 + hit.y2) / 2  # from the page's top edge
    return spec.model_copy(
        update={
            "page": hit.page + 1,
            "x": hit.x2 + spec.offset_x,
            "y": centre - height / 2 + spec.offset_y,
        }
    )


def _placement(spec: FieldIn, document: Document) -> placement.FieldPlacement:
    """The API's points (origin top-left, pages from 1) as the editor's page fractions."""
    default_width, default_height = SIZES[spec.type]
    width = spec.width or default_width
    height = spec.height or default_height
    spec = spec.model_copy(update={"width": width, "height": height})
    if spec.anchor and spec.type != "cross_page_seal":
        spec = _anchored(spec, document, width, height)
    boxes = document.boxes()
    values: dict[str, object] = {"document": document.pk, "kind": spec.type, "label": spec.label}
    if spec.type == "cross_page_seal":
        pages = [p - 1 for p in (spec.pages or [])]
        first = boxes[pages[0]] if pages and 0 <= pages[0] < len(boxes) else boxes[0]
        values |= {
            "pages": pages,
            "left": 0.0,
            "width": 0.0,
            "top": float(spec.y) / first.height,
            "height": float(spec.height) / first.height,
        }
    else:
        if spec.page is None:
            raise BadEnvelope(_("请填写签署位置的页码。"), field="fields")
        index = spec.page - 1
        box = boxes[index] if index < len(boxes) else boxes[-1]
        values |= {
            "page": index,
            "left": float(spec.x) / box.width,
            "top": float(spec.y) / box.height,
            "width": float(spec.width) / box.width,
            "height": float(spec.height) / box.height,
        }
    try:
        return placement.FieldPlacement.model_validate(values)
    except pydantic.ValidationError:
        raise BadEnvelope(_("签署位置超出了页面范围，请检查页码和坐标。"), field="fields") from None


ROLE_NAMES = {value: name for name, value in ROLES.items()}


def org_templates(key: ApiKey) -> QuerySet[Template]:
    """The organisation's active templates (a key uses those only, never personal ones)."""
    return Template.objects.filter(org=key.org, status=Template.Status.ACTIVE)


def _from_template(key: ApiKey, spec: EnvelopeIn, *, meta: RequestMeta) -> Envelope:
    if spec.documents or spec.recipients:
        raise BadEnvelope(_("使用模板时不能再指定 documents 或 recipients。"), field="template")
    missing = _("找不到模板 %(id)s。") % {"id": spec.template}
    template = org_templates(key).filter(uuid=uuid_or_404(spec.template or "", missing)).first()
    version = template.latest() if template is not None else None
    if version is None:
        raise NotFound(missing)
    by_label = {str(r["label"]): str(r["key"]) for r in version.roles}
    keys = set(by_label.values())
    parties: dict[str, Party] = {}
    for name, party in spec.roles.items():
        role_key = name if name in keys else by_label.get(name)
        if role_key is None:
            raise BadEnvelope(_("模板中没有角色“%(name)s”。") % {"name": name}, field="roles")
        parties[role_key] = Party(
            name=party.name,
            phone=party.phone,
            email=party.email,
            contact_name=party.contact_name,
            org_credit_code=party.credit_code,
        )
    with transaction.atomic():
        envelope = do_use_template(
            version,
            parties,
            data=spec.data,
            title=spec.title,
            actor=key.created_by,
            meta=meta,
        )
        if spec.send:
            envelope = compose_actions.do_send_envelope(envelope, actor=key.created_by, meta=meta)
    return envelope


def do_create_envelope(key: ApiKey, spec: EnvelopeIn, *, meta: RequestMeta) -> Envelope:
    """A draft with the uploaded documents, the recipients and their fields — or made from one
    of the organisation's templates — sent when ``spec.send``, or nothing at all (one
    transaction)."""
    if spec.template is not None:
        return _from_template(key, spec, meta=meta)
    if not spec.title.strip():
        raise BadEnvelope(_("请输入任务名称。"), field="title")
    if not spec.documents:
        raise BadEnvelope(_("请至少上传一份签署文件。"), field="documents")
    if not spec.recipients:
        raise BadEnvelope(_("请至少添加一个签署方。"), field="recipients")
    actor = key.created_by
    uploads = _uploads(key, spec.documents)
    with transaction.atomic():
        envelope = compose_actions.do_create_draft(
            title=spec.title,
            actor=actor,
            scene=spec.scene,
            message=spec.message,
            deadline=spec.deadline,
            org=key.org,
            meta=meta,
        )
        docs: dict[str, Document] = {}
        for value in spec.documents:
            upload = uploads[value]
            docs[value] = compose_actions.do_add_document(
                envelope, upload.blob.read(), upload.name, actor=actor, meta=meta
            )
        recipients = compose_actions.do_set_recipients(
            envelope, [_recipient_input(r) for r in spec.recipients], actor=actor
        )
        fields = []
        for item, recipient in zip(spec.recipients, recipients, strict=True):
            for field_spec in item.fields:
                document = docs.get(field_spec.document)
                if document is None:
                    raise BadEnvelope(
                        _("签署位置引用的文件 %(id)s 不在本任务中。") % {"id": field_spec.document},
                        field="fields",
                    )
                try:
                    fields.append(
                        placement.field_input(
                            _placement(field_spec, document),
                            document,
                            recipient.pk,
                            placement.Source.EDITOR,
                        )
                    )
                except placement.PlacementError as exc:
                    raise BadEnvelope(str(exc), field="fields") from exc
        if fields:
            compose_actions.do_set_fields(envelope, fields, actor=actor)
        if spec.send:
            envelope = compose_actions.do_send_envelope(envelope, actor=actor, meta=meta)
    return envelope


# The columns the API's answers show.
RECIPIENT_FIELDS = (
    "envelope_id", "role", "routing_order", "name", "status", "viewed_at", "done_at", "reason",
)  # fmt: skip
DOCUMENT_FIELDS = ("envelope_id", "name", "page_boxes", "current_id", "position")
