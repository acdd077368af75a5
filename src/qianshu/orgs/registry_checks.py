"""What must hold before an organisation counts as verified without an operator.

DESIGN §3, "An organisation is who it says it is". Whatever the method (法定代表人认证, either
direction of 对公打款), its own proof only shows that someone controls a legal
representative's identity or a corporate account. The organisation is verified without an
operator only when also:

1. **企业三要素** — the business registry (``qianshu.orgs.providers.registry``) confirmed the
   organisation's name, unified social credit code and legal representative, for exactly the
   data the organisation holds now (the data checked are kept on the attempt);
2. **no verified organisation has the same name** (names compared by
   :func:`qianshu.orgs.names.fold_name`): a second "示例科技有限公司" is for an operator to
   judge, with both organisations and their credit codes in front of them, and the existing
   organisation's administrators are told (``org_same_name`` SMS, ``same_name_claimed`` event);
3. it is **not overseas** (港澳台及海外组织 have no credit code a registry could check).

Otherwise the attempt, with its proof, waits for an operator (人工审核). :func:`review_reasons`
says why; the verification actions (``qianshu.orgs.verification``) act on it.

The registry is asked when an attempt starts (:func:`run_registry_check`, outside any
transaction: it is a network call). A pass for the same data in the last
:data:`REGISTRY_PASS_LIFE` is reused; at most ``QIANSHU_ORG_REGISTRY_CHECKS_PER_DAY`` calls per
organisation and day are made (each is a paid query and a ``registry_checked`` event).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.notifications.actions import do_queue_sms
from qianshu.orgs.access import org_admins
from qianshu.orgs.audit import record_org_event
from qianshu.orgs.models import OrgAction, Organization, OrgEvent, OrgVerification
from qianshu.orgs.names import fold_name
from qianshu.orgs.providers.registry import (
    Company,
    Failed,
    Passed,
    RegistryUnavailable,
    get_registry_provider,
)

log = logging.getLogger(__name__)

Registry = OrgVerification.Registry

REGISTRY_PASS_LIFE = dt.timedelta(days=30)
# SMS to one organisation's administrators about same-name claims, per 24 hours.
SAME_NAME_ALERTS_PER_DAY = 3

# Why an attempt waits for an operator (``review_reasons``).
REGISTRY = "registry"
SAME_NAME = "same_name"
OVERSEAS = "overseas"


@dataclass(frozen=True)
class RegistryOutcome:
    """The registry's answer about an organisation's data, as kept on an attempt."""

    result: str
    reason: str = ""
    provider: str = ""
    checked: dict[str, str] = field(default_factory=dict)
    checked_at: dt.datetime | None = None

    @property
    def passed(self) -> bool:
        return self.result == Registry.PASSED

    def apply(self, verification: OrgVerification) -> list[str]:
        """Copy onto ``verification`` (not saved); the names of the fields set."""
        verification.registry_result = self.result
        verification.registry_reason = self.reason[:300]
        verification.registry_provider = self.provider
        verification.registry_checked = self.checked
        verification.registry_checked_at = self.checked_at
        return [
            "registry_result",
            "registry_reason",
            "registry_provider",
            "registry_checked",
            "registry_checked_at",
        ]


def declared(org: Organization) -> dict[str, str]:
    """The organisation's data a registry check is about."""
    return {
        "name": org.name,
        "credit_code": org.credit_code,
        "legal_rep_name": org.legal_rep_name,
    }


def _recent_pass(org: Organization, data: dict[str, str], provider: str) -> OrgVerification | None:
    since = timezone.now() - REGISTRY_PASS_LIFE
    earlier = OrgVerification.objects.filter(
        org=org,
        registry_result=Registry.PASSED,
        registry_provider=provider,
        registry_checked_at__gte=since,
    ).order_by("-registry_checked_at")
    return next((v for v in earlier[:20] if v.registry_checked == data), None)


def _calls_today(org: Organization) -> int:
    since = timezone.now() - dt.timedelta(days=1)
    return OrgEvent.objects.filter(
        org=org, action=OrgAction.REGISTRY_CHECKED, created_at__gte=since
    ).count()


def run_registry_check(
    org: Organization, *, actor: User, request: HttpRequest | None = None
) -> RegistryOutcome:
    """Ask the configured registry about ``org``'s current data (call outside a transaction).

    Never raises for the registry's answers: a mismatch is ``failed``, a provider error or the
    daily limit ``error``, no (or a misconfigured) provider ``unavailable``, an overseas
    organisation ``overseas``. Each provider call is logged as a ``registry_checked`` event.
    """
    data = declared(org)
    if org.is_overseas:
        return RegistryOutcome(Registry.OVERSEAS, checked=data)
    try:
        provider = get_registry_provider()
    except RegistryUnavailable as exc:
        log.error("business registry unavailable: %s", exc)
        return RegistryOutcome(
            Registry.UNAVAILABLE,
            _("工商登记信息核验服务配置有误，请联系平台管理员。"),
            checked=data,
        )
    if provider is None:
        return RegistryOutcome(Registry.UNAVAILABLE, checked=data)
    earlier = _recent_pass(org, data, provider.name)
    if earlier is not None:
        return RegistryOutcome(
            Registry.PASSED,
            provider=provider.name,
            checked=data,
            checked_at=earlier.registry_checked_at,
        )
    if _calls_today(org) >= settings.QIANSHU_ORG_REGISTRY_CHECKS_PER_DAY:
        return RegistryOutcome(
            Registry.ERROR,
            _("今日工商登记信息核验次数已用完，请明天再试。"),
            provider=provider.name,
            checked=data,
        )
    request_id = str(uuid.uuid4())
    answer = provider.check_company(Company(**data), request_id=request_id)
    now = timezone.now()
    if isinstance(answer, Passed):
        outcome = RegistryOutcome(Registry.PASSED, "", provider.name, data, now)
    elif isinstance(answer, Failed):
        outcome = RegistryOutcome(Registry.FAILED, answer.reason, provider.name, data, now)
    else:
        outcome = RegistryOutcome(Registry.ERROR, answer.reason, provider.name, data, now)
    with transaction.atomic():
        record_org_event(
            org,
            OrgAction.REGISTRY_CHECKED,
            actor=actor,
            request=request,
            provider=provider.name,
            request_id=request_id,
            result=outcome.result,
            reason=outcome.reason,
            code=answer.code if isinstance(answer, Failed) else "",
            **data,
        )
    return outcome


def same_name_orgs(org: Organization) -> QuerySet[Organization]:
    """Verified organisations other than ``org`` whose name is ``org``'s name."""
    return (
        Organization.objects.filter(
            name_key=fold_name(org.name), status=Organization.Status.VERIFIED
        )
        .exclude(pk=org.pk)
        .order_by("verified_at", "pk")
    )


def lock_name(org: Organization) -> None:
    """Serialise, until the end of the transaction, every verification of organisations with
    ``org``'s name, so two of them finishing at once cannot both find no verified namesake.

    PostgreSQL: a transaction-level advisory lock on the folded name (taken after the
    organisation's row lock, the only other lock held, so no cycle). SQLite serialises writing
    transactions by itself.
    """
    if connection.vendor != "postgresql":
        return
    digest = hashlib.sha256(b"qianshu:org-name:" + fold_name(org.name).encode()).digest()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)]
        )


def review_reasons(org: Organization, verification: OrgVerification) -> list[str]:
    """Why ``verification`` cannot verify ``org`` without an operator (empty: it can)."""
    reasons = []
    if org.is_overseas:
        reasons.append(OVERSEAS)
    elif verification.registry_result != Registry.PASSED:
        reasons.append(REGISTRY)
    elif verification.registry_checked != declared(org):
        reasons.append(REGISTRY)  # the check was about other data (defensive: edits cancel)
    if same_name_orgs(org).exists():
        reasons.append(SAME_NAME)
    return reasons


def review_message(reasons: list[str]) -> str:
    """Why the organisation waits for an operator, for its administrator."""
    if SAME_NAME in reasons:
        return _("平台上已有同名的已认证组织，需由平台工作人员人工审核。")
    if OVERSEAS in reasons:
        return _("港澳台及海外组织需由平台工作人员人工审核。")
    return _("工商登记信息尚未核验通过，需由平台工作人员人工审核。")


def tell_same_name_orgs(org: Organization) -> None:
    """Tell each verified organisation with ``org``'s name that another one claims it: an
    event in its log, and an SMS to its administrators (once per claimant, a few a day).
    Inside the caller's transaction."""
    since = timezone.now() - dt.timedelta(days=1)
    for other in same_name_orgs(org):
        claims = OrgEvent.objects.filter(org=other, action=OrgAction.SAME_NAME_CLAIMED)
        if claims.filter(detail__claimant=str(org.uuid)).exists():
            continue
        notify = claims.filter(created_at__gte=since).count() < SAME_NAME_ALERTS_PER_DAY
        # No actor and no IP: the claimant's people are not the other organisation's
        # business; the claimant is named in the detail (its own log has who and from where).
        record_org_event(
            other,
            OrgAction.SAME_NAME_CLAIMED,
            actor=None,
            claimant=str(org.uuid),
            claimant_name=org.name,
            claimant_identifier=org.identifier,
            notified=notify,
        )
        if notify:
            for admin in org_admins(other):
                do_queue_sms(
                    admin.phone, "org_same_name", {"org": other.name}, language=admin.language
                )
        log.info("organisation %s claims the name of verified organisation %s", org.pk, other.pk)
