"""文件管理: the envelope lists of a user (待我签署, 待他人签署, 已完成签署, 已作废, 抄送我的).

Every list is a subset of :func:`qianshu.envelopes.access.visible_envelopes`, so every row opens
for the user; drafts are never listed (草稿箱 is the compose pages' list).

* 待我签署 (``todo``): in progress, and one of its recipients is the user's turn now — a person
  recipient that is the user (the bound account, or before binding the user's phone), or an
  organisation recipient bound to an organisation one of the user's granted seals belongs to
  (never by the organisation's name).
* 待他人签署 (``others``): in progress, the user takes part (initiator, administrator of the
  organisation it was sent for, or an acting recipient), and it is not the user's turn.
* 已完成签署 (``completed``), 已作废 (``voided``: voided, and the envelopes that ended without
  completion — rejected, recalled, expired): the same participation.
* 抄送我的 (``cc``): a CC recipient is the user.

The queries are written for an installation of a million envelopes and five million
recipients (``python -m benchmarks --only lists`` measures them and checks their plans). A tab
is known two ways (:class:`Source`): as the ids of the user's envelopes from index ranges of
their own (the recipient indexes by user, unbound phone and organisation, with the envelope's
status and sending time that each recipient row carries, copied by the database; the
initiator and organisation indexes of envelopes), and as a condition on an envelope row. A
user with few envelopes in a tab (at most ``COUNT_LIMIT``, counted with a bounded ``UNION
ALL``) gets the page from the ids, sorted, and an exact count; a user with more — an
organisation's administrator sees every envelope it sent — gets a count that stops at
``COUNT_LIMIT`` ("超过 1,000 条") and the page by reading each range newest first and merging
them in the database (:mod:`qianshu.envelopes.list_ranges`; 任务名称 / 任务编号, 场景 and
发起方 are tested on each row's envelope as the ranges are read). A page the ranges are not
sure of, one past the first ``COUNT_LIMIT`` rows, 模板 and 批次号, and a 任务名称 / 任务编号
text so rare that PostgreSQL finds it by its trigram indexes (migration 0011) are read by
walking the envelopes newest first through the ``sent_at`` index (or those indexes) and
testing the condition on each.

A filter that may match few of a heavy user's envelopes, where a walk would read every
envelope of the statuses, is planned by its selectivity: a template or a batch with at most
``COUNT_LIMIT`` envelopes (in all, or among the user's own) gives the page from those
(:mod:`qianshu.envelopes.list_chosen`); 发起方,
for a user with at most ``INITIATOR_LIMIT`` envelopes, is tested on each of the user's
envelopes (:attr:`Source.parts`) instead. A user with few has the page, the count and the
场景 choices from one query by id (index ``env_id_list``, migration 0012).

How PostgreSQL is kept on those plans: a part of recipient rows tests the envelope's status
the row carries (``Recipient.envelope_status``, copied by the database's triggers), since as a
join the planner would hash every envelope of the statuses (130,000 for 已作废) to find the
user's few, and a lookup of each row's envelope reads all the user's rows; a list of ids (the
sample, a template's envelopes) goes to the database as one array, not a thousand
placeholders; a walk starts after the envelopes never sent, which a descending index puts
first (the 30,000 drafts of a million); counts come back as one number. The tabs and their
filters are in :mod:`qianshu.envelopes.list_filters`, a page's rows in
:mod:`qianshu.envelopes.list_rows`.

A page costs a constant number of queries whatever its size (progress counts, the user's turn
and the documents for 预览 are fetched for the page's rows at once). An unfiltered tab's sample
and the 待我签署 count are read by statements built once per viewer shape
(:mod:`qianshu.envelopes.list_shapes`), the page's rows by statements built once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Window,
)
from django.db.models.functions import DenseRank
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.core.sql import id_in
from qianshu.core.statements import Statement
from qianshu.envelopes import list_chosen, list_ranges, list_shapes
from qianshu.envelopes.access import TURN, Viewer, seal_turn_q
from qianshu.envelopes.list_filters import (
    DEFAULT_SCENES,
    DEFAULT_TAB,
    ENDED,
    MAX_QUERY,
    MAX_SCENE_CHOICES,
    TAB_BY_SLUG,
    TABS,
    Filters,
    Tab,
    filters_q,
    initiated_orgs,
    parse_filters,
    scene_suggestions,
    template_uses,
)
from qianshu.envelopes.list_rows import Listing, ListPage, Reading, Row, envelopes_of, rows_for
from qianshu.envelopes.models import Envelope, Recipient

# The tabs, the filters and the rows of a page are defined beside this module; the views and
# the tests know them as queries.*.
__all__ = [
    "COUNT_LIMIT",
    "DEFAULT_SCENES",
    "DEFAULT_TAB",
    "ENDED",
    "MAX_QUERY",
    "PAGE_SIZE",
    "TABS",
    "TAB_BY_SLUG",
    "Filters",
    "ListPage",
    "Listing",
    "Row",
    "Tab",
    "drafts_of",
    "list_envelopes",
    "parse_filters",
    "rows_for",
    "scene_choices",
    "scene_suggestions",
    "source",
    "stuck_completions",
    "tab_queryset",
    "todo_count",
    "todo_sample",
]

Status = Envelope.Status
Role = Recipient.Role

PAGE_SIZE = 20
#: A list counts its envelopes exactly up to this many; beyond, it says "超过 1,000 条".
COUNT_LIMIT = 1000
#: A 发起方 search among at most this many envelopes of the user's reads them from their ids.
INITIATOR_LIMIT = 20_000


def _statuses(tab: str, filters: Filters) -> list[str]:
    """The envelope statuses of ``tab`` the filters leave (状态 narrows a tab's own)."""
    statuses = list(TAB_BY_SLUG[tab].statuses)
    if filters.status in statuses:
        return [filters.status]
    return statuses


@dataclass
class Source:
    """The envelopes of a tab two ways: :attr:`parts`, querysets of envelope ids that are each
    an index lookup of the user's own rows (their union is the tab), and :attr:`condition`,
    the same set as a condition on an envelope row; both within ``statuses``."""

    statuses: list[str]
    #: The parts before ``without`` is left out of each.
    kept: list[QuerySet[Any, Any]]
    #: Builds :attr:`condition`, which only a walk of many envelopes needs.
    make_condition: Callable[[], Q]
    #: Envelopes none of the parts has (待他人签署: the user's turns), as ids or a subquery.
    without: QuerySet[Any, Any] | list[int] | None = None

    @cached_property
    def condition(self) -> Q:
        return self.make_condition()

    @cached_property
    def parts(self) -> list[QuerySet[Any, Any]]:
        if self.without is None:
            return self.kept
        return [_without(part, self.without) for part in self.kept]


def source(
    viewer: Viewer,
    tab: str,
    filters: Filters | None = None,
    *,
    turns: Sequence[int] | None = None,
) -> Source:
    """``turns``: for 待他人签署, the envelopes of 待我签署 when they were read in full (at
    most ``COUNT_LIMIT``, :func:`todo_sample`) — left out by id, instead of by a subquery of
    the user's turns repeated in each part of the tab."""
    filters = filters or Filters()
    if tab not in TAB_BY_SLUG:
        raise ValueError(tab)
    statuses = _statuses(tab, filters)
    user = viewer.user

    def turn() -> list[QuerySet[Recipient]]:
        return _rows(
            viewer,
            Q(status__in=TURN, role__in=(Role.SIGN, Role.APPROVE)),
            Q(status__in=TURN) & seal_turn_q(viewer.seals) if viewer.seals else None,
        )

    if tab in ("todo", "cc"):
        rows = turn() if tab == "todo" else _rows(viewer, Q(role=Role.CC))
        return Source(statuses, _ids(rows, statuses), lambda: _any(rows, statuses))
    acting = _rows(
        viewer,
        ~Q(role=Role.CC),
        viewer.org_q() if viewer.seals or viewer.admin_org_ids else None,
    )
    parts: list[QuerySet[Any, Any]] = []
    # 发起方 not in the user's own name: of their own envelopes, only those sent for an
    # organisation of that name (alice's 发起方 search walked her 2,600 envelopes for none).
    orgs = initiated_orgs(filters, user)
    if orgs is None or orgs:
        initiated = Envelope.objects.filter(initiator=user, status__in=statuses)
        if orgs:
            initiated = initiated.filter(initiator_org_id__in=orgs)
        parts.append(initiated.order_by().values("pk"))
    if viewer.admin_org_ids:
        parts.append(
            Envelope.objects.filter(initiator_org_id__in=viewer.admin_org_ids, status__in=statuses)
            .order_by()
            .values("pk")
        )
    parts += _ids(acting, statuses)
    # 待他人签署 is not where it is the user's turn (that is 待我签署): the user's turns of
    # 待我签署's statuses only — a turn row stays pending while a co-signer's 退回 has the
    # envelope 已退回, which is then waiting for others (the initiator), not for the user.
    mine = list(TAB_BY_SLUG["todo"].statuses)

    def condition() -> Q:
        taking_part = Q(initiator=user) | _any(acting, statuses)
        if viewer.admin_org_ids:
            taking_part |= Q(initiator_org_id__in=viewer.admin_org_ids)
        if tab == "others":
            taking_part &= ~(Q(status__in=mine) & _any(turn(), mine))
        return taking_part

    if tab == "others":  # the user's turns once, as one set each part is tested against
        todo: QuerySet[Any, Any] | list[int] = (
            sorted(set(turns)) if turns is not None else _union(_ids(turn(), mine))
        )
        return Source(statuses, parts, condition, todo)
    return Source(statuses, parts, condition)


def _rows(viewer: Viewer, person: Q, seal: Q | None = None) -> list[QuerySet[Recipient]]:
    """Recipient rows that are the user, split by the index that finds them: ``person`` rows
    bound to the user's account, ``person`` rows not bound yet with the user's phone
    (:func:`qianshu.envelopes.access.person_q`), and ``seal`` rows (organisations)."""
    user = viewer.user
    mine = Recipient.objects.exclude(role=Role.SEAL).filter(person)
    rows = [mine.filter(user=user)]
    if user.phone:
        rows.append(mine.filter(user__isnull=True, phone=user.phone))
    if seal is not None:
        rows.append(Recipient.objects.filter(seal))
    return rows


def _any(rows: Sequence[QuerySet[Recipient]], statuses: Sequence[str]) -> Q:
    """Whether an envelope in ``statuses`` has one of ``rows``: one EXISTS per index, each read
    once, from the index alone, into a hashed set that a walk tests its rows against — only
    the rows of those statuses (an organisation's 25,000 seal rows of every status were read
    for the 5,000 in progress)."""
    condition = Q(pk__in=[])
    for part in rows:
        mine = part.filter(envelope=OuterRef("pk"), envelope_status__in=statuses)
        condition |= Q(Exists(mine))
    return condition


def _without(part: QuerySet[Any, Any], todo: QuerySet[Any, Any] | list[int]) -> QuerySet[Any, Any]:
    key = "envelope_id" if part.model is Recipient else "pk"
    if isinstance(todo, list):
        return part.exclude(id_in(todo, key)) if todo else part
    return part.exclude(**{f"{key}__in": todo})


def _union(parts: Sequence[QuerySet[Any, Any]]) -> QuerySet[Any, Any]:
    return parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]


def _ids(rows: Sequence[QuerySet[Recipient]], statuses: Sequence[str]) -> list[QuerySet[Any, Any]]:
    """The envelopes of ``rows`` in ``statuses``, by the envelope's status each recipient row
    carries (``Recipient.envelope_status``, kept by the database): index ranges of the user's
    rows of the tab alone. Joined to the envelopes, PostgreSQL misjudges how many of a user's
    rows a LIMIT needs and hashes every envelope of the statuses (130,000 of a million for
    已作废); looking up each row's envelope instead read every row of the user's (3,300 index
    lookups for alice's 369 已作废 rows, 10 ms)."""
    return [
        part.filter(envelope_status__in=statuses).order_by().values("envelope_id") for part in rows
    ]


def tab_queryset(
    viewer: Viewer, tab: str, filters: Filters | None = None, *, found: Source | None = None
) -> QuerySet[Envelope]:
    """The envelopes of one tab matching ``filters`` (unordered), from the ids of the user's
    own rows (for a user with few: batch signing takes at most a few hundred)."""
    filters = filters or Filters()
    found = found or source(viewer, tab, filters)
    ids = found.parts[0].union(*found.parts[1:]) if len(found.parts) > 1 else found.parts[0]
    # Each part tests the status on its own rows (see _ids); with the status outside as well,
    # PostgreSQL may hash the ids and scan every envelope of the status for them.
    return Envelope.objects.filter(pk__in=ids).filter(filters_q(filters))


def sample_ids(parts: Sequence[QuerySet[Any, Any]], limit: int | None = None) -> list[int]:
    """Up to ``limit + 1`` (default ``COUNT_LIMIT + 1``) ids of the parts together (an envelope
    in two parts may come twice): each part is an index scan that stops there. More than
    ``limit``: a user with many."""
    return list(_sample(parts, COUNT_LIMIT if limit is None else limit))


def _sample(
    parts: Sequence[QuerySet[Any, Any]], limit: int, *, flat: bool = True
) -> QuerySet[Any, Any]:
    """The parts' ids together, as one ``UNION ALL`` stopping after ``limit + 1`` (``flat``:
    ids, else rows of one id)."""
    ids = [part.values_list(*part.query.values_select, flat=flat) for part in parts]
    union = ids[0].union(*ids[1:], all=True) if len(ids) > 1 else ids[0]
    return union[: limit + 1]


def _tab_sample(viewer: Viewer, tab: str, turns: list[int] | None, limit: int) -> QuerySet[Any]:
    """An unfiltered tab's sample (rows of one id), the query built once per viewer shape
    (:func:`shaped_sample`)."""
    return _sample(source(viewer, tab, turns=turns).parts, limit, flat=False)


def shaped_sample(viewer: Viewer, tab: str, turns: list[int] | None = None) -> list[int]:
    """:func:`sample_ids` of an unfiltered tab, by a statement built once per viewer shape
    (:mod:`qianshu.envelopes.list_shapes`)."""
    return list_shapes.sample(_tab_sample, viewer, tab, turns, COUNT_LIMIT)


def todo_sample(viewer: Viewer) -> list[int]:
    """Up to ``COUNT_LIMIT + 1`` ids of 待我签署 (an envelope may come twice): index scans of
    the user's turns that stop there (:func:`sample_ids`). At most ``COUNT_LIMIT``: all of
    them."""
    return shaped_sample(viewer, "todo")


def todo_count(viewer: Viewer, sample: list[int] | None = None) -> int:
    """The number on the 待我签署 tab, exact up to ``COUNT_LIMIT`` (then ``COUNT_LIMIT + 1``,
    shown as 1000+), from :func:`todo_sample` (``sample``, if the caller read it already);
    only when those rows hold an envelope twice and were cut short is the tab counted again
    without its duplicates. (The sample's up to 1,001 ids cost less to send than counting them
    in a query built for the page: its statement is built once per viewer shape.)"""
    if sample is None:
        sample = todo_sample(viewer)
    rows, distinct = len(sample), len(set(sample))
    if rows <= COUNT_LIMIT or distinct > COUNT_LIMIT:
        return min(distinct, COUNT_LIMIT + 1)
    parts = source(viewer, "todo").parts
    turns = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0].distinct()
    return turns[: COUNT_LIMIT + 1].count()


# --- 场景 ---------------------------------------------------------------------------------------


def scene_choices(
    viewer: Viewer, tab: str, filters: Filters, *, sample: list[int] | None = None
) -> list[str]:
    """The 场景 of a tab's envelopes (matching the other filters), for its 场景 filter; for a
    user with many, those of a ``sample`` of them (:func:`sample_ids`, ``COUNT_LIMIT`` of the
    tab's envelopes found first by the indexes)."""
    others = Filters(
        q=filters.q,
        initiator=filters.initiator,
        sent_from=filters.sent_from,
        sent_to=filters.sent_to,
        status=filters.status,
    )
    if sample is not None and not others.active:  # a list's own page: its statement
        return _kept(filters, [scene for (scene,) in _SCENES_AMONG.rows(sample)])
    if sample is None:
        envelopes = tab_queryset(viewer, tab, others)
    else:
        envelopes = Envelope.objects.filter(id_in(sample)).filter(filters_q(others, joined=True))
    return _kept(filters, [scene for (scene,) in _scenes(envelopes)])


def _scenes(envelopes: QuerySet[Envelope]) -> QuerySet[Any]:
    return (
        envelopes.exclude(scene="")
        .order_by("scene")
        .values_list("scene")
        .distinct()[:MAX_SCENE_CHOICES]
    )


# The 场景 of a sample of a user's envelopes, unfiltered (every list page of a user with
# many), built once (core/statements.py).
_SCENES_AMONG: Statement[Any] = Statement(
    lambda ids: _scenes(Envelope.objects.filter(id_in(ids.as_ids()))), arity=1
)


def _kept(filters: Filters, scenes: list[str]) -> list[str]:
    """The 场景 chosen stays selectable (and shown selected) when it matches none."""
    if filters.scene and filters.scene not in scenes:
        scenes.append(filters.scene)
    return scenes


def _page_number(value: str | int | None) -> int:
    try:
        return max(1, int(value or 1))
    except (TypeError, ValueError):
        return 1


def _walk(found: Source, filters: Filters) -> QuerySet[Envelope]:
    """The tab's envelopes newest first, for a user with many: a walk of the envelopes newest
    first — of one status through the (status, sent_at, id, initiator, organisation) index, of
    several through the (sent_at, id, status, initiator, organisation) one — testing the tab's
    condition on each index entry (the user's recipient rows are read once, into hashed sets)
    until enough are found."""
    return (
        Envelope.objects.filter(status__in=found.statuses)
        .filter(found.condition)
        .filter(filters_q(filters))
        .order_by("-sent_at", "-id")
    )


def _by_ids(found: Source, filters: Filters) -> QuerySet[Envelope]:
    """The tab's envelopes matching ``filters`` newest first, from the user's ids, the 发起方
    tested on each of them (joined) rather than by hashing every person of that name."""
    ids = _union(found.parts)
    return (
        Envelope.objects.filter(status__in=found.statuses, pk__in=ids)
        .filter(filters_q(filters, joined=True))
        .order_by("-sent_at", "-id")
    )


def _fewer_than(parts: Sequence[QuerySet[Any, Any]], limit: int) -> bool:
    """Whether the parts together have at most ``limit`` ids (index scans stopping there,
    counted in the database)."""
    union = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    return union[: limit + 1].count() <= limit


def list_envelopes(
    user: User, tab: str, filters: Filters, page_number: str | int | None
) -> Listing:
    """One page of a tab, filtered, newest first, with the 待我签署 count."""
    viewer = Viewer.of(user)
    # 待他人签署 leaves out 待我签署: by their ids when the sample read for its count holds
    # them all (each id once per part of the tab: a few thousand cost more to send and plan
    # than the subquery of the user's turns they replace).
    turns = todo_sample(viewer) if tab == "others" else None
    whole = turns is not None and len(turns) <= COUNT_LIMIT
    found = source(viewer, tab, filters, turns=turns if whole else None)
    if filters.active:
        sample = sample_ids(found.parts)
    else:
        sample = shaped_sample(viewer, tab, turns if whole else None)
    few = len(sample) <= COUNT_LIMIT
    sample = sorted(set(sample))
    number = _page_number(page_number)
    start = (number - 1) * PAGE_SIZE
    if few:
        # The sample is the whole tab: its envelopes are read by id (a plain primary-key
        # lookup), not found again through the user's rows.
        # The 场景 choices are those of the same rows unless a filter narrows them to one
        # scene, or to a template or batch (scene_choices leaves those filters out).
        same_rows = not (filters.scene or filters.template or filters.batch)
        ordered, scenes = _ordered(sample, found.statuses, filters, scenes=same_rows)
        count, exact = len(ordered), True
        number = min(number, max(1, -(-count // PAGE_SIZE)))
        start = (number - 1) * PAGE_SIZE
        ids = ordered[start : start + PAGE_SIZE + 1]
    else:
        count, exact = COUNT_LIMIT + 1, False
        # Deeper than the count limit, walking the envelopes newest first costs less than
        # reading that many rows of each range (bob's page 200: 4,000 rows of five ranges).
        shallow = start + PAGE_SIZE + 1 <= COUNT_LIMIT + 1
        newest = (
            list_ranges.newest(
                found.kept, found.statuses, filters, start, PAGE_SIZE + 1, without=found.without
            )
            if shallow
            else None
        )
        ids = newest if newest is not None else _searched(found, filters, start)
        scenes = None
    rows_of_page = envelopes_of(ids)
    if not few and (filters.active or len(rows_of_page) <= PAGE_SIZE):
        # Walked: counted when this page is the last; else more than COUNT_LIMIT (or, searched
        # among many, not counted).
        count, exact = start + len(rows_of_page), len(rows_of_page) <= PAGE_SIZE
        if not exact:
            count = 0
    more = len(rows_of_page) > PAGE_SIZE
    page = ListPage(rows_of_page[:PAGE_SIZE], number, count, exact, more, PAGE_SIZE, COUNT_LIMIT)
    if tab == "todo" and not filters.active:
        todo = count if exact else COUNT_LIMIT + 1
    else:
        todo = todo_count(viewer, turns)
    rows = rows_for(viewer, page.object_list, start=start + 1, tab=tab)
    if scenes is None:
        scenes = scene_choices(viewer, tab, filters, sample=sample) if sample else []
    scenes = _kept(filters, scenes)
    return Listing(TAB_BY_SLUG[tab], filters, page, rows, todo, scenes)


def newest_envelopes(
    viewer: Viewer, tab: str, filters: Filters, limit: int, read: Reading
) -> list[Envelope]:
    """A tab's ``limit`` newest envelopes matching ``filters``, found as a list page of that
    size is and read by ``read`` (全部批量签署: up to 300 of 待我签署, by
    :func:`qianshu.envelopes.access.batch_listed`). Unfiltered, from the user's ranges at once
    (PostgreSQL), whether they have few or many: the sample that tells which (up to 1,001 ids)
    is read only when the ranges are not sure. Otherwise, for a user with few, in one query."""
    found = source(viewer, tab, filters)

    def ranges() -> list[int] | None:
        return list_ranges.newest(
            found.kept, found.statuses, filters, 0, limit, without=found.without
        )

    newest = None if filters.active else ranges()
    if newest is not None:
        return envelopes_of(newest, read)
    sample = sample_ids(found.parts)
    if not sample:
        return []
    if len(sample) <= COUNT_LIMIT:
        return list(read(_newest_of(sorted(set(sample)), found.statuses, filters, limit)))
    if filters.active:  # a search among many: the ranges first (unfiltered, tried above)
        newest = ranges()
    ids = newest if newest is not None else _searched(found, filters, 0, limit)
    return envelopes_of(ids, read)


def _newest_of(
    ids: list[int], statuses: Sequence[str], filters: Filters, limit: int
) -> QuerySet[Envelope]:
    """The ``limit`` newest of ``ids`` in ``statuses`` matching ``filters``: the newest ids
    first, then their rows (joined to the initiators before the sort, all of a user's
    envelopes were: 735 of alice's for 300)."""
    top = _matching(ids, statuses, filters).values("pk")[:limit]
    return Envelope.objects.filter(pk__in=top).order_by("-sent_at", "-id")


def _searched(found: Source, filters: Filters, start: int, size: int = PAGE_SIZE + 1) -> list[int]:
    """A page of a user with many that the ranges do not give (a search, a page past the
    first ``COUNT_LIMIT`` rows, a page they are unsure of): among the envelopes of the template
    or batch the filters name, from the user's own ids (发起方), or by walking the envelopes
    newest first."""
    chosen = None
    if filters.template or filters.batch:
        uses = template_uses(filters, resolved=True)
        chosen = list_chosen.chosen(uses, COUNT_LIMIT)
        if chosen is None:
            chosen = list_chosen.chosen(uses, COUNT_LIMIT, among=found.parts)
    # The walk's queryset is made only when it is the one read (making it resolves the tab's
    # whole condition, a few milliseconds).
    if chosen is not None:  # a template or a batch of few: those envelopes, not a walk
        walk = list_chosen.in_tab(chosen, found.statuses, found.condition, filters)
        return _page_of(walk, start, size, walked=False)
    if filters.initiator and _fewer_than(found.parts, INITIATOR_LIMIT):
        # 发起方 often matches none or few of the user's envelopes, and a walk would then
        # read every envelope of the tab's statuses: from the user's own ids instead.
        return _page_of(_by_ids(found, filters), start, size, walked=False)
    return _page_of(_walk(found, filters), start, size, walked=True)


def _page_of(walk: QuerySet[Envelope], start: int, size: int, *, walked: bool) -> list[int]:
    """``walk``'s ids ``start`` to ``start + size``, newest first. On PostgreSQL, where a
    descending order puts the envelopes without a sending time first, a walk is read in two
    parts (one query): those (none but drafts, which no tab lists: sending sets the time)
    found by the status index, and the others by walking the index from its first sending time
    on. One walk of both would pass over the 30,000 drafts of a million envelopes before the
    first row of a tab of several statuses. The planner does not know that only drafts lack
    the time: the first part is not ordered (it would walk the drafts), and only whether there
    is one is asked (expecting thousands of rows, PostgreSQL would compile the query to
    machine code, which takes longer than running it); if there is, both are read again."""
    ids = walk.values_list("pk", flat=True)
    if not walked or connection.vendor != "postgresql":
        return list(ids[start : start + size])
    end = start + size
    unsent = walk.filter(sent_at__isnull=True).order_by().values_list("pk", "sent_at")
    sent = walk.filter(sent_at__isnull=False)
    rows = list(unsent[:1].union(sent.values_list("pk", "sent_at")[start:end], all=True))
    if all(at is not None for _pk, at in rows):
        return [pk for pk, _at in rows]
    first = sorted(unsent.values_list("pk", flat=True), reverse=True)
    head = first[start:end]
    skip = max(0, start - len(first))
    return head + list(sent.values_list("pk", flat=True)[skip : skip + size - len(head)])


def _ordered(
    ids: list[int], statuses: Sequence[str], filters: Filters, *, scenes: bool
) -> tuple[list[int], list[str] | None]:
    """``ids`` (all the envelopes of a tab, for a user with few) matching ``filters``, newest
    first; with ``scenes``, also the 场景 filter's choices, read from the same rows (each
    scene's rank in the database's order of scenes comes with it)."""
    if not ids:
        return [], [] if scenes else None
    matching = _matching(ids, statuses, filters)
    if not scenes:
        return list(matching.values_list("pk", flat=True)), None
    rows = list(
        matching.annotate(scene_rank=Window(DenseRank(), order_by=F("scene").asc())).values_list(
            "pk", "scene", "scene_rank"
        )
    )
    ranked = sorted({(rank, scene) for _pk, scene, rank in rows if scene})
    return [pk for pk, _scene, _rank in rows], [scene for _rank, scene in ranked][
        :MAX_SCENE_CHOICES
    ]


def _matching(ids: list[int], statuses: Sequence[str], filters: Filters) -> QuerySet[Envelope]:
    """The envelopes ``ids`` in ``statuses`` matching ``filters``, newest first."""
    matching = Envelope.objects.filter(id_in(ids), status__in=statuses)
    if filters.active:
        matching = matching.filter(filters_q(filters, joined=True))
    return matching.order_by("-sent_at", "-id")


# --- 草稿箱 -----------------------------------------------------------------------------------


def drafts_of(actor: User) -> QuerySet[Envelope]:
    """The actor's drafts with their document and recipient counts, newest first."""
    return (
        Envelope.objects.filter(initiator=actor, status=Envelope.Status.DRAFT)
        .select_related("initiator_org")
        .annotate(
            document_count=Count("documents", distinct=True),
            recipient_count=Count("recipients", distinct=True),
        )
        .order_by("-created_at", "-id")
    )


# --- the timers ---------------------------------------------------------------------------------

STUCK_COMPLETION = dt.timedelta(minutes=2)


def stuck_completions(now: dt.datetime | None = None) -> list[int]:
    """Envelopes signed by everyone whose completion did not happen (a worker died)."""
    now = now or timezone.now()
    return list(
        Envelope.objects.filter(
            status=Status.IN_PROGRESS, all_signed_at__lte=now - STUCK_COMPLETION
        ).values_list("pk", flat=True)[:100]
    )
