"""The per-key rate limit of the open API: a fixed one-minute window counted on the shared
``RateLimit`` table, so that every web process shares one budget per key.

A process does not write the row on every call: it *reserves* a few calls at a time (one
UPSERT adds the reservation to the window's count and returns it) and spends them from
memory; a call that finds nothing left reserves again. So the count in the database is never
below what was allowed (the limit is never exceeded, whatever the number of processes), and
the row, which every call of a key used to lock in turn, is written once per reservation.
Reservations shrink as the window fills (down to one call); calls a process reserved and
was then not asked for are lost to the key for that window (at most ``MAX_RESERVATION - 1``
per process). A refused call is remembered by the process until the window ends (no write
per refusal for a client hammering through its 429s).
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from dataclasses import dataclass

from django.db import connection
from django.utils import dateparse, timezone

from qianshu.accounts.models import RateLimit

WINDOW = dt.timedelta(seconds=60)
#: Most calls one process reserves at once, and the share of what is left in the window.
MAX_RESERVATION = 16
RESERVATION_SHARE = 32

_SQL = """
INSERT INTO {table} (key, window_start, count, last_at) VALUES (%s, %s, %s, %s)
ON CONFLICT (key) DO UPDATE SET
  count = CASE WHEN {table}.window_start <= %s THEN excluded.count
          ELSE {table}.count + excluded.count END,
  window_start = CASE WHEN {table}.window_start <= %s
                 THEN excluded.window_start ELSE {table}.window_start END,
  last_at = excluded.last_at
RETURNING count, window_start
"""


@dataclass
class _Budget:
    window_end: dt.datetime
    left: int  # reserved calls not spent yet
    seen: int  # the window's count in the database at the last reservation
    refused: bool = False


_budgets: dict[tuple[str, int], _Budget] = {}
_lock = threading.Lock()


def _spend(name: str, limit: int, calls: int, now: dt.datetime) -> int | None:
    """0 when ``calls`` reserved calls are left, the seconds to wait when refused in this
    window already, None when the database must be asked."""
    with _lock:
        budget = _budgets.get((name, limit))
        if budget is None or budget.window_end <= now:
            return None
        if budget.left >= calls:
            budget.left -= calls
            return 0
        if budget.refused:
            return _seconds_until(budget.window_end, now)
        return None


def hit(name: str, limit: int, calls: int = 1) -> int:
    """Count ``calls`` calls under ``name`` (a batch call counts its steps); 0 when allowed,
    else the seconds until the window ends (none of them is spent then)."""
    now = timezone.now()
    spent = _spend(name, limit, calls, now)
    if spent is not None:
        return spent
    with _lock:
        known = _budgets.get((name, limit))
        seen = known.seen if known is not None and known.window_end > now else 0
    share = min(MAX_RESERVATION, math.ceil((limit - seen) / RESERVATION_SHARE))
    want = max(1, calls, share)
    count, start = _reserve(name, want, now)
    granted = max(0, min(want, limit - (count - want)))
    window_end = start + WINDOW
    with _lock:
        budget = _budgets.get((name, limit))
        if budget is None or budget.window_end != window_end:
            if len(_budgets) >= 10_000:
                _budgets.clear()
            budget = _budgets[(name, limit)] = _Budget(window_end, 0, count)
        budget.seen = max(budget.seen, count)
        if granted >= calls:
            budget.left += granted - calls  # this call takes its own
            budget.refused = False
            return 0
        # Too few for this call, and none left in the window (a grant short of what was
        # asked is the rest of it): what was granted stays for smaller calls, and bigger ones
        # are refused from memory, without a write.
        budget.left += granted
        budget.refused = True
    return _seconds_until(window_end, now)


def forget_all() -> None:
    """Drop this process's reservations (tests: a new window as if the minute had passed)."""
    with _lock:
        _budgets.clear()


def _reserve(name: str, calls: int, now: dt.datetime) -> tuple[int, dt.datetime]:
    adapt = connection.ops.adapt_datetimefield_value
    sql = _SQL.format(table=connection.ops.quote_name(RateLimit._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [name, adapt(now), calls, adapt(now), adapt(now - WINDOW), adapt(now - WINDOW)],
        )
        count, start = cursor.fetchone()
    if isinstance(start, str):  # SQLite may give the stored text back
        start = dateparse.parse_datetime(start)
    assert isinstance(start, dt.datetime)
    if timezone.is_naive(start):  # SQLite stores UTC without an offset
        start = timezone.make_aware(start, dt.UTC)
    return int(count), start


def _seconds_until(window_end: dt.datetime, now: dt.datetime) -> int:
    return max(1, int((window_end - now).total_seconds()) + 1)
