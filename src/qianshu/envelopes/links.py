"""Signed, expiring links to an envelope for one recipient (sent by SMS and e-mail).

The token carries only the recipient's id, signed with the secret key; it expires after
``LINK_MAX_AGE`` (and is useless once the envelope has ended). Opening it leads to SMS-code login
to the recipient's phone (shown masked, never in the URL), then straight to the document.
"""

from __future__ import annotations

import datetime as dt
import time

from django.conf import settings
from django.core import signing
from django.urls import reverse

from qianshu.envelopes.models import Recipient

_SALT = "qianshu.envelopes.recipient-link"
LINK_MAX_AGE = dt.timedelta(days=30)


def recipient_token(recipient: Recipient, *, expires: dt.datetime | None = None) -> str:
    data: dict[str, int] = {"r": recipient.pk}
    if expires is not None:
        data["e"] = int(expires.timestamp())
    return signing.dumps(data, salt=_SALT, compress=False)


def recipient_link(recipient: Recipient, *, expires: dt.datetime | None = None) -> str:
    """The absolute link for ``recipient`` (public base URL + ``/s/<token>/``); ``expires``
    makes it end sooner than ``LINK_MAX_AGE`` (the open API's short-lived signing URLs)."""
    path = reverse("envelopes:link", args=[recipient_token(recipient, expires=expires)])
    return settings.PUBLIC_URL.rstrip("/") + path


def recipient_from_token(token: str) -> Recipient | None:
    """The recipient a valid, unexpired token names, or None."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=LINK_MAX_AGE)
    except signing.BadSignature:  # also SignatureExpired
        return None
    if not isinstance(data, dict) or not isinstance(data.get("r"), int):
        return None
    expires = data.get("e")
    if expires is not None and (not isinstance(expires, int) or expires < time.time()):
        return None
    return (
        Recipient.objects.select_related("envelope", "envelope__initiator")
        .filter(pk=data["r"])
        .first()
    )
