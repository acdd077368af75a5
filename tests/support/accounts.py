"""Shared helpers for tests that need accounts: personas and the SMS codes in the outbox."""

from __future__ import annotations

import re

from qianshu.accounts.models import User
from qianshu.notifications.models import OutboxMessage

PERSONAS = {"alice": "13800000001", "bob": "13800000002", "charlie": "13800000003"}


def make_user(name: str, **extra: object) -> User:
    """alice, bob or charlie (or any name with ``phone=``): an account with a display name."""
    phone = str(extra.pop("phone", PERSONAS.get(name, "")))
    return User.objects.create_user(phone, display_name=name, **extra)


def latest_sms(phone: str, kind: str | None = None) -> OutboxMessage:
    messages = OutboxMessage.objects.filter(channel="sms", recipient=phone)
    if kind:
        messages = messages.filter(kind=kind)
    return messages.latest("created_at", "id")


def sms_code(phone: str, kind: str | None = None) -> str:
    """The 6-digit code in the latest SMS to ``phone`` (tests keep sensitive bodies)."""
    body = latest_sms(phone, kind).body
    match = re.search(r"(?<!\d)(\d{6})(?!\d)", body)
    assert match, f"no code in {body!r}"
    return match.group(1)
