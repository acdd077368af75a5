"""解约中心 → 解约办理, with the manual's two tabs: 学生提出解约待办理列表 (查看解约申请 → 解约须知
→ 同意解约 with the seal and 签署密码, or 不同意 with a reason) and 已签约成功学生列表 (tick
students → 申请解约 → 解约须知, its checkbox, the reason, the seal and 签署密码: one application
per ticked student, each one's result shown)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from qianshu.accounts.decorators import login_required
from qianshu.core.errors import UserError, add_to_form
from qianshu.core.meta import request_meta
from qianshu.core.requests import current_user
from qianshu.employment import employer_queries as eq
from qianshu.employment.access import access_termination_by_uuid
from qianshu.employment.actions.terminations import do_answer_termination, do_apply_termination
from qianshu.employment.employer_forms import (
    AgreeTerminationForm,
    ApplyTerminationForm,
    RefuseTerminationForm,
)
from qianshu.employment.models import Agreement, Termination
from qianshu.employment.views.employer_base import Employer, employer_page, keep, kept, page
from qianshu.envelopes.errors import ConfirmationError

APPLIED = "employment_terminations_applied"


@employer_page
@require_GET
def terminations_view(request: HttpRequest, employer: Employer) -> HttpResponse:
    """解约办理: the two tabs, and the result of the last 申请解约."""
    tab = "signed" if request.GET.get("tab") == "signed" else "students"
    context = {
        "tab": tab,
        "waiting": list(eq.terminations_to_answer(employer.org)),
        "signed": list(eq.signed_agreements(employer.org)) if tab == "signed" else [],
        "history": list(eq.terminations_of(employer.org)[:100]),
        "applied": kept(request, APPLIED, employer, pop=True) or [],
    }
    return page(request, employer, "terminations.html", context, section="terminations")


def _back(tab: str = "signed") -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("employment:employer-terminations") + f"?tab={tab}")


@employer_page
@require_http_methods(["GET", "POST"])
def apply_view(request: HttpRequest, employer: Employer) -> HttpResponse:
    """申请解约 for the ticked students of 已签约成功学生列表."""
    source = request.POST if request.method == "POST" else request.GET
    agreements = eq.signed_by_uuid(employer.org, source.getlist("agreement"))
    if not agreements:
        messages.error(request, _("请先勾选要解约的学生。"))
        return _back()
    form = ApplyTerminationForm(
        employer.seals(), request.POST if request.method == "POST" else None
    )
    if request.method == "POST" and form.is_valid():
        results = _apply_each(request, employer, agreements, form)
        if results is not None:
            keep(request, APPLIED, employer, results)
            return _back()
    context = {"agreements": agreements, "form": form}
    status = 400 if form.errors else 200
    return page(request, employer, "apply.html", context, section="terminations", status=status)


def _apply_each(
    request: HttpRequest,
    employer: Employer,
    agreements: list[Agreement],
    form: ApplyTerminationForm,
) -> list[dict[str, Any]] | None:
    """One application per agreement; None (the form shows why) when the 签署密码 or the
    reason is refused before anything was sent."""
    results: list[dict[str, Any]] = []
    for agreement in agreements:
        try:
            do_apply_termination(
                agreement,
                Termination.Side.EMPLOYER,
                form.cleaned_data["reason"],
                pin=form.cleaned_data["pin"],
                seal_uuid=form.cleaned_data["seal"],
                actor=employer.user,
                meta=request_meta(request),
            )
        except UserError as exc:
            if not results and (isinstance(exc, ConfirmationError) or exc.field):
                add_to_form(
                    form, exc, field="pin" if isinstance(exc, ConfirmationError) else exc.field
                )
                return None
            results.append({"name": agreement.student.name, "ok": False, "problem": exc.message})
        else:
            results.append({"name": agreement.student.name, "ok": True, "problem": ""})
    return results


def _employer_termination(request: HttpRequest, termination_uuid: uuid.UUID) -> Termination:
    termination, roles = access_termination_by_uuid(current_user(request), termination_uuid)
    if "employer" not in roles:
        raise Http404
    return termination


@login_required
@require_http_methods(["GET", "POST"])
def termination_view(request: HttpRequest, termination_uuid: uuid.UUID) -> HttpResponse:
    """查看解约申请: the student's reason, the 解约须知, 同意解约 (seal and 签署密码) or 不同意
    (with a reason); view-only once answered or when the employer applied itself."""
    termination = _employer_termination(request, termination_uuid)
    agreement = termination.agreement
    assert agreement.employer is not None
    employer = Employer(current_user(request), agreement.employer)
    answerable = (
        termination.side == Termination.Side.STUDENT
        and termination.status == Termination.Status.APPLIED
    )
    op = request.POST.get("op", "") if request.method == "POST" else ""
    if op and not answerable:
        messages.error(request, _("该解约申请已办理。"))
        return HttpResponseRedirect(request.path)
    agree = AgreeTerminationForm(employer.seals(), request.POST if op == "agree" else None)
    refuse = RefuseTerminationForm(request.POST if op == "refuse" else None)
    form = agree if op == "agree" else refuse
    if op not in ("", "agree", "refuse"):
        raise Http404
    if op and form.is_valid():
        try:
            do_answer_termination(
                termination,
                agree=op == "agree",
                pin=agree.cleaned_data.get("pin", "") if op == "agree" else "",
                seal_uuid=agree.cleaned_data.get("seal", "") if op == "agree" else "",
                reason=refuse.cleaned_data.get("reason", "") if op == "refuse" else "",
                actor=employer.user,
                meta=request_meta(request),
            )
        except UserError as exc:
            add_to_form(form, exc, field="pin" if isinstance(exc, ConfirmationError) else None)
        else:
            messages.success(
                request,
                _("已同意解约，等待学校解约鉴证。") if op == "agree" else _("已回复不同意解约。"),
            )
            return _back("students")
    context = {
        "termination": termination,
        "agreement": agreement,
        "answerable": answerable,
        "agree": agree,
        "refuse": refuse,
        "op": op,
    }
    status = 400 if op and form.errors else 200
    return page(
        request, employer, "termination.html", context, section="terminations", status=status
    )


urlpatterns: list[URLPattern] = [
    path("employer/terminations/", terminations_view, name="employer-terminations"),
    path("employer/terminations/apply/", apply_view, name="employer-termination-apply"),
    path(
        "terminations/<uuid:termination_uuid>/employer/",
        termination_view,
        name="employer-termination",
    ),
]
