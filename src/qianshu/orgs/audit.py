"""The organisation log (OrgEvent): every verification step, member, seal and grant change."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from qianshu.accounts.audit import client_ip
from qianshu.accounts.models import User
from qianshu.orgs.models import Organization, OrgEvent


def record_org_event(
    org: Organization,
    action: str,
    *,
    actor: User | None,
    request: HttpRequest | None = None,
    **detail: Any,
) -> OrgEvent:
    """Append an event to the organisation's log. Call inside the action's transaction."""
    return OrgEvent.objects.create(
        org=org,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        detail=detail,
        ip=client_ip(request),
    )
