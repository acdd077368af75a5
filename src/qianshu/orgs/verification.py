"""组织机构认证: creating an organisation and verifying it.

Methods (the manual's words): （推荐）法定代表人认证 — an SMS link the legal representative opens,
logged in as a verified person of that name —, and 对公打款认证 in both directions: 平台给我打款
(the platform pays a random 0.01–0.99 元 that the administrator types back, 3 tries per transfer)
and 我给平台打款 (the organisation pays a shown amount with a memo code; the bank provider or an
operator confirms receipt). An administrator can also send the organisation to manual review.

This module: the refusals, the shared steps (start a verification, mark the organisation
verified), creating and editing an organisation, and 法定代表人认证 (only the SHA-256 of a link
token is stored). The transfers are in ``verification_deposits``, the operators' side in
``verification_review``; every state change writes its organisation-log event in its transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from qianshu.accounts.models import User
from qianshu.accounts.phones import mask_phone
from qianshu.identity.access import verified_identity
from qianshu.notifications.actions import do_queue_sms
from qianshu.orgs.audit import record_org_event
from qianshu.orgs.licences import Licence, do_store_licence
from qianshu.orgs.models import Membership, Organization, OrgVerification
from qianshu.orgs.signals import org_verified

Method = Organization.Method
OrgStatus = Organization.Status
Status = OrgVerification.Status

LEGAL_REP_LINK_LIFE = dt.timedelta(days=7)
MAX_REASON_LENGTH = 200
_NAME_FOLD = str.maketrans({"（": "(", "）": ")", "•": "·", "・": "·", "．": "·"})


# --- Refusals (``str(exc)`` is a message for the user) ---


class OrgError(Exception):
    default_message = ""

    def __init__(self, message: str = "") -> None:
        super().__init__(message or _(self.default_message))


class NotVerifiedPerson(OrgError):
    default_message = gettext_noop("请先完成个人实名认证，再创建组织。")


class CreditCodeTaken(OrgError):
    default_message = gettext_noop(
        "该统一社会信用代码已有组织完成认证，如需加入请联系该组织的管理员。"
    )


class AlreadyVerified(OrgError):
    default_message = gettext_noop("该组织已完成认证，无需重复认证。")


class VerificationNotActive(OrgError):
    default_message = gettext_noop("本次认证已结束或已失效，请重新发起认证。")


class TooManyTransfers(OrgError):
    default_message = gettext_noop("今日申请打款次数已用完，请明天再试或选择其他认证方式。")


class TooManyMessages(OrgError):
    default_message = gettext_noop("今日发送授权短信次数已用完，请明天再试。")


class TooManyChecks(OrgError):
    default_message = gettext_noop("查询过于频繁，请稍后再试。")


class NotLegalRep(OrgError):
    default_message = gettext_noop("您的实名认证姓名与该组织登记的法定代表人不一致，无法进行授权。")


class PlatformAccountMissing(OrgError):
    default_message = gettext_noop("平台收款账户尚未配置，请选择其他认证方式。")


class AlreadyDecided(OrgError):
    default_message = gettext_noop("该组织的认证已由其他运营人员处理，或已不在待审核状态。")


class BankFailed(OrgError):
    """The bank refused the transfer or could not be reached (message from the provider)."""


class WrongAmount(OrgError):
    def __init__(self, remaining: int) -> None:
        self.remaining = remaining
        super().__init__(_("金额不正确，还可以尝试 %(count)s 次。") % {"count": remaining})


class TransferVoid(OrgError):
    default_message = gettext_noop("金额错误次数过多，本次打款已失效，请重新申请打款。")


# --- Helpers ---


def same_name(a: str, b: str) -> bool:
    """Names compare equal ignoring spaces, full-width brackets and the kind of middle dot."""

    def fold(value: str) -> str:
        return "".join(value.split()).translate(_NAME_FOLD).casefold()

    return bool(a.strip()) and fold(a) == fold(b)


def is_legal_rep(actor: User, org: Organization) -> bool:
    """Whether ``actor`` is a verified person whose verified name is the declared legal rep."""
    identity = verified_identity(actor)
    return identity is not None and same_name(identity.name, org.legal_rep_name)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def pending_verification(org: Organization) -> OrgVerification | None:
    """The organisation's verification in progress, if any (at most one is pending)."""
    return org.verifications.filter(status=Status.PENDING).order_by("-created_at").first()


def is_expired(verification: OrgVerification) -> bool:
    return verification.expires_at is not None and verification.expires_at <= timezone.now()


def _admins(org: Organization) -> list[User]:
    return [
        m.user
        for m in Membership.objects.filter(org=org, role=Membership.Role.ADMIN).select_related(
            "user"
        )
    ]


def lock_org(org: Organization) -> Organization:
    locked = Organization.objects.select_for_update().get(pk=org.pk)
    if locked.status == OrgStatus.VERIFIED:
        raise AlreadyVerified()
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
    for old in org.verifications.select_for_update().filter(status=Status.PENDING):
        old.status = Status.CANCELLED
        old.decided_at = now
        old.save(update_fields=["status", "decided_at"])
        record_org_event(
            org,
            "verification_cancelled",
            actor=actor,
            request=request,
            method=old.method,
            verification=str(old.uuid),
        )


def start_verification(
    org: Organization,
    method: str,
    *,
    actor: User,
    request: HttpRequest | None,
    **fields: object,
) -> OrgVerification:
    """Replace any verification in progress by a new pending one (inside the transaction,
    ``org`` locked)."""
    _cancel_pending(org, actor=actor, request=request)
    verification = OrgVerification.objects.create(
        org=org, method=method, created_by=actor, **fields
    )
    org.status = OrgStatus.PENDING
    org.method = method
    org.needs_review = method in (Method.DEPOSIT_TO_PLATFORM, Method.OPERATOR)
    org.rejected_reason = ""
    org.save(update_fields=["status", "method", "needs_review", "rejected_reason"])
    return verification


def mark_verified(
    org: Organization,
    verification: OrgVerification,
    *,
    actor: User | None,
    request: HttpRequest | None,
) -> None:
    """The verification succeeded: the organisation is verified, its admins told by SMS."""
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
    org.verifications.filter(status=Status.PENDING).exclude(pk=verification.pk).update(
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
        "org_verified",
        actor=actor,
        request=request,
        method=verification.method,
        verification=str(verification.uuid),
    )
    org_verified.send(sender=Organization, org=org)
    for admin in _admins(org):
        do_queue_sms(admin.phone, "org_verified", {"org": org.name}, language=admin.language)


def tell_admins_rejected(org: Organization, reason: str) -> None:
    for admin in _admins(org):
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
    actor: User,
    request: HttpRequest | None = None,
) -> Organization:
    """Create an organisation (待认证) with ``actor`` as its 管理员. Only a verified person may."""
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
        )
        Membership.objects.create(org=org, user=actor, role=Membership.Role.ADMIN)
        record_org_event(
            org,
            "org_created",
            actor=actor,
            request=request,
            kind=kind,
            name=name,
            identifier=org.identifier,
            legal_rep_name=legal_rep_name,
            licence=blob.sha256,
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
        record_org_event(org, "org_updated", actor=actor, request=request, changed=changed)
    return org


# --- 法定代表人认证 ---


def legal_rep_link(token: str) -> str:
    return settings.PUBLIC_URL + reverse("orgs:legal-rep-authorise", args=[token])


def do_request_legal_rep_authorisation(
    org: Organization, phone: str, *, actor: User, request: HttpRequest | None = None
) -> OrgVerification:
    """SMS the legal representative a 7-day link to approve or refuse the verification."""
    since = timezone.now() - dt.timedelta(days=1)
    sent = org.verifications.filter(method=Method.LEGAL_REP, created_at__gte=since).count()
    if sent >= settings.QIANSHU_ORG_LEGAL_REP_SMS_PER_DAY:
        raise TooManyMessages()
    token = secrets.token_urlsafe(32)
    recipient = User.objects.filter(phone=phone).first()
    with transaction.atomic():
        org = lock_org(org)
        verification = start_verification(
            org,
            Method.LEGAL_REP,
            actor=actor,
            request=request,
            legal_rep_phone=phone,
            token_hash=token_hash(token),
            expires_at=timezone.now() + LEGAL_REP_LINK_LIFE,
        )
        record_org_event(
            org,
            "legal_rep_requested",
            actor=actor,
            request=request,
            phone=mask_phone(phone),
            verification=str(verification.uuid),
        )
        do_queue_sms(
            phone,
            "legal_rep_authorisation",
            {"name": org.legal_rep_name, "org": org.name, "link": legal_rep_link(token)},
            language=recipient.language if recipient else "zh-hans",
        )
    return verification


def do_authorise_as_legal_rep(
    org: Organization, *, actor: User, request: HttpRequest | None = None
) -> OrgVerification:
    """The administrator is the legal representative (verified name equal): authorise now."""
    if not is_legal_rep(actor, org):
        raise NotLegalRep()
    with transaction.atomic():
        org = lock_org(org)
        verification = start_verification(
            org, Method.LEGAL_REP, actor=actor, request=request, legal_rep_phone=actor.phone
        )
        record_org_event(
            org,
            "legal_rep_approved",
            actor=actor,
            request=request,
            direct=True,
            verification=str(verification.uuid),
        )
        mark_verified(org, verification, actor=actor, request=request)
    return verification


def access_legal_rep_request(token: str) -> OrgVerification:
    """The legal-representative authorisation a link token names (whatever its state)."""
    verification = (
        OrgVerification.objects.select_related("org", "created_by")
        .filter(method=Method.LEGAL_REP, token_hash=token_hash(token))
        .exclude(token_hash="")
        .first()
    )
    if verification is None:
        raise Http404("no such authorisation")
    return verification


def do_decide_legal_rep(
    verification: OrgVerification,
    *,
    approve: bool,
    reason: str = "",
    actor: User,
    request: HttpRequest | None = None,
) -> OrgVerification:
    """The legal representative approves (→ verified) or refuses (→ 认证未通过, with reason).

    Refused with ``NotLegalRep`` (recorded in the log, nothing else changes) unless ``actor`` is
    a verified person whose verified name is the declared legal representative.
    """
    org = verification.org
    if not is_legal_rep(actor, org):
        with transaction.atomic():
            record_org_event(
                org,
                "legal_rep_mismatch",
                actor=actor,
                request=request,
                verification=str(verification.uuid),
            )
        raise NotLegalRep()
    with transaction.atomic():
        verification = lock_pending(verification, Method.LEGAL_REP)
        org = lock_org(verification.org)
        if approve:
            record_org_event(
                org,
                "legal_rep_approved",
                actor=actor,
                request=request,
                verification=str(verification.uuid),
            )
            mark_verified(org, verification, actor=actor, request=request)
            return verification
        why = _("法定代表人拒绝授权")
        if clean_reason(reason):
            why = f"{why}：{clean_reason(reason)}"
        verification.status = Status.FAILED
        verification.reason = why[:300]
        verification.decided_by = actor
        verification.decided_at = timezone.now()
        verification.save(update_fields=["status", "reason", "decided_by", "decided_at"])
        org.status = OrgStatus.REJECTED
        org.rejected_reason = why[:300]
        org.needs_review = False
        org.save(update_fields=["status", "rejected_reason", "needs_review"])
        record_org_event(
            org,
            "legal_rep_refused",
            actor=actor,
            request=request,
            reason=why,
            verification=str(verification.uuid),
        )
        tell_admins_rejected(org, why)
    return verification
