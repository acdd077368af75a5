"""线下签约 (the student's side): 录入协议书 in four sections with 暂存, 预览协议书 and
保存并生成协议书 (two confirmations), then the paper agreement's state: 协议书审核, 审核不通过
(edit again), 待反馈 (print it, upload the stamped scan: 反馈协议书), 等待签约鉴证, 签约鉴证通过
/ 不通过 (upload again)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from qianshu.accounts.decorators import login_required
from qianshu.core.errors import UserError, add_to_form
from qianshu.core.requests import current_user, posted
from qianshu.employment import student_queries as queries
from qianshu.employment.actions.paper import (
    do_save_paper_draft,
    do_submit_paper,
    do_upload_feedback,
    missing_items,
)
from qianshu.employment.errors import EmploymentError
from qianshu.employment.models import Agreement, RosterEntry
from qianshu.employment.student_forms import FeedbackForm, PaperConfirmForm, PaperForm
from qianshu.employment.student_uploads import MAX_FILES, store_uploads
from qianshu.employment.views.student_common import require_entry, sections_of, student_context

Status = Agreement.Status
EDITABLE = (Status.PAPER_DRAFT, Status.PAPER_REVIEW_FAILED)
TEMPLATES = "employment/student/"


def _paper_page() -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("employment:student-paper"))


def _blocker_message(blocker: str) -> str:
    if blocker == "online":
        return _("您已有一份签约（线上签约或线下协议书）正在办理或已生效，不能再录入线下协议书。")
    return _("您已有就业信息，不能再录入线下协议书。")


@login_required
@require_http_methods(["GET", "POST"])
def paper_view(request: HttpRequest) -> HttpResponse:
    """线下签约: 录入协议书, or the paper agreement's state; 反馈协议书 (POST) while 待反馈."""
    user = current_user(request)
    entry = require_entry(user)
    paper = queries.paper_agreement(entry)
    form = FeedbackForm(posted(request), request.FILES or None)
    if request.method == "POST" and paper is None:
        return _paper_page()
    if request.method == "POST" and paper is not None and form.is_valid():
        try:
            files = store_uploads(request.FILES.getlist("scans"), "scans", limit=MAX_FILES)
            do_upload_feedback(paper, files, actor=user)
        except UserError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _("协议书已反馈，等待学校签约鉴证。"))
            return _paper_page()
    blocker = queries.paper_blocker(entry, paper)
    context = student_context(
        entry,
        "paper",
        paper=paper,
        blocker=_blocker_message(blocker) if blocker else "",
        editable=paper is not None and paper.status in EDITABLE and not blocker,
        sections=sections_of(paper) if paper is not None else [],
        events=list(paper.events.all()) if paper is not None else [],
        feedback=list(paper.feedback.all()) if paper is not None else [],
        form=form,
    )
    status = 400 if form.errors else 200
    return render(request, TEMPLATES + "paper.html", context, status=status)


def _editable(entry: RosterEntry) -> tuple[Agreement | None, str]:
    """The paper agreement the student may edit (None: a new one), or why not."""
    paper = queries.paper_agreement(entry)
    if paper is not None and paper.status not in EDITABLE:
        return paper, _("协议书已提交，当前不能修改。")
    blocker = queries.paper_blocker(entry, paper)
    return paper, _blocker_message(blocker) if blocker else ""


def _save(
    request: HttpRequest, entry: RosterEntry, paper: Agreement | None, form: PaperForm
) -> Agreement:
    sections = form.sections()
    return do_save_paper_draft(
        entry,
        terms=sections["terms"],
        employer=sections["employer"],
        archive=sections["archive"],
        hukou=sections["hukou"],
        agreement=paper,
        actor=current_user(request),
    )


@login_required
@require_http_methods(["GET", "POST"])
def edit_view(request: HttpRequest) -> HttpResponse:
    """录入协议书: 暂存 (continue later), 预览协议书 (saved, then the PDF in a new tab),
    保存并生成协议书 (saved, then the confirmation page)."""
    user = current_user(request)
    entry = require_entry(user)
    paper, refusal = _editable(entry)
    if refusal:
        messages.error(request, refusal)
        return _paper_page()
    op = request.POST.get("op", "save") if request.method == "POST" else ""
    initial = PaperForm.initial_of(
        {"terms": paper.terms, "employer": paper.employer_info, "archive": paper.archive,
         "hukou": paper.hukou} if paper is not None else {}
    )  # fmt: skip
    form = PaperForm(request.POST if op else None, initial=initial)
    if op and form.is_valid():
        try:
            paper = _save(request, entry, paper, form)
            missing = missing_items(paper) if op == "submit" else []
            if missing:
                raise EmploymentError(_("请填写：%(items)s。") % {"items": "、".join(missing)})
        except UserError as exc:
            add_to_form(form, exc)
        else:
            if op == "preview":
                return HttpResponseRedirect(
                    reverse("employment:student-agreement-pdf", args=[paper.uuid])
                )
            if op == "submit":
                return HttpResponseRedirect(reverse("employment:student-paper-confirm"))
            messages.success(request, _("已暂存，下次可继续填写。"))
            return HttpResponseRedirect(reverse("employment:student-paper-edit"))
    context = student_context(entry, "paper", paper=paper, form=form)
    status = 400 if form.errors else 200
    return render(request, TEMPLATES + "paper_edit.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def confirm_view(request: HttpRequest) -> HttpResponse:
    """保存并生成协议书, confirmed twice: this page (the entered values, the preview, a
    checkbox) and the button's own 确定 prompt; then to the school's 协议书审核."""
    user = current_user(request)
    entry = require_entry(user)
    paper, refusal = _editable(entry)
    if refusal or paper is None:
        if refusal:
            messages.error(request, refusal)
        return _paper_page()
    form = PaperConfirmForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            do_submit_paper(paper, actor=user)
        except UserError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _("协议书已生成，等待学校协议书审核。"))
            return _paper_page()
    context: dict[str, Any] = student_context(
        entry, "paper", paper=paper, form=form, sections=sections_of(paper)
    )
    status = 400 if form.errors else 200
    return render(request, TEMPLATES + "paper_confirm.html", context, status=status)


urlpatterns: list[URLPattern] = [
    path("student/paper/", paper_view, name="student-paper"),
    path("student/paper/edit/", edit_view, name="student-paper-edit"),
    path("student/paper/confirm/", confirm_view, name="student-paper-confirm"),
]
