"""人工审核: organisations waiting for a platform operator (a payment to the platform to confirm,
or a licence to check), and the operator's decision — the first of two decisions wins."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.orgs.audit import record_org_event
from qianshu.orgs.models import Organization, OrgVerification
from qianshu.orgs.verification import (
    AlreadyDecided,
    clean_reason,
    lock_org,
    mark_verified,
    start_verification,
    tell_admins_rejected,
)

Method = Organization.Method
OrgStatus = Organization.Status
Status = OrgVerification.Status


# --- 人工审核 (back office) ---


def do_request_manual_review(
    org: Organization, *, actor: User, request: HttpRequest | None = None
) -> OrgVerification:
    """Send the organisation to the operators, who check the licence and decide."""
    with transaction.atomic():
        org = lock_org(org)
        verification = start_verification(org, Method.OPERATOR, actor=actor, request=request)
        record_org_event(
            org,
            "manual_review_requested",
            actor=actor,
            request=request,
            verification=str(verification.uuid),
        )
    return verification


def orgs_awaiting_review() -> QuerySet[Organization]:
    """The back-office queue: pending deposits to the platform and manual reviews, oldest
    first."""
    return Organization.objects.filter(needs_review=True, status=OrgStatus.PENDING).order_by(
        "created_at", "id"
    )


def access_org_for_review(actor: User, org_uuid: uuid.UUID) -> Organization:
    """Any organisation, for a platform operator."""
    if not (actor.is_active and actor.is_staff):
        raise Http404("no such organisation")
    org = Organization.objects.select_related("licence", "created_by").filter(uuid=org_uuid).first()
    if org is None:
        raise Http404("no such organisation")
    return org


def _lock_for_decision(org: Organization) -> Organization:
    # The row lock plus the state check make the first of two simultaneous decisions win.
    locked = Organization.objects.select_for_update().get(pk=org.pk)
    if not (locked.needs_review and locked.status == OrgStatus.PENDING):
        raise AlreadyDecided()
    return locked


def do_approve_org(
    org: Organization, *, actor: User, request: HttpRequest | None = None
) -> Organization:
    """An operator approves: the licence is right (and, for 我给平台打款, the payment arrived)."""
    with transaction.atomic():
        org = _lock_for_decision(org)
        verification = (
            org.verifications.select_for_update()
            .filter(status=Status.PENDING, method__in=[Method.DEPOSIT_TO_PLATFORM, Method.OPERATOR])
            .order_by("-created_at")
            .first()
        )
        if verification is None:
            verification = OrgVerification.objects.create(
                org=org, method=Method.OPERATOR, created_by=actor
            )
        record_org_event(
            org,
            "operator_approved",
            actor=actor,
            request=request,
            method=verification.method,
            verification=str(verification.uuid),
        )
        mark_verified(org, verification, actor=actor, request=request)
    return org


def do_reject_org(
    org: Organization, reason: str, *, actor: User, request: HttpRequest | None = None
) -> Organization:
    """An operator rejects with a reason the administrators read (SMS and verify page)."""
    reason = clean_reason(reason)
    if not reason:
        raise ValueError("a rejection needs a reason")
    with transaction.atomic():
        org = _lock_for_decision(org)
        now = timezone.now()
        org.verifications.filter(status=Status.PENDING).update(
            status=Status.FAILED, reason=reason, decided_by=actor, decided_at=now
        )
        org.status = OrgStatus.REJECTED
        org.rejected_reason = reason
        org.needs_review = False
        org.save(update_fields=["status", "rejected_reason", "needs_review"])
        record_org_event(org, "operator_rejected", actor=actor, request=request, reason=reason)
        tell_admins_rejected(org, reason)
    return org
