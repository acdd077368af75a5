"""A recipient's turn: view, sign or seal (提交签署), approve, reject (拒签 / 退回).

Signing is the one place where documents change, and it is serialised per envelope:

1. Outside any lock: the idempotency key is looked up (a retried submit returns the first
   result and signs nothing), the signer's confirmation is checked — the signing PIN unlocks the
   person's key (wrong PINs are counted even if signing later fails), or — for a signer who
   never had a PIN, where the envelope allows it — an SMS code bound to this envelope and the
   document hashes the signer saw — and the stamp images are prepared.
2. In one transaction: the envelope row is locked, then each document row; the document the
   signer saw must be the current revision or an earlier one (later revisions only add other
   parties' signatures in declared fields); the stamps are signed on top of the *latest*
   revision, stored as a new immutable blob, and the revision number is compare-and-swapped;
   the audit event, the seal usage, the routing step and the notifications are written; commit.

A crash anywhere before the commit leaves the previous revision as the current one (at most an
unreferenced blob remains), and the recipient can sign again.

批量签署 looks up once what every step would look up again (:func:`prepare_steps`: the
platform's keys, the signer's saved signature, the keys submitted before); each step still
checks its idempotency key again with the envelope locked, so a resubmitted batch signs
nothing twice.

What a step applies — the stamps, each document's plan, the signing of each document on top of
its latest revision — is :mod:`qianshu.envelopes.actions.stamping`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.core import chains
from qianshu.core.meta import RequestMeta
from qianshu.core.statements import Insert, Statement
from qianshu.envelopes import audit, events, routing
from qianshu.envelopes.access import seal_matches
from qianshu.envelopes.actions.confirmations import confirm_signing
from qianshu.envelopes.actions.stamping import (
    Signing,
    blob_image,
    plan_documents,
    saved_signature,
    sign_step,
    signature_image,
    unfilled_fields,
)
from qianshu.envelopes.confirmations import (
    Confirmation,
    check_confirmation,
    confirmation_binding,
    person_signer,
    seal_signer,
)
from qianshu.envelopes.errors import EnvelopeError, NotYourTurn, SealNotAllowed
from qianshu.envelopes.models import Envelope, Field, Recipient, Submission
from qianshu.envelopes.turns import (
    SignOutcome,
    SignRequest,
    StagedField,
    check_managed,
    check_signer,
)
from qianshu.notifications.actions import written_together
from qianshu.orgs.grants import locked_for_use, locked_grant_for_use
from qianshu.orgs.models import Membership, Seal, SealGrant
from qianshu.orgs.seals import SealError
from qianshu.pki.platform import Platform, load_platform
from qianshu.signing import stamps
from qianshu.signing.errors import SigningError
from qianshu.storage.actions import stored_alongside
from qianshu.storage.errors import BlobStoreError

log = logging.getLogger(__name__)

Kind = Field.Kind
Role = Recipient.Role


def _lock(recipient: Recipient) -> tuple[Envelope, Recipient]:
    envelope = _lock_envelope(recipient)
    return envelope, Recipient.objects.select_for_update().get(pk=recipient.pk)


# The step's locking reads, built once (core/statements.py): they run on every signing step,
# and building their SQL cost more than running it.
_LOCKED_ENVELOPE: Statement[Envelope] = Statement(
    lambda pk: (
        Envelope.objects.select_for_update(of=("self",))
        .select_related("initiator__person_identity", "initiator_org")
        .filter(pk=pk.as_int())
    ),
    arity=1,
)
# The step's envelope's recipients, locked, each with whether the submission ``key`` was signed
# already (it can be only the step's): the step's row, and those the routing moves on after it
# (routing.advance_with_progress), in one statement.
_LOCKED_RECIPIENTS: Statement[Recipient] = Statement(
    lambda envelope, key: routing.locked_recipients(envelope.as_int()).annotate(
        submitted=Exists(Submission.objects.filter(recipient=OuterRef("pk"), key=key.as_str()))
    ),
    arity=2,
)


_INSERT_SUBMISSION: Insert[Submission] = Insert(Submission)

_SUBMITTED: Statement[Any] = Statement(
    lambda recipient, key: Submission.objects.filter(
        recipient_id=recipient.as_int(), key=key.as_str()
    ).values_list("pk")[:1],
    arity=2,
)


def _submitted_earlier(
    recipient: Recipient, key: str, looked_up: frozenset[tuple[int, str]] | None
) -> bool:
    """Whether the submission ``key`` of this step was made before: from the batch's look-up
    (:func:`submitted_before`) when it made one, else read here. Either way the step checks
    again with its rows locked (:func:`_lock_step`)."""
    if looked_up is not None:
        return (recipient.pk, key) in looked_up
    return bool(_SUBMITTED.rows(recipient.pk, key))


def _lock_step(recipient: Recipient, key: str) -> tuple[Envelope, Recipient, bool, list[Recipient]]:
    """:func:`_lock`, whether the submission ``key`` was signed already (read with the
    recipient row, under the lock), and all the envelope's recipients locked (the step's
    among them: the routing after the step reads them)."""
    envelope = _lock_envelope(recipient)
    recipients = _LOCKED_RECIPIENTS.objects(envelope.pk, key, known={"envelope": envelope})
    for locked in recipients:
        if locked.pk == recipient.pk:
            return envelope, locked, bool(cast(Any, locked).submitted), recipients
    raise Recipient.DoesNotExist("the step's recipient is gone")


def _lock_envelope(recipient: Recipient) -> Envelope:
    return _LOCKED_ENVELOPE.get(recipient.envelope_id)


def _check_turn(envelope: Envelope, locked: Recipient, actor: User | None) -> None:
    if not envelope.is_active():
        raise NotYourTurn(
            _("该任务%(status)s，不能再签署。") % {"status": envelope.get_status_display()}
        )
    if not locked.is_turn:
        raise NotYourTurn(_("现在不是您的签署环节，或您已处理过该任务。"))
    if locked.role in (Role.SIGN, Role.APPROVE, Role.CC):
        if actor is None:
            raise NotYourTurn(_("该签署环节属于其他人。"))
        if locked.user_id is not None and locked.user_id != actor.pk:
            raise NotYourTurn(_("该签署环节属于其他人。"))
        if locked.user_id is None and locked.phone and locked.phone != actor.phone:
            raise NotYourTurn(_("该签署环节属于其他人。"))


def lock_turn(recipient: Recipient, actor: User) -> tuple[Envelope, Recipient]:
    """The envelope and recipient rows locked, once it is checked that it is ``actor``'s turn
    (raises ``NotYourTurn`` / ``EnvelopeError`` otherwise). Also used by 退回 (returns)."""
    envelope, locked = _lock(recipient)
    _check_turn(envelope, locked, actor)
    return envelope, locked


def _lock_seal(recipient: Recipient, seal_uuid: str | None, actor: User) -> tuple[Seal, SealGrant]:
    """The seal to apply, with the actor's current grant, both locked for this use
    (:func:`~qianshu.orgs.grants.locked_for_use`) and re-checked."""
    if not seal_uuid:
        raise EnvelopeError(_("请选择要加盖的印章。"))
    seal_id = (
        Seal.objects.filter(uuid=seal_uuid).values_list("pk", flat=True).first()
        if _is_uuid(seal_uuid)
        else None
    )
    now = timezone.now()
    found = None
    if seal_id is not None:
        found = locked_for_use(
            SealGrant.objects.filter(seal_id=seal_id, grantee=actor).current(now)
        )
    grant, seal = found or (None, None)
    allowed = (
        seal is not None
        and grant is not None
        and seal.is_usable
        and Membership.objects.filter(org=seal.org, user=actor).exists()
        and seal_matches(recipient, seal)
    )
    if not allowed:
        raise EnvelopeError(_("您没有该印章的有效授权，或该印章不能用于本文件。"))
    assert seal is not None and grant is not None
    issued = seal.certificate
    if issued.revoked_at is not None or issued.not_after <= now:
        raise EnvelopeError(_("印章证书已失效，请联系组织管理员。"))
    return seal, grant


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Prepared:
    """What a batch looks up once for all its steps (:func:`prepare_steps`)."""

    platform: Platform
    signature: stamps.StampImage | None  # the signer's default saved signature
    submitted: frozenset[tuple[int, str]]  # (recipient id, key) submitted before


def prepare_steps(steps: Sequence[tuple[Recipient, str]], actor: User) -> Prepared:
    """Look up once, for the steps ``(recipient, idempotency key)`` that ``actor`` is about to
    sign, what each would look up again."""
    return Prepared(load_platform(), saved_signature(actor), submitted_before(steps))


def submitted_before(steps: Sequence[tuple[Recipient, str]]) -> frozenset[tuple[int, str]]:
    """Which of the steps ``(recipient, idempotency key)`` were submitted before, in one
    statement (each step checks its key again with its rows locked)."""
    keys = {key for _recipient, key in steps}
    submitted = Submission.objects.filter(
        recipient_id__in=[recipient.pk for recipient, _key in steps], key__in=keys
    ).values_list("recipient_id", "key")
    return frozenset(submitted)


def do_sign(
    recipient: Recipient,
    req: SignRequest,
    *,
    pin: str | None = None,
    code: str | None = None,
    confirmation: Confirmation | None = None,
    prepared: Prepared | None = None,
    managed: bool = False,
    actor: User,
    meta: RequestMeta,
) -> SignOutcome:
    """提交签署: apply every field of ``recipient`` (and its free placements) in one revision
    per document, signed with the person's key (PIN, or an event key after an SMS code) or,
    for an organisation, with the granted seal's key after the member's own PIN or code.

    The signer confirms with ``pin`` or ``code`` (checked here), or the caller passes the
    ``confirmation`` it already checked (batch signing). Raises :class:`EnvelopeError`
    subclasses with a message for the signer; nothing changes then (a wrong PIN is still
    counted). ``managed``: the app driving a managed envelope is the caller
    (:func:`~qianshu.envelopes.turns.check_managed`). ``prepared``: what a batch looked up
    once for all its steps (:func:`prepare_steps`).
    """
    check_managed(recipient.envelope, managed)
    if not req.key or len(req.key) > 64:
        raise EnvelopeError(_("提交无效，请刷新页面后重试。"))
    if _submitted_earlier(recipient, req.key, prepared.submitted if prepared is not None else None):
        return SignOutcome(recipient=recipient, repeated=True)
    if recipient.role not in (Role.SIGN, Role.SEAL):
        raise EnvelopeError(_("该环节无需签署。"))
    check_signer(recipient, actor)
    if confirmation is None:
        confirmation = confirm_signing(
            pin=pin,
            code=code,
            binding=confirmation_binding(recipient.envelope, req.seen),
            envelopes=[recipient.envelope],
            actor=actor,
            meta=meta,
        )
    else:
        check_confirmation(confirmation, recipient.envelope, actor)
    if prepared is not None and req.signature_png is None and req.signature_id is None:
        # A missing signature is refused by _plan if a field needs one.
        signature = prepared.signature if recipient.role == Role.SIGN else None
    elif _needs(recipient, req, Kind.SIGNATURE):
        signature = signature_image(req, actor)
    else:
        signature = None
    try:
        # The step's blobs are written while its statements run, durable before the commit;
        # its organisation's log (a seal's use) is appended at the end, its chain row shared
        # by every use of the organisation's seals locked for the commit only.
        with transaction.atomic(), chains.appended_at_end(), stored_alongside():
            envelope, locked, submitted, recipients = _lock_step(recipient, req.key)
            if submitted:
                # The same submission, sent twice at once: the first one signed.
                return SignOutcome(recipient=locked, repeated=True)
            _check_turn(envelope, locked, actor)
            seal = grant = None
            seal_image = None
            platform = prepared.platform if prepared is not None else load_platform()
            if locked.role == Role.SEAL:
                seal, grant = _lock_seal(locked, req.seal_uuid, actor)
                seal_image = blob_image(seal.image)
                key, signer = seal_signer(confirmation, seal, platform)
                name = f"{seal.org.name} {seal.name}"
            else:
                key, signer = person_signer(confirmation, locked, actor, platform)
                name = locked.name
            plans = plan_documents(
                envelope, locked, req, signature=signature, seal_image=seal_image
            )
            # The step's audit events, and its messages, each written in one INSERT.
            with audit.batched(envelope), written_together():
                signed_docs = sign_step(
                    envelope,
                    locked,
                    plans,
                    Signing(key, signer, name, seal, grant, confirmation.method),
                    req.seen,
                    platform,
                    actor=actor,
                    meta=meta,
                )
                _INSERT_SUBMISSION.save([Submission(recipient=locked, key=req.key)])
                _after_step(envelope, locked, actor, recipients)
    except (SealError, SigningError, BlobStoreError) as exc:
        raise _refusal(exc, recipient) from exc
    return SignOutcome(recipient=locked, documents=signed_docs)


def _lock_key_grant(
    envelope: Envelope, recipient: Recipient, grant: SealGrant
) -> tuple[Seal, SealGrant]:
    """The seal of an API key's grant and the grant, both locked and re-checked: the grant is
    current, its key not revoked and of the envelope's organisation, the seal usable, not a
    legal representative's seal, and right for the step (organisation, required type). The
    locks: :func:`~qianshu.orgs.grants.locked_for_use` (a revoked key revokes its grant, which
    waits for the uses under way)."""
    found = locked_grant_for_use(grant.pk)
    if found is None:
        raise SealNotAllowed()
    locked, seal = found
    api_key = locked.api_key
    allowed = (
        api_key is not None
        and api_key.revoked_at is None
        and api_key.org_id == seal.org_id
        and envelope.initiator_org_id == seal.org_id
        and locked.is_current()
        and seal.is_usable
        and seal.kind != Seal.Kind.LEGAL_REP
        and seal_matches(recipient, seal)
    )
    if not allowed:
        raise SealNotAllowed()
    issued = seal.certificate
    if issued.revoked_at is not None or issued.not_after <= timezone.now():
        raise EnvelopeError(_("印章证书已失效，请联系组织管理员。"))
    return seal, locked


def do_seal_with_grant(
    recipient: Recipient,
    grant: SealGrant,
    *,
    key: str,
    agent: str,
    platform: Platform | None = None,
    confirmation: Confirmation | None = None,
    submitted: frozenset[tuple[int, str]] | None = None,
    meta: RequestMeta,
) -> SignOutcome:
    """API 用印 (契约锁's 静默签): the seal granted to an API key seals the organisation's own
    seal step ``recipient``, in the fields declared for it, without a person.

    ``grant`` is the key's grant (``SealGrant.api_key``); ``agent`` names the key in the audit
    trail; ``key`` makes a retried call return the first result. Everything that makes the use
    legitimate is checked again with the rows locked (:func:`_lock_key_grant`): a step of
    another organisation — even one with the same name — a revoked key or grant, a legal
    representative's seal, a step whose turn has not come, or an envelope that is not the
    key's organisation's own are refused; nothing changes then. A key places nothing itself:
    a step without declared seal fields is refused, and so is one that asks for text.
    ``platform`` and ``confirmation``: what a batch prepared once for its steps — the
    platform's keys, and the key's confirmation (``Confirmation(0, "api_key")``), which keeps
    the seal's signer from one step to the next; ``submitted``: the steps the batch found
    submitted before (:func:`submitted_before`), else looked up here."""
    check_managed(recipient.envelope, managed=False)
    if not key or len(key) > 64:
        raise EnvelopeError(_("提交无效，请刷新页面后重试。"))
    if _submitted_earlier(recipient, key, submitted):
        return SignOutcome(recipient=recipient, repeated=True)
    if recipient.role != Role.SEAL:
        raise SealNotAllowed(_("API 密钥只能为本组织的企业盖章环节用印。"))
    try:
        with transaction.atomic(), chains.appended_at_end(), stored_alongside():
            envelope, locked, repeated, recipients = _lock_step(recipient, key)
            if repeated:
                return SignOutcome(recipient=locked, repeated=True)
            _check_turn(envelope, locked, None)
            seal, held = _lock_key_grant(envelope, locked, grant)
            declared = unfilled_fields(locked)
            if not declared:
                raise EnvelopeError(_("该盖章环节没有指定盖章位置，API 密钥不能自行放置印章。"))
            if any(f.kind not in (Kind.SEAL, Kind.CROSS_PAGE_SEAL, Kind.DATE) for f in declared):
                raise EnvelopeError(_("该盖章环节需要填写内容，不能由 API 密钥自动盖章。"))
            platform = platform or load_platform()
            confirmation = confirmation or Confirmation(0, "api_key")
            signer_key, signer = seal_signer(confirmation, seal, platform)
            req = SignRequest(
                key=key,
                seen={},
                fields=tuple(StagedField(field_id=f.pk) for f in declared),
            )
            seal_image = blob_image(seal.image)
            plans = plan_documents(
                envelope, locked, req, signature=None, seal_image=seal_image, declared=declared
            )
            # No person saw a revision: the step seals what is current now (the documents as
            # plan_documents read them locked; no other step can add a revision meanwhile).
            seen = {plan.document.pk: str(plan.document.current_id) for plan in plans}
            signing = Signing(
                signer_key,
                signer,
                f"{seal.org.name} {seal.name}",
                seal,
                held,
                "api_key",
                agent=agent,
            )
            # The step's audit events, and its messages, each written in one INSERT.
            with audit.batched(envelope), written_together():
                signed_docs = sign_step(
                    envelope, locked, plans, signing, seen, platform, actor=None, meta=meta
                )
                _INSERT_SUBMISSION.save([Submission(recipient=locked, key=key)])
                _after_step(envelope, locked, None, recipients)
    except (SealError, SigningError, BlobStoreError) as exc:
        raise _refusal(exc, recipient) from exc
    return SignOutcome(recipient=locked, documents=signed_docs)


def _refusal(exc: SealError | SigningError | BlobStoreError, recipient: Recipient) -> EnvelopeError:
    """What the signer is told when a step's signing failed (a seal's own reason, or a
    generic one for the signing core's failures and the blob store's, which are logged:
    nothing of the step was committed, and it can be signed again)."""
    if isinstance(exc, SealError):
        return EnvelopeError(str(exc))
    log.warning("signing %s for recipient %s failed: %s", recipient.envelope_id, recipient.pk, exc)
    return EnvelopeError(_("签署失败，请稍后重试。"))


def _needs(recipient: Recipient, req: SignRequest, kind: str) -> bool:
    if recipient.role != Role.SIGN:
        return False
    if any(s.field_id is None and s.kind == kind for s in req.fields):
        return True
    return recipient.fields.filter(kind=kind, filled_at__isnull=True).exists()


def _after_step(
    envelope: Envelope,
    recipient: Recipient,
    actor: User | None,
    recipients: list[Recipient] | None = None,
) -> None:
    """Routing and the initiator's notice after a recipient finished its step (``actor`` is
    None when an API key sealed). ``recipients``: the envelope's, locked in this transaction
    with ``recipient`` among them, when the caller has them."""
    events.emit(envelope, "recipient.signed", recipient=recipient)
    _activated, (done, total) = routing.advance_with_progress(envelope, recipients=recipients)
    if (actor is None or envelope.initiator_id != actor.pk) and done < total:
        who = recipient.name if recipient.role == Role.SEAL else audit.person_label(actor)
        routing.notify_initiator(
            envelope,
            "envelope_progress",
            {"who": who, "action": routing.action_label(recipient), "progress": f"{done}/{total}"},
        )


def do_approve(recipient: Recipient, *, actor: User, meta: RequestMeta) -> None:
    """审批: an approver agrees; the routing moves on."""
    with transaction.atomic():
        envelope, locked = lock_turn(recipient, actor)
        if locked.role != Role.APPROVE:
            raise EnvelopeError(_("该环节需要签署，不是审批。"))
        locked.status = Recipient.Status.DONE
        locked.done_at = timezone.now()
        locked.acted_by = actor
        if locked.user_id is None:
            locked.user = actor
        locked.save()
        audit.record(envelope, "approved", actor=actor, recipient=locked, meta=meta)
        _after_step(envelope, locked, actor)


def do_reject(
    recipient: Recipient, reason: str, *, managed: bool = False, actor: User, meta: RequestMeta
) -> None:
    """拒签 / 退回: the recipient refuses with a reason; the envelope ends (rejected).
    ``managed`` as for :func:`do_sign`."""
    check_managed(recipient.envelope, managed)
    reason = " ".join((reason or "").split())
    if not reason:
        raise EnvelopeError(_("请填写拒签原因。"))
    if len(reason) > 300:
        raise EnvelopeError(_("拒签原因最多 300 个字。"))
    with transaction.atomic():
        envelope, locked = lock_turn(recipient, actor)
        now = timezone.now()
        locked.status = Recipient.Status.REJECTED
        locked.reason = reason
        locked.done_at = now
        locked.acted_by = actor
        if locked.role != Role.SEAL and locked.user_id is None:
            locked.user = actor
        locked.save()
        envelope.status = Envelope.Status.REJECTED
        envelope.ended_at = now
        envelope.end_reason = reason
        envelope.save(update_fields=["status", "ended_at", "end_reason"])
        audit.record(envelope, "rejected", actor=actor, recipient=locked, meta=meta, reason=reason)
        events.emit(envelope, "recipient.rejected", recipient=locked, reason=reason)
        who = locked.name if locked.role == Role.SEAL else audit.person_label(actor)
        context = {"who": who, "reason": reason}
        routing.notify_initiator(envelope, "envelope_rejected", context)
        for other in envelope.recipients.exclude(pk=locked.pk).exclude(
            status=Recipient.Status.WAITING
        ):
            if other.role != Role.CC:
                routing.send(
                    other,
                    "envelope_rejected",
                    {
                        **context,
                        "title": envelope.title,
                        "number": envelope.number,
                        "link": routing.envelope_url(envelope),
                    },
                )


def do_mark_viewed(recipient: Recipient, *, actor: User, meta: RequestMeta) -> None:
    """The recipient opened the document on their turn (查看): first view is recorded."""
    if recipient.status != Recipient.Status.PENDING:
        return
    with transaction.atomic():
        envelope = Envelope.objects.select_for_update().get(pk=recipient.envelope_id)
        locked = Recipient.objects.select_for_update().get(pk=recipient.pk)
        if locked.status != Recipient.Status.PENDING or not envelope.is_active():
            return
        locked.status = Recipient.Status.VIEWED
        locked.viewed_at = timezone.now()
        if locked.role != Role.SEAL and locked.user_id is None:
            locked.user = actor
        locked.save(update_fields=["status", "viewed_at", "user"])
        audit.record(envelope, "viewed", actor=actor, recipient=locked, meta=meta)
        events.emit(envelope, "recipient.viewed", recipient=locked)


def do_claim_recipient(recipient: Recipient, *, actor: User, meta: RequestMeta) -> None:
    """Bind a person recipient reached by its link to the logged-in account: the account with
    the recipient's phone, or — for a recipient known only by e-mail — whoever opened the link
    sent to that address (the link is the proof, as with e-mail signing elsewhere)."""
    with transaction.atomic():
        envelope, locked = _lock(recipient)
        if locked.user_id is not None or locked.role == Role.SEAL:
            return
        if locked.phone and locked.phone != actor.phone:
            return
        locked.user = actor
        locked.save(update_fields=["user"])
        if not locked.phone:
            audit.record(
                envelope, "viewed", actor=actor, recipient=locked, meta=meta, step="claimed"
            )
