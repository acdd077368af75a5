"""Personal real-name verification: one action per method, one attempt row per try.

Provider calls are network calls: they happen outside the database transaction, and the
transaction that follows records the attempt, its outcome, the verified identity and the audit
event together.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from qianshu.accounts import codes, throttles
from qianshu.accounts.audit import record_event
from qianshu.accounts.models import SecurityAction, User
from qianshu.accounts.phones import mask_phone
from qianshu.core.meta import RequestMeta
from qianshu.identity import crypto
from qianshu.identity.drafts import Declaration
from qianshu.identity.errors import (
    AlreadyVerified,
    AttemptNotActive,
    AttemptsExhausted,
    IdentityTaken,
    MethodNotAllowed,
    ReviewPending,
)
from qianshu.identity.idcards import birth_date_of, mask_card, mask_number
from qianshu.identity.models import Method, PersonIdentity, VerificationAttempt, methods_for
from qianshu.identity.providers import (
    CheckResult,
    Failed,
    Passed,
    ProviderError,
    get_provider,
)
from qianshu.storage import encryption
from qianshu.storage.actions import do_store_encrypted_blob
from qianshu.storage.models import Blob

Status = VerificationAttempt.Status
# A phone three-factor attempt waits this long for its SMS code.
PHONE3_WINDOW = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Photo:
    """An uploaded ID photo that passed the content checks."""

    data: bytes
    content_type: str


def _store_photo(photo: Photo) -> Blob:
    return do_store_encrypted_blob(
        photo.data, content_type=photo.content_type, purpose=encryption.IDENTITY_PHOTO
    )


def _language(meta: RequestMeta) -> str:
    """The language of the SMS to the client: the one it reads, else the site default."""
    return meta.language or settings.LANGUAGE_CODE


def check_can_start(actor: User, declaration: Declaration, method: str) -> None:
    """Raise ``VerificationRefused`` if ``actor`` may not try ``method`` with this declaration.

    Does not count an attempt (see ``_count_attempt``); cheap enough for every page view.
    """
    if PersonIdentity.objects.filter(user=actor).exists():
        raise AlreadyVerified()
    if VerificationAttempt.objects.filter(user=actor, status=Status.PENDING_REVIEW).exists():
        raise ReviewPending()
    if method not in methods_for(declaration.id_type):
        raise MethodNotAllowed()
    lookup = crypto.number_hmac(declaration.id_type, declaration.id_number)
    if PersonIdentity.objects.filter(number_hmac=lookup).exclude(user=actor).exists():
        raise IdentityTaken()


def _count_attempt(actor: User) -> None:
    verdict = throttles.hit(
        f"identity-attempt:user:{actor.pk}",
        limit=settings.QIANSHU_IDENTITY_ATTEMPTS_PER_DAY,
        window=24 * 3600,
    )
    if not verdict:
        raise AttemptsExhausted()


def _new_attempt(
    actor: User,
    declaration: Declaration,
    method: str,
    *,
    provider: str,
    status: str,
    meta: RequestMeta,
    attempt_uuid: uuid.UUID | None = None,
    inputs: dict[str, str] | None = None,
    reason: str = "",
    provider_ref: str = "",
) -> VerificationAttempt:
    inputs = inputs or {}
    masked = {
        key: mask_card(value) if key == "card" else mask_phone(value)
        for key, value in inputs.items()
    }
    return VerificationAttempt.objects.create(
        uuid=attempt_uuid or uuid.uuid4(),
        user=actor,
        method=method,
        provider=provider,
        provider_ref=provider_ref,
        id_type=declaration.id_type,
        name=declaration.name,
        number_encrypted=crypto.encrypt(declaration.id_number, user_id=actor.pk),
        number_hmac=crypto.number_hmac(declaration.id_type, declaration.id_number),
        number_masked=mask_number(declaration.id_number),
        inputs_encrypted=(
            crypto.encrypt_json(inputs, user_id=actor.pk, purpose="attempt-inputs")
            if inputs
            else None
        ),
        inputs_masked=masked,
        status=status,
        reason=reason[:300],
        ip=meta.ip,
        user_agent=meta.user_agent,
        finished_at=None if status in (Status.STARTED, Status.PENDING_REVIEW) else timezone.now(),
    )


def create_identity(attempt: VerificationAttempt) -> PersonIdentity:
    """Record the verified identity of a passed or approved attempt (inside a transaction).

    Raises ``IdentityTaken`` when the user or the document is verified already (a race).
    """
    number = attempt.id_number()
    try:
        with transaction.atomic():
            return PersonIdentity.objects.create(
                user_id=attempt.user_id,
                id_type=attempt.id_type,
                name=attempt.name,
                number_encrypted=bytes(attempt.number_encrypted),
                number_hmac=attempt.number_hmac,
                number_masked=attempt.number_masked,
                birth_date=birth_date_of(attempt.id_type, number),
                method=attempt.method,
                attempt=attempt,
                verified_at=timezone.now(),
            )
    except IntegrityError:
        raise IdentityTaken() from None


# The security event of each way an attempt ends.
SETTLED = {
    Status.PASSED: SecurityAction.IDENTITY_VERIFICATION_PASSED,
    Status.FAILED: SecurityAction.IDENTITY_VERIFICATION_FAILED,
    Status.ERROR: SecurityAction.IDENTITY_VERIFICATION_ERROR,
}


def _settle(
    attempt: VerificationAttempt, result: CheckResult, meta: RequestMeta
) -> VerificationAttempt:
    """Apply a provider's final answer to an attempt (inside a transaction)."""
    if isinstance(result, Passed):
        try:
            create_identity(attempt)
        except IdentityTaken as exc:
            attempt.status, attempt.reason = Status.FAILED, str(exc)
        else:
            attempt.status, attempt.reason = Status.PASSED, ""
    elif isinstance(result, Failed):
        attempt.status, attempt.reason = Status.FAILED, result.reason[:300]
    else:
        attempt.status, attempt.reason = Status.ERROR, result.reason[:300]
    attempt.finished_at = timezone.now()
    attempt.save(update_fields=["status", "reason", "finished_at"])
    record_event(
        SETTLED[attempt.status],
        user=attempt.user,
        meta=meta,
        attempt=str(attempt.uuid),
        method=attempt.method,
        provider=attempt.provider,
    )
    return attempt


# --- face (人脸识别) ---------------------------------------------------------------------


def do_start_face_verification(
    declaration: Declaration,
    *,
    actor: User,
    return_url: Callable[[uuid.UUID], str],
    meta: RequestMeta,
) -> tuple[VerificationAttempt, str | None]:
    """Open a face comparison with the provider: returns the attempt and the URL to send the
    user to (None if the provider could not start one; the attempt then says why)."""
    check_can_start(actor, declaration, Method.FACE)
    provider = get_provider()
    _count_attempt(actor)
    attempt_uuid = uuid.uuid4()
    started = provider.start_face(
        declaration.person, return_url(attempt_uuid), request_id=str(attempt_uuid)
    )
    with transaction.atomic():
        attempt = _new_attempt(
            actor,
            declaration,
            Method.FACE,
            provider=provider.name,
            status=Status.ERROR if isinstance(started, ProviderError) else Status.STARTED,
            reason=started.reason if isinstance(started, ProviderError) else "",
            provider_ref="" if isinstance(started, ProviderError) else started.token,
            attempt_uuid=attempt_uuid,
            meta=meta,
        )
        url = None if isinstance(started, ProviderError) else started.url
        record_event(
            SecurityAction.IDENTITY_VERIFICATION_STARTED,
            user=actor,
            meta=meta,
            attempt=str(attempt.uuid),
            method=Method.FACE,
            provider=provider.name,
        )
    return attempt, url


def do_finish_face_verification(
    attempt: VerificationAttempt, *, actor: User, meta: RequestMeta
) -> VerificationAttempt:
    """Ask the provider for the face comparison's result (the return request is not trusted).

    A result not ready yet leaves the attempt ``started``; a finished attempt is returned as is.
    """
    if attempt.status != Status.STARTED or attempt.method != Method.FACE:
        return attempt
    provider = get_provider()
    if provider.name != attempt.provider:
        result: CheckResult = ProviderError("provider changed", retryable=False)
    else:
        result = provider.face_result(attempt.provider_ref, request_id=str(attempt.uuid))
    if isinstance(result, ProviderError) and result.retryable:
        return attempt
    with transaction.atomic():
        locked = VerificationAttempt.objects.select_for_update().get(pk=attempt.pk)
        if locked.status != Status.STARTED:
            return locked
        return _settle(locked, result, meta)


# --- phone three-factor (手机号认证) ---------------------------------------------------------


def _phone3_binding(attempt: VerificationAttempt) -> str:
    return f"identity:{attempt.uuid}"


def open_phone3_attempt(actor: User, declaration: Declaration) -> VerificationAttempt | None:
    """The user's phone check for this declaration still waiting for its SMS code, if any."""
    since = timezone.now() - PHONE3_WINDOW
    candidates = VerificationAttempt.objects.filter(
        user=actor,
        method=Method.PHONE3,
        status=Status.STARTED,
        created_at__gte=since,
        number_hmac=crypto.number_hmac(declaration.id_type, declaration.id_number),
    )
    for attempt in candidates:
        if attempt.secret_inputs().get("phone") == declaration.phone:
            return attempt
    return None


def do_start_phone3_verification(
    declaration: Declaration, *, actor: User, meta: RequestMeta
) -> VerificationAttempt:
    """Phone three-factor check with the provider, then an SMS code to that phone.

    The attempt stays ``started`` until the code is confirmed (``do_confirm_phone3``). Raises
    ``codes.CodeError`` if the code cannot be sent now (the attempt is kept; send again later).
    """
    check_can_start(actor, declaration, Method.PHONE3)
    provider = get_provider()
    _count_attempt(actor)
    attempt_uuid = uuid.uuid4()
    result = provider.check_phone3(
        declaration.person, declaration.phone, request_id=str(attempt_uuid)
    )
    with transaction.atomic():
        attempt = _new_attempt(
            actor,
            declaration,
            Method.PHONE3,
            provider=provider.name,
            status=Status.STARTED,
            attempt_uuid=attempt_uuid,
            inputs={"phone": declaration.phone},
            meta=meta,
        )
        record_event(
            SecurityAction.IDENTITY_VERIFICATION_STARTED,
            user=actor,
            meta=meta,
            attempt=str(attempt.uuid),
            method=Method.PHONE3,
            provider=provider.name,
        )
        if not isinstance(result, Passed):
            return _settle(attempt, result, meta)
    do_send_phone3_code(attempt, meta=meta)
    return attempt


def do_send_phone3_code(attempt: VerificationAttempt, *, meta: RequestMeta) -> None:
    """(Re)send the SMS code of a phone check that the provider passed. Raises ``CodeError``."""
    if attempt.status != Status.STARTED or attempt.method != Method.PHONE3:
        raise AttemptNotActive()
    codes.issue_code(
        attempt.secret_inputs()["phone"],
        codes.Purpose.IDENTITY_PHONE,
        binding=_phone3_binding(attempt),
        ip=meta.ip,
        language=_language(meta),
    )
    with transaction.atomic():
        record_event(
            SecurityAction.IDENTITY_PHONE_CODE_SENT,
            user=attempt.user,
            meta=meta,
            attempt=str(attempt.uuid),
        )


def do_confirm_phone3_verification(
    attempt: VerificationAttempt,
    code: str,
    *,
    actor: User,
    meta: RequestMeta,
) -> VerificationAttempt:
    """Accept the SMS code of a phone check and record the verified identity.

    Raises ``codes.CodeError`` for a wrong code and ``AttemptNotActive`` for a finished or
    expired attempt.
    """
    if attempt.status != Status.STARTED or attempt.method != Method.PHONE3:
        raise AttemptNotActive()
    if attempt.created_at < timezone.now() - PHONE3_WINDOW:
        raise AttemptNotActive()
    codes.check_code(
        attempt.secret_inputs()["phone"],
        codes.Purpose.IDENTITY_PHONE,
        code,
        binding=_phone3_binding(attempt),
        ip=meta.ip,
    )
    with transaction.atomic():
        locked = VerificationAttempt.objects.select_for_update().get(pk=attempt.pk)
        if locked.status != Status.STARTED:
            raise AttemptNotActive()
        return _settle(locked, Passed(), meta)


# --- bank card four-factor (银行卡认证) -------------------------------------------------------


def do_bank4_verification(
    declaration: Declaration,
    card_number: str,
    bank_phone: str,
    *,
    actor: User,
    meta: RequestMeta,
) -> VerificationAttempt:
    """Bank card four-factor check (name, ID number, card, bank-reserved phone)."""
    check_can_start(actor, declaration, Method.BANK4)
    provider = get_provider()
    _count_attempt(actor)
    attempt_uuid = uuid.uuid4()
    result = provider.check_bank4(
        declaration.person, card_number, bank_phone, request_id=str(attempt_uuid)
    )
    with transaction.atomic():
        attempt = _new_attempt(
            actor,
            declaration,
            Method.BANK4,
            provider=provider.name,
            status=Status.STARTED,
            attempt_uuid=attempt_uuid,
            inputs={"card": card_number, "phone": bank_phone},
            meta=meta,
        )
        return _settle(attempt, result, meta)


# --- manual review (人工审核) -----------------------------------------------------------------


def do_submit_manual_review(
    declaration: Declaration,
    front: Photo,
    handheld: Photo,
    *,
    actor: User,
    meta: RequestMeta,
) -> VerificationAttempt:
    """Queue the ID photos for a platform operator (``pending_review``)."""
    check_can_start(actor, declaration, Method.MANUAL)
    _count_attempt(actor)
    # Blobs first: a row never names a missing blob (an aborted request leaves an orphan blob).
    # Encrypted at rest: only the platform (master key) can read ID photos.
    front_blob = _store_photo(front)
    handheld_blob = _store_photo(handheld)
    with transaction.atomic():
        attempt = _new_attempt(
            actor,
            declaration,
            Method.MANUAL,
            provider="",
            status=Status.PENDING_REVIEW,
            meta=meta,
        )
        attempt.front_photo = front_blob
        attempt.handheld_photo = handheld_blob
        attempt.save(update_fields=["front_photo", "handheld_photo"])
        record_event(
            SecurityAction.IDENTITY_MANUAL_REVIEW_SUBMITTED,
            user=actor,
            meta=meta,
            attempt=str(attempt.uuid),
            id_type=declaration.id_type,
        )
    return attempt
