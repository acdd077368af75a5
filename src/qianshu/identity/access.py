"""Permission-checked fetches of identity records. Missing and forbidden both give 404."""

from __future__ import annotations

import re
import uuid

from django.http import Http404

from qianshu.accounts.models import User
from qianshu.identity.errors import HandoffUnusable
from qianshu.identity.handoffs import token_nonce_hash
from qianshu.identity.models import (
    IdentityHandoff,
    Method,
    PersonIdentity,
    SigningCredential,
    VerificationAttempt,
)

_HEX = re.compile(r"[0-9a-fA-F]{1,42}")


def verified_identity(user: User) -> PersonIdentity | None:
    """The user's verified identity (real name, document), or None if not verified."""
    if not user.is_authenticated:
        return None
    return PersonIdentity.objects.filter(user=user).first()


def pending_review(user: User) -> VerificationAttempt | None:
    """The user's manual review waiting for an operator, if any."""
    return VerificationAttempt.objects.filter(
        user=user, status=VerificationAttempt.Status.PENDING_REVIEW
    ).first()


def latest_attempt(user: User) -> VerificationAttempt | None:
    """The user's latest finished (or pending) attempt, for the status page."""
    return (
        VerificationAttempt.objects.filter(user=user)
        .exclude(status=VerificationAttempt.Status.STARTED)
        .first()
    )


def active_credential(user: User) -> SigningCredential | None:
    """The user's signing credential in use (PIN-wrapped key and certificate), if any."""
    return (
        SigningCredential.objects.select_related("certificate")
        .filter(user=user, replaced_at__isnull=True)
        .first()
    )


def has_signing_credential(user: User) -> bool:
    """Whether the user has, or had, a signing credential (in use, locked, expired, or revoked
    by an operator). Such a person confirms signings only with the PIN — never by SMS code — and
    gets a new key only by resetting the PIN."""
    if not user.is_authenticated:
        return False
    return SigningCredential.objects.filter(user=user).exists()


def access_attempt_by_uuid(user: User, attempt_uuid: uuid.UUID) -> VerificationAttempt:
    """One of the user's own verification attempts."""
    attempt = VerificationAttempt.objects.filter(uuid=attempt_uuid).first()
    if attempt is None:
        raise Http404("no such attempt")
    if attempt.user_id != user.pk:
        raise Http404("no such attempt")
    return attempt


def access_review_attempt(actor: User, attempt_uuid: uuid.UUID) -> VerificationAttempt:
    """A manual review, for a platform operator."""
    if not actor.is_active:
        raise Http404("no such review")
    if not actor.is_staff:
        raise Http404("no such review")
    attempt = (
        VerificationAttempt.objects.select_related("user", "reviewer")
        .filter(uuid=attempt_uuid, method=Method.MANUAL)
        .first()
    )
    if attempt is None:
        raise Http404("no such review")
    return attempt


def access_credential_by_serial(user: User, serial_hex: str) -> SigningCredential:
    """One of the user's own credentials (current or replaced), by certificate serial (hex)."""
    if not _HEX.fullmatch(serial_hex):
        raise Http404("no such certificate")
    serial = serial_hex.lower().lstrip("0") or "0"
    credential = (
        SigningCredential.objects.select_related("certificate")
        .filter(certificate__serial_hex=serial)
        .first()
    )
    if credential is None:
        raise Http404("no such certificate")
    if credential.user_id != user.pk:
        raise Http404("no such certificate")
    return credential


def access_handoff_by_id(user: User, handoff_id: int) -> IdentityHandoff:
    """One of the user's own 手机扫码认证 hand-offs (the computer polls it)."""
    handoff = IdentityHandoff.objects.filter(pk=handoff_id).first()
    if handoff is None:
        raise Http404("no such hand-off")
    if handoff.user_id != user.pk:
        raise Http404("no such hand-off")
    return handoff


def access_handoff_by_token(token: str) -> IdentityHandoff:
    """The hand-off a QR code's token names, used or not (``do_open_identity_handoff`` checks
    who opens it). Raises :class:`HandoffUnusable` for a tampered, stale or unknown token."""
    hashed = token_nonce_hash(token)
    handoff = IdentityHandoff.objects.select_related("user").filter(nonce_hash=hashed).first()
    if handoff is None:
        raise HandoffUnusable("invalid")
    return handoff
