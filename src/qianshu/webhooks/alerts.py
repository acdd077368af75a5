"""Telling an organisation that the platform disabled one of its webhook endpoints."""

from __future__ import annotations

from django.conf import settings

from qianshu.core.meta import TASK
from qianshu.notifications.actions import do_queue_sms
from qianshu.orgs.access import org_admins
from qianshu.orgs.audit import record_org_event
from qianshu.orgs.models import OrgAction
from qianshu.webhooks.models import Endpoint


def disabled_for_failures(endpoint: Endpoint) -> None:
    """Record the platform's decision in the organisation's log and text its administrators.
    Call in the transaction that disabled the endpoint."""
    org = endpoint.org
    days = settings.QIANSHU_WEBHOOK_DISABLE_AFTER_DAYS
    record_org_event(
        org,
        OrgAction.WEBHOOK_DISABLED,
        actor=None,
        meta=TASK,
        endpoint=str(endpoint.uuid),
        url=endpoint.url,
        reason="failing",
        days=days,
    )
    for admin in org_admins(org):
        do_queue_sms(
            admin.phone,
            "webhook_disabled",
            {"org": org.name, "url": endpoint.url, "days": days},
            language=settings.LANGUAGE_CODE,
        )
