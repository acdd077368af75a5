"""Signed, expiring links to an envelope for one recipient (sent by SMS and e-mail).

The token carries only the recipient's id, signed with the secret key; it expires after
``LINK_MAX_AGE`` (and is useless once the envelope has ended). Opening it leads to SMS-code login
to the recipient's phone (shown masked, never in the URL), then straight to the document.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core import signing
from django.urls import reverse

from qianshu.envelopes.models import Recipient

_SALT = "qianshu.envelopes.recipient-link"
LINK_MAX_AGE = dt.timedelta(days=30)


def recipient_token(recipient: Recipient) -> str:
    return signing.dumps({"r": recipient.pk}, salt=_SALT, compress=False)


def recipient_link(recipient: Recipient) -> str:
    """The absolute link for ``recipient`` (public base URL + ``/s/<token>/``)."""
    path = reverse("envelopes:link", args=[recipient_token(recipient)])
    return settings.PUBLIC_URL.rstrip("/") + path


def recipient_from_token(token: str) -> Recipient | None:
    """The recipient a valid, unexpired token names, or None."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=LINK_MAX_AGE)
    except signing.BadSignature:  # also SignatureExpired
        return None
    if not isinstance(data, dict) or not isinstance(data.get("r"), int):
        return None
    return (
        Recipient.objects.select_related("envelope", "envelope__initiator")
        .filter(pk=data["r"])
        .first()
    )
