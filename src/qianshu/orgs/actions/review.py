"""人工审核: organisations waiting for a platform operator (a payment to the platform to confirm,
a licence to check, or a method's proof that cannot verify the organisation by itself: no
business-registry pass, a verified organisation of the same name, an overseas organisation),
and the operator's decision — the first of two decisions wins. An operator's approval is the
one way to verify an organisation without a registry pass; it is an ``operator_approved``
event naming the operator. (The queue is :func:`qianshu.orgs.queries.orgs_awaiting_review`, an
organisation is fetched with :func:`qianshu.orgs.access.access_org_for_review`.)"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.core.meta import RequestMeta
from qianshu.orgs.actions.registry import run_registry_check, tell_same_name_orgs
from qianshu.orgs.actions.verification import (
    lock_org,
    mark_verified,
    reject_org,
    start_verification,
    tell_admins_rejected,
)
from qianshu.orgs.audit import record_org_event
from qianshu.orgs.models import OrgAction, Organization, OrgVerification
from qianshu.orgs.registry_checks import same_name_orgs
from qianshu.orgs.verification import (
    OPEN,
    OrgAlreadyVerified,
    OrgReviewAlreadyDecided,
    clean_reason,
)

Method = Organization.Method
OrgStatus = Organization.Status
Status = OrgVerification.Status


def do_request_manual_review(
    org: Organization, *, actor: User, meta: RequestMeta
) -> OrgVerification:
    """Send the organisation to the operators, who check the licence and decide. The registry
    is asked too (its answer, even a mismatch, is for the operator to weigh), and verified
    organisations of the same name are told."""
    if org.is_verified:
        raise OrgAlreadyVerified()
    registry = run_registry_check(org, actor=actor, meta=meta)
    with transaction.atomic():
        org = lock_org(org)
        verification = start_verification(
            org, Method.OPERATOR, registry=registry, actor=actor, meta=meta
        )
        record_org_event(
            org,
            OrgAction.MANUAL_REVIEW_REQUESTED,
            actor=actor,
            meta=meta,
            registry=registry.result,
            verification=str(verification.uuid),
        )
        tell_same_name_orgs(org)
    return verification


def _lock_for_decision(org: Organization) -> Organization:
    """The organisation, locked, if it still waits for an operator (``OrgReviewAlreadyDecided``
    otherwise)."""
    # The row lock plus the state check make the first of two simultaneous decisions win.
    locked = Organization.objects.select_for_update().get(pk=org.pk)
    if not (locked.needs_review and locked.status == OrgStatus.PENDING):
        raise OrgReviewAlreadyDecided()
    return locked


def do_approve_org(org: Organization, *, actor: User, meta: RequestMeta) -> Organization:
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
            meta=meta,
            method=verification.method,
            verification=str(verification.uuid),
            # What the operator overrode, for the record.
            registry=verification.registry_result,
            evidence=verification.evidence,
            same_name=[str(o.uuid) for o in same_name_orgs(org)],
        )
        mark_verified(org, verification, actor=actor, meta=meta, by_operator=True)
    return org


def do_reject_org(
    org: Organization, reason: str, *, actor: User, meta: RequestMeta
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
        record_org_event(org, OrgAction.OPERATOR_REJECTED, actor=actor, meta=meta, reason=reason)
        tell_admins_rejected(org, reason)
    return org
