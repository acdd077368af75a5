"""The samples of unfiltered tabs by statements built once per viewer shape
(envelopes/list_shapes.py), attacked as a leak would come: two viewers of one shape — the same
statement — each get their own envelopes; every shape gives what the viewer's own query gives;
and the check the tests run with catches a stand-in viewer that is not the real one's shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from qianshu.accounts.models import User
from qianshu.envelopes import list_shapes, queries
from qianshu.envelopes.access import Viewer
from qianshu.envelopes.models import Envelope, Recipient
from qianshu.orgs.models import Membership, Organization, Seal
from tests.envelopes.test_lists import quick
from tests.support.personas import grant_seal
from tests.support.seals import make_seal

pytestmark = pytest.mark.django_db

TABS = ("todo", "others", "completed", "voided", "cc")
NAME = "杭州同形网络有限公司"


def _direct(viewer: Viewer, tab: str, turns: list[int] | None) -> list[int]:
    """The sample as the viewer's own query reads it (built for this viewer)."""
    return sorted(queries.sample_ids(queries.source(viewer, tab, turns=turns).parts))


def _shaped(viewer: Viewer, tab: str, turns: list[int] | None) -> list[int]:
    return sorted(queries.shaped_sample(viewer, tab, turns))


def _each_way(user: User) -> dict[tuple[str, str], list[int]]:
    viewer = Viewer.of(user)
    turns = sorted(set(queries.todo_sample(viewer)))
    found = {}
    for tab in TABS:
        for label, given in (("subquery", None), ("ids", turns), ("none", [])):
            if tab != "others" and label != "subquery":
                continue
            shaped = _shaped(viewer, tab, given)
            assert shaped == _direct(viewer, tab, given), (user.phone, tab, label)
            found[(tab, label)] = shaped
    return found


def test_two_viewers_of_one_shape_share_the_statement_and_each_gets_their_own(
    people: dict[str, User], seal_org: Callable[..., Organization]
) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    ours = seal_org(alice, NAME, keeper=bob)  # bob keeps its seal; alice administers it
    theirs = seal_org(alice, NAME, keeper=charlie)  # the same name, charlie keeps its seal
    Membership.objects.filter(org=theirs, user=alice).delete()
    for org, keeper in ((ours, bob), (theirs, charlie)):  # each administers what they keep
        Membership.objects.filter(org=org, user=keeper).update(role=Membership.Role.ADMIN)
    for_bob = quick(alice, [("seal", "pending", ours)], title="给乙方盖章")
    for_charlie = quick(alice, [("seal", "pending", theirs)], title="给丙方盖章")
    signed_by_bob = quick(alice, [("sign", "done", bob)], status=Envelope.Status.COMPLETED)
    shapes = {u.pk: list_shapes.shape_of(Viewer.of(u))[0] for u in (bob, charlie)}
    assert shapes[bob.pk] == shapes[charlie.pk]  # one shape: one statement for both
    for _round in range(2):  # in turn, in one process
        mine, yours = _each_way(bob), _each_way(charlie)
        assert for_bob.pk in mine[("todo", "subquery")]
        assert for_bob.pk not in yours[("todo", "subquery")]
        assert for_charlie.pk in yours[("todo", "subquery")]
        assert for_charlie.pk not in mine[("todo", "subquery")]
        assert signed_by_bob.pk in mine[("completed", "subquery")]
        assert signed_by_bob.pk not in yours[("completed", "subquery")]
    assert queries.todo_count(Viewer.of(bob)) == 1 == queries.todo_count(Viewer.of(charlie))


def test_every_shape_reads_what_the_viewers_own_query_reads(
    people: dict[str, User], seal_org: Callable[..., Organization]
) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    first = seal_org(alice, "甲方有限公司", keeper=bob)
    second = seal_org(charlie, "乙方有限公司", keeper=bob)
    # bob: two organisations' seals, of two kinds in one, and administers a third.
    grant_seal(make_seal(first, alice, kind=Seal.Kind.OFFICIAL), bob, alice)
    third = seal_org(bob, "丙方有限公司", keeper=alice)
    # bob administers the first too, made so later (its row rewritten after the third's)
    Membership.objects.filter(org=first, user=bob).update(role=Membership.Role.ADMIN)
    Recipient.objects.all().delete()
    quick(alice, [("seal", "pending", first), ("sign", "pending", bob)])
    quick(charlie, [("seal", "pending", second)])
    quick(charlie, [("sign", "done", bob), ("cc", "pending", bob)], status="completed", org=third)
    quick(bob, [("sign", "pending", charlie)], org=third)
    quick(bob, [("sign", "pending", alice)], status=Envelope.Status.VOIDED)
    dave = User.objects.create(display_name="无手机的人", phone="", email="dave@example.com")
    quick(alice, [("sign", "pending", charlie)])
    found: dict[int, Any] = {}
    for user in (alice, bob, charlie, dave, bob):
        found[user.pk] = _each_way(user)
    shapes = {list_shapes.shape_of(Viewer.of(u))[0] for u in (alice, bob, charlie, dave)}
    assert len(shapes) == 4
    assert any(found[bob.pk][key] for key in found[bob.pk])  # not vacuous


def test_a_stand_in_not_of_the_viewers_shape_is_caught(
    people: dict[str, User], seal_org: Callable[..., Organization], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = people["alice"], people["bob"]
    seal_org(bob, NAME, keeper=alice)  # bob administers an organisation
    real = list_shapes.stand_in

    def forgetful(shape: list_shapes.Shape, markers: Any) -> Viewer:
        viewer = real(shape, markers)
        viewer.admin_org_ids = []  # a stand-in that forgot what bob administers
        return viewer

    monkeypatch.setattr(list_shapes, "stand_in", forgetful)
    list_shapes._statement.cache_clear()
    try:
        with pytest.raises(AssertionError, match="not the viewer's query"):
            queries.shaped_sample(Viewer.of(bob), "completed")
        # 待他人签署 leaving out the user's turns by their ids: on SQLite a statement given a
        # list is made with the values each time, and is compared all the same.
        with pytest.raises(AssertionError, match="not the viewer's query"):
            queries.shaped_sample(Viewer.of(bob), "others", [10**9])
    finally:
        list_shapes._statement.cache_clear()
