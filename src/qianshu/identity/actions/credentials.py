"""The signing PIN (签署密码): set, change, reset, and unlocking the key to sign.

The person's private key exists in clear only in memory, after the PIN unwrapped it. Argon2id
(slow on purpose) runs outside the row lock when creating keys, and inside it when checking a
PIN, so that parallel guesses are counted one after the other.
"""

from __future__ import annotations

import datetime as dt
import hmac

from cryptography import x509
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from qianshu.accounts import codes, throttles
from qianshu.accounts.audit import record_event
from qianshu.accounts.models import SecurityAction, User
from qianshu.core.meta import RequestMeta
from qianshu.identity import crypto
from qianshu.identity.errors import (
    CertificateExpired,
    CredentialExists,
    IdNumberMismatch,
    NewKeyHeld,
    NewPinByReset,
    NoCredential,
    NotVerified,
    PinLocked,
    ResetHeld,
    ResetLocked,
    SamePin,
    WrongPin,
)
from qianshu.identity.holds import new_key_held_until, pin_reset_held_until
from qianshu.identity.models import PersonIdentity, SigningCredential
from qianshu.identity.pins import LOCK_MINUTES, MAX_WRONG_PINS, person_key_store
from qianshu.pki.actions import do_issue_person_certificate, do_revoke_certificate
from qianshu.pki.models import IssuedCertificate
from qianshu.signing import pki
from qianshu.signing.errors import WrongPinError
from qianshu.signing.keys import SigningKey, SoftwareSigningKey

RESET_ID_FAILURES = 5  # wrong ID numbers per 15 minutes on the reset page
RESET_WINDOW = 15 * 60


def subject_id_for(user: User) -> str:
    """The certificate's serialNumber: a stable platform pseudonym, never the ID number."""
    return f"QS-U{user.pk}"


def _identity(actor: User) -> PersonIdentity:
    identity = PersonIdentity.objects.filter(user=actor).first()
    if identity is None:
        raise NotVerified()
    return identity


def _prepare_credential(actor: User, pin: str) -> tuple[SigningCredential, SigningKey]:
    """A new key wrapped under ``pin`` (Argon2id: slow, so before any row lock), unsaved."""
    credential = SigningCredential(user=actor, subject_id=subject_id_for(actor))
    wrapped, key = person_key_store().create_key(pin, credential.key_label)
    credential.wrapped_key = wrapped
    return credential, key


def _issue_credential(
    credential: SigningCredential, key: SigningKey, identity: PersonIdentity
) -> SigningCredential:
    """Issue the certificate and save the credential; the caller is inside a transaction."""
    cert = do_issue_person_certificate(
        pki.PersonIdentity(identity.name, credential.subject_id), key.public_key
    )
    credential.certificate = IssuedCertificate.objects.get(
        serial_hex=format(cert.serial_number, "x")
    )
    credential.save()
    return credential


def _check_first_pin(actor: User) -> None:
    """A first PIN is for a person who never had a credential (after a revocation, a new key
    comes only through the reset), and not right after an operator changed the phone."""
    if SigningCredential.objects.filter(user=actor, replaced_at__isnull=True).exists():
        raise CredentialExists()
    if SigningCredential.objects.filter(user=actor).exists():
        raise NewPinByReset()
    held = new_key_held_until(actor)
    if held is not None:
        raise NewKeyHeld(held)


def retire_credential(credential: SigningCredential, now: dt.datetime, reason: str) -> None:
    """Take ``credential`` out of use and revoke its certificate (CRL and OCSP follow). Inside
    the caller's transaction, with the credential row locked."""
    credential.replaced_at = now
    credential.save(update_fields=["replaced_at"])
    do_revoke_certificate(credential.certificate.serial_number, reason=reason)


def do_set_signing_pin(pin: str, *, actor: User, meta: RequestMeta) -> SigningCredential:
    """First PIN of a verified person: a new key wrapped under it and a person certificate.

    The PIN is assumed checked against the PIN rules (``pins.pin_problem``) by the form.
    """
    identity = _identity(actor)
    _check_first_pin(actor)
    credential, key = _prepare_credential(actor, pin)
    with transaction.atomic():
        # Serialise per user: two parallel requests must not both issue a certificate.
        User.objects.select_for_update().filter(pk=actor.pk).first()
        _check_first_pin(actor)
        _issue_credential(credential, key, identity)
        record_event(
            SecurityAction.SIGNING_PIN_SET,
            user=actor,
            meta=meta,
            certificate=credential.certificate.serial_hex,
        )
    return credential


def _wrong_pin(
    credential: SigningCredential, now: dt.datetime, meta: RequestMeta
) -> WrongPin | PinLocked:
    """Count a wrong PIN on the locked credential row; the exception to raise after commit."""
    credential.failed_attempts += 1
    error: WrongPin | PinLocked
    if credential.failed_attempts >= MAX_WRONG_PINS:
        credential.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
        credential.failed_attempts = 0
        error = PinLocked(credential.locked_until)
        record_event(SecurityAction.SIGNING_PIN_LOCKED, user=credential.user, meta=meta)
    else:
        error = WrongPin(MAX_WRONG_PINS - credential.failed_attempts)
        record_event(
            SecurityAction.SIGNING_PIN_WRONG,
            user=credential.user,
            meta=meta,
            failed_attempts=credential.failed_attempts,
        )
    credential.save(update_fields=["failed_attempts", "locked_until"])
    return error


def _locked_credential(user: User, now: dt.datetime) -> SigningCredential:
    credential = (
        SigningCredential.objects.select_for_update()
        .select_related("certificate")
        .filter(user=user, replaced_at__isnull=True)
        .first()
    )
    if credential is None:
        raise NoCredential()
    until = credential.locked_until
    if until is not None and until > now:
        raise PinLocked(until)
    return credential


def _unwrap(
    credential: SigningCredential, pin: str, now: dt.datetime, meta: RequestMeta
) -> SoftwareSigningKey | WrongPin | PinLocked:
    try:
        key = person_key_store().unwrap(bytes(credential.wrapped_key), pin, credential.key_label)
    except WrongPinError:
        return _wrong_pin(credential, now, meta)
    if credential.failed_attempts or credential.locked_until:
        credential.failed_attempts = 0
        credential.locked_until = None
        credential.save(update_fields=["failed_attempts", "locked_until"])
    return key


def do_unlock_signing_key(
    user: User, pin: str, *, meta: RequestMeta
) -> tuple[SigningKey, x509.Certificate]:
    """Unlock the user's signing key with their PIN, for one signing operation.

    Returns the key and its certificate. Raises ``NoCredential`` (no PIN set, or the certificate
    is revoked or expired: ``CertificateExpired``), ``PinLocked(until)`` after five wrong PINs
    (30 minutes), ``WrongPin(remaining_attempts)``. Wrong PINs here and on the change-PIN page
    count together; a right one resets the count.
    """
    now = timezone.now()
    with transaction.atomic():
        credential = _locked_credential(user, now)
        issued = credential.certificate
        if issued.revoked_at is not None:
            raise NoCredential()
        if issued.not_after <= now:
            raise CertificateExpired()
        outcome = _unwrap(credential, pin, now, meta)
    if isinstance(outcome, WrongPin | PinLocked):
        raise outcome
    return outcome, x509.load_der_x509_certificate(bytes(issued.certificate_der))


def do_change_signing_pin(old_pin: str, new_pin: str, *, actor: User, meta: RequestMeta) -> None:
    """Re-wrap the same key (same certificate) under a new PIN; the old PIN is counted like a
    signing attempt (``WrongPin`` / ``PinLocked``)."""
    if hmac.compare_digest(old_pin, new_pin):
        raise SamePin()
    now = timezone.now()
    with transaction.atomic():
        credential = _locked_credential(actor, now)
        outcome = _unwrap(credential, old_pin, now, meta)
        if isinstance(outcome, SoftwareSigningKey):
            credential.wrapped_key = person_key_store().wrap(
                outcome.private_key, new_pin, credential.key_label
            )
            credential.save(update_fields=["wrapped_key"])
            record_event(SecurityAction.SIGNING_PIN_CHANGED, user=actor, meta=meta)
    if isinstance(outcome, WrongPin | PinLocked):
        raise outcome


def do_send_pin_reset_code(*, actor: User, meta: RequestMeta) -> None:
    """Send the SMS code that confirms a PIN reset to the account's phone. Raises ``CodeError``,
    or ``ResetHeld`` shortly after a phone change."""
    held = pin_reset_held_until(actor)
    if held is not None:
        raise ResetHeld(held)
    codes.issue_code(
        actor.phone,
        codes.Purpose.PIN_RESET,
        binding=f"user:{actor.pk}",
        ip=meta.ip,
        language=meta.language or settings.LANGUAGE_CODE,
    )
    with transaction.atomic():
        record_event(SecurityAction.PIN_RESET_CODE_SENT, user=actor, meta=meta)


def do_reset_signing_pin(
    code: str,
    id_number: str,
    new_pin: str,
    *,
    actor: User,
    meta: RequestMeta,
) -> SigningCredential:
    """Forgotten PIN: after the SMS code and the verified ID number, revoke the old certificate
    (superseded) and issue a new key and certificate under the new PIN. Also ends a lock.

    Raises ``codes.CodeError``, ``IdNumberMismatch``, ``ResetLocked``, ``ResetHeld`` (within
    ``QIANSHU_PIN_RESET_HOLD_HOURS`` of a phone change) or ``NotVerified``.
    """
    identity = _identity(actor)
    held = pin_reset_held_until(actor)
    if held is not None:
        raise ResetHeld(held)
    throttle_key = f"pin-reset-id:user:{actor.pk}"
    if not throttles.exceeded(throttle_key, limit=RESET_ID_FAILURES, window=RESET_WINDOW):
        raise ResetLocked()
    codes.check_code(
        actor.phone,
        codes.Purpose.PIN_RESET,
        code,
        binding=f"user:{actor.pk}",
        ip=meta.ip,
    )
    # Counted before the comparison (see accounts.throttles); a match resets the count.
    if not throttles.hit(throttle_key, limit=RESET_ID_FAILURES, window=RESET_WINDOW):
        raise ResetLocked()
    given = crypto.number_hmac(identity.id_type, id_number)
    if not hmac.compare_digest(given, identity.number_hmac):
        with transaction.atomic():
            record_event(SecurityAction.SIGNING_PIN_RESET_REFUSED, user=actor, meta=meta)
        raise IdNumberMismatch()
    throttles.reset(throttle_key)
    credential, key = _prepare_credential(actor, new_pin)
    now = timezone.now()
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=actor.pk).first()
        old = (
            SigningCredential.objects.select_for_update()
            .select_related("certificate")
            .filter(user=actor, replaced_at__isnull=True)
            .first()
        )
        if old is not None:
            retire_credential(old, now, IssuedCertificate.Reason.SUPERSEDED)
        _issue_credential(credential, key, identity)
        record_event(
            SecurityAction.SIGNING_PIN_RESET,
            user=actor,
            meta=meta,
            revoked=old.certificate.serial_hex if old else "",
            certificate=credential.certificate.serial_hex,
        )
    return credential
