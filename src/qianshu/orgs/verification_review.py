"""人工审核: organisations waiting for a platform operator (a payment to the platform to confirm,
a licence to check, or a method's proof that cannot verify the organisation by itself: no
business-registry pass, a verified organisation of the same name, an overseas organisation),
and the operator's decision — the first of two decisions wins. An operator's approval is the
one way to verify an organisation without a registry pass; it is an ``operator_approved``
event naming the operator."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.orgs import registry_checks
from qianshu.orgs.audit import record_org_event
from qianshu.orgs.models import OrgAction, Organization, OrgVerification
from qianshu.orgs.verification import (
    OPEN,
    OrgAlreadyVerified,
    OrgReviewAlreadyDecided,
    clean_reason,
    lock_org,
    mark_verified,
    reject_org,
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
    """Send the organisation to the operators, who check the licence and decide. The registry
    is asked too (its answer, even a mismatch, is for the operator to weigh), and verified
    organisations of the same name are told."""
    if org.is_verified:
        raise OrgAlreadyVerified()
    registry = registry_checks.run_registry_check(org, actor=actor, request=request)
    with transaction.atomic():
        org = lock_org(org)
        verification = start_verification(
            org, Method.OPERATOR, registry=registry, actor=actor, request=request
        )
        record_org_event(
            org,
            OrgAction.MANUAL_REVIEW_REQUESTED,
            actor=actor,
            request=request,
            registry=registry.result,
            verification=str(verification.uuid),
        )
        registry_checks.tell_same_name_orgs(org)
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
        raise OrgReviewAlreadyDecided()
    return locked


def do_approve_org(
    org: Organization, *, actor: User, request: HttpRequest | None = None
) -> Organization:
    """An operator approves: the licence is right (and, for 我给平台打款, the payment arrived);
    the organisation is verified whatever the registry said."""
    with transaction.atomic():
        org = _lock_for_decision(org)
        awaiting = Q(status=Status.REVIEW) | Q(
            status=Status.PENDING, method__in=[Method.DEPOSIT_TO_PLATFORM, Method.OPERATOR]
        )
        verification = (
            org.verifications.select_for_update().filter(awaiting).order_by("-created_at").first()
        )
        if verification is None:
            verification = OrgVerification.objects.create(
                org=org, method=Method.OPERATOR, created_by=actor
            )
        record_org_event(
            org,
            OrgAction.OPERATOR_APPROVED,
            actor=actor,
            request=request,
            method=verification.method,
            verification=str(verification.uuid),
            # What the operator overrode, for the record.
            registry=verification.registry_result,
            evidence=verification.evidence,
            same_name=[str(o.uuid) for o in registry_checks.same_name_orgs(org)],
        )
        mark_verified(org, verification, actor=actor, request=request, by_operator=True)
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
        org.verifications.filter(status__in=OPEN).update(
            status=Status.FAILED, reason=reason, decided_by=actor, decided_at=now
        )
        reject_org(org, reason)
        record_org_event(
            org, OrgAction.OPERATOR_REJECTED, actor=actor, request=request, reason=reason
        )
        tell_admins_rejected(org, reason)
    return org
