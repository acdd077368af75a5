"""The student's pages of the employment app (学生用户中心): 信息验证, the centre, 线上签约 and
the 邀请函 (同意 with the repeated confirmation, 拒绝). 解约办理 and 线下签约 are in
:mod:`.student_terminations` and :mod:`.student_paper`; their URLs are listed here."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from qianshu.accounts.decorators import login_required
from qianshu.accounts.models import User
from qianshu.accounts.signatures import decode_png_data_url, prepare_drawn_signature
from qianshu.core.downloads import file_response
from qianshu.core.errors import UserError, add_message
from qianshu.core.meta import request_meta
from qianshu.core.requests import current_user
from qianshu.employment import papers
from qianshu.employment import student_queries as queries
from qianshu.employment.access import access_agreement_by_uuid
from qianshu.employment.actions.agreements import do_accept_invitation, do_reject_invitation
from qianshu.employment.actions.students import do_verify_student
from qianshu.employment.errors import EmploymentError
from qianshu.employment.models import Agreement
from qianshu.employment.student_forms import (
    AcceptForm,
    RejectForm,
    StudentNoVerifyForm,
)
from qianshu.employment.views import student_paper, student_terminations
from qianshu.employment.views.student_common import require_entry, sections_of, student_context
from qianshu.envelopes.actions.lifecycle import do_record_download
from qianshu.envelopes.confirmations import needs_code
from qianshu.identity.access import verified_identity

# --- 学生用户中心 and 信息验证 -----------------------------------------------------------------


@login_required
@require_GET
def home_view(request: HttpRequest) -> HttpResponse:
    """学生用户中心: 学生基本信息, 已收邀约, 解约待办 (信息验证 first when not yet done)."""
    user = current_user(request)
    entry = queries.current_entry(user)
    if entry is None:
        return HttpResponseRedirect(reverse("employment:student-verify"))
    context = student_context(
        entry,
        "home",
        record=queries.current_record(entry),
        invitations=queries.open_invitation_count(entry),
        todo=queries.termination_todo_count(entry),
        binding=queries.binding_agreement(entry),
    )
    return render(request, "employment/student/home.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def verify_view(request: HttpRequest) -> HttpResponse:
    """信息验证: by the verified real name and ID number (one button), or, for a school that
    checks 学号, by the school, 学号 and 姓名. A refusal never says which item was wrong."""
    user = current_user(request)
    schools = queries.student_no_schools()
    op = request.POST.get("op") if request.method == "POST" else None
    form = StudentNoVerifyForm(request.POST if op == "student_no" else None, schools=schools)
    error = ""
    if op in ("id_number", "student_no"):
        try:
            if op == "id_number":
                do_verify_student(actor=user)
            elif form.is_valid():
                do_verify_student(
                    school=form.cleaned_data["school"],
                    student_no=form.cleaned_data["student_no"],
                    name=form.cleaned_data["name"],
                    actor=user,
                )
            else:
                raise EmploymentError(_("请填写完整的验证信息。"))
        except UserError as exc:
            error = exc.message
        else:
            messages.success(request, _("信息验证通过。"))
            return HttpResponseRedirect(reverse("employment:student-home"))
    elif op is not None:
        raise Http404
    context = student_context(
        queries.current_entry(user),
        "verify",
        identity=verified_identity(user),
        id_mode=queries.has_id_number_schools(),
        form=form if schools.exists() else None,
        op=op,
        error=error,
    )
    return render(request, "employment/student/verify.html", context, status=400 if error else 200)


# --- 线上签约 -----------------------------------------------------------------------------


@login_required
@require_GET
def invitations_view(request: HttpRequest) -> HttpResponse:
    """线上签约: every invitation; once one binds the student, the others are view-only."""
    entry = require_entry(current_user(request))
    binding = queries.binding_agreement(entry)
    rows = [(a, queries.is_open(a) and binding is None) for a in queries.invitations(entry)]
    context = student_context(entry, "invitations", rows=rows, binding=binding)
    return render(request, "employment/student/invitations.html", context)


def _student_agreement(user: User, agreement_uuid: uuid.UUID) -> Agreement:
    agreement, roles = access_agreement_by_uuid(user, agreement_uuid)
    if "student" not in roles:
        raise Http404
    return agreement


def _drawn(text: str) -> bytes | None:
    return prepare_drawn_signature(decode_png_data_url(text)).png if text else None


def _answer(request: HttpRequest, agreement: Agreement, op: str, form: Any) -> None:
    """同意 (after 现在签约) or 拒绝: raises :class:`UserError` when refused."""
    user, meta = current_user(request), request_meta(request)
    if not form.is_valid():
        raise EmploymentError(_("请检查填写的内容。"))
    if op == "reject":
        do_reject_invitation(agreement, form.cleaned_data["reason"], actor=user, meta=meta)
        messages.success(request, _("已拒绝该单位的签约邀请。"))
        return
    if not form.cleaned_data["now"]:
        raise EmploymentError(_("请先确认现在签约。"))
    do_accept_invitation(
        agreement,
        pin=form.cleaned_data["pin"].strip(),
        signature_png=_drawn(form.cleaned_data["signature"]),
        actor=user,
        meta=meta,
    )
    messages.success(request, _("已同意签约，协议书已签名，等待学校签约鉴证。"))


@login_required
@require_http_methods(["GET", "POST"])
def agreement_view(request: HttpRequest, agreement_uuid: uuid.UUID) -> HttpResponse:
    """邀请函: the letter, the agreement PDF, 签约过程记录; 同意 (现在签约, signature and
    签署密码) or 拒绝 while the invitation is open and nothing else binds the student."""
    user = current_user(request)
    agreement = _student_agreement(user, agreement_uuid)
    op = request.POST.get("op", "") if request.method == "POST" else ""
    if request.method == "POST" and op not in ("accept", "reject"):
        raise Http404
    accept = AcceptForm(request.POST if op == "accept" else None)
    reject = RejectForm(request.POST if op == "reject" else None)
    error = ""
    if op:
        try:
            _answer(request, agreement, op, accept if op == "accept" else reject)
        except UserError as exc:
            error = exc.message
        else:
            return HttpResponseRedirect(reverse("employment:student-invitations"))
    binding = queries.binding_agreement(agreement.student)
    bound_elsewhere = binding is not None and binding.pk != agreement.pk
    signature = user.signatures.order_by("-is_default", "-created_at").first()
    step = op or request.GET.get("step", "")
    context = student_context(
        agreement.student,
        "invitations",
        agreement=agreement,
        sections=sections_of(agreement),
        events=list(agreement.events.select_related("actor").all()),
        answerable=queries.is_open(agreement) and not bound_elsewhere,
        bound_elsewhere=bound_elsewhere,
        has_pdf=agreement.envelope_id is not None or agreement.mode == Agreement.Mode.OFFLINE,
        signature=signature,
        needs_pin=needs_code(user),
        accept=accept,
        reject=reject,
        step=step if step in ("confirm", "accept", "reject") else "",
        error=error,
    )
    return render(
        request, "employment/student/agreement.html", context, status=400 if error else 200
    )


@login_required
@require_GET
def agreement_pdf_view(request: HttpRequest, agreement_uuid: uuid.UUID) -> HttpResponse:
    """The agreement PDF: the envelope's current document (with the signatures so far), or,
    for a paper agreement, the 协议书 generated from what the student entered."""
    user = current_user(request)
    agreement = _student_agreement(user, agreement_uuid)
    name = f"就业协议书-{agreement.number}.pdf"
    if agreement.envelope is not None:
        document = agreement.envelope.documents.select_related("current").order_by("pk").first()
        if document is None:
            raise Http404
        data = document.current.read()
        do_record_download(
            agreement.envelope,
            "document",
            actor=user,
            meta=request_meta(request),
            document=document,
        )
    elif agreement.mode == Agreement.Mode.OFFLINE:
        try:
            data = papers.agreement_pdf(agreement).pdf
        except UserError as exc:
            add_message(request, exc)
            return HttpResponseRedirect(reverse("employment:student-paper"))
    else:
        raise Http404
    inline = request.GET.get("download") != "1"
    return file_response(data, filename=name, content_type="application/pdf", inline=inline)


urlpatterns: list[URLPattern] = [
    path("student/", home_view, name="student-home"),
    path("student/verify/", verify_view, name="student-verify"),
    path("student/invitations/", invitations_view, name="student-invitations"),
    path("agreements/<uuid:agreement_uuid>/student/", agreement_view, name="student-agreement"),
    path(
        "agreements/<uuid:agreement_uuid>/student/pdf/",
        agreement_pdf_view,
        name="student-agreement-pdf",
    ),
    *student_terminations.urlpatterns,
    *student_paper.urlpatterns,
]
