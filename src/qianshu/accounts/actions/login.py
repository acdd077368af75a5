"""Logging in and out, and re-authenticating before a sensitive change.

The actions check the code or record the password check and write the security event; the view
starts the session afterwards (:func:`qianshu.accounts.sessions.start_session`) or marks the
re-authentication (:func:`qianshu.accounts.sessions.mark_reauthenticated`).
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import translation

from qianshu.accounts import codes
from qianshu.accounts.actions.profile import client_language, end_all_sessions
from qianshu.accounts.audit import record_event
from qianshu.accounts.models import SecurityAction, User
from qianshu.core.meta import RequestMeta


def do_send_login_code(phone: str, *, meta: RequestMeta) -> None:
    """Send a login code to ``phone``, whether or not an account exists (no account probing)."""
    codes.issue_code(phone, codes.Purpose.LOGIN, ip=meta.ip, language=client_language(meta))
    with transaction.atomic():
        record_event(SecurityAction.LOGIN_CODE_SENT, meta=meta, phone=phone[-4:])


def do_login_with_code(phone: str, code: str, *, meta: RequestMeta) -> tuple[User, bool]:
    """Check the code and create the account on first login; the view then starts a fresh
    session (:func:`qianshu.accounts.sessions.start_session`).

    Returns the user and whether the account was just created. Raises ``codes.CodeError``.
    """
    codes.check_code(phone, codes.Purpose.LOGIN, code, ip=meta.ip)
    created = False
    with transaction.atomic():
        user = User.objects.filter(phone=phone).first()
        if user is None:
            try:
                with transaction.atomic():
                    user = User.objects.create_user(phone, language=client_language(meta))
                created = True
            except IntegrityError:  # created by a parallel request with another valid code
                user = User.objects.get(phone=phone)
        if not user.is_active:
            raise codes.CodeInvalid(translation.gettext("该账户已停用，请联系平台管理员。"))
        record_event(SecurityAction.LOGIN, user=user, meta=meta, method="sms", created=created)
    return user, created


def do_login_with_password(user: User, *, meta: RequestMeta) -> None:
    """Record the login of a user whose password the form has already checked; the view then
    starts the session."""
    with transaction.atomic():
        record_event(SecurityAction.LOGIN, user=user, meta=meta, method="password")


def do_record_failed_login(phone: str, *, meta: RequestMeta) -> None:
    """Record a refused password login for ``phone`` (its last four digits only)."""
    with transaction.atomic():
        record_event(SecurityAction.LOGIN_FAILED, meta=meta, phone=phone[-4:], method="password")


def do_logout(*, actor: User, meta: RequestMeta) -> None:
    """Record that ``actor`` logs out; the view ends the session."""
    with transaction.atomic():
        record_event(SecurityAction.LOGOUT, user=actor, meta=meta)


def do_logout_other_sessions(*, actor: User, meta: RequestMeta) -> None:
    """End every session of ``actor`` (the session hash salt is rotated); the view keeps its
    own with ``update_session_auth_hash``."""
    with transaction.atomic():
        end_all_sessions(actor)
        record_event(SecurityAction.LOGOUT_OTHER_SESSIONS, user=actor, meta=meta)


def do_send_reauth_code(*, actor: User, meta: RequestMeta) -> None:
    """Send ``actor`` a re-authentication code. Raises ``codes.CodeError`` when throttled."""
    codes.issue_code(actor.phone, codes.Purpose.REAUTH, ip=meta.ip, language=client_language(meta))


def do_reauthenticate_with_code(code: str, *, actor: User, meta: RequestMeta) -> None:
    """Check ``actor``'s re-authentication code and record it; the view then marks the session
    (:func:`qianshu.accounts.sessions.mark_reauthenticated`). Raises ``codes.CodeError``."""
    codes.check_code(actor.phone, codes.Purpose.REAUTH, code, ip=meta.ip)
    with transaction.atomic():
        record_event(SecurityAction.REAUTH, user=actor, meta=meta, method="sms")


def do_reauthenticate_with_password(*, actor: User, meta: RequestMeta) -> None:
    """Record a re-authentication whose password the form has already checked; the view then
    marks the session."""
    with transaction.atomic():
        record_event(SecurityAction.REAUTH, user=actor, meta=meta, method="password")
