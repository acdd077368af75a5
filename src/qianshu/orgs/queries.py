"""Read-only list queries of the organisation app (what pages and the back office list)."""

from __future__ import annotations

from django.utils import timezone

from qianshu.orgs.models import Invitation, Organization


def pending_invitations(org: Organization) -> list[Invitation]:
    now = timezone.now()
    return list(
        Invitation.objects.select_related("invited_by")
        .filter(org=org, status=Invitation.Status.PENDING, expires_at__gt=now)
        .order_by("-created_at")
    )
