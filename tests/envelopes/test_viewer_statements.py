"""What every list page reads of its user by statements built once per process
(envelopes/access.py ``Viewer.of``, the top bar's organisations, a page's rows): each user
their own, in turn in one process, and a seal only while its grant is current — never another
organisation's of the same name, never a stale grant."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.envelopes import list_rows
from qianshu.envelopes.access import Viewer, granted_seals
from qianshu.orgs import context
from qianshu.orgs.access import organisations_of
from qianshu.orgs.models import Membership, Organization, SealGrant
from tests.envelopes.helpers import Builder
from tests.support.personas import seal_of

pytestmark = pytest.mark.django_db

NAME = "杭州同名网络有限公司"


def _as_querysets_say(user: User) -> tuple[list[int], list[int], list[int]]:
    seals = granted_seals(user).order_by("org_id", "created_at", "id")
    admin = Membership.objects.filter(user=user, role=Membership.Role.ADMIN)
    return (
        [s.pk for s in seals],
        sorted(admin.values_list("org_id", flat=True)),
        [o.pk for o in organisations_of(user)],
    )


def _as_statements_say(user: User) -> tuple[list[int], list[int], list[int]]:
    viewer = Viewer.of(user)
    return (
        [s.pk for s in viewer.seals],
        sorted(viewer.admin_org_ids),
        [o.pk for o in context._MEMBER_OF.objects(user.pk)],
    )


def test_each_user_reads_their_own_in_turn_and_a_namesake_organisation_gives_nothing(
    people: dict[str, User], seal_org: Callable[..., Organization]
) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    ours = seal_org(alice, NAME, keeper=bob)
    theirs = seal_org(charlie, NAME)  # another organisation of the same name
    for user in (bob, charlie, alice, bob, charlie):
        assert _as_statements_say(user) == _as_querysets_say(user)
    seals, admin, member = _as_statements_say(bob)
    assert seals == [seal_of(ours).pk] and admin == [] and member == [ours.pk]
    seals, admin, member = _as_statements_say(charlie)
    assert seals == [seal_of(theirs).pk] and admin == [theirs.pk] and member == [theirs.pk]
    assert Viewer.of(alice).seals == []  # administers it, holds no grant of its seal
    assert Viewer.of(alice).admin_org_ids == [ours.pk]


def test_a_seal_counts_only_while_its_grant_is_current_and_its_keeper_a_member(
    people: dict[str, User], seal_org: Callable[..., Organization]
) -> None:
    alice, bob = people["alice"], people["bob"]
    org = seal_org(alice, NAME, keeper=bob)
    grant = SealGrant.objects.get(seal=seal_of(org), grantee=bob)
    assert [s.pk for s in Viewer.of(bob).seals] == [seal_of(org).pk]
    now = timezone.now()
    changes: list[dict[str, Any]] = [
        {"valid_until": now - dt.timedelta(seconds=1)},  # expired a moment ago
        {"valid_from": now + dt.timedelta(minutes=5)},  # not yet
        {"status": SealGrant.Status.REVOKED},
    ]
    for change in changes:
        SealGrant.objects.filter(pk=grant.pk).update(**change)
        assert Viewer.of(bob).seals == [] == list(granted_seals(bob))
        SealGrant.objects.filter(pk=grant.pk).update(
            valid_from=grant.valid_from, valid_until=grant.valid_until, status=grant.status
        )
        assert [s.pk for s in Viewer.of(bob).seals] == [seal_of(org).pk]
    Membership.objects.filter(org=org, user=bob).delete()  # removed: the grant stays, unusable
    assert Viewer.of(bob).seals == [] and context._MEMBER_OF.objects(bob.pk) == []


def test_a_pages_rows_are_read_for_its_own_envelopes(people: dict[str, User]) -> None:
    alice, bob = people["alice"], people["bob"]
    first = Builder().draft(alice, [("sign", 1, bob)], title="第一份")
    second = Builder().draft(bob, [("sign", 1, alice), ("sign", 2, bob)], title="第二份")
    for ids in ([first.pk, second.pk], [second.pk], [second.pk, first.pk], [10**9]):
        envelopes = list_rows.envelopes_of(ids)
        assert [e.pk for e in envelopes] == [pk for pk in ids if pk != 10**9]
        rows = list_rows.rows_for(Viewer.of(alice), envelopes, start=1, tab="others")
        for row in rows:
            envelope = row.envelope
            assert row.total == envelope.recipients.count()
            assert [d.pk for d in row.documents] == [
                d.pk for d in envelope.documents.order_by("position", "id")
            ]
