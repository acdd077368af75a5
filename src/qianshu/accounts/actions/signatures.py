"""Handwritten signatures of an account: save, set the default, delete, the phone hand-off and
the staged upload. The image checks and limits are in :mod:`qianshu.accounts.signatures`."""

from __future__ import annotations

import secrets

from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts import throttles
from qianshu.accounts.audit import record_event
from qianshu.accounts.models import HandwrittenSignature, SecurityAction, SignatureHandoff, User
from qianshu.accounts.signatures import (
    HANDOFF_LIFETIME,
    HANDOFFS_PER_HOUR,
    MAX_SIGNATURES,
    STAGED_SALT,
    HandwrittenSignatureError,
    SignatureHandoffUnusable,
    SignatureImage,
    TooManySignatures,
    cap_message,
    hash_token,
    signature_count,
)
from qianshu.core.meta import RequestMeta
from qianshu.storage.actions import do_store_blob
from qianshu.storage.models import Blob


def _too_many() -> TooManySignatures:
    return TooManySignatures(cap_message())


def _add_signature(
    image: SignatureImage, blob: Blob, *, source: str, owner: User
) -> tuple[HandwrittenSignature, bool]:
    """Create the row inside the caller's transaction; the first signature becomes default.

    Returns the signature and whether it is new: the same picture saved again (a double click
    on 保存) gives back the existing one instead of a duplicate.
    """
    # Locking the owner serialises concurrent saves, so the cap and the default hold.
    User.objects.select_for_update().filter(pk=owner.pk).first()
    existing = HandwrittenSignature.objects.filter(user=owner)
    duplicate = existing.filter(image=blob).first()
    if duplicate is not None:
        return duplicate, False
    if existing.count() >= MAX_SIGNATURES:
        raise _too_many()
    signature = HandwrittenSignature.objects.create(
        user=owner,
        image=blob,
        source=source,
        width=image.width,
        height=image.height,
        is_default=not existing.filter(is_default=True).exists(),
    )
    return signature, True


def do_save_signature(
    image: SignatureImage,
    *,
    source: str,
    actor: User,
    meta: RequestMeta,
) -> HandwrittenSignature:
    """Store a prepared signature image for ``actor`` (drawn here or an uploaded picture).

    The first signature of an account becomes its default. Raises :class:`TooManySignatures`
    beyond ``MAX_SIGNATURES``.
    """
    if source not in HandwrittenSignature.Source.values:
        raise ValueError(f"unknown signature source {source!r}")
    if signature_count(actor) >= MAX_SIGNATURES:  # cheap early answer before storing the blob
        raise _too_many()
    # The blob goes to the store before the row is written (a refused save leaves only an
    # unreferenced blob), and outside the transaction so a slow store never holds DB locks.
    blob = do_store_blob(image.png, content_type="image/png")
    with transaction.atomic():
        signature, created = _add_signature(image, blob, source=source, owner=actor)
        if not created:
            return signature
        record_event(
            SecurityAction.SIGNATURE_SAVED,
            user=actor,
            meta=meta,
            signature_id=signature.pk,
            source=source,
            is_default=signature.is_default,
        )
    return signature


def do_set_default_signature(
    signature: HandwrittenSignature, *, actor: User, meta: RequestMeta
) -> None:
    """Make ``signature`` (fetched with
    :func:`qianshu.accounts.access.access_signature_by_id`) the actor's default."""
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=actor.pk).first()
        # Clear the old default first: the database allows one default per user at any moment.
        HandwrittenSignature.objects.filter(user=actor, is_default=True).exclude(
            pk=signature.pk
        ).update(is_default=False)
        HandwrittenSignature.objects.filter(pk=signature.pk).update(is_default=True)
        signature.is_default = True
        record_event(
            SecurityAction.SIGNATURE_DEFAULT_SET,
            user=actor,
            meta=meta,
            signature_id=signature.pk,
        )


def do_delete_signature(
    signature: HandwrittenSignature, *, actor: User, meta: RequestMeta
) -> HandwrittenSignature | None:
    """Delete ``signature``; if it was the default, the newest remaining one becomes default.

    Returns the new default, if the default changed. The image blob stays in the store (blobs
    are immutable; unreferenced ones are garbage-collected separately).
    """
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=actor.pk).first()
        was_default = HandwrittenSignature.objects.filter(pk=signature.pk, is_default=True).exists()
        signature_id = signature.pk
        HandwrittenSignature.objects.filter(pk=signature_id, user=actor).delete()
        new_default = None
        if was_default:
            new_default = (
                HandwrittenSignature.objects.filter(user=actor)
                .order_by("-created_at", "-pk")
                .first()
            )
            if new_default is not None:
                HandwrittenSignature.objects.filter(pk=new_default.pk).update(is_default=True)
                new_default.is_default = True
        record_event(
            SecurityAction.SIGNATURE_DELETED,
            user=actor,
            meta=meta,
            signature_id=signature_id,
            was_default=was_default,
            new_default_id=new_default.pk if new_default else None,
        )
    return new_default


def do_start_handoff(*, actor: User, meta: RequestMeta) -> tuple[SignatureHandoff, str]:
    """Open a phone hand-off for ``actor``: returns it with its one-time token.

    The token (256 random bits) is shown once, as a QR code; only its SHA-256 is stored.
    """
    if signature_count(actor) >= MAX_SIGNATURES:
        raise _too_many()
    if not throttles.hit(
        f"signature-handoff:user:{actor.pk}", limit=HANDOFFS_PER_HOUR, window=3600
    ):
        raise HandwrittenSignatureError(_("二维码生成过于频繁，请稍后再试。"))
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        handoff = SignatureHandoff.objects.create(
            user=actor,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + HANDOFF_LIFETIME,
        )
        record_event(
            SecurityAction.SIGNATURE_HANDOFF_STARTED,
            user=actor,
            meta=meta,
            handoff_id=handoff.pk,
        )
    return handoff, token


def do_complete_handoff(
    handoff: SignatureHandoff, image: SignatureImage, *, meta: RequestMeta
) -> HandwrittenSignature:
    """Save the signature drawn on the phone for the hand-off's user and use up the token.

    ``handoff`` comes from :func:`qianshu.accounts.access.access_handoff_by_token`; it is
    checked again under a lock so a token saves one signature even when two phones race. Raises
    :class:`SignatureHandoffUnusable` or :class:`TooManySignatures`.
    """
    blob = do_store_blob(image.png, content_type="image/png")
    with transaction.atomic():
        locked = (
            SignatureHandoff.objects.select_for_update().select_related("user").get(pk=handoff.pk)
        )
        if locked.used_at is not None:
            raise SignatureHandoffUnusable(
                _("该二维码已使用过，如需再次签名，请在电脑上重新生成二维码。"), reason="used"
            )
        if locked.expires_at <= timezone.now():
            raise SignatureHandoffUnusable(
                _("二维码已过期，请在电脑上重新生成二维码。"), reason="expired"
            )
        signature, _created = _add_signature(
            image, blob, source=HandwrittenSignature.Source.PHONE, owner=locked.user
        )
        locked.signature = signature
        locked.used_at = timezone.now()
        locked.save(update_fields=["signature", "used_at"])
        record_event(
            SecurityAction.SIGNATURE_SAVED,
            user=locked.user,
            meta=meta,
            signature_id=signature.pk,
            source=HandwrittenSignature.Source.PHONE,
            is_default=signature.is_default,
            handoff_id=locked.pk,
        )
    handoff.signature, handoff.used_at = locked.signature, locked.used_at
    return signature


def do_stage_signature_upload(image: SignatureImage, *, actor: User) -> str:
    """Keep a cleaned upload for its preview: store the blob, return a signed reference.

    Nothing is attached to the account until :func:`do_save_signature` is called with the image
    from :func:`load_staged_signature`; the reference is bound to the user and expires.
    """
    blob = do_store_blob(image.png, content_type="image/png")
    return signing.dumps({"user": actor.pk, "blob": blob.sha256}, salt=STAGED_SALT)
