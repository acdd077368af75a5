"""The profile: phone number, e-mail address, display name, login password and language.

The phone may also be changed by an operator from the back office (:func:`do_set_phone`); the
user's own change needs the code sent to the new phone (:func:`do_change_phone`).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from qianshu.accounts import codes
from qianshu.accounts.audit import record_event
from qianshu.accounts.models import SecurityAction, User
from qianshu.accounts.phones import mask_phone
from qianshu.core.meta import RequestMeta


class PhoneTaken(Exception):
    pass


def client_language(meta: RequestMeta) -> str:
    """The language the client reads (its SMS, a new account), else the site default."""
    return meta.language or settings.LANGUAGE_CODE


def end_all_sessions(user: User) -> None:
    """Rotate the session salt: every session of ``user`` ends. Inside the caller's transaction;
    a view that keeps the user's own session calls ``update_session_auth_hash`` afterwards."""
    user.session_salt = User._meta.get_field("session_salt").get_default()
    user.save(update_fields=["session_salt"])


def check_operator(user: User, actor: User) -> None:
    """An action on another person's account is for active platform operators only."""
    if actor.pk != user.pk and not (actor.is_active and actor.is_staff):
        raise PermissionDenied("operators only")


def do_send_change_phone_code(new_phone: str, *, actor: User, meta: RequestMeta) -> None:
    """Send the code that confirms ``actor`` holds ``new_phone``. Raises ``codes.CodeError``."""
    codes.issue_code(
        new_phone,
        codes.Purpose.CHANGE_PHONE,
        binding=f"user:{actor.pk}",
        ip=meta.ip,
        language=client_language(meta),
    )


def do_set_phone(
    user: User,
    new_phone: str,
    *,
    actor: User,
    meta: RequestMeta,
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
            detail: dict[str, Any] = {"old": old[-4:], "new": new_phone[-4:]}
            if by_operator:
                detail.update(operator=actor.pk, reason=reason)
            record_event(SecurityAction.PHONE_CHANGED, user=user, meta=meta, **detail)
            told: dict[str, object] = {"phone": mask_phone(new_phone)}
            if by_operator:
                told["reason"] = reason
            kind = "phone_changed_by_operator" if by_operator else "phone_changed"
            do_queue_sms(old, kind, told, language=language)
            do_queue_sms(new_phone, "phone_bound", {"old": mask_phone(old)}, language=language)
    except IntegrityError:
        user.refresh_from_db()
        raise PhoneTaken from None


def do_change_phone(new_phone: str, code: str, *, actor: User, meta: RequestMeta) -> None:
    """The user moves their account to ``new_phone`` after the code sent there is confirmed.

    Raises ``codes.CodeError`` or ``PhoneTaken``. Every session ends; the view keeps its own
    with ``update_session_auth_hash``.
    """
    codes.check_code(
        new_phone,
        codes.Purpose.CHANGE_PHONE,
        code,
        binding=f"user:{actor.pk}",
        ip=meta.ip,
    )
    do_set_phone(actor, new_phone, actor=actor, meta=meta)


def do_change_email(email: str, *, actor: User, meta: RequestMeta) -> None:
    """Set the e-mail address; the old address (if any) is told about the change."""
    from qianshu.notifications.actions import do_queue_email

    old = actor.email
    with transaction.atomic():
        actor.email = email
        actor.save(update_fields=["email"])
        record_event(SecurityAction.EMAIL_CHANGED, user=actor, meta=meta)
        if old and old != email:
            do_queue_email(
                old, "email_changed", {"email": email}, language=actor.language or "zh-hans"
            )


def do_update_profile(display_name: str, *, actor: User, meta: RequestMeta) -> None:
    """Set ``actor``'s display name."""
    with transaction.atomic():
        actor.display_name = display_name
        actor.save(update_fields=["display_name"])
        record_event(SecurityAction.PROFILE_CHANGED, user=actor, meta=meta)


def do_set_password(password: str, *, actor: User, meta: RequestMeta) -> None:
    """Set or change the optional login password. Every session ends; the view keeps its own
    with ``update_session_auth_hash``."""
    with transaction.atomic():
        actor.set_password(password)
        actor.session_salt = User._meta.get_field("session_salt").get_default()
        actor.save(update_fields=["password", "session_salt"])
        record_event(SecurityAction.PASSWORD_SET, user=actor, meta=meta)


def do_set_language(language: str, *, actor: User, meta: RequestMeta) -> None:
    """Remember ``actor``'s UI language (no security event: it changes nothing of the account's
    safety)."""
    with transaction.atomic():
        actor.language = language
        actor.save(update_fields=["language"])
