"""A page of a list read from the user's own index ranges, newest first, and merged in the
database (:func:`newest`, for :mod:`qianshu.envelopes.queries`): the recipient rows carry
their envelope's status and sending time (copied by the database's triggers), so each range
of one status is read in its index's order and stops after the rows a page needs — or, for a
search, after the rows that match it, testing each row's envelope as the range is read, at
most ``SCAN`` rows a range."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from qianshu.envelopes.list_filters import Filters, filters_q, sent_q
from qianshu.envelopes.models import Envelope, Recipient

#: A searched range reads at most this many of the user's rows; a range with more is sure
#: only down to its last row read (a search that few of them match is walked instead).
SCAN = 1000
#: The same for 发起方 (``queries.INITIATOR_LIMIT``): where a walk would have to read every
#: envelope of the tab's statuses, all the rows of a user's range are tested instead.
INITIATOR_SCAN = 20_000


def newest(
    parts: Sequence[QuerySet[Any, Any]],
    statuses: Sequence[str],
    filters: Filters,
    start: int,
    size: int,
    *,
    without: QuerySet[Any, Any] | list[int] | None = None,
) -> list[int] | None:
    """A tab's envelopes ``start`` to ``start + size``, newest first, for a user with many
    (PostgreSQL), from the tab's ``parts`` in ``statuses`` (:class:`qianshu.envelopes.queries.
    Source`): each part, one status at a time, read newest first from its index (the
    recipient rows by the sending time they carry) up to ``start + size`` rows, and merged in
    the database. Instead of a walk of every envelope of the statuses testing whose they are
    (page 50 of alice's 已完成签署 walked 67,000 index entries).

    发起时间 is tested on the rows themselves; 任务名称 / 任务编号, 发起方 and 场景 on each
    row's envelope as the range is read, up to ``start + size`` matching rows in the first
    ``SCAN`` of the range. None (the caller walks, or reads the template's or batch's
    envelopes) for 模板 and 批次号, and when the merged rows are too few to be sure of the
    page: a part cut short — by the page's size, or by ``SCAN`` — is complete only down to
    its last row read, and an envelope that several of one part's rows name makes its rows
    fewer.

    ``without``: envelopes no part has (待他人签署 leaves out the user's turns), ids or a
    subquery, read once for every range (as a subquery in each, bob's 1,900 turns were read
    again in each of his ten ranges)."""
    if connection.vendor != "postgresql" or filters.template or filters.batch:
        return None
    if filters.q and _rare(statuses, filters.q):
        return None
    want = start + size
    tests, test_params, scan = _tests(filters)
    ctes: list[str] = []
    rows: list[str] = []
    cte_params: list[Any] = []
    if without is not None:  # read once for every range (a subquery in each was run in each)
        if isinstance(without, list):
            sql, without_params = _IDS, (without,)
        else:
            sql, without_params = without.query.sql_with_params()
        ctes.append(_WITHOUT.format(sql=sql))
        cte_params += without_params
    row_params: list[Any] = []
    # A range of each status apart, so that each is read in its index's order.
    ranges = [
        part.filter(**{"envelope_status" if part.model is Recipient else "status": status})
        for part in parts
        for status in statuses
    ]
    for index, part in enumerate(ranges):
        recipients = part.model is Recipient
        column, at = ("envelope_id", "envelope_sent_at") if recipients else ("pk", "sent_at")
        if without is not None:
            part = part.exclude(**{f"{column}__in": RawSQL("SELECT id FROM t", ())})
        read = (
            part.filter(sent_q(filters, at))
            .values_list(column, at)
            .order_by(f"-{at}", f"-{column}")[: scan if tests else want]
        )
        # The ORM's own SQL of the part, its values as parameters; the names are ours.
        sql, part_params = read.query.sql_with_params()
        rows.append(_ROWS.format(index=index))
        if tests:
            ctes.append(_SEARCHED.format(index=index, sql=sql, tests=tests))
            cte_params += [*part_params, *test_params, want]
            rows.append(_FLOOR.format(index=index, sql=sql, last=scan - 1))
            row_params += [*part_params, want]
        else:
            ctes.append(_READ.format(index=index, sql=sql))
            cte_params += part_params
    with connection.cursor() as cursor:
        cursor.execute(
            _MERGED.format(ctes=",\n".join(ctes), rows="\nUNION ALL ".join(rows)),
            [*cte_params, *row_params, want, start, size],
        )
        cut_short, sure, ids = cursor.fetchone()
    if (cut_short and sure < want) or (start and not sure):
        return None
    return list(ids)


def _rare(statuses: Sequence[str], text: str) -> bool:
    """Whether PostgreSQL would find the envelopes of a 任务名称 / 任务编号 search by their
    trigram indexes (migration 0011) rather than by walking the envelopes newest first: a
    text few envelopes have, which a walk then reads alone (one ``EXPLAIN``, about half a
    millisecond). Read from the ranges, a text none of the user's envelopes has was tested on
    each of their first ``SCAN`` rows of every range before being walked all the same."""
    found = Envelope.objects.filter(status__in=statuses).filter(
        Q(title__icontains=text) | Q(number__icontains=text)
    )
    plan = found.order_by("-sent_at", "-id").values_list("pk", flat=True)[:21].explain()
    return "_trgm" in plan


def _tests(filters: Filters) -> tuple[str, list[Any], int]:
    """The search as a test of one row's envelope (``s.id``): the ORM's SQL of an EXISTS, and
    how many of a range's rows to read (:data:`SCAN`, or for 发起方 :data:`INITIATOR_SCAN`: where
    it matches none of the user's envelopes, a walk would read every envelope of the tab's
    statuses). Empty when only 发起时间 (tested on the rows) narrows the tab."""
    if not (filters.q or filters.initiator or filters.scene):
        return "", [], 0
    others = dataclasses.replace(filters, sent_from=None, sent_to=None, status="")
    envelope = Envelope.objects.filter(filters_q(others, joined=True), pk=RawSQL("s.id", ()))
    scan = INITIATOR_SCAN if filters.initiator else SCAN
    sql, params = envelope.order_by().values("pk").query.sql_with_params()
    return f"EXISTS ({sql})", list(params), scan


_READ = "m{index} (id, at) AS ({sql})"

# The envelopes no range has, read once.
_WITHOUT = "t (id) AS MATERIALIZED ({sql})"
_IDS = "SELECT unnest(%s::bigint[])"

# Read newest first, each row's envelope tested as it comes, stopping at the page's rows.
_SEARCHED = """m{index} (id, at) AS (
    SELECT s.id, s.at FROM ({sql}) AS s (id, at)
    WHERE {tests} ORDER BY s.at DESC, s.id DESC LIMIT %s
)"""

_ROWS = (
    "SELECT id, COALESCE(at, 'infinity'::timestamptz) AS k, {index} AS part, false AS floor "
    "FROM m{index}"
)

# A searched range that found fewer rows than the page's and read ``SCAN`` rows: its last
# row read, below which it is not complete (read only then).
_FLOOR = """(SELECT f.id, COALESCE(f.at, 'infinity'::timestamptz), {index}, true
    FROM ({sql}) AS f (id, at) WHERE (SELECT count(*) FROM m{index}) < %s
    ORDER BY f.at DESC, f.id DESC OFFSET {last} LIMIT 1)"""

# The parts' rows merged newest first (a sending time missing — none but drafts, which no tab
# lists — first, as PostgreSQL orders a descending time), each envelope once. A part cut
# short is complete only down to its last row read: a part with as many rows as the page
# needs (it may have had more), or a searched part's floor. So the merged rows are sure only
# down to the highest of those. Returns whether a part was cut short, how many envelopes are
# sure, and the page's ids.
_MERGED = """WITH {ctes},
u AS ({rows}),
cut AS (
    SELECT DISTINCT ON (part) k, id FROM u
    WHERE floor OR part IN (
        SELECT part FROM u WHERE NOT floor GROUP BY part HAVING count(*) = %s
    )
    ORDER BY part, floor DESC, k, id
),
bound AS (SELECT k, id FROM cut ORDER BY k DESC, id DESC LIMIT 1),
sure AS (
    SELECT DISTINCT id, k FROM u
    WHERE NOT floor
        AND (NOT EXISTS (SELECT 1 FROM bound) OR (k, id) >= (SELECT k, id FROM bound))
)
SELECT EXISTS (SELECT 1 FROM bound), (SELECT count(*) FROM sure),
    ARRAY(SELECT id FROM sure ORDER BY k DESC, id DESC OFFSET %s LIMIT %s)
"""
