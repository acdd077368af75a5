"""The sample of an unfiltered tab (:func:`qianshu.envelopes.queries.sample_ids`) by a statement
built once per *shape* of viewer (:mod:`qianshu.core.statements`), where Django built and
compiled the tab's parts — a ``UNION ALL`` of five to ten index ranges — on every list page,
and the 待我签署 count's (together 2–7 ms of a 15–35 ms page, measured on a million envelopes).

A tab's SQL depends on the viewer: on whether the user has a phone (their unbound recipient
rows), on the organisations whose seals they hold (and the seal kinds: a seal task may require
one) or which they administer. That much is the :class:`Shape`; the values — the user's id,
phone and organisations' ids — are the statement's. The statement is made from a *stand-in*
viewer built from the shape alone, with stand-ins (:class:`~qianshu.core.statements.Marker`)
for every value: no real viewer's id, phone or organisation can be written into the SQL that
another viewer of the same shape runs, and the organisations are numbered in the order of
their ids, so that each real id takes the place of the stand-in the SQL put where the real
one would go. With ``QIANSHU_CHECK_SHAPED_STATEMENTS`` (on in the tests), every call also
builds the tab's query for the real viewer and compares the two, SQL and values: a viewer's
attribute that shapes the SQL but is missing from :class:`Shape` fails the suite.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db.models import QuerySet

from qianshu.accounts.models import User
from qianshu.core.statements import DB, Marker, Statement
from qianshu.envelopes.access import Viewer
from qianshu.orgs.models import Seal

#: ``turns`` of 待他人签署: the user's turns left out by their ids, by none (no turns), or by a
#: subquery of them.
IDS, NONE, SUBQUERY = "ids", "none", "subquery"


@dataclass(frozen=True)
class Shape:
    """What of a viewer shapes a tab's SQL: whether the user has a phone, and for each of the
    organisations whose seals they hold or which they administer (in the order of their ids)
    the kinds of their seals of it and whether they administer it."""

    phone: bool
    orgs: tuple[tuple[tuple[str, ...], bool], ...]


def shape_of(viewer: Viewer) -> tuple[Shape, list[Any]]:
    """The viewer's shape and values: the user's id, their phone (if they have one), then the
    organisations' ids in the shape's order."""
    user = viewer.user
    kinds: dict[int, set[str]] = defaultdict(set)
    for seal in viewer.seals:
        kinds[seal.org_id].add(seal.kind)
    admin = set(viewer.admin_org_ids)
    org_ids = sorted(set(kinds) | admin)
    shape = Shape(bool(user.phone), tuple((tuple(sorted(kinds[o])), o in admin) for o in org_ids))
    values: list[Any] = [user.pk, *([user.phone] if user.phone else []), *org_ids]
    return shape, values


def stand_in(shape: Shape, markers: Sequence[Marker]) -> Viewer:
    """A viewer of ``shape`` whose every value is a stand-in (in :func:`shape_of`'s order)."""
    user = User(pk=markers[0].as_int(), phone=markers[1].as_str() if shape.phone else "")
    user._state.adding = False
    first = 2 if shape.phone else 1
    seals, admin = [], []
    orgs = markers[first : first + len(shape.orgs)]
    for marker, (kinds, administers) in zip(orgs, shape.orgs, strict=True):
        org_id = marker.as_int()
        seals += [Seal(org_id=org_id, kind=kind) for kind in kinds]
        if administers:
            admin.append(org_id)
    return Viewer(user, seals, admin)


#: The queryset of a tab's sample (rows of one id) for a viewer, the tab, the user's turns
#: left out of 待他人签署 (ids, or None for a subquery) and the sample's size.
Sampler = Callable[[Viewer, str, Any, int], QuerySet[Any]]


def sample(
    make: Sampler, viewer: Viewer, tab: str, turns: list[int] | None, limit: int
) -> list[int]:
    """The ids ``make`` reads for ``viewer``'s unfiltered ``tab``, by the statement of the
    viewer's shape."""
    shape, values = shape_of(viewer)
    kind = SUBQUERY if turns is None else IDS if turns else NONE
    if kind == IDS:
        values.append(sorted(set(turns or ())))
    statement = _statement(make, tab, kind, limit, shape)
    try:
        rows = statement.rows(*values)
    except EmptyResultSet:  # a query of nothing (as evaluating the queryset would return)
        return []
    if settings.QIANSHU_CHECK_SHAPED_STATEMENTS:
        _check(statement, make(viewer, tab, turns, limit), values)
    return [pk for (pk,) in rows]


@functools.lru_cache(maxsize=1024)
def _statement(make: Sampler, tab: str, kind: str, limit: int, shape: Shape) -> Statement[Any]:
    arity = 1 + shape.phone + len(shape.orgs) + (kind == IDS)

    def build(*markers: Marker) -> QuerySet[Any]:
        viewer = stand_in(shape, markers)
        turns = markers[-1].as_ids() if kind == IDS else [] if kind == NONE else None
        return make(viewer, tab, turns, limit)

    # A value the tab does not need (an organisation the user administers, for 待我签署).
    return Statement(build, arity, unused=True)


def _check(statement: Statement[Any], real: QuerySet[Any], values: Sequence[Any]) -> None:
    """Whether the statement, with the values in their places, is the real viewer's query."""
    ours = statement.sql_with_params(*values)
    sql, params = real.query.get_compiler(using=DB).as_sql()
    if (sql, list(params)) != ours:
        raise AssertionError(f"a shaped statement is not the viewer's query:\n{sql}\n{ours[0]}")
