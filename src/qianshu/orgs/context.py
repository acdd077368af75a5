"""The acting context: "personal" (个人) or one of the user's organisations.

The choice lives in the session (``qianshu_acting_org``, the organisation's uuid) and is checked
against the memberships on every read: a member who has been removed silently falls back to
personal. Later features (sending envelopes on behalf of an organisation …) read it with
:func:`acting_org`.
"""

from __future__ import annotations

import uuid
from functools import cached_property

from django.http import HttpRequest

from qianshu.accounts.models import User
from qianshu.core.statements import Statement
from qianshu.orgs.access import member_of, organisations_of
from qianshu.orgs.models import Organization

SESSION_KEY = "qianshu_acting_org"


def _user(request: HttpRequest) -> User | None:
    user = getattr(request, "user", None)
    if isinstance(user, User) and user.is_authenticated:
        return user
    return None


def acting_org(request: HttpRequest) -> Organization | None:
    """The organisation the user acts for now, or None for personal. Membership is re-checked
    on every call; a stale choice is dropped from the session."""
    user = _user(request)
    if user is None or not hasattr(request, "session"):
        return None
    value = request.session.get(SESSION_KEY)
    if not value:
        return None
    org = organisations_of(user).filter(uuid=str(value)).first() if _is_uuid(value) else None
    if org is None:
        request.session.pop(SESSION_KEY, None)
    return org


def set_acting_org(request: HttpRequest, org: Organization | None) -> None:
    """Act for ``org`` (the caller has checked the membership) or personally (None)."""
    if org is None:
        request.session.pop(SESSION_KEY, None)
    else:
        request.session[SESSION_KEY] = str(org.uuid)


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


class Switcher:
    """What the top bar's context switcher shows; evaluated only when a template uses it."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request

    @cached_property
    def current(self) -> Organization | None:
        return acting_org(self._request)

    @cached_property
    def organisations(self) -> list[Organization]:
        user = _user(self._request)
        return _MEMBER_OF.objects(user.pk) if user is not None else []


# The top bar's organisations, on every page: built once (core/statements.py).
_MEMBER_OF: Statement[Organization] = Statement(lambda user: member_of(user.as_int()), arity=1)


def switcher(request: HttpRequest) -> dict[str, object]:
    """Context processor: ``org_switcher`` for logged-in users (None otherwise)."""
    if _user(request) is None:
        return {"org_switcher": None}
    return {"org_switcher": Switcher(request)}
