"""运营后台: 组织认证审核 — organisations waiting for an operator (a payment to the platform to
confirm, a manual review, or a method's proof that cannot verify the organisation by itself),
with the licence inline, the business-registry answer, the method's proof and the verified
organisations of the same name; approve, or reject with a reason."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from qianshu.accounts.models import User
from qianshu.backoffice.decorators import staff_required
from qianshu.backoffice.forms import RejectForm
from qianshu.backoffice.school_views import MarkSchoolForm
from qianshu.core.meta import request_meta
from qianshu.employment.models import School
from qianshu.orgs.access import access_org_for_review
from qianshu.orgs.actions.review import do_approve_org, do_reject_org
from qianshu.orgs.licences import PDF
from qianshu.orgs.models import Membership, OrgAction, Organization, OrgEvent
from qianshu.orgs.people import IDENTITY
from qianshu.orgs.queries import orgs_awaiting_review
from qianshu.orgs.registry_checks import review_reasons, same_name_orgs
from qianshu.orgs.verification import OrgError, open_verification
from qianshu.orgs.verification_deposits import platform_account
from qianshu.orgs.verification_views import licence_response

RECENT_DECISIONS = 20

# One-click rejection reasons (sent to the administrators by SMS as they are).
ORG_PRESET_REASONS = (
    gettext_lazy("营业执照模糊或不完整，无法辨认"),
    gettext_lazy("组织机构名称或统一社会信用代码与营业执照不一致"),
    gettext_lazy("法定代表人与营业执照不一致"),
    gettext_lazy("未收到对公打款或打款金额、备注不符"),
)


def _staff(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@staff_required
def org_queue_view(request: HttpRequest) -> HttpResponse:
    """Organisations waiting for an operator (oldest first), and the latest decisions."""
    pending = list(orgs_awaiting_review().select_related("created_by"))
    for org in pending:
        org.pending = open_verification(org)  # type: ignore[attr-defined]
    recent = (
        OrgEvent.objects.filter(
            action__in=[OrgAction.OPERATOR_APPROVED, OrgAction.OPERATOR_REJECTED]
        )
        .select_related("org", "actor")
        .order_by("-created_at")[:RECENT_DECISIONS]
    )
    return render(
        request,
        "backoffice/org_queue.html",
        {"pending": pending, "recent": recent, "nav": "backoffice"},
    )


@staff_required
@never_cache
def org_review_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """One organisation: the licence inline, the declared data, the payment to confirm."""
    org = access_org_for_review(_staff(request), org_uuid)
    admins = Membership.objects.filter(org=org, role=Membership.Role.ADMIN).select_related(
        "user", f"user__{IDENTITY}"
    )
    current = open_verification(org) or org.verifications.first()
    return render(
        request,
        "backoffice/org_review.html",
        {
            "org": org,
            "pending": open_verification(org),
            "current": current,
            "reasons": review_reasons(org, current) if current else [],
            "same_name": same_name_orgs(org),
            "admins": admins,
            "account": platform_account(),
            "events": org.events.select_related("actor", f"actor__{IDENTITY}")[:30],
            "licence_is_pdf": bool(org.licence and org.licence.content_type == PDF),
            "form": RejectForm(),
            "presets": ORG_PRESET_REASONS,
            "awaiting": org.needs_review and org.status == Organization.Status.PENDING,
            "school": School.objects.filter(org=org).first(),
            "school_form": MarkSchoolForm(),
            "nav": "backoffice",
        },
    )


@staff_required
@never_cache
def org_licence_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponseBase:
    org = access_org_for_review(_staff(request), org_uuid)
    return licence_response(
        org, preview=request.GET.get("preview") == "1", meta=request_meta(request)
    )


@staff_required
@require_POST
def org_decide_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """通过 or 驳回 (with a reason); the first of two simultaneous decisions wins."""
    actor = _staff(request)
    org = access_org_for_review(actor, org_uuid)
    decision = request.POST.get("decision")
    try:
        if decision == "approve":
            do_approve_org(org, actor=actor, meta=request_meta(request))
            messages.success(request, _("已通过“%(name)s”的组织机构认证。") % {"name": org.name})
        elif decision == "reject":
            form = RejectForm(request.POST)
            if not form.is_valid():
                first_errors = next(iter(form.errors.values()))
                messages.error(request, str(first_errors[0]))
                return redirect("backoffice:org-review", org_uuid=org.uuid)
            do_reject_org(
                org, form.cleaned_data["final_reason"], actor=actor, meta=request_meta(request)
            )
            messages.success(request, _("已驳回“%(name)s”的组织机构认证。") % {"name": org.name})
        else:
            messages.error(request, _("请选择通过或驳回。"))
            return redirect("backoffice:org-review", org_uuid=org.uuid)
    except OrgError as exc:
        messages.error(request, str(exc))
        return redirect("backoffice:org-review", org_uuid=org.uuid)
    following = orgs_awaiting_review().first()
    if following is not None:
        return redirect("backoffice:org-review", org_uuid=following.uuid)
    return redirect("backoffice:org-queue")
