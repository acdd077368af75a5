"""How long a new signing key is held after a phone change.

Whoever controls an account's phone can log in and receive its codes. So that taking over a
phone (a SIM swap, or an operator who moves the account to another number) does not give a new
signing key at once, new keys wait ``QIANSHU_PIN_RESET_HOLD_HOURS`` (72) after the phone change,
while the old phone has been told by SMS:

* a PIN reset (new key, new certificate) — after any phone change;
* a first PIN and a one-time event key (SMS-code signing) — after a phone change made by an
  operator (a person's own change needs the code sent to the new phone after a
  re-authentication, and people who change their number need to sign by SMS without waiting).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from qianshu.accounts.models import User


def _hold_end(user: User) -> dt.datetime | None:
    if user.phone_changed_at is None:
        return None
    end = user.phone_changed_at + dt.timedelta(hours=settings.QIANSHU_PIN_RESET_HOLD_HOURS)
    return end if end > timezone.now() else None


def pin_reset_held_until(user: User) -> dt.datetime | None:
    """Until when a PIN reset is held after the last phone change, or None."""
    return _hold_end(user)


def new_key_held_until(user: User) -> dt.datetime | None:
    """Until when a first PIN or an SMS-code (event key) signing is held after a phone change
    made by an operator, or None."""
    if not user.phone_changed_by_operator():
        return None
    return _hold_end(user)
