"""The per-key rate limit of the open API: a fixed one-minute window counted with a single
UPSERT on the shared ``RateLimit`` table (one statement, no transaction of its own; the
checks of :mod:`qianshu.accounts.throttles` take three and a row lock, too slow for every API
call). Refused calls count too, so a client hammering through its 429s stays refused."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.utils import dateparse, timezone

from qianshu.accounts.models import RateLimit

WINDOW = dt.timedelta(seconds=60)

_SQL = """
INSERT INTO {table} (key, window_start, count, last_at) VALUES (%s, %s, 1, %s)
ON CONFLICT (key) DO UPDATE SET
  count = CASE WHEN {table}.window_start <= %s THEN 1 ELSE {table}.count + 1 END,
  window_start = CASE WHEN {table}.window_start <= %s
                 THEN excluded.window_start ELSE {table}.window_start END,
  last_at = excluded.last_at
RETURNING count, window_start
"""


def hit(name: str, limit: int) -> int:
    """Count a call under ``name``; 0 when allowed, else the seconds until the window ends."""
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    sql = _SQL.format(table=connection.ops.quote_name(RateLimit._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [name, adapt(now), adapt(now), adapt(now - WINDOW), adapt(now - WINDOW)]
        )
        count, start = cursor.fetchone()
    if count <= limit:
        return 0
    if isinstance(start, str):  # SQLite may give the stored text back
        start = dateparse.parse_datetime(start)
    assert isinstance(start, dt.datetime)
    if timezone.is_naive(start):  # SQLite stores UTC without an offset
        start = timezone.make_aware(start, dt.UTC)
    return max(1, int((start + WINDOW - now).total_seconds()) + 1)
