"""A page of a list read from the user's own index ranges, newest first, and merged in the
database (:func:`newest`, for :mod:`qianshu.envelopes.queries`): the recipient rows carry
their envelope's status and sending time (copied by the database's triggers), so each range
of one status is read in its index's order and stops after the rows a page needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from qianshu.envelopes.list_filters import Filters, sent_q
from qianshu.envelopes.models import Recipient


def newest(
    parts: Sequence[QuerySet[Any, Any]],
    statuses: Sequence[str],
    filters: Filters,
    start: int,
    size: int,
) -> list[int] | None:
    """A tab's envelopes ``start`` to ``start + size``, newest first, for a user with many
    (PostgreSQL), from the tab's ``parts`` in ``statuses`` (:class:`qianshu.envelopes.queries.
    Source`): each part, one status at a time, read newest first from its index (the
    recipient rows by the sending time they carry) up to ``start + size`` rows, and merged in
    the database. Instead of a walk of every envelope of the statuses testing whose they are
    (page 50 of alice's 已完成签署 walked 67,000 index entries). Only 发起时间 (and 状态, in
    the statuses) may narrow it; for other searches, or when an envelope that several of one
    part's rows name makes the merged rows too few to be sure of the page, None (the caller
    walks)."""
    searched = filters.q or filters.initiator or filters.scene or filters.template or filters.batch
    if connection.vendor != "postgresql" or searched:
        return None
    want = start + size
    reads = []
    params: list[Any] = []
    # A range of each status apart, so that each is read in its index's order.
    ranges = [
        part.filter(**{"envelope_status" if part.model is Recipient else "status": status})
        for part in parts
        for status in statuses
    ]
    for index, part in enumerate(ranges):
        recipients = part.model is Recipient
        column, at = ("envelope_id", "envelope_sent_at") if recipients else ("pk", "sent_at")
        read = (
            part.filter(sent_q(filters, at))
            .values_list(column, at)
            .order_by(f"-{at}", f"-{column}")[:want]
        )
        # The ORM's own SQL of the part, its values as parameters; the index is ours.
        sql, part_params = read.query.sql_with_params()
        reads.append(_PART.format(index=index, sql=sql))
        params += part_params
    with connection.cursor() as cursor:
        cursor.execute(
            _MERGED.format(parts=" UNION ALL ".join(reads)), [*params, want, start, size]
        )
        rows = cursor.fetchall()
    if not rows:
        return [] if not start else None
    cut_short, sure = rows[0][1], rows[0][2]
    if cut_short and sure < want:
        return None
    return [pk for pk, _cut, _sure in rows]


_PART = """SELECT p.id, COALESCE(p.at, 'infinity'::timestamptz) AS k, {index} AS part
FROM ({sql}) AS p (id, at)
"""

# The parts' rows merged newest first (a sending time missing — none but drafts, which no tab
# lists — first, as PostgreSQL orders a descending time), each envelope once; a part cut short
# (it had more rows) is complete only down to its last row, so the merged rows are sure only
# down to the highest of those. Returns the page's ids, whether a part was cut short, and how
# many envelopes are sure.
_MERGED = """WITH u AS ({parts}),
cut AS (
    SELECT DISTINCT ON (part) k, id FROM u
    WHERE part IN (SELECT part FROM u GROUP BY part HAVING count(*) = %s)
    ORDER BY part, k, id
),
bound AS (SELECT k, id FROM cut ORDER BY k DESC, id DESC LIMIT 1),
sure AS (
    SELECT DISTINCT id, k FROM u
    WHERE NOT EXISTS (SELECT 1 FROM bound) OR (k, id) >= (SELECT k, id FROM bound)
)
SELECT id, EXISTS (SELECT 1 FROM bound), count(*) OVER () FROM sure
ORDER BY k DESC, id DESC OFFSET %s LIMIT %s
"""
