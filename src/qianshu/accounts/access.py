"""Access to the objects of accounts: a missing object and someone else's give the same 404.

The phone side of a signature hand-off has no login: its token is the authorisation
(:func:`access_handoff_by_token`).
"""

from __future__ import annotations

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import HandwrittenSignature, SignatureHandoff, User
from qianshu.accounts.signatures import SignatureHandoffUnusable, hash_token

MAX_TOKEN_LENGTH = 128


def access_signature_by_id(actor: User, signature_id: int) -> HandwrittenSignature:
    """The actor's own signature; someone else's and a missing one are both a 404."""
    signature = HandwrittenSignature.objects.select_related("image").filter(pk=signature_id).first()
    if signature is None:
        raise Http404
    if signature.user_id != actor.pk:
        raise Http404
    return signature


def access_handoff_by_id(actor: User, handoff_id: int) -> SignatureHandoff:
    """The actor's own phone hand-off; someone else's and a missing one are both a 404."""
    handoff = SignatureHandoff.objects.filter(pk=handoff_id).first()
    if handoff is None:
        raise Http404
    if handoff.user_id != actor.pk:
        raise Http404
    return handoff


def access_handoff_by_token(token: str) -> SignatureHandoff:
    """The hand-off a phone's token opens: the token is the authorisation, no login needed.

    Raises :class:`SignatureHandoffUnusable` for unknown, expired and used tokens.
    """
    handoffs = SignatureHandoff.objects.select_related("user")
    handoff = None
    if len(token) <= MAX_TOKEN_LENGTH:  # real tokens are 43 characters
        handoff = handoffs.filter(token_hash=hash_token(token)).first()
    if handoff is None:
        raise SignatureHandoffUnusable(
            _("二维码无效，请在电脑上重新生成二维码。"), reason="unknown"
        )
    if handoff.used_at is not None:
        raise SignatureHandoffUnusable(
            _("该二维码已使用过，如需再次签名，请在电脑上重新生成二维码。"), reason="used"
        )
    if handoff.expires_at <= timezone.now():
        raise SignatureHandoffUnusable(
            _("二维码已过期，请在电脑上重新生成二维码。"), reason="expired"
        )
    if not handoff.user.is_active:
        raise SignatureHandoffUnusable(
            _("二维码无效，请在电脑上重新生成二维码。"), reason="unknown"
        )
    return handoff
