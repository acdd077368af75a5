"""Permission-checked fetches for organisations. Missing and forbidden both raise Http404."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.orgs.models import (
    Invitation,
    Membership,
    Organization,
    OrgVerification,
    Seal,
    SealGrant,
)
from qianshu.orgs.verification_legal_rep import token_hash as legal_rep_token_hash

Role = Membership.Role
ANY_ROLE = (Role.ADMIN, Role.SEAL_KEEPER, Role.MEMBER)
ADMIN_ONLY = (Role.ADMIN,)


def _uuid(value: object) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise Http404 from None


def membership_of(actor: User, org: Organization) -> Membership | None:
    if not actor.is_authenticated:
        return None
    return Membership.objects.filter(org=org, user=actor).first()


def org_admins(org: Organization) -> list[User]:
    """The organisation's administrators (for notifications, not a permission check)."""
    return [
        m.user for m in Membership.objects.filter(org=org, role=Role.ADMIN).select_related("user")
    ]


def access_org_by_uuid(
    actor: User, org_uuid: object, *, roles: Iterable[str] = ANY_ROLE
) -> tuple[Organization, Membership]:
    """The organisation and the actor's membership, if the actor holds one of ``roles``."""
    if not actor.is_authenticated:
        raise Http404
    membership = (
        Membership.objects.select_related("org")
        .filter(org__uuid=_uuid(org_uuid), user=actor)
        .first()
    )
    if membership is None:
        raise Http404
    if membership.role not in set(roles):
        raise Http404
    return membership.org, membership


def access_seal_by_uuid(
    actor: User, org: Organization, seal_uuid: object, *, include_destroyed: bool = False
) -> Seal:
    """A seal of ``org`` (which the caller has already accessed with the right role)."""
    seals = Seal.objects.filter(org=org, uuid=_uuid(seal_uuid))
    if not include_destroyed:
        seals = seals.exclude(status=Seal.Status.DESTROYED)
    seal = seals.first()
    if seal is None:
        raise Http404
    return seal


def current_grant(actor: User, seal: Seal) -> SealGrant | None:
    """The actor's grant that allows using ``seal`` right now, if any (and the seal is active,
    and the actor is still a member of the seal's organisation)."""
    if not actor.is_authenticated or not seal.is_usable:
        return None
    if not Membership.objects.filter(org_id=seal.org_id, user=actor).exists():
        return None
    return (
        SealGrant.objects.filter(seal=seal, grantee=actor)
        .current()
        .order_by("-valid_until")
        .first()
    )


def usable_seals(
    actor: User | int, org: Organization | None = None, *, now: dt.datetime | None = None
) -> QuerySet[Seal]:
    """Seals the actor (a user or their id) may use now (through a current grant), optionally
    of one organisation. ``now``: the time it is, when the caller read it."""
    now = now or timezone.now()
    seals = Seal.objects.filter(
        status=Seal.Status.ACTIVE,
        org__memberships__user=actor,
        grants__grantee=actor,
        grants__status=SealGrant.Status.ACTIVE,
        grants__valid_from__lte=now,
        grants__valid_until__gt=now,
    )
    if org is not None:
        seals = seals.filter(org=org)
    return seals.select_related("org").distinct()


def access_usable_seal(actor: User, seal_uuid: object) -> tuple[Seal, SealGrant]:
    """A seal the actor may use now, with the grant that allows it; 404 otherwise."""
    seal = Seal.objects.select_related("org").filter(uuid=_uuid(seal_uuid)).first()
    if seal is None:
        raise Http404
    grant = current_grant(actor, seal)
    if grant is None:
        raise Http404
    return seal, grant


def organisations_of(actor: User) -> QuerySet[Organization]:
    if not actor.is_authenticated:
        return Organization.objects.none()
    return member_of(actor.pk)


def member_of(user_id: int) -> QuerySet[Organization]:
    """The organisations of which the user ``user_id`` is a member, by name."""
    return Organization.objects.filter(memberships__user_id=user_id).order_by("name")


def access_member_by_id(org: Organization, member_id: object) -> Membership:
    """A membership of ``org`` (the caller has already accessed ``org`` with the right role)."""
    try:
        pk = int(str(member_id))
    except ValueError:
        raise Http404 from None
    membership = Membership.objects.select_related("user").filter(org=org, pk=pk).first()
    if membership is None:
        raise Http404
    return membership


def access_invitation_by_uuid(org: Organization, invitation_uuid: object) -> Invitation:
    """An invitation of ``org`` (the caller has already accessed ``org`` as administrator)."""
    invitation = Invitation.objects.filter(org=org, uuid=str(invitation_uuid)).first()
    if invitation is None:
        raise Http404
    return invitation


def access_legal_rep_request(token: str) -> OrgVerification:
    """The legal-representative authorisation a link token names (whatever its state)."""
    verification = (
        OrgVerification.objects.select_related("org", "created_by")
        .filter(method=Organization.Method.LEGAL_REP, token_hash=legal_rep_token_hash(token))
        .exclude(token_hash="")
        .first()
    )
    if verification is None:
        raise Http404("no such authorisation")
    return verification


def access_org_for_review(actor: User, org_uuid: uuid.UUID) -> Organization:
    """Any organisation, for a platform operator."""
    if not (actor.is_active and actor.is_staff):
        raise Http404("no such organisation")
    org = Organization.objects.select_related("licence", "created_by").filter(uuid=org_uuid).first()
    if org is None:
        raise Http404("no such organisation")
    return org
