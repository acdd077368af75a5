"""State changes of accounts: login, logout, re-authentication, profile changes."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import login, logout, update_session_auth_hash
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone, translation

from qianshu.accounts import codes
from qianshu.accounts.audit import client_ip, record_event
from qianshu.accounts.models import SecurityAction, User
from qianshu.accounts.phones import mask_phone

REAUTH_SESSION_KEY = "qianshu_reauth_at"
BACKEND = "django.contrib.auth.backends.ModelBackend"


def _language(request: HttpRequest) -> str:
    return translation.get_language() or settings.LANGUAGE_CODE


def do_send_login_code(request: HttpRequest, phone: str) -> None:
    """Send a login code to ``phone``, whether or not an account exists (no account probing)."""
    codes.issue_code(phone, codes.Purpose.LOGIN, ip=client_ip(request), language=_language(request))
    with transaction.atomic():
        record_event(SecurityAction.LOGIN_CODE_SENT, request=request, phone=phone[-4:])


def do_login_with_code(request: HttpRequest, phone: str, code: str) -> tuple[User, bool]:
    """Check the code, create the account on first login, start a fresh session.

    Returns the user and whether the account was just created. Raises ``codes.CodeError``.
    """
    codes.check_code(phone, codes.Purpose.LOGIN, code, ip=client_ip(request))
    created = False
    with transaction.atomic():
        user = User.objects.filter(phone=phone).first()
        if user is None:
            try:
                with transaction.atomic():
                    user = User.objects.create_user(phone, language=_language(request))
                created = True
            except IntegrityError:  # created by a parallel request with another valid code
                user = User.objects.get(phone=phone)
        if not user.is_active:
            raise codes.CodeInvalid(translation.gettext("该账户已停用，请联系平台管理员。"))
        record_event(
            SecurityAction.LOGIN, user=user, request=request, method="sms", created=created
        )
    # login() rotates the session key (session fixation) and records the auth hash.
    login(request, user, backend=BACKEND)
    mark_reauthenticated(request)
    return user, created


def do_login_with_password(request: HttpRequest, user: User) -> None:
    """Start a session for a user whose password the form has already checked."""
    with transaction.atomic():
        record_event(SecurityAction.LOGIN, user=user, request=request, method="password")
    login(request, user, backend=BACKEND)
    mark_reauthenticated(request)


def do_record_failed_login(request: HttpRequest, phone: str) -> None:
    with transaction.atomic():
        record_event(
            SecurityAction.LOGIN_FAILED, request=request, phone=phone[-4:], method="password"
        )


def do_logout(request: HttpRequest) -> None:
    user = request.user
    if user.is_authenticated:
        with transaction.atomic():
            record_event(SecurityAction.LOGOUT, user=user, request=request)
    logout(request)


def do_logout_other_sessions(request: HttpRequest, *, actor: User) -> None:
    """End every session of ``actor`` except this one (the session hash salt is rotated)."""
    with transaction.atomic():
        end_all_sessions(actor)
        record_event(SecurityAction.LOGOUT_OTHER_SESSIONS, user=actor, request=request)
    update_session_auth_hash(request, actor)


def mark_reauthenticated(request: HttpRequest) -> None:
    request.session[REAUTH_SESSION_KEY] = int(time.time())


def recently_authenticated(request: HttpRequest) -> bool:
    at = request.session.get(REAUTH_SESSION_KEY)
    return isinstance(at, int) and time.time() - at < settings.QIANSHU_REAUTH_SECONDS


def do_send_reauth_code(request: HttpRequest, *, actor: User) -> None:
    codes.issue_code(
        actor.phone, codes.Purpose.REAUTH, ip=client_ip(request), language=_language(request)
    )


def do_reauthenticate_with_code(request: HttpRequest, code: str, *, actor: User) -> None:
    codes.check_code(actor.phone, codes.Purpose.REAUTH, code, ip=client_ip(request))
    with transaction.atomic():
        record_event(SecurityAction.REAUTH, user=actor, request=request, method="sms")
    mark_reauthenticated(request)


def do_reauthenticate_with_password(request: HttpRequest, *, actor: User) -> None:
    with transaction.atomic():
        record_event(SecurityAction.REAUTH, user=actor, request=request, method="password")
    mark_reauthenticated(request)


def do_send_change_phone_code(request: HttpRequest, new_phone: str, *, actor: User) -> None:
    codes.issue_code(
        new_phone,
        codes.Purpose.CHANGE_PHONE,
        binding=f"user:{actor.pk}",
        ip=client_ip(request),
        language=_language(request),
    )


class PhoneTaken(Exception):
    pass


def end_all_sessions(user: User) -> None:
    """Rotate the session salt: every session of ``user`` ends. Inside the caller's transaction;
    a view that keeps the user's own session calls ``update_session_auth_hash`` afterwards."""
    user.session_salt = User._meta.get_field("session_salt").get_default()
    user.save(update_fields=["session_salt"])


def check_operator(user: User, actor: User) -> None:
    """An action on another person's account is for active platform operators only."""
    if actor.pk != user.pk and not (actor.is_active and actor.is_staff):
        raise PermissionDenied("operators only")


def do_set_phone(
    user: User,
    new_phone: str,
    *,
    actor: User,
    request: HttpRequest | None = None,
    reason: str = "",
) -> None:
    """Move ``user``'s account to ``new_phone``: the user's own change (after the code sent to
    the new phone, :func:`do_change_phone`) or an operator's (``actor`` is staff, with a
    ``reason``, from the back office).

    Every session of the user ends; the old phone and the new one are told by SMS; the security
    event names the operator; the time starts the hold on new signing keys (identity.holds).
    Raises ``PhoneTaken``.
    """
    from qianshu.notifications.actions import do_queue_sms

    check_operator(user, actor)
    old = user.phone
    by_operator = actor.pk != user.pk
    language = user.language or "zh-hans"
    try:
        with transaction.atomic():
            user.phone = new_phone
            user.phone_changed_at = timezone.now()
            user.phone_changed_by = actor
            user.save(update_fields=["phone", "phone_changed_at", "phone_changed_by"])
            end_all_sessions(user)
            detail: dict[str, object] = {"old": old[-4:], "new": new_phone[-4:]}
            if by_operator:
                detail.update(operator=actor.pk, reason=reason)
            record_event(SecurityAction.PHONE_CHANGED, user=user, request=request, **detail)
            told: dict[str, object] = {"phone": mask_phone(new_phone)}
            if by_operator:
                told["reason"] = reason
            kind = "phone_changed_by_operator" if by_operator else "phone_changed"
            do_queue_sms(old, kind, told, language=language)
            do_queue_sms(new_phone, "phone_bound", {"old": mask_phone(old)}, language=language)
    except IntegrityError:
        user.refresh_from_db()
        raise PhoneTaken from None


def do_change_phone(request: HttpRequest, new_phone: str, code: str, *, actor: User) -> None:
    """The user moves their account to ``new_phone`` after the code sent there is confirmed.

    Raises ``codes.CodeError`` or ``PhoneTaken``. Other sessions are ended.
    """
    codes.check_code(
        new_phone,
        codes.Purpose.CHANGE_PHONE,
        code,
        binding=f"user:{actor.pk}",
        ip=client_ip(request),
    )
    do_set_phone(actor, new_phone, actor=actor, request=request)
    update_session_auth_hash(request, actor)


def do_change_email(request: HttpRequest, email: str, *, actor: User) -> None:
    """Set the e-mail address; the old address (if any) is told about the change."""
    from qianshu.notifications.actions import do_queue_email

    old = actor.email
    with transaction.atomic():
        actor.email = email
        actor.save(update_fields=["email"])
        record_event(SecurityAction.EMAIL_CHANGED, user=actor, request=request)
        if old and old != email:
            do_queue_email(
                old, "email_changed", {"email": email}, language=actor.language or "zh-hans"
            )


def do_update_profile(request: HttpRequest, display_name: str, *, actor: User) -> None:
    with transaction.atomic():
        actor.display_name = display_name
        actor.save(update_fields=["display_name"])
        record_event(SecurityAction.PROFILE_CHANGED, user=actor, request=request)


def do_set_password(request: HttpRequest, password: str, *, actor: User) -> None:
    """Set or change the optional login password; other sessions are ended."""
    with transaction.atomic():
        actor.set_password(password)
        actor.session_salt = User._meta.get_field("session_salt").get_default()
        actor.save(update_fields=["password", "session_salt"])
        record_event(SecurityAction.PASSWORD_SET, user=actor, request=request)
    update_session_auth_hash(request, actor)


def do_set_language(request: HttpRequest, language: str, *, actor: User) -> None:
    with transaction.atomic():
        actor.language = language
        actor.save(update_fields=["language"])
