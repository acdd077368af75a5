"""``/documents`` and ``/envelopes``: upload, create and send, query, remind, recall, void,
download the signed documents, the evidence report and both as a ZIP, and read the audit
trail. A key sees the envelopes sent in its organisation's name, nothing else (404)."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile

from qianshu.api import queries
from qianshu.api.actions import envelopes as actions
from qianshu.api.actions.seals import do_seal_step
from qianshu.api.auth import api_meta, caller
from qianshu.api.errors import NotFound, uuid_or_404
from qianshu.api.models import ApiKey, Scope
from qianshu.api.schemas import (
    EnvelopeIn,
    EnvelopeOut,
    EnvelopePage,
    Problem,
    ReasonIn,
    RemindOut,
    SigningUrlIn,
    SigningUrlOut,
    TemplateOut,
    TemplateRoleOut,
    UploadOut,
)
from qianshu.core.downloads import file_response
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.actions import lifecycle, voiding
from qianshu.envelopes.actions.downloads import do_download_archive
from qianshu.envelopes.downloads import plan_archive
from qianshu.envelopes.links import recipient_link
from qianshu.envelopes.models import AuditEvent, Envelope, Recipient

router = Router(tags=["envelopes"])
PAGE = 50
MAX_PAGE = 100


def _envelope(key: ApiKey, envelope_id: str) -> Envelope:
    envelope = queries.org_envelope(key.org_id, uuid_or_404(envelope_id))
    if envelope is None:
        raise NotFound()
    return envelope


@router.post(
    "/documents",
    response={201: UploadOut, 400: Problem, 413: Problem},
    summary="Upload a PDF (or Word document) to use in an envelope",
)
def upload_document(request: HttpRequest, file: File[UploadedFile]) -> Status[UploadOut]:
    key = caller(request, Scope.ENVELOPES_WRITE)
    if file.size is None or file.size > settings.QIANSHU_MAX_PDF_BYTES:
        raise actions.BadEnvelope(
            _("文件过大：最多 %(mb)d MB。") % {"mb": settings.QIANSHU_MAX_PDF_BYTES // 2**20},
            field="file",
            status=413,
        )
    upload = actions.do_upload_document(
        key, file.read(), file.name or "document.pdf", meta=api_meta(request)
    )
    return Status(
        201,
        UploadOut(id=str(upload.uuid), name=upload.name, pages=upload.pages, sha256=upload.blob_id),
    )


@router.post(
    "/envelopes",
    response={201: EnvelopeOut, 400: Problem, 404: Problem, 409: Problem},
    summary="Create an envelope from uploaded documents or a template (sent unless send=false)",
)
def create_envelope(request: HttpRequest, body: EnvelopeIn) -> Status[EnvelopeOut]:
    key = caller(request, Scope.ENVELOPES_WRITE)
    envelope = actions.do_create_envelope(key, body, meta=api_meta(request))
    return Status(201, queries.envelope_out(envelope))


@router.get(
    "/templates",
    response=list[TemplateOut],
    summary="The organisation's templates, with the roles to fill in POST /envelopes",
)
def list_templates(request: HttpRequest) -> list[TemplateOut]:
    key = caller(request, Scope.ENVELOPES_READ)
    out = []
    for template in actions.org_templates(key).order_by("name", "id"):
        version = template.latest()
        if version is None:
            continue
        roles = [
            TemplateRoleOut(
                key=str(r["key"]),
                label=str(r["label"]),
                role=actions.ROLE_NAMES.get(str(r["role"]), str(r["role"])),
                order=int(r["order"]),
                fixed=bool(r.get("fixed")),
            )
            for r in version.roles
        ]
        out.append(
            TemplateOut(
                id=str(template.uuid),
                name=template.name,
                version=version.number,
                title=version.title,
                roles=roles,
            )
        )
    return out


class ListFilters(Schema):
    status: str | None = None
    number: str | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    cursor: str | None = None
    limit: int = PAGE


@router.get(
    "/envelopes",
    response={200: EnvelopePage, 400: Problem},
    summary="The organisation's envelopes, newest first (cursor pagination)",
)
def list_envelopes(request: HttpRequest, filters: Query[ListFilters]) -> EnvelopePage:
    key = caller(request, Scope.ENVELOPES_READ)
    found = Envelope.objects.filter(initiator_org=key.org, kind=Envelope.Kind.STANDARD)
    if filters.status:
        found = found.filter(status=filters.status)
    if filters.number:
        found = found.filter(number=filters.number)
    if filters.created_after:
        found = found.filter(created_at__gte=filters.created_after)
    if filters.created_before:
        found = found.filter(created_at__lt=filters.created_before)
    if filters.cursor:
        try:
            last = int(base64.urlsafe_b64decode(filters.cursor.encode()).decode())
        except ValueError:
            raise actions.BadEnvelope(_("cursor 无效。"), field="cursor") from None
        found = found.filter(pk__lt=last)
    limit = max(1, min(filters.limit, MAX_PAGE))
    ids = list(found.order_by("-pk").values_list("pk", flat=True)[: limit + 1])
    more = len(ids) > limit
    ids = ids[:limit]
    cursor = base64.urlsafe_b64encode(str(ids[-1]).encode()).decode() if more else None
    return EnvelopePage(items=queries.envelope_answers(key.org_id, ids), next_cursor=cursor)


@router.get("/envelopes/{envelope_id}", response={200: EnvelopeOut, 404: Problem})
def get_envelope(request: HttpRequest, envelope_id: str) -> EnvelopeOut:
    key = caller(request, Scope.ENVELOPES_READ)
    answer = queries.envelope_answer(key.org_id, uuid_or_404(envelope_id))
    if answer is None:
        raise NotFound()
    return answer


@router.post(
    "/envelopes/{envelope_id}/send", response={200: EnvelopeOut, 400: Problem, 404: Problem}
)
def send_envelope(request: HttpRequest, envelope_id: str) -> EnvelopeOut:
    key = caller(request, Scope.ENVELOPES_WRITE)
    envelope = compose_actions.do_send_envelope(
        _envelope(key, envelope_id), actor=key.created_by, meta=api_meta(request)
    )
    return queries.envelope_out(envelope)


@router.post(
    "/envelopes/{envelope_id}/remind", response={200: RemindOut, 400: Problem, 404: Problem}
)
def remind(request: HttpRequest, envelope_id: str) -> RemindOut:
    key = caller(request, Scope.ENVELOPES_WRITE)
    count = lifecycle.do_remind(
        _envelope(key, envelope_id), actor=key.created_by, meta=api_meta(request)
    )
    return RemindOut(reminded=count)


@router.post(
    "/envelopes/{envelope_id}/recall", response={200: EnvelopeOut, 400: Problem, 404: Problem}
)
def recall(request: HttpRequest, envelope_id: str, body: ReasonIn) -> EnvelopeOut:
    key = caller(request, Scope.ENVELOPES_WRITE)
    envelope = _envelope(key, envelope_id)
    lifecycle.do_recall(envelope, reason=body.reason, actor=key.created_by, meta=api_meta(request))
    envelope.refresh_from_db()
    return queries.envelope_out(envelope)


@router.post(
    "/envelopes/{envelope_id}/void",
    response={200: EnvelopeOut, 400: Problem, 404: Problem},
    summary="Start the void statement (作废声明) of a completed envelope; returns the statement",
)
def void(request: HttpRequest, envelope_id: str, body: ReasonIn) -> EnvelopeOut:
    key = caller(request, Scope.ENVELOPES_WRITE)
    statement = voiding.do_request_void(
        _envelope(key, envelope_id), body.reason, actor=key.created_by, meta=api_meta(request)
    )
    return queries.envelope_out(statement)


@router.get(
    "/envelopes/{envelope_id}/documents/{document_id}",
    response={200: None, 404: Problem},
    summary="A document as it is now (the signed final file once completed), as PDF",
)
def download_document(request: HttpRequest, envelope_id: str, document_id: int) -> HttpResponse:
    key = caller(request, Scope.ENVELOPES_READ)
    envelope = _envelope(key, envelope_id)
    document = envelope.documents.select_related("current").filter(pk=document_id).first()
    if document is None:
        raise NotFound()
    data = document.current.read()
    lifecycle.do_record_download(
        envelope, "document", actor=key.created_by, meta=api_meta(request), document=document
    )
    return file_response(data, filename=document.name, content_type="application/pdf")


@router.get(
    "/envelopes/{envelope_id}/report",
    response={200: None, 404: Problem},
    summary="The signed evidence report (签署报告) of a completed envelope, as PDF",
)
def download_report(request: HttpRequest, envelope_id: str) -> HttpResponse:
    key = caller(request, Scope.ENVELOPES_READ)
    envelope = _envelope(key, envelope_id)
    if envelope.report is None:
        raise NotFound(_("任务完成后才有签署报告。"))
    data = envelope.report.read()
    lifecycle.do_record_download(envelope, "report", actor=key.created_by, meta=api_meta(request))
    return file_response(
        data, filename=f"签署报告-{envelope.number}.pdf", content_type="application/pdf"
    )


@router.get(
    "/envelopes/{envelope_id}/archive",
    response={200: None, 400: Problem, 404: Problem},
    summary="The documents and the evidence report as one ZIP",
)
def download_archive(request: HttpRequest, envelope_id: str) -> StreamingHttpResponse:
    key = caller(request, Scope.ENVELOPES_READ)
    archive = plan_archive([_envelope(key, envelope_id)])
    stream = do_download_archive(archive, actor=key.created_by, meta=api_meta(request))
    response = StreamingHttpResponse(stream, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{archive.envelopes[0].number}.zip"'
    return response


@router.post(
    "/envelopes/{envelope_id}/recipients/{recipient_id}/signing-url",
    response={200: SigningUrlOut, 400: Problem, 404: Problem},
    summary="A short-lived link that opens the signing page for one recipient",
    description=(
        "For embedding in the caller's own page. The link only leads there: the signer "
        "still logs in with an SMS code to the recipient's phone and confirms with their "
        "own signing PIN."
    ),
)
def signing_url(
    request: HttpRequest, envelope_id: str, recipient_id: int, body: SigningUrlIn
) -> SigningUrlOut:
    key = caller(request, Scope.ENVELOPES_WRITE)
    envelope = _envelope(key, envelope_id)
    recipient = envelope.recipients.filter(pk=recipient_id).first()
    if recipient is None:
        raise NotFound()
    if recipient.role == recipient.Role.CC or not envelope.is_active():
        raise actions.BadEnvelope(_("该签署方现在没有需要签署的文件。"))
    expires = timezone.now() + dt.timedelta(seconds=body.expires_in)
    return SigningUrlOut(url=recipient_link(recipient, expires=expires), expires_at=expires)


@router.post(
    "/envelopes/{envelope_id}/recipients/{recipient_id}/seal",
    response={200: EnvelopeOut, 400: Problem, 403: Problem, 404: Problem, 409: Problem},
    summary="API sealing (静默签): seal the organisation's own seal step with the key's seal",
    description=(
        "An organisation administrator grants one seal to the API key (开放平台 · API 密钥, "
        "after re-authentication). The key can then seal a seal step of its own organisation "
        "in an envelope it sent, when the step's turn has come, in the fields declared for "
        "it. 403 `seal_not_allowed`: no current grant, or the seal does not fit the step; "
        "409 `not_your_turn`: not the step's turn (or done already). Every use is written "
        "to the organisation's 用印记录 and the envelope's audit trail, naming the key."
    ),
)
def seal_step(request: HttpRequest, envelope_id: str, recipient_id: int) -> EnvelopeOut:
    key = caller(request, Scope.ENVELOPES_WRITE)
    envelope = _envelope(key, envelope_id)
    recipient = (
        Recipient.objects.select_related("envelope")
        .filter(envelope=envelope, pk=recipient_id)
        .first()
    )
    if recipient is None:
        raise NotFound()
    submission = request.headers.get("Idempotency-Key") or f"api-{uuid.uuid4()}"
    do_seal_step(key, recipient, submission=submission[:64], meta=api_meta(request))
    return queries.envelope_out(_envelope(key, envelope_id))


class AuditEventOut(Schema):
    seq: int
    time: dt.datetime
    action: str
    actor: str
    recipient: int | None
    ip: str | None
    document_name: str
    sha256_before: str
    sha256_after: str
    detail: dict[str, Any]


@router.get(
    "/envelopes/{envelope_id}/audit",
    response={200: list[AuditEventOut], 404: Problem},
    summary="The envelope's audit trail (the hash-chained events behind the evidence report)",
)
def audit_trail(request: HttpRequest, envelope_id: str) -> list[AuditEventOut]:
    key = caller(request, Scope.ENVELOPES_READ)
    envelope = _envelope(key, envelope_id)
    events = AuditEvent.objects.filter(envelope=envelope).order_by("seq", "pk")
    return [
        AuditEventOut(
            seq=e.seq,
            time=e.created_at,
            action=e.action,
            actor=e.actor_name,
            recipient=e.recipient_id,
            ip=e.ip,
            document_name=e.document_name,
            sha256_before=e.sha256_before,
            sha256_after=e.sha256_after,
            detail=e.detail,
        )
        for e in events
    ]
