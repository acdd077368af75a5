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

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.core.statements import Statement
from qianshu.envelopes.models import Envelope, Field, Recipient
from qianshu.envelopes.turns import BatchItem, PostedTask, StagedField
from qianshu.orgs.access import usable_seals
from qianshu.orgs.models import Membership, Organization, Seal

Role = Recipient.Role
TURN = (Recipient.Status.PENDING, Recipient.Status.VIEWED)


def _uuid(value: object) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise Http404 from None


def granted_seals(actor: User | int, *, now: dt.datetime | None = None) -> QuerySet[Seal]:
    """Active seals of verified organisations the actor (a user or their id) may use right
    now (current grant, still a member)."""
    return usable_seals(actor, now=now).filter(org__status=Organization.Status.VERIFIED)


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


#: What a row of a list or of 批量签署 reads of an envelope and its initiator (templates
#: envelopes/lists/list.html and batch.html, list_rows.Row, batch.BatchTask, routing.
#: initiator_label and initiator_verified): the other columns, the return snapshot among
#: them, took a third of the time to read. test_page_queries counts the pages' queries.
LISTED_FIELDS = (
    "uuid",
    "number",
    "kind",
    "title",
    "scene",
    "status",
    "deadline",
    "sent_at",
    "end_reason",
    "allow_sms_signing",
    "initiator_id",
    "initiator_org_id",
    "initiator__phone",
    "initiator__display_name",
    "initiator__person_identity__name",
    "initiator_org__name",
    "initiator_org__status",
)


#: What a task of 批量签署 reads of its envelope: a row's own columns but the times, 场景 and
#: 作废 reason, which the batch page does not show (300 tasks: 600 times parsed for nothing,
#: 3 ms of 13) ...
BATCH_FIELDS = tuple(
    name
    for name in LISTED_FIELDS
    if "__" not in name and name not in ("sent_at", "deadline", "scene", "end_reason")
)
#: ... and of its initiator only what 发起方 shows (:func:`qianshu.envelopes.routing.
#: batch_initiator_label`), as values on the envelope rather than three more objects a task
#: (a person, their identity, an organisation: 4 of the 9 ms of reading 300 tasks).
BATCH_INITIATOR = {
    "initiator_org_name": F("initiator_org__name"),
    "initiator_identity_name": F("initiator__person_identity__name"),
    "initiator_display_name": F("initiator__display_name"),
    "initiator_phone": F("initiator__phone"),
}


def listed(
    envelopes: QuerySet[Envelope], fields: Sequence[str] = LISTED_FIELDS
) -> QuerySet[Envelope]:
    """``envelopes`` with only the columns a list row (or, with ``BATCH_FIELDS``, a batch
    task) shows of them and of their initiator, in the same query."""
    return envelopes.select_related("initiator__person_identity", "initiator_org").only(*fields)


def batch_listed(envelopes: QuerySet[Envelope]) -> QuerySet[Envelope]:
    """``envelopes`` with what a task of 批量签署 shows of them (:data:`BATCH_FIELDS`,
    :data:`BATCH_INITIATOR`), in the same query."""
    return envelopes.only(*BATCH_FIELDS).annotate(**BATCH_INITIATOR)


def visible_sent_by_uuid(viewer: Viewer, envelope_uuids: Sequence[str]) -> dict[str, Envelope]:
    """The sent envelopes among ``envelope_uuids`` that :func:`visible_envelopes` shows the
    viewer, by uuid — decided for these few envelopes from their own recipient rows (read by
    envelope), not from every recipient row of the user's (for a person with many, a join of
    thousands): 批量签署 of up to 300 ticked tasks."""
    user = viewer.user
    candidates = list(
        batch_listed(
            Envelope.objects.exclude(status=Envelope.Status.DRAFT).filter(
                uuid__in=list(envelope_uuids)
            )
        )
    )
    admin = set(viewer.admin_org_ids)
    shown = {e.pk for e in candidates if e.initiator_id == user.pk or e.initiator_org_id in admin}
    rest = [e.pk for e in candidates if e.pk not in shown]
    if rest:
        shown.update(
            Recipient.objects.filter(person_q(user) | viewer.org_q(), envelope_id__in=rest)
            .order_by()
            .values_list("envelope_id", flat=True)
        )
    return {str(e.uuid): e for e in candidates if e.pk in shown}


# --- who the user is among the recipients ---------------------------------------------------


def person_q(actor: User) -> Q:
    """Recipient rows that are ``actor`` as a person: the bound account, or — before anyone is
    bound — the account with the recipient's phone (never "no phone" matching "no phone").
    Seal recipients never: their phone is the contact's, not the organisation's."""
    q = Q(user=actor)
    if actor.phone:
        q |= Q(user__isnull=True, phone=actor.phone)
    return ~Q(role=Role.SEAL) & q


def seal_turn_q(seals: Sequence[Seal]) -> Q:
    """Seal recipient rows one of ``seals`` (the actor's granted seals) may seal for: the same
    test as :func:`qianshu.envelopes.access.seal_matches`, as a query — bound to the seal's
    organisation, of the required type if any."""
    kinds: dict[int, set[str]] = defaultdict(lambda: {""})
    for seal in seals:
        kinds[seal.org_id].add(seal.kind)
    q = Q(pk__in=[])
    for org_id, org_kinds in sorted(kinds.items()):
        q |= Q(org_id=org_id, required_seal_kind__in=sorted(org_kinds))
    return Q(role=Role.SEAL) & q


# What Viewer.of reads on every list page, built once (core/statements.py): 1.4 of 2 ms was
# making the two querysets' SQL.
_VIEWER_SEALS: Statement[Seal] = Statement(
    lambda user, now: (
        granted_seals(user.as_int(), now=now.as_datetime())
        .select_related("org")
        .order_by("org_id", "created_at", "id")
    ),
    arity=2,
)
_VIEWER_ADMIN_OF: Statement[Any] = Statement(
    lambda user: (
        Membership.objects.filter(user_id=user.as_int(), role=Membership.Role.ADMIN)
        .order_by("org_id")  # as list_shapes numbers them
        .values_list("org_id")
    ),
    arity=1,
)


@dataclass
class Viewer:
    """What the list queries and batch signing need to know about the user, loaded once per
    request."""

    user: User
    seals: list[Seal]
    admin_org_ids: list[int]

    @classmethod
    def of(cls, user: User) -> Viewer:
        seals = _VIEWER_SEALS.objects(user.pk, timezone.now())
        admin = [org_id for (org_id,) in _VIEWER_ADMIN_OF.rows(user.pk)]
        return cls(user, seals, admin)

    def usable_seals(self, recipient: Recipient) -> list[Seal]:
        """The user's seals that may seal for ``recipient`` (:func:`seal_matches`)."""
        return [seal for seal in self.seals if seal_matches(recipient, seal)]

    def may_sign_as(self, recipient: Recipient) -> bool:
        """:func:`can_act_as` for signing, without a query per recipient."""
        if recipient.role == Role.SEAL:
            return bool(self.usable_seals(recipient))
        if recipient.role != Role.SIGN:
            return False
        if recipient.user_id is not None:
            return recipient.user_id == self.user.pk
        return bool(recipient.phone) and recipient.phone == self.user.phone

    def turn_q(self) -> Q:
        """Recipient rows whose turn it is now and as whom the user may act."""
        acting_person = Q(role__in=(Role.SIGN, Role.APPROVE)) & person_q(self.user)
        return Q(status__in=TURN) & (acting_person | seal_turn_q(self.seals))

    def org_q(self) -> Q:
        """Seal recipient rows the user sees as a member: :func:`qianshu.envelopes.access.
        org_recipients_q` with the organisations resolved up front, so that the database gets
        plain values it can look up in the recipient indexes."""
        org_ids = sorted({seal.org_id for seal in self.seals} | set(self.admin_org_ids))
        return Q(role=Role.SEAL, org_id__in=org_ids)


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


def access_envelopes_for_download(actor: User, uuids: Sequence[str]) -> list[Envelope]:
    """The ticked envelopes the actor may open (sent ones only), in the order ticked; others are
    left out without a trace (a guessed or foreign id never reveals anything)."""
    found = {
        str(e.uuid): e
        for e in visible_envelopes(actor)
        .exclude(status=Envelope.Status.DRAFT)
        .filter(uuid__in=list(uuids))
        .select_related("report")
    }
    return [found[u] for u in uuids if u in found]


def _staged(fields: Sequence[Field]) -> tuple[StagedField, ...]:
    # A text field the initiator filled in keeps its value (an empty staged value would be
    # "not filled in").
    return tuple(StagedField(field_id=f.pk, value=f.value) for f in fields)


def access_batch_items(
    actor: User,
    posted: Sequence[PostedTask],
    seal_choice: Mapping[str, str],
) -> list[BatchItem]:
    """The posted tasks the actor may sign as (whose turn it is is checked when signing, under
    the lock); foreign ones are dropped. ``seal_choice``: organisation uuid → seal uuid."""
    viewer = Viewer.of(actor)
    wanted = {(p.envelope_uuid, p.recipient_id): p for p in posted}
    rows = (
        Recipient.objects.filter(
            pk__in=[p.recipient_id for p in posted],
            envelope__in=visible_envelopes(actor).exclude(status=Envelope.Status.DRAFT),
        )
        .select_related("envelope", "org")
        .order_by()
    )
    found = {(str(r.envelope.uuid), r.pk): r for r in rows}
    recipients = [found[k] for k in wanted if k in found and viewer.may_sign_as(found[k])]
    fields: dict[int, list[Field]] = defaultdict(list)
    for f in Field.objects.filter(recipient__in=recipients).order_by("document_id", "page", "id"):
        fields[f.recipient_id].append(f)
    items = []
    for recipient in recipients:
        p = wanted[(str(recipient.envelope.uuid), recipient.pk)]
        seal_uuid = None
        if recipient.role == Role.SEAL:
            usable = viewer.usable_seals(recipient)
            chosen = seal_choice.get(str(usable[0].org.uuid), "")
            if not chosen and len(usable) == 1:
                chosen = str(usable[0].uuid)
            seal_uuid = chosen or None
        items.append(
            BatchItem(
                recipient=recipient,
                key=p.key,
                seen=dict(p.seen),
                seal_uuid=seal_uuid,
                fields=_staged(fields[recipient.pk]),
            )
        )
    return items
