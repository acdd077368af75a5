"""手机扫码认证: open a hand-off (the computer shows its QR code) and use it up (the phone,
logged in as the same account, opens it). Token format and checks: ``identity/handoffs.py``."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from qianshu.accounts import throttles
from qianshu.accounts.audit import record_event
from qianshu.accounts.models import SecurityAction, User
from qianshu.core.meta import RequestMeta
from qianshu.identity.errors import HandoffUnusable, TooManyHandoffs
from qianshu.identity.handoffs import HANDOFF_LIFETIME, HANDOFFS_PER_HOUR, new_token
from qianshu.identity.models import IdentityHandoff


def do_start_identity_handoff(*, actor: User, meta: RequestMeta) -> tuple[IdentityHandoff, str]:
    """Open a hand-off for ``actor``; returns it with its token (shown once, as a QR code).

    Raises :class:`TooManyHandoffs` beyond ``HANDOFFS_PER_HOUR``."""
    verdict = throttles.hit(
        f"identity-handoff:user:{actor.pk}", limit=HANDOFFS_PER_HOUR, window=3600
    )
    if not verdict:
        raise TooManyHandoffs()
    token, hashed = new_token()
    now = timezone.now()
    with transaction.atomic():
        handoff = IdentityHandoff.objects.create(
            user=actor, nonce_hash=hashed, created_at=now, expires_at=now + HANDOFF_LIFETIME
        )
        record_event(
            SecurityAction.IDENTITY_HANDOFF_STARTED, user=actor, meta=meta, handoff=handoff.pk
        )
    return handoff, token


def do_open_identity_handoff(
    handoff: IdentityHandoff, *, actor: User, meta: RequestMeta
) -> IdentityHandoff:
    """The phone, logged in as ``actor``, opens the hand-off and uses it up.

    Raises :class:`HandoffUnusable`: ``other_user`` when ``actor`` is not the account that showed
    the QR code (written to that account's security log; the code stays usable by its owner),
    ``used`` or ``expired`` otherwise (checked again under the row lock: one phone wins)."""
    if handoff.user_id != actor.pk:
        with transaction.atomic():
            record_event(
                SecurityAction.IDENTITY_HANDOFF_REFUSED,
                user=handoff.user,
                meta=meta,
                by_user=actor.pk,
            )
        raise HandoffUnusable("other_user")
    now = timezone.now()
    with transaction.atomic():
        locked = IdentityHandoff.objects.select_for_update().get(pk=handoff.pk)
        if locked.used_at is not None:
            raise HandoffUnusable("used")
        if locked.expires_at <= now:
            raise HandoffUnusable("expired")
        locked.used_at = now
        locked.save(update_fields=["used_at"])
        record_event(
            SecurityAction.IDENTITY_HANDOFF_OPENED, user=actor, meta=meta, handoff=locked.pk
        )
    return locked
