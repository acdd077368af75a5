"""Permission-checked fetches of envelopes. A missing and a forbidden envelope give the same 404.

Who takes part in an envelope:

* its initiator, and the administrators of the organisation it was sent for;
* a person recipient (signer, approver, CC): the account bound to it, or — before anyone is
  bound — the account with the recipient's phone number;
* a seal recipient (an organisation): only through the organisation it is bound to
  (``Recipient.org``, set when the initiator chose a verified organisation, or when the
  organisation it named by credit code and name verified — see :mod:`qianshu.envelopes.binding`):
  that organisation's members who hold a current grant of one of its seals, and its
  administrators. Nothing here looks at an organisation's name: another organisation with the
  same name, or with the same credit code but not verified, sees nothing. The contact person the
  link was sent to gets no documents by being the contact (the link page tells them what to do).

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
    """Whether ``seal`` may seal for the seal recipient: a seal of the verified organisation the
    recipient is bound to, of the required type if there is one. An unbound recipient has no
    matching seal at all."""
    if recipient.role != Recipient.Role.SEAL or recipient.org_id is None:
        return False
    if seal.org_id != recipient.org_id or not seal.org.is_verified:
        return False
    return not recipient.required_seal_kind or seal.kind == recipient.required_seal_kind


def usable_seals_for(actor: User, recipient: Recipient) -> list[Seal]:
    """The seals ``actor`` may apply for the organisation ``recipient``."""
    if recipient.role != Recipient.Role.SEAL or recipient.org_id is None:
        return []
    if not actor.is_authenticated:
        return []
    seals = granted_seals(actor).filter(org_id=recipient.org_id).select_related("org", "image")
    return [seal for seal in seals.order_by("created_at", "id") if seal_matches(recipient, seal)]


def _admin_org_ids(actor: User) -> list[int]:
    return list(
        Membership.objects.filter(user=actor, role=Membership.Role.ADMIN).values_list(
            "org_id", flat=True
        )
    )


def person_recipients_q(actor: User) -> Q:
    """Recipient rows that stand for ``actor`` as a person (never a seal recipient: its phone is
    the contact's, and an organisation is reached through its binding only)."""
    person = Q(user=actor)
    if actor.phone:
        person |= Q(user__isnull=True, phone=actor.phone)
    return ~Q(role=Recipient.Role.SEAL) & person


def org_recipients_q(actor: User) -> Q:
    """Seal recipient rows bound to an organisation the actor may seal for (a current grant of
    one of its seals) or administers."""
    grant_orgs = granted_seals(actor).values("org_id")
    admin_orgs = _admin_org_ids(actor)
    return Q(role=Recipient.Role.SEAL, org__isnull=False) & (
        Q(org_id__in=grant_orgs) | Q(org_id__in=admin_orgs)
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
    """A draft of the actor's (to edit, place fields, send or delete) — or an envelope of the
    actor's sent back to them (退回), edited and resent the same way — or 404."""
    envelope = Envelope.objects.filter(
        uuid=_uuid(envelope_uuid),
        initiator=actor,
        status__in=(Envelope.Status.DRAFT, Envelope.Status.RETURNED),
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
        if recipient.role == Recipient.Role.SEAL:
            if recipient.acted_by_id == actor.pk or can_act_as(actor, recipient):
                return recipient
        elif recipient.role == Recipient.Role.CC:
            if recipient.user_id == actor.pk or (
                recipient.user_id is None and recipient.phone == actor.phone
            ):
                return recipient
        elif can_act_as(actor, recipient) or recipient.acted_by_id == actor.pk:
            return recipient
    return None
