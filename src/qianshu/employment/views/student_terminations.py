"""解约办理 (the student's side): the agreements in force with 解约申请 (解约须知, reason and
签署密码; on paper a reason and the employer's stamped 解约证明), 查看解约 of the employer's
application (同意解约 / 不同意), each termination's state and the 解约函."""

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
from qianshu.core.downloads import file_response
from qianshu.core.errors import UserError, add_to_form
from qianshu.core.meta import request_meta
from qianshu.core.requests import current_user
from qianshu.employment import student_queries as queries
from qianshu.employment.access import access_agreement_by_uuid, access_termination_by_uuid
from qianshu.employment.actions.terminations import (
    do_answer_termination,
    do_apply_paper_termination,
    do_apply_termination,
)
from qianshu.employment.errors import EmploymentError
from qianshu.employment.models import Agreement, Termination
from qianshu.employment.student_forms import AnswerForm, PaperTerminationForm, TerminationForm
from qianshu.employment.student_uploads import store_uploads
from qianshu.employment.views.student_common import require_entry, student_context
from qianshu.envelopes.actions.lifecycle import do_record_download
from qianshu.envelopes.confirmations import needs_code

TEMPLATES = "employment/student/"


def _done() -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("employment:student-terminations"))


@login_required
@require_GET
def terminations_view(request: HttpRequest) -> HttpResponse:
    """解约办理: the student's agreement in force (and earlier ones), with what can be done."""
    user = current_user(request)
    entry = require_entry(user)
    rows = queries.termination_rows(entry)
    forms = {
        row.agreement.pk: TerminationForm(auto_id=f"id_%s_{row.agreement.pk}")
        for row in rows
        if row.in_force and row.agreement.mode == Agreement.Mode.ONLINE
    }
    context = student_context(
        entry,
        "terminations",
        rows=[(row, forms.get(row.agreement.pk)) for row in rows],
        terminated=queries.has_terminated(entry),
        needs_pin=needs_code(user),
    )
    return render(request, TEMPLATES + "terminations.html", context)


def _agreement(user: User, agreement_uuid: uuid.UUID) -> Agreement:
    agreement, roles = access_agreement_by_uuid(user, agreement_uuid)
    if "student" not in roles:
        raise Http404
    return agreement


def _apply(request: HttpRequest, agreement: Agreement, form: Any) -> None:
    user, meta = current_user(request), request_meta(request)
    if agreement.mode == Agreement.Mode.OFFLINE:
        [proof] = store_uploads([form.cleaned_data["proof"]], "proof", limit=1)
        do_apply_paper_termination(
            agreement, form.cleaned_data["reason"], proof, actor=user, meta=meta
        )
        messages.success(request, _("解约申请已提交，等待学校解约鉴证。"))
        return
    do_apply_termination(
        agreement,
        Termination.Side.STUDENT,
        form.cleaned_data["reason"],
        pin=form.cleaned_data["pin"].strip(),
        actor=user,
        meta=meta,
    )
    messages.success(request, _("解约申请已发送至单位，等待单位处理。"))


@login_required
@require_http_methods(["GET", "POST"])
def apply_view(request: HttpRequest, agreement_uuid: uuid.UUID) -> HttpResponse:
    """解约申请: online, the 解约须知 accepted, a reason and the 签署密码 (the 解约函 is signed);
    on paper, a reason and the employer's stamped 解约证明."""
    user = current_user(request)
    agreement = _agreement(user, agreement_uuid)
    paper = agreement.mode == Agreement.Mode.OFFLINE
    data = request.POST if request.method == "POST" else None
    form: TerminationForm | PaperTerminationForm = (
        PaperTerminationForm(data, request.FILES or None) if paper else TerminationForm(data)
    )
    if request.method == "POST" and form.is_valid():
        try:
            _apply(request, agreement, form)
        except UserError as exc:
            add_to_form(form, exc)
        else:
            return _done()
    context = student_context(
        agreement.student,
        "terminations",
        agreement=agreement,
        form=form,
        paper=paper,
        terminated=queries.has_terminated(agreement.student),
        needs_pin=needs_code(user),
    )
    status = 400 if form.errors else 200
    return render(request, TEMPLATES + "termination_apply.html", context, status=status)


def _termination(user: User, termination_uuid: uuid.UUID) -> Termination:
    termination, roles = access_termination_by_uuid(user, termination_uuid)
    if "student" not in roles:
        raise Http404
    return termination


def _answer(request: HttpRequest, termination: Termination, op: str, form: AnswerForm) -> None:
    user, meta = current_user(request), request_meta(request)
    if not form.is_valid():
        raise EmploymentError(_("请检查填写的内容。"))
    if op == "agree":
        if not form.cleaned_data["rules"]:
            raise EmploymentError(_("请先阅读并勾选同意解约须知。"), field="rules")
        do_answer_termination(
            termination, agree=True, pin=form.cleaned_data["pin"].strip(), actor=user, meta=meta
        )
        messages.success(request, _("已同意解约，等待学校解约鉴证。"))
    else:
        do_answer_termination(
            termination, agree=False, reason=form.cleaned_data["reason"], actor=user, meta=meta
        )
        messages.success(request, _("已不同意解约，协议继续有效。"))


@login_required
@require_http_methods(["GET", "POST"])
def termination_view(request: HttpRequest, termination_uuid: uuid.UUID) -> HttpResponse:
    """查看解约: the application and its state; when the employer applied and waits for the
    student, 同意解约 (解约须知, 签署密码) or 不同意."""
    user = current_user(request)
    termination = _termination(user, termination_uuid)
    op = request.POST.get("op", "") if request.method == "POST" else ""
    if request.method == "POST" and op not in ("agree", "refuse"):
        raise Http404
    form = AnswerForm(request.POST if op else None)
    if op:
        try:
            _answer(request, termination, op, form)
        except UserError as exc:
            add_to_form(form, exc)
        else:
            return _done()
    agreement = termination.agreement
    waiting = (
        termination.status == Termination.Status.APPLIED
        and termination.side == Termination.Side.EMPLOYER
    )
    context = student_context(
        agreement.student,
        "terminations",
        termination=termination,
        agreement=agreement,
        waiting=waiting,
        form=form,
        op=op,
        needs_pin=needs_code(user),
        terminated=queries.has_terminated(agreement.student),
    )
    status = 400 if form.errors else 200
    return render(request, TEMPLATES + "termination.html", context, status=status)


@login_required
@require_GET
def letter_view(request: HttpRequest, termination_uuid: uuid.UUID) -> HttpResponse:
    """解约函: the termination letter as it stands (signed by the school once passed)."""
    user = current_user(request)
    termination = _termination(user, termination_uuid)
    envelope = termination.letter
    if envelope is None:
        raise Http404
    document = envelope.documents.select_related("current").order_by("pk").first()
    if document is None:
        raise Http404
    data = document.current.read()
    do_record_download(
        envelope, "document", actor=user, meta=request_meta(request), document=document
    )
    return file_response(
        data,
        filename=f"解约函-{termination.agreement.number}.pdf",
        content_type="application/pdf",
        inline=request.GET.get("download") != "1",
    )


urlpatterns: list[URLPattern] = [
    path("student/terminations/", terminations_view, name="student-terminations"),
    path(
        "student/terminations/apply/<uuid:agreement_uuid>/",
        apply_view,
        name="student-termination-apply",
    ),
    path(
        "student/terminations/<uuid:termination_uuid>/",
        termination_view,
        name="student-termination",
    ),
    path(
        "student/terminations/<uuid:termination_uuid>/letter.pdf",
        letter_view,
        name="student-termination-letter",
    ),
]
