"""组织机构认证: creating and editing an organisation, and the shared steps of a verification
attempt (start it, keep a failed one, finish it, mark the organisation verified, send it to an
operator, re-ask the registry). The methods are in :mod:`.legal_rep` and :mod:`.deposits`, the
operators' decision in :mod:`.review`; the refusals and the read helpers in
:mod:`qianshu.orgs.verification`.

A method's proof alone never verifies an organisation (``registry_checks``): the business
registry is asked when an attempt starts — a mismatch ends it at once —, and when the proof is
in, :func:`finish_verification` verifies the organisation only if the registry confirmed its
data and no verified organisation has its name; otherwise the attempt waits, with its proof,
for an operator. :func:`mark_verified` refuses anything else unless an operator decides.

Every state change writes its organisation-log event in its transaction.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.core.meta import RequestMeta
from qianshu.identity.access import verified_identity
from qianshu.notifications.actions import do_queue_sms
from qianshu.orgs import registry_checks
from qianshu.orgs.access import org_admins
from qianshu.orgs.actions.licences import do_discard_pending_licence, do_store_licence
from qianshu.orgs.actions.registry import run_registry_check, tell_same_name_orgs
from qianshu.orgs.audit import record_org_event
from qianshu.orgs.licences import Licence
from qianshu.orgs.models import (
    Membership,
    OrgAction,
    Organization,
    OrgVerification,
    PendingLicence,
)
from qianshu.orgs.registry_checks import RegistryOutcome, review_reasons
from qianshu.orgs.signals import org_verified
from qianshu.orgs.verification import (
    OPEN,
    CreditCodeTaken,
    NeedsOperator,
    NothingToRecheck,
    NotVerifiedPerson,
    OrgAlreadyVerified,
    PrivacyConsentMissing,
    RegistryMismatch,
    VerificationNotActive,
    check_credit_code_free,
    is_expired,
    open_verification,
)

Method = Organization.Method
OrgStatus = Organization.Status
Status = OrgVerification.Status
Registry = OrgVerification.Registry


def lock_org(org: Organization) -> Organization:
    """The organisation, row-locked until the transaction ends; ``OrgAlreadyVerified`` if it
    is verified."""
    locked = Organization.objects.select_for_update().get(pk=org.pk)
    if locked.status == OrgStatus.VERIFIED:
        raise OrgAlreadyVerified()
    return locked


def lock_pending(verification: OrgVerification, method: str) -> OrgVerification:
    """The attempt by ``method``, row-locked; ``VerificationNotActive`` unless it is pending
    and not expired."""
    locked = (
        OrgVerification.objects.select_for_update()
        .select_related("org")
        .get(pk=verification.pk, method=method)
    )
    if locked.status != Status.PENDING or is_expired(locked):
        raise VerificationNotActive()
    return locked


def _cancel_pending(org: Organization, *, actor: User | None, meta: RequestMeta) -> None:
    """Cancel the organisation's open attempts (inside the transaction, ``org`` locked)."""
    now = timezone.now()
    for old in org.verifications.select_for_update().filter(status__in=OPEN):
        old.status = Status.CANCELLED
        old.decided_at = now
        old.save(update_fields=["status", "decided_at"])
        record_org_event(
            org,
            OrgAction.VERIFICATION_CANCELLED,
            actor=actor,
            meta=meta,
            method=old.method,
            verification=str(old.uuid),
        )


def start_verification(
    org: Organization,
    method: str,
    *,
    registry: RegistryOutcome,
    actor: User,
    meta: RequestMeta,
    **fields: object,
) -> OrgVerification:
    """Replace any open attempt by a new pending one carrying the registry's answer (inside
    the transaction, ``org`` locked)."""
    _cancel_pending(org, actor=actor, meta=meta)
    verification = OrgVerification(org=org, method=method, created_by=actor, **fields)
    registry.apply(verification)
    verification.save()
    org.status = OrgStatus.PENDING
    org.method = method
    org.needs_review = method in (Method.DEPOSIT_TO_PLATFORM, Method.OPERATOR)
    org.rejected_reason = ""
    org.save(update_fields=["status", "method", "needs_review", "rejected_reason"])
    return verification


def failed_attempt(
    org: Organization,
    method: str,
    reason: str,
    *,
    registry: RegistryOutcome,
    actor: User,
    **fields: object,
) -> OrgVerification:
    """Keep an attempt that failed as it started (for the history and the operator)."""
    failed = OrgVerification(
        org=org,
        method=method,
        status=Status.FAILED,
        reason=reason[:300],
        created_by=actor,
        decided_at=timezone.now(),
        **fields,
    )
    registry.apply(failed)
    failed.save()
    return failed


def reject_org(org: Organization, reason: str) -> None:
    """认证未通过 with ``reason``, shown to the administrators (``org`` locked)."""
    org.status = OrgStatus.REJECTED
    org.rejected_reason = reason[:300]
    org.needs_review = False
    org.save(update_fields=["status", "rejected_reason", "needs_review"])


def registry_gate(
    org: Organization, method: str, *, actor: User, meta: RequestMeta
) -> RegistryOutcome:
    """Ask the registry before an attempt by ``method`` starts (outside a transaction).

    A mismatch ends it here: the failed attempt is kept (the operator and the history show the
    registry's reason), the organisation is 认证未通过 and ``RegistryMismatch`` is raised. Any
    other answer lets the method start; without a pass its proof will wait for an operator.
    """
    if org.is_verified:
        raise OrgAlreadyVerified()
    outcome = run_registry_check(org, actor=actor, meta=meta)
    if outcome.result != Registry.FAILED:
        return outcome
    with transaction.atomic():
        org = lock_org(org)
        _cancel_pending(org, actor=actor, meta=meta)
        failed = failed_attempt(org, method, outcome.reason, registry=outcome, actor=actor)
        reject_org(org, outcome.reason)
        record_org_event(
            org,
            OrgAction.REGISTRY_REFUSED,
            actor=actor,
            meta=meta,
            method=method,
            reason=outcome.reason,
            verification=str(failed.uuid),
        )
    raise RegistryMismatch(outcome.reason)


def mark_verified(
    org: Organization,
    verification: OrgVerification,
    *,
    actor: User | None,
    meta: RequestMeta,
    by_operator: bool = False,
) -> None:
    """The organisation is verified, its admins told by SMS (inside the transaction, ``org``
    locked). Refused with ``NeedsOperator`` unless an operator decides (``by_operator``) or
    the registry confirmed the organisation's data and no verified organisation has its name
    (:func:`~qianshu.orgs.registry_checks.review_reasons`)."""
    registry_checks.lock_name(org)
    if not by_operator and review_reasons(org, verification):
        raise NeedsOperator()
    if (
        org.credit_code
        and Organization.objects.filter(credit_code=org.credit_code, status=OrgStatus.VERIFIED)
        .exclude(pk=org.pk)
        .exists()
    ):
        raise CreditCodeTaken()
    now = timezone.now()
    verification.status = Status.SUCCEEDED
    verification.decided_at = now
    verification.decided_by = actor
    verification.save(update_fields=["status", "decided_at", "decided_by"])
    org.verifications.filter(status__in=OPEN).exclude(pk=verification.pk).update(
        status=Status.CANCELLED, decided_at=now
    )
    org.status = OrgStatus.VERIFIED
    org.verified_at = now
    org.method = verification.method
    org.needs_review = False
    org.rejected_reason = ""
    try:
        with transaction.atomic():  # the unique constraint settles a race the check above lost
            org.save(
                update_fields=["status", "verified_at", "method", "needs_review", "rejected_reason"]
            )
    except IntegrityError:
        raise CreditCodeTaken() from None
    record_org_event(
        org,
        OrgAction.ORG_VERIFIED,
        actor=actor,
        meta=meta,
        method=verification.method,
        verification=str(verification.uuid),
        by_operator=by_operator,
        registry=verification.registry_result,
    )
    org_verified.send(sender=Organization, org=org)
    for admin in org_admins(org):
        do_queue_sms(admin.phone, "org_verified", {"org": org.name}, language=admin.language)


def finish_verification(
    org: Organization,
    verification: OrgVerification,
    *,
    evidence: str,
    actor: User,
    meta: RequestMeta,
) -> bool:
    """The method's proof (``evidence``) is in: verify the organisation (True) or, when it
    needs an operator, keep the proof and send the attempt to review (False). Inside the
    transaction, ``org`` and ``verification`` locked."""
    verification.evidence = evidence
    verification.evidence_by = actor if actor.is_authenticated else None
    verification.evidence_at = timezone.now()
    verification.save(update_fields=["evidence", "evidence_by", "evidence_at"])
    registry_checks.lock_name(org)
    reasons = review_reasons(org, verification)
    if not reasons:
        mark_verified(org, verification, actor=actor, meta=meta)
        return True
    send_to_review(org, verification, reasons, actor=actor, meta=meta)
    return False


def send_to_review(
    org: Organization,
    verification: OrgVerification,
    reasons: list[str],
    *,
    actor: User,
    meta: RequestMeta,
) -> None:
    """The attempt waits for an operator (no expiry while it does); organisations of the same
    name are told. Inside the transaction, ``org`` locked."""
    verification.status = Status.REVIEW
    verification.expires_at = None
    verification.save(update_fields=["status", "expires_at"])
    org.status = OrgStatus.PENDING
    org.needs_review = True
    org.save(update_fields=["status", "needs_review"])
    record_org_event(
        org,
        OrgAction.REVIEW_REQUIRED,
        actor=actor,
        meta=meta,
        method=verification.method,
        reasons=reasons,
        registry=verification.registry_result,
        verification=str(verification.uuid),
    )
    if registry_checks.SAME_NAME in reasons:
        tell_same_name_orgs(org)


def do_recheck_registry(org: Organization, *, actor: User, meta: RequestMeta) -> OrgVerification:
    """重新核验: ask the registry again for the open attempt that has no pass (it was down,
    or the daily limit was reached). A pass on an attempt waiting for an operator with its
    proof verifies the organisation if nothing else needs the operator; a mismatch ends the
    attempt (``RegistryMismatch``)."""
    current = open_verification(org)
    if (
        current is None
        or org.is_overseas
        or current.registry_result not in (Registry.ERROR, Registry.UNAVAILABLE)
    ):
        raise NothingToRecheck()
    outcome = run_registry_check(org, actor=actor, meta=meta)
    with transaction.atomic():
        org = lock_org(org)
        verification = OrgVerification.objects.select_for_update().get(pk=current.pk)
        if verification.status not in OPEN:
            raise VerificationNotActive()
        fields = outcome.apply(verification)
        if outcome.result == Registry.FAILED:
            verification.status = Status.FAILED
            verification.reason = outcome.reason[:300]
            verification.decided_at = timezone.now()
            fields += ["status", "reason", "decided_at"]
            reject_org(org, outcome.reason)
        verification.save(update_fields=fields)
        record_org_event(
            org,
            OrgAction.REGISTRY_RECHECKED,
            actor=actor,
            meta=meta,
            result=outcome.result,
            verification=str(verification.uuid),
        )
        if outcome.result == Registry.FAILED:
            tell_admins_rejected(org, outcome.reason)
        elif verification.status == Status.REVIEW:
            registry_checks.lock_name(org)
            if not review_reasons(org, verification):
                mark_verified(org, verification, actor=actor, meta=meta)
    if outcome.result == Registry.FAILED:
        raise RegistryMismatch(outcome.reason)
    return verification


def tell_admins_rejected(org: Organization, reason: str) -> None:
    """An ``org_rejected`` SMS with ``reason`` to each administrator (inside the transaction)."""
    for admin in org_admins(org):
        do_queue_sms(
            admin.phone,
            "org_rejected",
            {"org": org.name, "reason": reason},
            language=admin.language,
        )


def do_create_org(
    *,
    kind: str,
    name: str,
    credit_code: str,
    registration_number: str,
    legal_rep_name: str,
    licence: Licence,
    privacy_version: str,
    pending: PendingLicence | None = None,
    actor: User,
    meta: RequestMeta,
) -> Organization:
    """Create an organisation (待认证) with ``actor`` as its 管理员. Only a verified person may,
    having agreed to 《隐私保护协议》 version ``privacy_version`` (recorded with its time).

    ``pending`` is the licence kept across an earlier form error (``licence`` holds its
    contents): it is discarded once the organisation is committed."""
    if not privacy_version:
        raise PrivacyConsentMissing()
    if verified_identity(actor) is None:
        raise NotVerifiedPerson()
    check_credit_code_free(credit_code)
    blob, preview = do_store_licence(licence, meta=meta)
    with transaction.atomic():
        org = Organization.objects.create(
            kind=kind,
            name=name,
            credit_code=credit_code,
            registration_number=registration_number,
            legal_rep_name=legal_rep_name,
            licence=blob,
            licence_preview=preview,
            created_by=actor,
            privacy_consent_at=timezone.now(),
            privacy_version=privacy_version,
        )
        Membership.objects.create(org=org, user=actor, role=Membership.Role.ADMIN)
        record_org_event(
            org,
            OrgAction.ORG_CREATED,
            actor=actor,
            meta=meta,
            kind=kind,
            name=name,
            identifier=org.identifier,
            legal_rep_name=legal_rep_name,
            licence=blob.sha256,
            privacy_version=privacy_version,
        )
    if pending is not None:
        do_discard_pending_licence(pending, meta=meta)
    return org


def do_update_org(
    org: Organization,
    *,
    kind: str,
    name: str,
    credit_code: str,
    registration_number: str,
    legal_rep_name: str,
    licence: Licence | None,
    actor: User,
    meta: RequestMeta,
) -> Organization:
    """Correct an unverified organisation's data (e.g. after 认证未通过). A verification in
    progress is cancelled: it was asked for the old data."""
    check_credit_code_free(credit_code, exclude=org)
    blob, preview = do_store_licence(licence, meta=meta) if licence else (None, None)
    with transaction.atomic():
        org = lock_org(org)
        values = {
            "kind": kind,
            "name": name,
            "credit_code": credit_code,
            "registration_number": registration_number,
            "legal_rep_name": legal_rep_name,
        }
        changed = {key: value for key, value in values.items() if getattr(org, key) != value}
        for key, value in changed.items():
            setattr(org, key, value)
        if blob is not None and blob.pk != org.licence_id:
            org.licence, org.licence_preview = blob, preview
            changed["licence"] = blob.sha256
        _cancel_pending(org, actor=actor, meta=meta)
        org.status = OrgStatus.DRAFT
        org.needs_review = False
        org.save()
        record_org_event(org, OrgAction.ORG_UPDATED, actor=actor, meta=meta, changed=changed)
    return org
