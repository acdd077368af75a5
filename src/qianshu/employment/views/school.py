"""The school's pages of the employment app (就业管理): the home page with its 待办 counts and
单位审核 here; 学生名单 and 导入学生名单 in ``school_roster``; 签约管理, the agreement's page
(鉴证) and 解约管理 in ``school_agreements``."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from qianshu.accounts.decorators import login_required
from qianshu.core.errors import UserError, add_message
from qianshu.core.requests import current_user
from qianshu.employment import school_queries
from qianshu.employment.access import schools_of
from qianshu.employment.actions.employers import do_decide_employer
from qianshu.employment.models import EmployerApproval
from qianshu.employment.views import school_agreements, school_roster
from qianshu.employment.views.school_base import acting_staff, require_staff, school_context
from qianshu.orgs.models import Organization

ApprovalStatus = EmployerApproval.Status


@login_required
def home_view(request: HttpRequest) -> HttpResponse:
    """就业管理: 签约待办 and 解约待办 of the school the viewer acts for; for anybody acting
    otherwise, a page saying so (and which schools they could switch to)."""
    staff = acting_staff(request)
    if staff is None:
        schools = list(schools_of(current_user(request)))
        context = {"nav": "employment", "schools": schools}
        return render(request, "employment/school/not_school.html", context)
    counts = school_queries.counts(staff)
    return render(
        request, "employment/school/home.html", {**school_context(staff, "home"), "counts": counts}
    )


@login_required
def employers_view(request: HttpRequest) -> HttpResponse:
    """单位审核: the employers that asked the school for approval, by state."""
    staff = require_staff(request)
    tab = request.GET.get("tab", ApprovalStatus.PENDING)
    if tab not in ApprovalStatus.values:
        tab = ApprovalStatus.PENDING
    counts = {
        status: school_queries.employer_approvals(staff, status).count()
        for status in ApprovalStatus.values
    }
    context = {
        **school_context(staff, "employers"),
        "tab": tab,
        "tabs": [(value, label, counts[value]) for value, label in ApprovalStatus.choices],
        "approvals": school_queries.employer_approvals(staff, tab)[:200],
    }
    return render(request, "employment/school/employers.html", context)


@login_required
@require_POST
def employer_decide_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """审核通过 / 审核不通过 (with a reason) of one employer that asked this school."""
    staff = require_staff(request, school_admin=True)
    approval = (
        EmployerApproval.objects.filter(school=staff.school, employer__uuid=org_uuid)
        .select_related("employer")
        .first()
    )
    if approval is None:
        raise Http404
    employer: Organization = approval.employer
    decision = request.POST.get("decision")
    if decision not in ("approve", "refuse"):
        raise Http404
    back = reverse("employment:school-employers") + f"?tab={approval.status}"
    try:
        do_decide_employer(
            staff.school,
            employer,
            approve=decision == "approve",
            reason=request.POST.get("reason", ""),
            actor=current_user(request),
        )
    except UserError as exc:
        add_message(request, exc)
        return HttpResponseRedirect(back)
    if decision == "approve":
        messages.success(request, _("“%(name)s”已审核通过。") % {"name": employer.name})
    else:
        messages.success(request, _("“%(name)s”审核不通过。") % {"name": employer.name})
    return HttpResponseRedirect(back)


urlpatterns: list[URLPattern] = [
    path("school/", home_view, name="school-home"),
    path("school/employers/", employers_view, name="school-employers"),
    path(
        "school/employers/<uuid:org_uuid>/decide/",
        employer_decide_view,
        name="school-employer-decide",
    ),
    *school_roster.urlpatterns,
    *school_agreements.urlpatterns,
]
