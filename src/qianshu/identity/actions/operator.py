"""What a platform operator may do to a person's identity and signing credential (back office).

Each action takes a reason, writes a security event naming the operator, ends every session of
the person and tells them by SMS. A revoked credential's certificate is revoked (CRL and OCSP
follow). Nothing here gives anybody a key: after a revocation the person gets a new one only
through the PIN reset (an SMS code to their phone and their ID number, held for a while after a
phone change), and an SMS-code signing stays refused because the person had a credential.
An operator corrects a wrong name or number by revoking the identity: the person verifies
again (by a provider check, or by manual review by another operator).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from qianshu.accounts.actions import check_operator, end_all_sessions
from qianshu.accounts.audit import record_event
from qianshu.accounts.models import SecurityAction, User
from qianshu.core.meta import RequestMeta
from qianshu.identity.actions.credentials import retire_credential
from qianshu.identity.errors import NoCredential, NotVerified
from qianshu.identity.models import PersonIdentity, SigningCredential
from qianshu.notifications.actions import do_queue_sms
from qianshu.pki.models import IssuedCertificate

MAX_REASON_LENGTH = 200


def _clean_reason(reason: str) -> str:
    reason = " ".join(reason.split())[:MAX_REASON_LENGTH]
    if not reason:
        raise ValueError("an operator action needs a reason")
    return reason


def _lock_active_credential(user: User) -> SigningCredential | None:
    return (
        SigningCredential.objects.select_for_update()
        .select_related("certificate")
        .filter(user=user, replaced_at__isnull=True)
        .first()
    )


def do_revoke_signing_credential(
    user: User, reason: str, *, actor: User, meta: RequestMeta
) -> SigningCredential:
    """Revoke ``user``'s signing credential (certificate revoked). Raises ``NoCredential``."""
    check_operator(user, actor)
    reason = _clean_reason(reason)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        credential = _lock_active_credential(user)
        if credential is None:
            raise NoCredential()
        retire_credential(credential, timezone.now(), IssuedCertificate.Reason.UNSPECIFIED)
        end_all_sessions(user)
        record_event(
            SecurityAction.SIGNING_CREDENTIAL_REVOKED,
            user=user,
            meta=meta,
            operator=actor.pk,
            reason=reason,
            certificate=credential.certificate.serial_hex,
        )
        do_queue_sms(user.phone, "credential_revoked", {"reason": reason}, language=user.language)
    return credential


def do_revoke_identity(user: User, reason: str, *, actor: User, meta: RequestMeta) -> None:
    """Revoke ``user``'s verified identity (and with it the credential, whose certificate names
    the person): the person verifies again before signing. Raises ``NotVerified``."""
    check_operator(user, actor)
    reason = _clean_reason(reason)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        identity = PersonIdentity.objects.select_for_update().filter(user=user).first()
        if identity is None:
            raise NotVerified()
        credential = _lock_active_credential(user)
        if credential is not None:
            retire_credential(credential, timezone.now(), IssuedCertificate.Reason.UNSPECIFIED)
        record_event(
            SecurityAction.IDENTITY_REVOKED,
            user=user,
            meta=meta,
            operator=actor.pk,
            reason=reason,
            method=identity.method,
            number=identity.number_masked,
            certificate=credential.certificate.serial_hex if credential else "",
        )
        # The attempts that verified it stay (never deleted); the document is free again.
        identity.delete()
        end_all_sessions(user)
        do_queue_sms(user.phone, "identity_revoked", {"reason": reason}, language=user.language)
