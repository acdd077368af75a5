"""Database-backed rate limits shared by every web process."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
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
        row, _ = RateLimit.objects.select_for_update().get_or_create(
            key=key, defaults={"window_start": now, "count": 0}
        )
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
