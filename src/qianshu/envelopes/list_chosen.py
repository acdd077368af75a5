"""模板 and 批次号 searches of a user with many envelopes (:mod:`qianshu.envelopes.queries`):
the envelopes made from the template or in the batch, read from their uses when they are few
(in all, or among the user's own), rather than found by walking every envelope of the tab's
statuses — which, when the user has none of them, reads all."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Q, QuerySet

from qianshu.core.sql import id_in
from qianshu.envelopes.list_filters import Filters, filters_q
from qianshu.envelopes.models import Envelope


def chosen(
    uses: QuerySet[Any, Any], limit: int, among: Sequence[QuerySet[Any, Any]] = ()
) -> list[int] | None:
    """The envelopes of ``uses`` (:func:`qianshu.envelopes.list_filters.template_uses`) —
    ``among`` the user's (the ids of ``queries.Source.parts``), if given — sorted, when they
    are at most ``limit`` (a batch of 批量发起 usually is; a template used for many envelopes,
    of which the user has few); else None."""
    if among:
        union = among[0].union(*among[1:], all=True) if len(among) > 1 else among[0]
        if connection.vendor == "postgresql":
            return _joined(uses, limit, union)
        uses = uses.filter(envelope_id__in=union)
    # In envelope order, stopping at limit + 1: read from an index either way — the
    # (template version, envelope) one, or the batch's when its uses are rare. In no order,
    # when nearly every use is the template's, PostgreSQL read the table itself up to the
    # limit (as few rows, but no index: what the bench's EXPLAIN check refuses).
    uses = uses.order_by("envelope_id")
    ids = list(uses.values_list("envelope_id", flat=True)[: limit + 1])
    return sorted(ids) if len(ids) <= limit else None


def _joined(uses: QuerySet[Any, Any], limit: int, union: QuerySet[Any, Any]) -> list[int] | None:
    """:func:`chosen` among the user's envelopes on PostgreSQL: the uses joined to the
    parts' ids as they come (``union``, a ``UNION ALL``), the few found made distinct after.
    Asked as ``envelope_id IN (the parts)``, PostgreSQL first made the user's ids distinct and
    sorted them — 65,000 of bob's for a template of 50,000 uses none of which is his, 60 ms."""
    try:
        union_sql, union_params = union.query.sql_with_params()
        uses_sql, uses_params = uses.values("envelope_id").query.sql_with_params()
    except EmptyResultSet:  # no such template or batch, or no envelopes of the user's
        return []
    # Both parts are the ORM's own SQL, their values parameters.
    sql = (
        f"SELECT DISTINCT u.envelope_id FROM ({uses_sql}) u JOIN ({union_sql}) p (id)"  # noqa: S608
        " ON p.id = u.envelope_id ORDER BY 1 LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, (*uses_params, *union_params, limit + 1))
        ids = [row[0] for row in cursor.fetchall()]
    return ids if len(ids) <= limit else None


def in_tab(
    ids: list[int], statuses: Sequence[str], condition: Q, filters: Filters
) -> QuerySet[Envelope]:
    """The tab's envelopes (``statuses``, the tab's ``condition``) among ``ids`` (at most a
    thousand or so) matching ``filters``, newest first. Their statuses are read first (from
    the index by id): given with the ids, the status makes PostgreSQL combine the ids with
    every envelope of the statuses."""
    if not ids:
        return Envelope.objects.none()
    wanted = set(statuses)
    rows = Envelope.objects.filter(id_in(ids)).order_by().values_list("pk", "status")
    kept = [pk for pk, status in rows if status in wanted]
    if not kept:
        return Envelope.objects.none()
    return (
        Envelope.objects.filter(id_in(kept))
        .filter(condition)
        .filter(filters_q(filters))
        .order_by("-sent_at", "-id")
    )
