"""签约管理 (the agreements the school verifies), 解约管理 (terminations waiting for or past the
school's 解约鉴证), and an agreement's page for the school: its details, the 签约过程记录 and
the decisions its state allows — 签约鉴证通过 (the school's seal and 签署密码) / 签约鉴证不通过
(a reason) online; 协议书审核 and 签约鉴证 on paper; 解约鉴证. After a decision the page goes
back to its list (the manual: "审核通过后程序自动返回审核列表").

The agreement's page and its files are the school's wherever the viewer acts (a link from a
notification): the viewer must be staff of the student's school — its 学校管理员, or the
学院管理员 of the student's college — and anybody else gets a 404.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from qianshu.accounts.decorators import login_required
from qianshu.accounts.models import User
from qianshu.core.downloads import file_response
from qianshu.core.errors import UserError, add_message
from qianshu.core.meta import RequestMeta, request_meta
from qianshu.core.requests import current_user
from qianshu.employment import papers, school_queries
from qianshu.employment.access import (
    access_agreement_by_uuid,
    access_termination_by_uuid,
    staff_of,
)
from qianshu.employment.actions.agreements import (
    SCHOOL_COMPLETES,
    do_fail_agreement,
    do_pass_agreement,
)
from qianshu.employment.actions.paper import do_decide_paper, do_review_paper
from qianshu.employment.actions.terminations import do_decide_termination
from qianshu.employment.errors import WrongState
from qianshu.employment.models import Agreement, Staff, Termination
from qianshu.employment.views import school_details
from qianshu.employment.views.school_base import (
    filters_from,
    page_of,
    query_without_page,
    require_staff,
    school_context,
)
from qianshu.envelopes.actions.lifecycle import do_record_download
from qianshu.envelopes.models import Envelope
from qianshu.storage.models import Blob

Status = Agreement.Status
TStatus = Termination.Status
#: Files a student uploads that a browser may show inline; anything else is a download.
INLINE_TYPES = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


def _agreement_statuses() -> dict[str, str]:
    labels = dict(Status.choices)
    return {
        key: str(labels[states[0]]) if key != "waiting" else _("等待签约鉴证")
        for key, states in school_queries.AGREEMENT_FILTERS.items()
    }


@login_required
def agreements_view(request: HttpRequest) -> HttpResponse:
    """签约管理: the school's agreements with their 鉴证状态, by 学院, 届 and state."""
    staff = require_staff(request)
    statuses = _agreement_statuses()
    filters = filters_from(request, staff, statuses)
    page = page_of(request, school_queries.agreement_list(staff, filters))
    context = {
        **school_context(staff, "agreements"),
        "filters": filters,
        "statuses": list(statuses.items()),
        "years": school_queries.years(staff),
        "colleges": list(school_queries.visible_colleges(staff)),
        "page_obj": page,
        "query": query_without_page(request),
    }
    return render(request, "employment/school/agreements.html", context)


@login_required
def terminations_view(request: HttpRequest) -> HttpResponse:
    """解约管理: terminations with their 解约鉴证状态, by 学院, 届 and state."""
    staff = require_staff(request)
    statuses = {
        str(value): str(label)
        for value, label in TStatus.choices
        if value in school_queries.TERMINATION_STATES
    }
    filters = filters_from(request, staff, statuses)
    page = page_of(request, school_queries.termination_list(staff, filters))
    context = {
        **school_context(staff, "terminations"),
        "filters": filters,
        "statuses": list(statuses.items()),
        "years": school_queries.years(staff),
        "colleges": list(school_queries.visible_colleges(staff)),
        "page_obj": page,
        "query": query_without_page(request),
    }
    return render(request, "employment/school/terminations.html", context)


def _access(user: User, agreement_uuid: object) -> tuple[Agreement, Staff]:
    """The agreement and the viewer's staff row at its school, if the viewer is its school."""
    agreement, roles = access_agreement_by_uuid(user, agreement_uuid)
    staff = staff_of(user, agreement.student.school) if "school" in roles else None
    if staff is None:
        raise Http404
    return agreement, staff


@dataclass(frozen=True)
class Decision:
    """What a decision did: the message, and the list to go back to."""

    message: str
    back: str


def _reason(request: HttpRequest) -> str:
    return request.POST.get("reason", "")


def _decide(
    request: HttpRequest,
    op: str,
    agreement: Agreement,
    termination: Termination | None,
    meta: RequestMeta,
) -> Decision:
    """Run the decision ``op`` of the page (its action checks the state and the viewer)."""
    user, post = current_user(request), request.POST
    agreements, terminations = "employment:school-agreements", "employment:school-terminations"
    if op == "pass":
        info = {key: post.get(key, "") for key in SCHOOL_COMPLETES}
        do_pass_agreement(
            agreement,
            employer_info=info,
            seal_uuid=post.get("seal", ""),
            pin=post.get("pin", "").strip(),
            actor=user,
            meta=meta,
        )
        return Decision(_("签约鉴证通过。"), agreements)
    if op == "fail":
        do_fail_agreement(agreement, _reason(request), actor=user, meta=meta)
        return Decision(_("签约鉴证不通过。"), agreements)
    if op in ("review_pass", "review_fail"):
        passed = op == "review_pass"
        do_review_paper(agreement, passed=passed, reason=_reason(request), actor=user)
        return Decision(_("协议书审核通过。") if passed else _("协议书审核不通过。"), agreements)
    if op in ("paper_pass", "paper_fail"):
        passed = op == "paper_pass"
        do_decide_paper(agreement, passed=passed, reason=_reason(request), actor=user)
        return Decision(_("签约鉴证通过。") if passed else _("签约鉴证不通过。"), agreements)
    if op in ("termination_pass", "termination_fail"):
        if termination is None:
            raise WrongState(_("该协议当前没有等待解约鉴证的解约申请。"))
        passed = op == "termination_pass"
        do_decide_termination(
            termination,
            passed=passed,
            reason=_reason(request),
            pin=post.get("pin", "").strip(),
            seal_uuid=post.get("seal", ""),
            actor=user,
            meta=meta,
        )
        return Decision(_("解约鉴证通过。") if passed else _("解约鉴证不通过。"), terminations)
    raise Http404


@login_required
@require_http_methods(["GET", "POST"])
def agreement_view(request: HttpRequest, agreement_uuid: uuid.UUID) -> HttpResponse:
    """The agreement for the school: 学生信息, 单位信息, 签约信息, 档案信息, 户口信息, the
    uploaded files, 解约, 签约过程记录, and the decisions its state allows."""
    user = current_user(request)
    agreement, staff = _access(user, agreement_uuid)
    termination = school_queries.open_termination(agreement)
    posted: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        op = request.POST.get("op", "")
        try:
            done = _decide(request, op, agreement, termination, request_meta(request))
        except UserError as exc:
            add_message(request, exc)
            status = exc.status if 400 <= exc.status < 500 else 400
            # the page again, as it is now, with what was typed (never the PIN)
            posted = {
                key: request.POST.get(key, "")
                for key in request.POST
                if key not in ("pin", "csrfmiddlewaretoken")
            }
            agreement, staff = _access(user, agreement_uuid)
            termination = school_queries.open_termination(agreement)
        else:
            messages.success(
                request,
                _("协议书 %(number)s：%(message)s")
                % {"message": done.message, "number": agreement.number},
            )
            return HttpResponseRedirect(reverse(done.back))
    context: dict[str, Any] = {
        **school_context(staff, "agreements" if termination is None else "terminations"),
        **school_details.detail_context(agreement, termination, user, posted),
    }
    return render(request, "employment/school/agreement.html", context, status=status)


def _pdf(data: bytes, filename: str) -> HttpResponse:
    return file_response(
        data, filename=filename, content_type="application/pdf", inline=True,
        default_name="agreement.pdf",
    )  # fmt: skip


def _envelope_pdf(request: HttpRequest, envelope: Envelope, filename: str) -> HttpResponse:
    """The envelope's document as it is now (the signed final file once completed); the
    download is part of the envelope's audit trail."""
    document = envelope.documents.select_related("current").order_by("position", "id").first()
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
    return _pdf(data, filename)


@login_required
@require_GET
def agreement_pdf_view(request: HttpRequest, agreement_uuid: uuid.UUID) -> HttpResponse:
    """查看协议书: online, the envelope's PDF as it stands (with the seals and signatures so
    far); on paper, the agreement the student generated."""
    agreement, _staff = _access(current_user(request), agreement_uuid)
    filename = f"就业协议书-{agreement.number}.pdf"
    if agreement.envelope is not None:
        return _envelope_pdf(request, agreement.envelope, filename)
    if agreement.mode != Agreement.Mode.OFFLINE:
        raise Http404
    try:
        rendered = papers.agreement_pdf(agreement)
    except UserError as exc:  # a value the PDF cannot print: said on the agreement's page
        add_message(request, exc)
        return HttpResponseRedirect(reverse("employment:school-agreement", args=[agreement.uuid]))
    return _pdf(rendered.pdf, filename)


def _blob_response(blob: Blob, name: str) -> HttpResponse:
    extension = INLINE_TYPES.get(blob.content_type)
    if extension is None:
        return file_response(blob.read(), filename=name, content_type="application/octet-stream")
    return file_response(
        blob.read(), filename=f"{name}.{extension}", content_type=blob.content_type, inline=True
    )


@login_required
@require_GET
def feedback_view(request: HttpRequest, agreement_uuid: uuid.UUID, sha256: str) -> HttpResponse:
    """One file of the 反馈协议书 (the stamped paper agreement the student uploaded)."""
    agreement, _staff = _access(current_user(request), agreement_uuid)
    files = list(agreement.feedback.order_by("created_at", "sha256"))
    for number, blob in enumerate(files, start=1):
        if blob.sha256 == sha256:
            return _blob_response(blob, f"反馈协议书-{agreement.number}-{number}")
    raise Http404


def _termination(request: HttpRequest, termination_uuid: uuid.UUID) -> Termination:
    user = current_user(request)
    termination, roles = access_termination_by_uuid(user, termination_uuid)
    if "school" not in roles or staff_of(user, termination.agreement.student.school) is None:
        raise Http404
    return termination


@login_required
@require_GET
def termination_proof_view(request: HttpRequest, termination_uuid: uuid.UUID) -> HttpResponse:
    """The employer's stamped termination proof of a paper termination."""
    termination = _termination(request, termination_uuid)
    if termination.proof is None:
        raise Http404
    return _blob_response(termination.proof, f"解约证明-{termination.agreement.number}")


@login_required
@require_GET
def termination_letter_view(request: HttpRequest, termination_uuid: uuid.UUID) -> HttpResponse:
    """解约函: the letter's PDF as it stands (the parties' consents, the school's seal once
    passed)."""
    termination = _termination(request, termination_uuid)
    if termination.letter is None:
        raise Http404
    return _envelope_pdf(request, termination.letter, f"解约函-{termination.agreement.number}.pdf")


urlpatterns: list[URLPattern] = [
    path("school/agreements/", agreements_view, name="school-agreements"),
    path("school/terminations/", terminations_view, name="school-terminations"),
    path("agreements/<uuid:agreement_uuid>/school/", agreement_view, name="school-agreement"),
    path(
        "agreements/<uuid:agreement_uuid>/school/agreement.pdf",
        agreement_pdf_view,
        name="school-agreement-pdf",
    ),
    path(
        "agreements/<uuid:agreement_uuid>/school/feedback/<str:sha256>/",
        feedback_view,
        name="school-agreement-feedback",
    ),
    path(
        "terminations/<uuid:termination_uuid>/school/proof/",
        termination_proof_view,
        name="school-termination-proof",
    ),
    path(
        "terminations/<uuid:termination_uuid>/school/letter.pdf",
        termination_letter_view,
        name="school-termination-letter",
    ),
]
