"""（推荐）法定代表人认证: the legal representative approves the verification online.

The administrator either sends an SMS link (7 days; only the SHA-256 of its token is stored) that
only a logged-in verified person whose verified name is the declared legal representative can
approve or refuse, or — being that person — approves directly (``action=self``). Either way the
business registry is asked first (a mismatch refuses at once), and the approval is the method's
proof only: :func:`qianshu.orgs.actions.verification.finish_verification` decides whether it
verifies the organisation or waits for an operator.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.accounts.phones import mask_phone
from qianshu.core.meta import RequestMeta
from qianshu.notifications.actions import do_queue_sms
from qianshu.orgs.actions.verification import (
    finish_verification,
    lock_org,
    lock_pending,
    registry_gate,
    reject_org,
    start_verification,
    tell_admins_rejected,
)
from qianshu.orgs.audit import record_org_event
from qianshu.orgs.models import OrgAction, Organization, OrgVerification
from qianshu.orgs.verification import (
    NotLegalRep,
    TooManyMessages,
    clean_reason,
    is_legal_rep,
)
from qianshu.orgs.verification_legal_rep import LEGAL_REP_LINK_LIFE, legal_rep_link, token_hash

Method = Organization.Method
Status = OrgVerification.Status
Evidence = OrgVerification.Evidence


def do_request_legal_rep_authorisation(
    org: Organization, phone: str, *, actor: User, meta: RequestMeta
) -> OrgVerification:
    """SMS the legal representative a 7-day link to approve or refuse the verification.

    Raises ``TooManyMessages`` beyond the daily limit and ``RegistryMismatch`` when the registry
    says the organisation's data are wrong (no SMS then).
    """
    since = timezone.now() - dt.timedelta(days=1)
    sent = org.verifications.filter(method=Method.LEGAL_REP, created_at__gte=since).count()
    if sent >= settings.QIANSHU_ORG_LEGAL_REP_SMS_PER_DAY:
        raise TooManyMessages()
    registry = registry_gate(org, Method.LEGAL_REP, actor=actor, meta=meta)
    token = secrets.token_urlsafe(32)
    recipient = User.objects.filter(phone=phone).first()
    with transaction.atomic():
        org = lock_org(org)
        verification = start_verification(
            org,
            Method.LEGAL_REP,
            registry=registry,
            actor=actor,
            meta=meta,
            legal_rep_phone=phone,
            token_hash=token_hash(token),
            expires_at=timezone.now() + LEGAL_REP_LINK_LIFE,
        )
        record_org_event(
            org,
            OrgAction.LEGAL_REP_REQUESTED,
            actor=actor,
            meta=meta,
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


def _approved(
    org: Organization,
    verification: OrgVerification,
    *,
    actor: User,
    meta: RequestMeta,
    **detail: Any,
) -> None:
    """The legal representative approved: the method's proof (inside the transaction)."""
    record_org_event(
        org,
        OrgAction.LEGAL_REP_APPROVED,
        actor=actor,
        meta=meta,
        verification=str(verification.uuid),
        **detail,
    )
    finish_verification(
        org, verification, evidence=Evidence.LEGAL_REP_APPROVED, actor=actor, meta=meta
    )


def do_authorise_as_legal_rep(
    org: Organization, *, actor: User, meta: RequestMeta
) -> OrgVerification:
    """The administrator is the legal representative (verified name equal): authorise now.

    The attempt ends ``succeeded`` (the organisation is verified) or ``review`` (an operator
    decides, see ``finish_verification``); ``RegistryMismatch`` when the registry disagrees.
    """
    if not is_legal_rep(actor, org):
        raise NotLegalRep()
    registry = registry_gate(org, Method.LEGAL_REP, actor=actor, meta=meta)
    with transaction.atomic():
        org = lock_org(org)
        verification = start_verification(
            org,
            Method.LEGAL_REP,
            registry=registry,
            actor=actor,
            meta=meta,
            legal_rep_phone=actor.phone,
        )
        _approved(org, verification, actor=actor, meta=meta, direct=True)
    return verification


def do_decide_legal_rep(
    verification: OrgVerification,
    *,
    approve: bool,
    reason: str = "",
    actor: User,
    meta: RequestMeta,
) -> OrgVerification:
    """The legal representative approves (→ verified, or an operator's review) or refuses
    (→ 认证未通过, with reason).

    Refused with ``NotLegalRep`` (recorded in the log, nothing else changes) unless ``actor`` is
    a verified person whose verified name is the declared legal representative.
    """
    org = verification.org
    if not is_legal_rep(actor, org):
        with transaction.atomic():
            record_org_event(
                org,
                OrgAction.LEGAL_REP_MISMATCH,
                actor=actor,
                meta=meta,
                verification=str(verification.uuid),
            )
        raise NotLegalRep()
    with transaction.atomic():
        verification = lock_pending(verification, Method.LEGAL_REP)
        org = lock_org(verification.org)
        if approve:
            _approved(org, verification, actor=actor, meta=meta)
            return verification
        why = _("法定代表人拒绝授权")
        if clean_reason(reason):
            why = f"{why}：{clean_reason(reason)}"
        verification.status = Status.FAILED
        verification.reason = why[:300]
        verification.decided_by = actor
        verification.decided_at = timezone.now()
        verification.save(update_fields=["status", "reason", "decided_by", "decided_at"])
        reject_org(org, why)
        record_org_event(
            org,
            OrgAction.LEGAL_REP_REFUSED,
            actor=actor,
            meta=meta,
            reason=why,
            verification=str(verification.uuid),
        )
        tell_admins_rejected(org, why)
    return verification
