"""SQL helpers the ORM does not offer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import BooleanField, F, Func, Q, QuerySet, Value
from django.db.models import Field as DbField


def id_in(ids: Sequence[int], column: str = "pk") -> Q:
    """Rows whose ``column`` (an id) is one of ``ids`` (up to a thousand or so): on
    PostgreSQL one array parameter (``id = ANY(%s)``) rather than a thousand placeholders,
    which the driver would parse on every request (it caches only short statements)."""
    if connection.vendor != "postgresql":
        return Q(**{f"{column}__in": ids})
    return Q(_AnyOf(F(column), Value(list(ids), output_field=DbField())))


class _AnyOf(Func):
    """``column = ANY(array::bigint[])`` (PostgreSQL). The driver sends a list of small ints
    as ``int4[]``; compared with a bigint id, ``<> ALL`` (a NOT) cannot be hashed and is
    tested element by element (2 ms for 1,000 rows against 700 ids instead of 0.1 ms)."""

    arg_joiner = " = ANY("
    template = "%(expressions)s::bigint[])"
    output_field = BooleanField()


def lock_shared(rows: QuerySet[Any]) -> list[Any]:
    """Lock ``rows`` (one table's, no join) ``FOR SHARE`` until the transaction ends and return
    their primary keys: other transactions may read them and share the lock, but whoever
    changes or deletes one waits for this transaction, and this one waits for a change under
    way (then tests ``rows``' conditions on the changed row). On SQLite, which lets one writer
    at a time, only the keys. Django's ``select_for_update`` has no shared mode."""
    ids = rows.order_by().values_list("pk", flat=True)
    if connection.vendor != "postgresql":
        return list(ids)
    sql, params = ids.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} FOR SHARE", params)
        return [row[0] for row in cursor.fetchall()]
