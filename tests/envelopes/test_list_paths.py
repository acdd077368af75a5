"""The list queries' own ways of reading a tab (envelopes/queries.py) against the plain rule:
an outsider sees nothing whichever way a list is read, an envelope out of draft without a
sending time keeps its place when the envelopes are walked in two steps (PostgreSQL), and
the 待我签署 count, read from index scans that may hold an envelope twice, counts each once.
The personas and the rule read in Python are those of ``test_list_sizes``."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from qianshu.envelopes import queries
from qianshu.envelopes.access import Viewer
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
