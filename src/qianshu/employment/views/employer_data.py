"""数据管理: 已应约 (the agreements students accepted, with the school's 鉴证), the invitations
sent and their state, an agreement's details (签约过程记录) and the download of the signed
电子协议书 once the school's 鉴证 passed."""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET

from qianshu.accounts.decorators import login_required
from qianshu.core.downloads import file_response
from qianshu.core.meta import request_meta
from qianshu.core.requests import current_user
from qianshu.employment import employer_queries as eq
from qianshu.employment.access import access_agreement_by_uuid
from qianshu.employment.employer_forms import ARCHIVE, BASIC, HUKOU, TERMS
from qianshu.employment.models import Agreement
from qianshu.employment.views.employer_base import Employer, employer_page, page
from qianshu.envelopes.actions.lifecycle import do_record_download
from qianshu.envelopes.models import Envelope

#: The agreement has been signed by all three parties: the electronic agreement exists.
DOWNLOADABLE = (Agreement.Status.PASSED, Agreement.Status.TERMINATED)
PAGE_SIZE = 200


@employer_page
@require_GET
def accepted_view(request: HttpRequest, employer: Employer) -> HttpResponse:
    """已应约 (filter by 鉴证状态) and, on the second tab, every invitation sent."""
    tab = "invitations" if request.GET.get("tab") == "invitations" else "accepted"
    status = request.GET.get("status", "")
    if tab == "accepted":
        rows = list(eq.accepted_agreements(employer.org, status)[:PAGE_SIZE])
    else:
        rows = list(eq.sent_invitations(employer.org)[:PAGE_SIZE])
    for row in rows:
        row.shown_status = eq.shown_status(row)  # type: ignore[attr-defined]
        row.downloadable = _downloadable(row)  # type: ignore[attr-defined]
    context = {
        "tab": tab,
        "rows": rows,
        "status": status,
        "statuses": [(s, Agreement.Status(s).label) for s in eq.ACCEPTED_STATES],
    }
    return page(request, employer, "accepted.html", context, section="accepted")


def _downloadable(agreement: Agreement) -> bool:
    envelope = agreement.envelope if agreement.envelope_id else None
    return (
        agreement.status in DOWNLOADABLE
        and envelope is not None
        and envelope.status == Envelope.Status.COMPLETED
    )


def _employer_agreement(request: HttpRequest, agreement_uuid: uuid.UUID) -> Agreement:
    """The agreement when the viewer administers its employer; 404 otherwise."""
    agreement, roles = access_agreement_by_uuid(current_user(request), agreement_uuid)
    if "employer" not in roles:
        raise Http404
    return agreement


def _items(
    values: dict[str, str], labels: tuple[tuple[str, object], ...]
) -> list[tuple[object, str]]:
    return [(label, values.get(key, "")) for key, label in labels]


@login_required
@require_GET
def agreement_view(request: HttpRequest, agreement_uuid: uuid.UUID) -> HttpResponse:
    """签约详情: 学生信息, 单位信息, 签约信息, 档案信息, 户口信息, 签约过程记录, the status, the
    terminations, and the download of the signed agreement."""
    agreement = _employer_agreement(request, agreement_uuid)
    assert agreement.employer is not None
    employer = Employer(current_user(request), agreement.employer)
    info = agreement.employer_info
    context = {
        "agreement": agreement,
        "shown_status": eq.shown_status(agreement),
        "employer_name": agreement.employer_name,
        "employer_items": _items(info, BASIC),
        "credit_code": info.get("credit_code", ""),
        "terms": _items(agreement.terms, TERMS),
        "archive": _items(agreement.archive, ARCHIVE),
        "hukou": _items(agreement.hukou, HUKOU),
        "events": list(agreement.events.select_related("actor")),
        "terminations": list(agreement.terminations.order_by("-applied_at")),
        "downloadable": _downloadable(agreement),
    }
    return page(request, employer, "agreement.html", context, section="accepted")


@login_required
@require_GET
def download_view(request: HttpRequest, agreement_uuid: uuid.UUID) -> HttpResponse:
    """下载电子协议书: the envelope's document as it is now (signed by the three parties)."""
    agreement = _employer_agreement(request, agreement_uuid)
    if not _downloadable(agreement):
        raise Http404
    envelope = agreement.envelope
    assert envelope is not None
    document = envelope.documents.select_related("current").order_by("position", "pk").first()
    if document is None:
        raise Http404
    data = document.current.read()
    do_record_download(
        envelope,
        "document",
        actor=current_user(request),
        meta=request_meta(request),
        document=document,
    )
    return file_response(
        data, filename=f"就业协议书-{agreement.number}.pdf", content_type="application/pdf"
    )


urlpatterns: list[URLPattern] = [
    path("employer/accepted/", accepted_view, name="employer-accepted"),
    path("agreements/<uuid:agreement_uuid>/employer/", agreement_view, name="employer-agreement"),
    path(
        "agreements/<uuid:agreement_uuid>/employer/download/",
        download_view,
        name="employer-agreement-download",
    ),
]
