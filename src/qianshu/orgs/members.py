"""Members and roles of an organisation (成员管理): the refusal, the limits, and reading an
invitation. The state changes are in :mod:`qianshu.orgs.actions.members`."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.utils import timezone

from qianshu.core.errors import UserError
from qianshu.orgs.models import Invitation

INVITATION_DAYS = 7
# Invitation SMS are sent to numbers the administrator types: keep them from being a free SMS
# cannon (per organisation per day, and per organisation and number per day).
INVITES_PER_ORG_PER_DAY = 50
INVITES_PER_PHONE_PER_DAY = 3
DAY = 24 * 3600


class MemberError(UserError):
    """A refused member operation; ``str(exc)`` is a message for the user."""

    code = "member_refused"

    def __init__(self, message: str = "", *, needs_identity: bool = False) -> None:
        super().__init__(message)
        self.needs_identity = needs_identity


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_by_token(token: str) -> Invitation | None:
    if not token or len(token) > 100:
        return None
    return (
        Invitation.objects.select_related("org", "invited_by")
        .filter(token_hash=token_hash(token))
        .first()
    )


def invitation_state(invitation: Invitation, now: dt.datetime | None = None) -> str:
    """The status as users see it: a pending invitation past its expiry is ``expired``."""
    now = now or timezone.now()
    if invitation.status == Invitation.Status.PENDING and invitation.expires_at <= now:
        return Invitation.Status.EXPIRED
    return str(invitation.status)
