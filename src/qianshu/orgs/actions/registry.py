"""Asking the business registry about an organisation, and telling verified organisations of
the same name that another one claims it: the writes of :mod:`qianshu.orgs.registry_checks`
(each provider call is a ``registry_checked`` event)."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.core.meta import RequestMeta
from qianshu.notifications.actions import do_queue_sms
from qianshu.orgs.access import org_admins
from qianshu.orgs.audit import record_org_event
from qianshu.orgs.models import OrgAction, Organization, OrgEvent, OrgVerification
from qianshu.orgs.providers.registry import (
    Company,
    Failed,
    Passed,
    RegistryUnavailable,
    get_registry_provider,
)
from qianshu.orgs.registry_checks import (
    REGISTRY_PASS_LIFE,
    SAME_NAME_ALERTS_PER_DAY,
    RegistryOutcome,
    declared,
    same_name_orgs,
)

log = logging.getLogger(__name__)
Registry = OrgVerification.Registry


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


def run_registry_check(org: Organization, *, actor: User, meta: RequestMeta) -> RegistryOutcome:
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
    checked: dict[str, Any] = data
    with transaction.atomic():
        record_org_event(
            org,
            OrgAction.REGISTRY_CHECKED,
            actor=actor,
            meta=meta,
            provider=provider.name,
            request_id=request_id,
            result=outcome.result,
            reason=outcome.reason,
            code=answer.code if isinstance(answer, Failed) else "",
            **checked,
        )
    return outcome


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
