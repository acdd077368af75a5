"""Read-only list queries of the organisation app (what pages and the back office list)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.orgs.models import Invitation, Membership, Organization, Seal, SealGrant, SealUsage
from qianshu.orgs.people import IDENTITY


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


def memberships_of(user: User) -> QuerySet[Membership]:
    """The user's memberships with their organisations, by organisation name (我的组织)."""
    return Membership.objects.filter(user=user).select_related("org").order_by("org__name", "pk")


def members_of(org: Organization) -> list[Membership]:
    """The organisation's memberships, with each user and their verified identity."""
    return list(Membership.objects.select_related("user", f"user__{IDENTITY}").filter(org=org))


def seals_of(org: Organization) -> list[Seal]:
    """The organisation's seals with their certificates, oldest first; destroyed seals stay
    listed for the record, after the others."""
    seals = list(Seal.objects.filter(org=org).select_related("certificate").order_by("created_at"))
    seals.sort(key=lambda seal: seal.status == Seal.Status.DESTROYED)
    return seals


def grants_of(org: Organization) -> QuerySet[SealGrant]:
    """Every grant of the organisation's seals, with the seal, the grantee (and their verified
    identity) and who granted it."""
    return SealGrant.objects.filter(seal__org=org).select_related(
        "seal", "grantee", f"grantee__{IDENTITY}", "granted_by", "api_key"
    )


def seal_usages(org: Organization) -> QuerySet[SealUsage]:
    """用印记录 of the organisation's seals, with the seal, the member and their verified
    identity."""
    return SealUsage.objects.filter(seal__org=org).select_related(
        "seal", "user", f"user__{IDENTITY}", "grant__api_key"
    )
