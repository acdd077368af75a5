"""The employer's pages of the employment app (单位用户中心): the home with 单位基本信息,
签约待办 and 解约待办, first use (确认签约信息, 申请学校审核), and the URLs of 签约中心
(:mod:`.employer_signing`), 数据管理 (:mod:`.employer_data`) and 解约中心
(:mod:`.employer_terminations`)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from qianshu.core.errors import UserError, add_message, add_to_form
from qianshu.employment import employer_queries as eq
from qianshu.employment.actions.employers import do_confirm_profile, do_request_approval
from qianshu.employment.employer_forms import ApprovalForm, ProfileForm
from qianshu.employment.queries import is_approved_employer
from qianshu.employment.views import employer_data, employer_signing, employer_terminations
from qianshu.employment.views.employer_base import Employer, employer_page, page


@employer_page
def home_view(request: HttpRequest, employer: Employer) -> HttpResponse:
    """单位用户中心. First use: 确认签约信息, then 申请学校审核 until a school approves."""
    profile = eq.profile_of(employer.org)
    if profile is None:
        return HttpResponseRedirect(reverse("employment:employer-profile"))
    if not is_approved_employer(employer.org):
        return HttpResponseRedirect(reverse("employment:employer-approval"))
    context = {
        "profile": profile,
        "dashboard": eq.dashboard(employer.org),
        "approvals": list(eq.approvals_of(employer.org)),
        "last_login": employer.user.last_login,
    }
    return page(request, employer, "home.html", context, section="home")


@employer_page
@require_http_methods(["GET", "POST"])
def profile_view(request: HttpRequest, employer: Employer) -> HttpResponse:
    """确认签约信息: 档案接收信息, 户口接收信息 and basic information (the defaults of every
    邀请函; they can be changed here later)."""
    profile = eq.profile_of(employer.org)
    values = (
        {"basic": profile.basic, "archive": profile.archive, "hukou": profile.hukou}
        if profile
        else {}
    )
    form = ProfileForm(request.POST if request.method == "POST" else None, values=values)
    if request.method == "POST" and form.is_valid():
        try:
            do_confirm_profile(
                employer.org,
                basic=form.section("basic"),
                archive=form.section("archive"),
                hukou=form.section("hukou"),
                actor=employer.user,
            )
        except UserError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _("签约信息已确认。"))
            return HttpResponseRedirect(reverse("employment:employer-home"))
    context = {"form": form, "first_use": profile is None}
    status = 400 if form.errors else 200
    return page(request, employer, "profile.html", context, section="profile", status=status)


@employer_page
@require_http_methods(["GET", "POST"])
def approval_view(request: HttpRequest, employer: Employer) -> HttpResponse:
    """申请学校审核: an employer approved by any school may invite every school's students;
    each request's status and a refusal's reason."""
    form = ApprovalForm(eq.schools_to_ask(employer.org), request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                do_request_approval(form.cleaned_data["school"], employer.org, actor=employer.user)
            except UserError as exc:
                add_message(request, exc)
            else:
                messages.success(request, _("已提交审核申请，请等待学校审核。"))
            return HttpResponseRedirect(reverse("employment:employer-approval"))
    context = {
        "form": form,
        "approvals": list(eq.approvals_of(employer.org)),
        "approved": is_approved_employer(employer.org),
        "has_profile": eq.profile_of(employer.org) is not None,
    }
    status = 400 if form.errors else 200
    return page(request, employer, "approval.html", context, section="approval", status=status)


urlpatterns: list[URLPattern] = [
    path("employer/", home_view, name="employer-home"),
    path("employer/profile/", profile_view, name="employer-profile"),
    path("employer/approval/", approval_view, name="employer-approval"),
    *employer_signing.urlpatterns,
    *employer_data.urlpatterns,
    *employer_terminations.urlpatterns,
]
