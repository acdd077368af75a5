"""Page images of a document revision, and downloads (signed PDF, evidence report)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import IntegrityError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from qianshu.accounts.decorators import login_required
from qianshu.core.downloads import file_response
from qianshu.core.meta import request_meta
from qianshu.envelopes.access import access_envelope_by_uuid
from qianshu.envelopes.actions.lifecycle import do_record_download
from qianshu.envelopes.models import Document, PageImage, Revision
from qianshu.signing.errors import PdfError
from qianshu.signing.pages import render_page
from qianshu.storage.actions import do_store_blob

log = logging.getLogger(__name__)

WIDTHS = (400, 800, 1200, 1600)
# PDFium is not thread-safe (see qianshu.signing.pages): one render at a time per process, or
# two requests rendering at once in a threaded server crash it.
_RENDER_LOCK = threading.Lock()


def _width(value: str | None) -> int:
    try:
        wanted = int(value or 800)
    except ValueError:
        wanted = 800
    return min(WIDTHS, key=lambda w: abs(w - wanted))


def page_image(sha256: str, data_loader: Callable[[], bytes], page: int, width: int) -> bytes:
    """The JPEG of one page of the PDF with ``sha256`` (rendered once, kept in the blob store)."""
    found = PageImage.objects.filter(source_sha256=sha256, page=page, width=width).first()
    if found is not None:
        return found.image.read()
    data = data_loader()
    with _RENDER_LOCK:
        image = render_page(data, page, width_px=width, fmt="jpeg")
    try:
        blob = do_store_blob(image, content_type="image/jpeg")
        PageImage.objects.get_or_create(
            source_sha256=sha256, page=page, width=width, defaults={"image": blob}
        )
    except IntegrityError:  # rendered by another request at the same time
        pass
    except OperationalError as exc:
        # SQLite refuses concurrent writers ("database is locked"): the image is still right,
        # it is only not kept this time.
        log.info("page image not cached: %s", exc)
    return image


@require_GET
@login_required
def page_image_view(
    request: HttpRequest, envelope_uuid: str, document_id: int, page: int
) -> HttpResponse:
    """``?w=`` width in pixels (rounded to 400/800/1200/1600), ``?r=`` a revision's SHA-256
    (default: the current one)."""
    envelope = access_envelope_by_uuid(request.user, envelope_uuid)  # type: ignore[arg-type]
    document = get_object_or_404(Document, envelope=envelope, pk=document_id)
    if not 0 <= page < document.page_count:
        raise Http404
    sha = request.GET.get("r") or document.current_id
    revision = (
        Revision.objects.select_related("blob").filter(document=document, blob_id=sha).first()
    )
    if revision is None:
        raise Http404
    try:
        image = page_image(str(sha), revision.blob.read, page, _width(request.GET.get("w")))
    except PdfError as exc:
        raise Http404 from exc
    response = HttpResponse(image, content_type="image/jpeg")
    if request.GET.get("r"):
        response["Cache-Control"] = "private, max-age=31536000, immutable"
    else:
        response["Cache-Control"] = "private, no-cache"
    return response


def _pdf_response(data: bytes, filename: str) -> HttpResponse:
    return file_response(
        data, filename=filename, content_type="application/pdf", default_name="document.pdf"
    )


@require_GET
@login_required
def download_view(request: HttpRequest, envelope_uuid: str, document_id: int) -> HttpResponse:
    """The document as it is now: the signed final file once the envelope is completed."""
    envelope = access_envelope_by_uuid(request.user, envelope_uuid)  # type: ignore[arg-type]
    document = get_object_or_404(
        Document.objects.select_related("current"), envelope=envelope, pk=document_id
    )
    data = document.current.read()
    do_record_download(
        envelope,
        "document",
        actor=request.user,  # type: ignore[arg-type]
        meta=request_meta(request),
        document=document,
    )
    return _pdf_response(data, document.name)


@require_GET
@login_required
def report_view(request: HttpRequest, envelope_uuid: str) -> HttpResponse:
    """The signed evidence report (签署报告) of a completed envelope."""
    envelope = access_envelope_by_uuid(request.user, envelope_uuid)  # type: ignore[arg-type]
    if envelope.report_id is None:
        raise Http404
    data = envelope.report.read()  # type: ignore[union-attr]
    do_record_download(envelope, "report", actor=request.user, meta=request_meta(request))  # type: ignore[arg-type]
    return _pdf_response(data, f"签署报告-{envelope.number}.pdf")
