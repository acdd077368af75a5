"""Permission-checked fetches of envelopes. A missing and a forbidden envelope give the same 404.

Who takes part in an envelope:

* its initiator, and the administrators of the organisation it was sent for;
* a person recipient: the account bound to it, or — before anyone is bound — the account with
  the recipient's phone number;
* a seal recipient (an organisation): the members of that organisation who hold a current grant
  of a matching seal (any of them may seal for it), its administrators, and the contact person
  the link was sent to.

Drafts are visible to their initiator only.
"""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet
from django.http import Http404

from qianshu.accounts.models import User
from qianshu.envelopes.models import Envelope, Recipient
from qianshu.orgs.access import usable_seals
from qianshu.orgs.models import Membership, Organization, Seal


def _uuid(value: object) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise Http404 from None


def granted_seals(actor: User) -> QuerySet[Seal]:
    """Active seals of verified organisations the actor may use right now (current grant,
    still a member)."""
    return usable_seals(actor).filter(org__status=Organization.Status.VERIFIED)


def seal_matches(recipient: Recipient, seal: Seal) -> bool:
    """Whether ``seal`` may seal for the organisation recipient."""
    if recipient.org_id is not None and seal.org_id != recipient.org_id:
        return False
    org = seal.org
    if recipient.org_id is None:
        if org.name != recipient.name or not org.is_verified:
            return False
        if recipient.org_credit_code and org.credit_code != recipient.org_credit_code:
            return False
    return not recipient.required_seal_kind or seal.kind == recipient.required_seal_kind


def usable_seals_for(actor: User, recipient: Recipient) -> list[Seal]:
    """The seals ``actor`` may apply for the organisation ``recipient``."""
    if recipient.role != Recipient.Role.SEAL or not actor.is_authenticated:
        return []
    seals = granted_seals(actor).select_related("org", "image")
    if recipient.org_id is not None:
        seals = seals.filter(org_id=recipient.org_id)
    else:
        seals = seals.filter(org__name=recipient.name)
    return [
        seal for seal in seals.order_by("org_id", "created_at") if seal_matches(recipient, seal)
    ]


def _admin_org_ids(actor: User) -> list[int]:
    return list(
        Membership.objects.filter(user=actor, role=Membership.Role.ADMIN).values_list(
            "org_id", flat=True
        )
    )


def person_recipients_q(actor: User) -> Q:
    """Recipient rows that stand for ``actor`` as a person."""
    return Q(user=actor) | Q(user__isnull=True, phone=actor.phone)


def org_recipients_q(actor: User) -> Q:
    """Seal recipient rows the actor may act for (current grant of a seal of that organisation)
    or administers."""
    grant_orgs = granted_seals(actor).values("org_id")
    grant_names = granted_seals(actor).values("org__name")
    admin_orgs = _admin_org_ids(actor)
    return Q(role=Recipient.Role.SEAL) & (
        Q(org_id__in=grant_orgs)
        | Q(org__isnull=True, name__in=grant_names)
        | Q(org_id__in=admin_orgs)
    )


def visible_envelopes(actor: User) -> QuerySet[Envelope]:
    """Every envelope the actor takes part in (drafts only their own)."""
    if not actor.is_authenticated:
        return Envelope.objects.none()
    recipient_rows = Recipient.objects.filter(
        person_recipients_q(actor) | org_recipients_q(actor)
    ).values("envelope_id")
    admin_orgs = _admin_org_ids(actor)
    return Envelope.objects.filter(
        Q(initiator=actor)
        | (
            ~Q(status=Envelope.Status.DRAFT)
            & (Q(pk__in=recipient_rows) | Q(initiator_org_id__in=admin_orgs))
        )
    )


def access_envelope_by_uuid(actor: User, envelope_uuid: object) -> Envelope:
    """An envelope the actor takes part in, or 404."""
    envelope = (
        visible_envelopes(actor)
        .select_related("initiator", "initiator_org")
        .filter(uuid=_uuid(envelope_uuid))
        .first()
    )
    if envelope is None:
        raise Http404
    return envelope


def access_draft_by_uuid(actor: User, envelope_uuid: object) -> Envelope:
    """A draft of the actor's (to edit, place fields, send or delete), or 404."""
    envelope = Envelope.objects.filter(
        uuid=_uuid(envelope_uuid), initiator=actor, status=Envelope.Status.DRAFT
    ).first()
    if envelope is None:
        raise Http404
    return envelope


def access_initiated_by_uuid(actor: User, envelope_uuid: object) -> Envelope:
    """A sent envelope the actor initiated (recall, remind, void), or 404."""
    envelope = (
        Envelope.objects.filter(uuid=_uuid(envelope_uuid), initiator=actor)
        .exclude(status=Envelope.Status.DRAFT)
        .first()
    )
    if envelope is None:
        raise Http404
    return envelope


def can_act_as(actor: User, recipient: Recipient) -> bool:
    """Whether ``actor`` may act as ``recipient`` (ignoring whose turn it is)."""
    if not actor.is_authenticated:
        return False
    if recipient.role == Recipient.Role.SEAL:
        return bool(usable_seals_for(actor, recipient))
    if recipient.user_id is not None:
        return recipient.user_id == actor.pk
    return bool(recipient.phone) and recipient.phone == actor.phone


def turn_of(actor: User, envelope: Envelope) -> Recipient | None:
    """The recipient whose turn it is now and as whom ``actor`` may act, if any."""
    if not envelope.is_active():
        return None
    pending = envelope.recipients.filter(
        status__in=(Recipient.Status.PENDING, Recipient.Status.VIEWED)
    ).select_related("org", "user")
    for recipient in pending:
        if recipient.role != Recipient.Role.CC and can_act_as(actor, recipient):
            return recipient
    return None


def access_turn_by_uuid(actor: User, envelope_uuid: object) -> tuple[Envelope, Recipient]:
    """The envelope and the recipient as whom the actor acts now; 404 when it is not their turn
    (or the envelope is not theirs at all)."""
    envelope = access_envelope_by_uuid(actor, envelope_uuid)
    recipient = turn_of(actor, envelope)
    if recipient is None:
        raise Http404
    return envelope, recipient


def recipient_for(actor: User, envelope: Envelope) -> Recipient | None:
    """The actor's own recipient row in the envelope (any status), for showing their part."""
    for recipient in envelope.recipients.select_related("org"):
        if recipient.role == Recipient.Role.CC:
            if recipient.user_id == actor.pk or (
                recipient.user_id is None and recipient.phone == actor.phone
            ):
                return recipient
        elif can_act_as(actor, recipient) or recipient.acted_by_id == actor.pk:
            return recipient
    return None
