"""运营后台: queue overview and the manual identity review."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from qianshu.accounts.models import User
from qianshu.backoffice.decorators import staff_required
from qianshu.backoffice.forms import PRESET_REASONS, RejectForm
from qianshu.backoffice.queues import QUEUES
from qianshu.core.meta import request_meta
from qianshu.identity import access, actions
from qianshu.identity.errors import IdentityError
from qianshu.identity.models import VerificationAttempt
from qianshu.identity.views.verification import photo_response

RECENT_DECISIONS = 20


def _staff(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@staff_required
def home_view(request: HttpRequest) -> HttpResponse:
    queues = [{"queue": queue, "count": queue.count()} for queue in QUEUES]
    return render(request, "backoffice/home.html", {"queues": queues, "nav": "backoffice"})


@staff_required
def identity_queue_view(request: HttpRequest) -> HttpResponse:
    """Manual reviews waiting for a decision (oldest first), and the latest decisions."""
    pending = VerificationAttempt.objects.pending_review().select_related("user")
    recent = (
        VerificationAttempt.objects.filter(
            status__in=[VerificationAttempt.Status.APPROVED, VerificationAttempt.Status.REJECTED]
        )
        .select_related("user", "reviewer")
        .order_by("-reviewed_at")[:RECENT_DECISIONS]
    )
    return render(
        request,
        "backoffice/identity_queue.html",
        {"pending": pending, "recent": recent, "nav": "backoffice"},
    )


@staff_required
@never_cache
def identity_review_view(request: HttpRequest, attempt_uuid: uuid.UUID) -> HttpResponse:
    """One review: both photos inline and the declared data, with the full document number
    (the operator compares it with the photo; it is shown nowhere else)."""
    attempt = access.access_review_attempt(_staff(request), attempt_uuid)
    earlier = (
        VerificationAttempt.objects.filter(user_id=attempt.user_id)
        .exclude(pk=attempt.pk)
        .order_by("-created_at")[:10]
    )
    return render(
        request,
        "backoffice/identity_review.html",
        {
            "attempt": attempt,
            "id_number": attempt.id_number(),
            "earlier": earlier,
            "form": RejectForm(),
            "presets": PRESET_REASONS,
            "nav": "backoffice",
        },
    )


@staff_required
def identity_photo_view(
    request: HttpRequest, attempt_uuid: uuid.UUID, which: str
) -> HttpResponseBase:
    attempt = access.access_review_attempt(_staff(request), attempt_uuid)
    return photo_response(attempt, which)


@staff_required
@require_POST
def identity_decide_view(request: HttpRequest, attempt_uuid: uuid.UUID) -> HttpResponse:
    """通过 or 驳回 (with a reason); the first of two simultaneous decisions wins."""
    actor = _staff(request)
    attempt = access.access_review_attempt(actor, attempt_uuid)
    decision = request.POST.get("decision")
    meta = request_meta(request)
    try:
        if decision == "approve":
            actions.do_approve_verification(attempt.uuid, actor=actor, meta=meta)
            messages.success(request, _("已通过 %(name)s 的实名认证。") % {"name": attempt.name})
        elif decision == "reject":
            form = RejectForm(request.POST)
            if not form.is_valid():
                first_errors = next(iter(form.errors.values()))
                messages.error(request, str(first_errors[0]))
                return redirect("backoffice:identity-review", attempt_uuid=attempt.uuid)
            actions.do_reject_verification(
                attempt.uuid, form.cleaned_data["final_reason"], actor=actor, meta=meta
            )
            messages.success(request, _("已驳回 %(name)s 的实名认证。") % {"name": attempt.name})
        else:
            messages.error(request, _("请选择通过或驳回。"))
            return redirect("backoffice:identity-review", attempt_uuid=attempt.uuid)
    except IdentityError as exc:
        messages.error(request, str(exc))
        return redirect("backoffice:identity-review", attempt_uuid=attempt.uuid)
    following = VerificationAttempt.objects.pending_review().first()
    if following is not None:
        return redirect("backoffice:identity-review", attempt_uuid=following.uuid)
    return redirect("backoffice:identity-queue")
