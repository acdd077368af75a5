"""Database-backed rate limits shared by every web process.

Attempt limits (wrong passwords, wrong ID numbers) are *reserved*: :func:`hit` counts the attempt
under the row lock before the secret is checked, and a success then calls :func:`reset` (or
:func:`refund`). Checking first and counting afterwards would let parallel guesses all pass the
check before any of them is counted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from qianshu.accounts.models import RateLimit


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds until the next attempt may succeed

    def __bool__(self) -> bool:
        return self.allowed


def hit(key: str, *, limit: int, window: int, cooldown: int = 0) -> Verdict:
    """Count one event for ``key``; refuse it beyond ``limit`` per ``window`` seconds or within
    ``cooldown`` seconds of the previous allowed event. A refused event is not counted."""
    now = timezone.now()
    with transaction.atomic():
        # INSERT … ON CONFLICT DO NOTHING, then lock: parallel first events of a key neither
        # fail on the unique key nor create two rows (PostgreSQL; SQLite serialises writers).
        RateLimit.objects.bulk_create(
            [RateLimit(key=key, window_start=now, count=0)], ignore_conflicts=True
        )
        row = RateLimit.objects.select_for_update().get(key=key)
        if cooldown and row.last_at and now - row.last_at < dt.timedelta(seconds=cooldown):
            remaining = row.last_at + dt.timedelta(seconds=cooldown) - now
            return Verdict(False, max(1, int(remaining.total_seconds()) + 1))
        if now - row.window_start >= dt.timedelta(seconds=window):
            row.window_start, row.count = now, 0
        if row.count >= limit:
            remaining = row.window_start + dt.timedelta(seconds=window) - now
            return Verdict(False, max(1, int(remaining.total_seconds()) + 1))
        row.count += 1
        row.last_at = now
        row.save(update_fields=["window_start", "count", "last_at"])
    return Verdict(True)


def exceeded(key: str, *, limit: int, window: int) -> Verdict:
    """Whether ``key`` has used up ``limit`` events in its current window (without counting)."""
    now = timezone.now()
    row = RateLimit.objects.filter(key=key).first()
    if row is None or now - row.window_start >= dt.timedelta(seconds=window):
        return Verdict(True)
    if row.count >= limit:
        remaining = row.window_start + dt.timedelta(seconds=window) - now
        return Verdict(False, max(1, int(remaining.total_seconds()) + 1))
    return Verdict(True)


def reset(key: str) -> None:
    RateLimit.objects.filter(key=key).delete()


def refund(key: str) -> None:
    """Give back one event counted by :func:`hit` (an attempt that turned out to succeed)."""
    RateLimit.objects.filter(key=key, count__gt=0).update(count=F("count") - 1)
