"""组织机构认证: creating an organisation and verifying it.

Methods (the manual's words): （推荐）法定代表人认证 — an SMS link the legal representative opens,
logged in as a verified person of that name (``verification_legal_rep``) —, and 对公打款认证 in
both directions (``verification_deposits``): 平台给我打款 (the platform pays a random 0.01–0.99 元
that the administrator types back, 3 tries per transfer) and 我给平台打款 (the organisation pays a
shown amount with a memo code; the bank provider or an operator confirms receipt). An
administrator can also send the organisation to manual review (``verification_review``).

A method's proof alone never verifies an organisation (``registry_checks``): the business
registry is asked when an attempt starts — a mismatch ends it at once —, and when the proof is
in, :func:`finish_verification` verifies the organisation only if the registry confirmed its
data and no verified organisation has its name; otherwise the attempt waits, with its proof,
for an operator. :func:`mark_verified` refuses anything else unless an operator decides.

This module: the refusals, the shared steps (start an attempt, finish it, mark the organisation
verified, send it to an operator, re-ask the registry), creating and editing an organisation.
Every state change writes its organisation-log event in its transaction.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from qianshu.accounts.models import User
from qianshu.core.errors import UserError
from qianshu.identity.access import verified_identity
from qianshu.notifications.actions import do_queue_sms
from qianshu.orgs import registry_checks
from qianshu.orgs.access import org_admins
from qianshu.orgs.audit import record_org_event
from qianshu.orgs.licences import Licence, do_store_licence
from qianshu.orgs.models import Membership, OrgAction, Organization, OrgVerification
from qianshu.orgs.names import same_name
from qianshu.orgs.registry_checks import RegistryOutcome, review_reasons
from qianshu.orgs.signals import org_verified

Method = Organization.Method
OrgStatus = Organization.Status
Status = OrgVerification.Status
Registry = OrgVerification.Registry
Evidence = OrgVerification.Evidence

MAX_REASON_LENGTH = 200
# An attempt still open: its method is under way (pending) or an operator must decide (review).
OPEN = (Status.PENDING, Status.REVIEW)


# --- Refusals (``str(exc)`` is a message for the user) ---


class OrgError(UserError):
    code = "org_refused"


class NotVerifiedPerson(OrgError):
    code = "person_not_verified"
    default_message = gettext_noop("请先完成个人实名认证，再创建组织。")


class PrivacyConsentMissing(OrgError):
    code = "privacy_consent_missing"
    default_message = gettext_noop("请阅读并同意《隐私保护协议》。")


class CreditCodeTaken(OrgError):
    code = "credit_code_taken"
    field = "credit_code"
    default_message = gettext_noop(
        "该统一社会信用代码已有组织完成认证，如需加入请联系该组织的管理员。"
    )


class OrgAlreadyVerified(OrgError):
    code = "org_already_verified"
    default_message = gettext_noop("该组织已完成认证，无需重复认证。")


class VerificationNotActive(OrgError):
    code = "org_verification_not_active"
    default_message = gettext_noop("本次认证已结束或已失效，请重新发起认证。")


class TooManyTransfers(OrgError):
    code = "too_many_transfers"
    default_message = gettext_noop("今日申请打款次数已用完，请明天再试或选择其他认证方式。")


class TooManyMessages(OrgError):
    code = "too_many_messages"
    default_message = gettext_noop("今日发送授权短信次数已用完，请明天再试。")


class TooManyChecks(OrgError):
    code = "too_many_checks"
    default_message = gettext_noop("查询过于频繁，请稍后再试。")


class NotLegalRep(OrgError):
    code = "not_legal_rep"
    default_message = gettext_noop("您的实名认证姓名与该组织登记的法定代表人不一致，无法进行授权。")


class PlatformAccountMissing(OrgError):
    code = "platform_account_missing"
    default_message = gettext_noop("平台收款账户尚未配置，请选择其他认证方式。")


class OrgReviewAlreadyDecided(OrgError):
    code = "org_review_already_decided"
    default_message = gettext_noop("该组织的认证已由其他运营人员处理，或已不在待审核状态。")


class BankFailed(OrgError):
    """The bank refused the transfer or could not be reached (message from the provider)."""

    code = "bank_failed"


class WrongAmount(OrgError):
    code = "wrong_amount"
    field = "amount"

    def __init__(self, remaining: int) -> None:
        self.remaining = remaining
        super().__init__(_("金额不正确，还可以尝试 %(count)s 次。") % {"count": remaining})


class TransferVoid(OrgError):
    code = "transfer_void"
    default_message = gettext_noop("金额错误次数过多，本次打款已失效，请重新申请打款。")


class RegistryMismatch(OrgError):
    """The business registry says the declared data are wrong (its reason for the user)."""

    code = "registry_mismatch"

    def __init__(self, reason: str) -> None:
        super().__init__(_("工商登记信息核验未通过：%(reason)s") % {"reason": reason})


class NeedsOperator(OrgError):
    """Guard of :func:`mark_verified`: only an operator may verify this organisation now."""

    code = "needs_operator"
    default_message = gettext_noop("该组织需经平台人工审核后才能完成认证。")


class NothingToRecheck(OrgError):
    code = "nothing_to_recheck"
    default_message = gettext_noop("当前没有需要重新核验工商登记信息的认证。")


# --- Helpers ---


def is_legal_rep(actor: User, org: Organization) -> bool:
    """Whether ``actor`` is a verified person whose verified name is the declared legal rep."""
    identity = verified_identity(actor)
    return identity is not None and same_name(identity.name, org.legal_rep_name)


def pending_verification(org: Organization) -> OrgVerification | None:
    """The organisation's verification in progress, if any (at most one is pending)."""
    return org.verifications.filter(status=Status.PENDING).order_by("-created_at").first()


def open_verification(org: Organization) -> OrgVerification | None:
    """The attempt in progress or waiting for an operator, if any (at most one is open)."""
    return org.verifications.filter(status__in=OPEN).order_by("-created_at").first()


def is_expired(verification: OrgVerification) -> bool:
    return verification.expires_at is not None and verification.expires_at <= timezone.now()


def lock_org(org: Organization) -> Organization:
    locked = Organization.objects.select_for_update().get(pk=org.pk)
    if locked.status == OrgStatus.VERIFIED:
        raise OrgAlreadyVerified()
    return locked


def lock_pending(verification: OrgVerification, method: str) -> OrgVerification:
    locked = (
        OrgVerification.objects.select_for_update()
        .select_related("org")
        .get(pk=verification.pk, method=method)
    )
    if locked.status != Status.PENDING or is_expired(locked):
        raise VerificationNotActive()
    return locked


def _cancel_pending(org: Organization, *, actor: User | None, request: HttpRequest | None) -> None:
    now = timezone.now()
    for old in org.verifications.select_for_update().filter(status__in=OPEN):
        old.status = Status.CANCELLED
        old.decided_at = now
        old.save(update_fields=["status", "decided_at"])
        record_org_event(
            org,
            OrgAction.VERIFICATION_CANCELLED,
            actor=actor,
            request=request,
            method=old.method,
            verification=str(old.uuid),
        )


def start_verification(
    org: Organization,
    method: str,
    *,
    registry: RegistryOutcome,
    actor: User,
    request: HttpRequest | None,
    **fields: object,
) -> OrgVerification:
    """Replace any open attempt by a new pending one carrying the registry's answer (inside
    the transaction, ``org`` locked)."""
    _cancel_pending(org, actor=actor, request=request)
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
    org: Organization, method: str, *, actor: User, request: HttpRequest | None
) -> RegistryOutcome:
    """Ask the registry before an attempt by ``method`` starts (outside a transaction).

    A mismatch ends it here: the failed attempt is kept (the operator and the history show the
    registry's reason), the organisation is 认证未通过 and ``RegistryMismatch`` is raised. Any
    other answer lets the method start; without a pass its proof will wait for an operator.
    """
    if org.is_verified:
        raise OrgAlreadyVerified()
    outcome = registry_checks.run_registry_check(org, actor=actor, request=request)
    if outcome.result != Registry.FAILED:
        return outcome
    with transaction.atomic():
        org = lock_org(org)
        _cancel_pending(org, actor=actor, request=request)
        failed = failed_attempt(org, method, outcome.reason, registry=outcome, actor=actor)
        reject_org(org, outcome.reason)
        record_org_event(
            org,
            OrgAction.REGISTRY_REFUSED,
            actor=actor,
            request=request,
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
    request: HttpRequest | None,
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
        request=request,
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
    request: HttpRequest | None,
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
        mark_verified(org, verification, actor=actor, request=request)
        return True
    send_to_review(org, verification, reasons, actor=actor, request=request)
    return False


def send_to_review(
    org: Organization,
    verification: OrgVerification,
    reasons: list[str],
    *,
    actor: User,
    request: HttpRequest | None,
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
        request=request,
        method=verification.method,
        reasons=reasons,
        registry=verification.registry_result,
        verification=str(verification.uuid),
    )
    if registry_checks.SAME_NAME in reasons:
        registry_checks.tell_same_name_orgs(org)


def do_recheck_registry(
    org: Organization, *, actor: User, request: HttpRequest | None = None
) -> OrgVerification:
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
    outcome = registry_checks.run_registry_check(org, actor=actor, request=request)
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
            request=request,
            result=outcome.result,
            verification=str(verification.uuid),
        )
        if outcome.result == Registry.FAILED:
            tell_admins_rejected(org, outcome.reason)
        elif verification.status == Status.REVIEW:
            registry_checks.lock_name(org)
            if not review_reasons(org, verification):
                mark_verified(org, verification, actor=actor, request=request)
    if outcome.result == Registry.FAILED:
        raise RegistryMismatch(outcome.reason)
    return verification


def tell_admins_rejected(org: Organization, reason: str) -> None:
    for admin in org_admins(org):
        do_queue_sms(
            admin.phone,
            "org_rejected",
            {"org": org.name, "reason": reason},
            language=admin.language,
        )


def clean_reason(reason: str) -> str:
    return " ".join(reason.split())[:MAX_REASON_LENGTH]


# --- Creating and editing ---


def check_credit_code_free(credit_code: str, *, exclude: Organization | None = None) -> None:
    """Raise ``CreditCodeTaken`` if a verified organisation already holds ``credit_code``."""
    if not credit_code:
        return
    others = Organization.objects.filter(credit_code=credit_code, status=OrgStatus.VERIFIED)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    if others.exists():
        raise CreditCodeTaken()


def do_create_org(
    *,
    kind: str,
    name: str,
    credit_code: str,
    registration_number: str,
    legal_rep_name: str,
    licence: Licence,
    privacy_version: str,
    actor: User,
    request: HttpRequest | None = None,
) -> Organization:
    """Create an organisation (待认证) with ``actor`` as its 管理员. Only a verified person may,
    having agreed to 《隐私保护协议》 version ``privacy_version`` (recorded with its time)."""
    if not privacy_version:
        raise PrivacyConsentMissing()
    if verified_identity(actor) is None:
        raise NotVerifiedPerson()
    check_credit_code_free(credit_code)
    blob, preview = do_store_licence(licence)
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
            request=request,
            kind=kind,
            name=name,
            identifier=org.identifier,
            legal_rep_name=legal_rep_name,
            licence=blob.sha256,
            privacy_version=privacy_version,
        )
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
    request: HttpRequest | None = None,
) -> Organization:
    """Correct an unverified organisation's data (e.g. after 认证未通过). A verification in
    progress is cancelled: it was asked for the old data."""
    check_credit_code_free(credit_code, exclude=org)
    blob, preview = do_store_licence(licence) if licence else (None, None)
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
        _cancel_pending(org, actor=actor, request=request)
        org.status = OrgStatus.DRAFT
        org.needs_review = False
        org.save()
        record_org_event(org, OrgAction.ORG_UPDATED, actor=actor, request=request, changed=changed)
    return org
