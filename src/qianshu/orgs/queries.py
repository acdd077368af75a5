"""Read-only list queries of the organisation app (what pages and the back office list)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from qianshu.orgs.models import Invitation, Organization


def pending_invitations(org: Organization) -> list[Invitation]:
    """The organisation's invitations still waiting for an answer, newest first."""
    now = timezone.now()
    return list(
        Invitation.objects.select_related("invited_by")
        .filter(org=org, status=Invitation.Status.PENDING, expires_at__gt=now)
        .order_by("-created_at")
    )


def orgs_awaiting_review() -> QuerySet[Organization]:
    """The back-office queue: pending deposits to the platform and manual reviews, oldest
    first."""
    return Organization.objects.filter(
        needs_review=True, status=Organization.Status.PENDING
    ).order_by("created_at", "id")
