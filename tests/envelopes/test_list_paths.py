"""The list queries' own ways of reading a tab (envelopes/queries.py) against the plain rule:
an outsider sees nothing whichever way a list is read, an envelope out of draft without a
sending time keeps its place when the envelopes are walked in two steps (PostgreSQL), and
the 待我签署 count, read from index scans that may hold an envelope twice, counts each once.
The personas and the rule read in Python are those of ``test_list_sizes``."""

from __future__ import annotations

import datetime as dt
import uuid
from functools import partial
from typing import Any

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from qianshu.envelopes import list_filters, list_ranges, queries
from qianshu.envelopes.access import Viewer, batch_listed
from qianshu.envelopes.models import Envelope, Recipient
from tests.envelopes.test_list_sizes import WHO, _recipient, expected, listed, many
from tests.support.accounts import make_user

__all__ = ["many"]  # the fixture, shared with test_list_sizes

Status = Envelope.Status
SEARCHES = (
    queries.Filters(),
    queries.Filters(q="合同"),
    queries.Filters(q="QL0000000000"),
    queries.Filters(initiator="某某科技"),
    queries.Filters(scene="采购合同"),
    queries.Filters(template=str(uuid.uuid4())),
)


# -1: every list is walked, even one of nobody's envelopes.
@pytest.mark.parametrize("limit", [1000, -1])
def test_an_outsider_sees_nothing_either_way(
    many: dict[str, Any], monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    """dave takes part in none of the envelopes (and has a phone of his own): every tab, with
    every kind of search, is empty — read from his ids and walked."""
    dave = make_user("dave", phone="13900000077")
    monkeypatch.setattr(queries, "COUNT_LIMIT", limit)
    monkeypatch.setattr(queries, "INITIATOR_LIMIT", 0 if limit < 0 else 100_000)
    viewer = Viewer.of(dave)
    for tab in queries.TABS:
        for filters in SEARCHES:
            listing = queries.list_envelopes(dave, tab.slug, filters, 1)
            assert listing.page.object_list == [], (tab.slug, filters)
            assert listing.page.exact and listing.page.count == 0
            assert listing.todo_count == 0
            assert listing.scenes == ([filters.scene] if filters.scene else [])
            assert not queries.tab_queryset(viewer, tab.slug, filters).exists()


@pytest.mark.parametrize("who", WHO)
def test_an_envelope_without_a_sending_time_keeps_its_place_when_walked(
    many: dict[str, Any], monkeypatch: pytest.MonkeyPatch, who: str
) -> None:
    """Sending sets the time, so only drafts lack one; made here directly, three envelopes of
    the tabs without it come where the database's newest-first order puts them (first on
    PostgreSQL, last on SQLite) whether the tab is read from the ids or walked, across page
    boundaries (two rows a page)."""
    user = many[who]
    unsent = list(
        Envelope.objects.exclude(status=Status.DRAFT).order_by("pk").values_list("pk", flat=True)
    )[1:40:13]
    Envelope.objects.filter(pk__in=unsent).update(sent_at=None)
    monkeypatch.setattr(queries, "PAGE_SIZE", 2)
    for tab in queries.TABS:
        want = set(expected_ignoring_time(user, tab.slug))
        from_ids = listed(user, tab.slug)
        assert set(from_ids) == want and len(from_ids) == len(want)
        monkeypatch.setattr(queries, "COUNT_LIMIT", 3)
        walked = listed(user, tab.slug)
        monkeypatch.setattr(queries, "COUNT_LIMIT", 1000)
        assert walked == from_ids, tab.slug
        mine = [pk for pk in from_ids if pk in unsent]
        if mine:  # together, newest (by id) first, at one end of the list
            at = from_ids.index(mine[0])
            assert from_ids[at : at + len(mine)] == sorted(mine, reverse=True)
            assert at in (0, len(from_ids) - len(mine))


def expected_ignoring_time(user: Any, tab: str) -> list[int]:
    """:func:`expected` with the missing sending times filled in for the while (its sort needs
    a time; the test compares the rows with it, and the two ways' orders with each other)."""
    saved = dict(Envelope.objects.filter(sent_at__isnull=True).values_list("pk", "created_at"))
    Envelope.objects.filter(pk__in=list(saved)).update(sent_at=min(saved.values(), default=None))
    try:
        return expected(user, tab)
    finally:
        Envelope.objects.filter(pk__in=list(saved)).update(sent_at=None)


def test_the_todo_count_counts_an_envelope_once(
    many: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """alice has two turns in one envelope (a second signer row of hers): the count, taken
    from index scans that stop after ``COUNT_LIMIT + 1`` rows, still counts envelopes — when
    the rows were cut short with the duplicate among them too — and the tab lists it once."""
    alice = many["alice"]
    todo = expected(alice, "todo")
    assert len(todo) > 2
    envelope = Envelope.objects.get(pk=todo[0])
    _recipient(envelope, 1, "sign", Recipient.Status.PENDING, user=alice, phone=alice.phone)
    for limit in (len(todo) - 1, len(todo), len(todo) + 1):
        monkeypatch.setattr(queries, "COUNT_LIMIT", limit)
        assert queries.todo_count(Viewer.of(alice)) == min(len(todo), limit + 1), limit
        assert listed(alice, "todo") == todo


@pytest.mark.parametrize("limit", [1000, 3])
def test_a_returned_envelope_with_a_turn_still_pending_is_waiting_for_others(
    many: dict[str, Any], monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    """A parallel co-signer sends the envelope back (退回): the user's own turn row stays
    pending while the envelope is 已退回, so it is not 待我签署 — and must be 待他人签署
    (waiting for the initiator's correction), not vanish from both tabs; read from the ids
    and walked."""
    alice = many["alice"]
    todo = expected(alice, "todo")
    returned = todo[:2]
    Envelope.objects.filter(pk__in=returned).update(status=Status.RETURNED)
    monkeypatch.setattr(queries, "COUNT_LIMIT", limit)
    others = listed(alice, "others")
    assert set(returned) <= set(others)
    assert others == expected(alice, "others")
    assert not set(returned) & set(listed(alice, "todo"))


@pytest.mark.postgres
@pytest.mark.parametrize("who", WHO)
def test_pages_read_from_the_parts_in_order_are_the_rule(
    many: dict[str, Any], monkeypatch: pytest.MonkeyPatch, who: str
) -> None:
    """For a user with many, an unsearched tab is read newest first from each of the user's
    index ranges and merged (PostgreSQL). Two rows a page, every tab, as the rows read in
    Python say — where one envelope is in two ranges (alice initiated and signs it), and where
    it is twice in one range (alice also approves some she signs, and is copied twice on
    some; the next test shows when a page is then walked) — and with 发起时间, which the
    ranges test on the sending time their rows carry."""
    user = many[who]
    alice = many["alice"]
    signed = Envelope.objects.filter(
        recipients__user=alice, recipients__role="sign", status=Status.COMPLETED
    ).order_by("-sent_at")[:4]
    for envelope in signed:
        _recipient(envelope, 4, "approve", Recipient.Status.DONE, user=alice, phone=alice.phone)
    copied = Envelope.objects.filter(recipients__user=alice, recipients__role="cc")
    for envelope in copied.order_by("-sent_at")[:4]:  # her only range of 抄送我的
        _recipient(envelope, 5, "cc", Recipient.Status.WAITING, user=alice, phone=alice.phone)
    # Every other envelope sent ten days earlier: 发起时间 from five days ago leaves them out.
    earlier = set(Envelope.objects.order_by("pk").values_list("pk", flat=True)[::2])
    Envelope.objects.filter(pk__in=earlier).update(sent_at=F("sent_at") - dt.timedelta(days=10))
    results = _spied(monkeypatch)
    monkeypatch.setattr(queries, "COUNT_LIMIT", 3)
    monkeypatch.setattr(queries, "PAGE_SIZE", 2)
    for tab in queries.TABS:
        assert listed(user, tab.slug) == expected(user, tab.slug), tab.slug
        late = queries.Filters(sent_from=timezone.localdate() - dt.timedelta(days=5))
        recent = [pk for pk in expected(user, tab.slug) if pk not in earlier]
        assert listed(user, tab.slug, late) == recent, tab.slug
    assert any(ids is not None for ids in results)  # read from the ranges


def _completed(name: str, minutes: int, initiator: Any) -> Envelope:
    """A completed envelope titled ``name``, sent ``minutes`` ago."""
    return Envelope.objects.create(
        number=f"QP{minutes:012d}",
        title=name,
        initiator=initiator,
        status=Status.COMPLETED,
        sent_at=timezone.now() - dt.timedelta(minutes=minutes),
    )


@pytest.mark.postgres
def test_a_range_naming_an_envelope_twice_is_not_trusted_below_its_last_row(
    people: dict[str, Any],
) -> None:
    """alice signs and approves a1 and a2, signs a3, and initiated b1-b4, all older than a3.
    Read three rows a range, her signing range gives a1, a1, a2 — a3 is not read — and her
    initiator range b1-b3. The merged rows are sure only down to a2: the first page of three
    is not b1 in a3's place; the page is walked, and it is a1, a2, a3."""
    alice, bob = people["alice"], people["bob"]
    signed = [_completed(name, minutes, bob) for name, minutes in (("a1", 1), ("a2", 2), ("a3", 3))]
    for row in signed:
        _recipient(row, 1, "sign", Recipient.Status.DONE, user=alice, phone=alice.phone)
    for row in signed[:2]:
        _recipient(row, 2, "approve", Recipient.Status.DONE, user=alice, phone=alice.phone)
    for minutes in (4, 5, 6, 7):
        _completed(f"b{minutes}", minutes, alice)
    found = queries.source(Viewer.of(alice), "completed")
    first = partial(list_ranges.newest, found.parts, found.statuses, queries.Filters(), 0)
    assert first(3) is None
    assert first(1) == [signed[0].pk]
    listing = queries.list_envelopes(alice, "completed", queries.Filters(), 1)
    assert [e.title for e in listing.page.object_list][:3] == ["a1", "a2", "a3"]


@pytest.mark.postgres
@pytest.mark.parametrize("tab", [tab.slug for tab in queries.TABS])
def test_the_ranges_of_an_outsider_or_a_same_named_account_hold_nothing(
    many: dict[str, Any], tab: str
) -> None:
    """dave takes part in none of the envelopes; a second account named alice, with a phone of
    its own, neither. Their ranges, read as for a user with many (the first page and a later
    one, with and without 发起时间, and each search the ranges test), hold none of the
    envelopes — also after alice's rows were written again with a forged copy of their
    envelope's status."""
    Recipient.objects.update(envelope_status=Status.IN_PROGRESS)  # the database undoes it
    outsiders = [
        make_user("dave", phone="13900000077"),
        make_user("alice", phone="13900000078"),
    ]
    since = queries.Filters(sent_from=timezone.localdate() - dt.timedelta(days=30))
    searches = [f for f in SEARCHES if not f.template]  # a template's: never from the ranges
    for user in outsiders:
        found = queries.source(Viewer.of(user), tab)
        for filters in (since, *searches):
            for start in (0, 20):
                read = list_ranges.newest(found.parts, found.statuses, filters, start, 21)
                # Nothing: an empty first page; past it, no page to be sure of (walked).
                assert read == ([] if start == 0 else None), (user, tab, filters, start)


def _initiator_label(envelope: Envelope) -> str:
    """What 发起方 matches, read here: the organisation's name when sent for one, else the
    initiator's verified name, else the display name the user chose."""
    if envelope.initiator_org_id:
        return envelope.initiator_org.name
    identity = getattr(envelope.initiator, "person_identity", None)
    return identity.name if identity else envelope.initiator.display_name


def searched(user: Any, tab: str, filters: queries.Filters) -> list[int]:
    """:func:`expected` narrowed by 任务名称 / 任务编号, 场景 and 发起方, read in Python."""
    found = []
    for pk in expected(user, tab):
        envelope = Envelope.objects.select_related("initiator_org", "initiator").get(pk=pk)
        text = filters.q.upper()
        if text and text not in envelope.title.upper() and text not in envelope.number.upper():
            continue
        if filters.scene and envelope.scene != filters.scene:
            continue
        if filters.initiator and filters.initiator.upper() not in _initiator_label(envelope):
            continue
        found.append(pk)
    return found


def _spied(monkeypatch: pytest.MonkeyPatch) -> list[list[int] | None]:
    results: list[list[int] | None] = []
    newest = list_ranges.newest

    def spy(*args: Any, **kwargs: Any) -> list[int] | None:
        results.append(newest(*args, **kwargs))
        return results[-1]

    monkeypatch.setattr(list_ranges, "newest", spy)
    return results


@pytest.mark.postgres
@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("scan", [1000, 2])
def test_searched_pages_read_from_the_ranges_are_the_rule(
    many: dict[str, Any], monkeypatch: pytest.MonkeyPatch, who: str, scan: int
) -> None:
    """For a user with many, 任务名称 / 任务编号, 场景 and 发起方 are tested on each row's
    envelope as the user's ranges are read newest first (PostgreSQL). Two rows a page, every
    tab, as the rows read in Python say. 发起方 matches the organisation an envelope was sent
    for, else the initiator's verified name — not a display name a user chose: charlie's
    account is called charlie, and a search for it finds none of his envelopes. With two rows
    read a range, a range is cut short above rows that match in another one: those pages are
    not taken from below its last row read (they are walked instead)."""
    user = many[who]
    charlie = many["charlie"]
    monkeypatch.setattr(list_ranges, "SCAN", scan)
    monkeypatch.setattr(list_ranges, "INITIATOR_SCAN", scan)
    monkeypatch.setattr(queries, "COUNT_LIMIT", 3)
    monkeypatch.setattr(queries, "PAGE_SIZE", 2)
    results = _spied(monkeypatch)
    searches = (
        queries.Filters(q="劳动合同"),
        queries.Filters(q="ql00000000001"),  # 任务编号, in any case
        queries.Filters(scene="采购合同"),
        queries.Filters(initiator="某某科技"),  # the organisation's name
        queries.Filters(initiator=charlie.person_identity.name),  # his verified name
        queries.Filters(initiator="charlie"),  # his display name: nothing
        queries.Filters(q="合同", scene="采购合同", initiator=charlie.person_identity.name),
    )
    for tab in queries.TABS:
        for filters in searches:
            want = searched(user, tab.slug, filters)
            assert listed(user, tab.slug, filters) == want, (tab.slug, filters)
            if filters.initiator == "charlie":
                assert want == []
    assert any(ids for ids in results)  # pages read from the ranges
    if scan == 2:
        assert None in results  # and pages the ranges were not sure of


@pytest.mark.postgres
def test_a_searched_range_cut_short_is_not_trusted_below_its_last_row(
    people: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """alice signs s1-s3 (newest), none a 劳动合同, and initiated the 劳动合同 b1 and b2, older.
    Reading two rows a range, her signing range stops at s2 with no match: s3 is not read. b1
    comes first in her initiator range, but it is not sure that no row of the signing range
    below s2 matches, so the ranges are not trusted (and the page, walked, is b1, b2). With
    the floor of a range left out, the page was taken from the ranges."""
    alice, bob = people["alice"], people["bob"]
    for name, minutes in (("采购合同 s1", 1), ("采购合同 s2", 2), ("采购合同 s3", 3)):
        _recipient(_completed(name, minutes, bob), 1, "sign", Recipient.Status.DONE, user=alice)
    older = [_completed(f"劳动合同 b{n}", 3 + n, alice) for n in (1, 2)]
    monkeypatch.setattr(list_ranges, "SCAN", 2)
    labour = queries.Filters(q="劳动合同")
    found = queries.source(Viewer.of(alice), "completed", labour)
    assert list_ranges.newest(found.parts, found.statuses, labour, 0, 3) is None
    monkeypatch.setattr(list_ranges, "SCAN", 4)  # the whole signing range read: sure
    assert list_ranges.newest(found.parts, found.statuses, labour, 0, 3) == [e.pk for e in older]
    listing = queries.list_envelopes(alice, "completed", labour, 1)
    assert [e.title for e in listing.page.object_list] == ["劳动合同 b1", "劳动合同 b2"]


@pytest.mark.postgres
@pytest.mark.parametrize("who", ["alice", "bob"])
def test_others_read_from_the_ranges_leave_out_the_turns_read_for_the_count(
    many: dict[str, Any], monkeypatch: pytest.MonkeyPatch, who: str
) -> None:
    """待他人签署 leaves out 待我签署. Where the turns read for the 待我签署 count are all of
    them (at most ``COUNT_LIMIT``) but 待他人签署 has more, its pages come from the ranges with
    those ids left out once for every range; with fewer turns than that, from a subquery of
    them. Either way the pages are the rule, and hold none of the user's turns."""
    user = many[who]
    todo, others = expected(user, "todo"), expected(user, "others")
    assert 0 < len(todo) < len(others) - 2
    results = _spied(monkeypatch)
    monkeypatch.setattr(queries, "PAGE_SIZE", 2)
    for limit in (len(todo), len(todo) - 1):  # the turns as ids, then as a subquery
        monkeypatch.setattr(queries, "COUNT_LIMIT", limit)
        results.clear()
        listed_others = listed(user, "others")
        assert listed_others == others, limit
        assert not set(listed_others) & set(todo)
        assert any(results)  # read from the ranges


def test_a_joined_initiator_search_through_a_relation_is_refused() -> None:
    """发起方 tested one envelope at a time reads the envelope's own columns: given a path
    from another model it would test the wrong rows, so it is refused outright."""
    with pytest.raises(ValueError):
        list_filters.filters_q(queries.Filters(initiator="某某"), "envelope__", joined=True)
    assert list_filters.filters_q(queries.Filters(q="合同"), "envelope__", joined=True)


@pytest.mark.parametrize("who", WHO)
def test_the_newest_of_a_tab_for_batch_signing_are_the_rule_every_way(
    many: dict[str, Any], monkeypatch: pytest.MonkeyPatch, who: str
) -> None:
    """全部批量签署 takes a tab's newest envelopes as a list page of that size is read: from
    the user's ids (few), from the ranges (many, PostgreSQL), walked (many, a search), or
    walked outright. Each way gives the rule's first rows, in its order, and none of another
    tab's."""
    user = many[who]
    results = _spied(monkeypatch)
    for limit in (1000, 3):
        monkeypatch.setattr(queries, "COUNT_LIMIT", limit)
        for tab in ("todo", "others", "completed"):
            want = expected(user, tab)
            for size in (1, 2, len(want) + 1):
                got = queries.newest_envelopes(
                    Viewer.of(user), tab, queries.Filters(), size, batch_listed
                )
                assert [e.pk for e in got] == want[:size], (limit, tab, size)
            labour = queries.Filters(q="劳动合同")
            searched = listed(user, tab, labour)
            got = queries.newest_envelopes(Viewer.of(user), tab, labour, 3, batch_listed)
            assert [e.pk for e in got] == searched[:3]
    if connection.vendor == "postgresql":
        assert any(ids is not None for ids in results)  # read from the ranges
