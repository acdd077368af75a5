"""Manual review decisions by platform operators (back office)."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from qianshu.accounts.audit import record_event
from qianshu.accounts.models import SecurityAction, User
from qianshu.core.meta import RequestMeta
from qianshu.identity.actions.verification import create_identity
from qianshu.identity.errors import OwnReview, ReviewAlreadyDecided
from qianshu.identity.models import Method, VerificationAttempt
from qianshu.notifications.actions import do_queue_sms

Status = VerificationAttempt.Status
MAX_REASON_LENGTH = 200


def _lock_pending(attempt_uuid: uuid.UUID) -> VerificationAttempt:
    # The row lock plus the status check make the first of two simultaneous decisions win.
    attempt = (
        VerificationAttempt.objects.select_for_update()
        .select_related("user")
        .get(uuid=attempt_uuid, method=Method.MANUAL)
    )
    if attempt.status != Status.PENDING_REVIEW:
        raise ReviewAlreadyDecided()
    return attempt


def do_approve_verification(
    attempt_uuid: uuid.UUID, *, actor: User, meta: RequestMeta
) -> VerificationAttempt:
    """Approve a manual review: the identity is verified and the user told by SMS.

    Raises ``OwnReview`` for the operator's own account, ``ReviewAlreadyDecided`` if another
    operator decided first, ``IdentityTaken`` if the document was verified by another account
    meanwhile (then reject it instead).
    """
    with transaction.atomic():
        attempt = _lock_pending(attempt_uuid)
        if attempt.user_id == actor.pk:
            raise OwnReview()  # an operator never verifies their own account
        create_identity(attempt)
        now = timezone.now()
        attempt.status = Status.APPROVED
        attempt.reviewer = actor
        attempt.reviewed_at = attempt.finished_at = now
        attempt.save(update_fields=["status", "reviewer", "reviewed_at", "finished_at"])
        record_event(
            SecurityAction.IDENTITY_MANUAL_REVIEW_APPROVED,
            user=attempt.user,
            meta=meta,
            attempt=str(attempt.uuid),
            reviewer=actor.pk,
        )
        do_queue_sms(
            attempt.user.phone,
            "verification_approved",
            {"name": attempt.name},
            language=attempt.user.language,
        )
    return attempt


def do_reject_verification(
    attempt_uuid: uuid.UUID, reason: str, *, actor: User, meta: RequestMeta
) -> VerificationAttempt:
    """Reject a manual review with a reason the user reads (SMS and status page)."""
    reason = " ".join(reason.split())[:MAX_REASON_LENGTH]
    if not reason:
        raise ValueError("a rejection needs a reason")
    with transaction.atomic():
        attempt = _lock_pending(attempt_uuid)
        if attempt.user_id == actor.pk:
            raise OwnReview()
        now = timezone.now()
        attempt.status = Status.REJECTED
        attempt.reason = reason
        attempt.reviewer = actor
        attempt.reviewed_at = attempt.finished_at = now
        attempt.save(update_fields=["status", "reason", "reviewer", "reviewed_at", "finished_at"])
        record_event(
            SecurityAction.IDENTITY_MANUAL_REVIEW_REJECTED,
            user=attempt.user,
            meta=meta,
            attempt=str(attempt.uuid),
            reviewer=actor.pk,
            reason=reason,
        )
        do_queue_sms(
            attempt.user.phone,
            "verification_rejected",
            {"name": attempt.name, "reason": reason},
            language=attempt.user.language,
        )
    return attempt
