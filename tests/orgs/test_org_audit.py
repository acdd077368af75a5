"""The organisation log is a keyed-MAC chain per organisation: rewriting, re-linking,
deleting, swapping or moving its events is detected by ``check_org_chain`` and
``qianshu check-audit --orgs``; deleting the tail and moving the head back is detected by the
next periodic anchor."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from qianshu.accounts.models import User
from qianshu.core import chains
from qianshu.core.models import AuditChain
from qianshu.envelopes import audit
from qianshu.orgs.audit import chain_key, check_org_chain, event_content, record_org_event
from qianshu.orgs.models import OrgAction, Organization, OrgEvent
from tests.support.audit import audit_findings
from tests.support.personas import make_verified_org

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(pki: None, alice: User) -> Organization:
    org = make_verified_org(alice)
    for n in range(6):
        record_org_event(org, OrgAction.MEMBER_INVITED, actor=alice, phone=f"1380000{n:04d}")
    return org


def _events(org: Organization) -> list[OrgEvent]:
    return list(OrgEvent.objects.filter(org=org).order_by("seq"))


def _chain(org: Organization) -> AuditChain:
    return AuditChain.objects.get(key=chain_key(org.pk))


def _first_break(org: Organization) -> int:
    problems = check_org_chain(_chain(org))
    assert problems
    return problems[0].seq


def test_events_are_chained_per_organisation(org: Organization, alice: User) -> None:
    other = make_verified_org(alice, name="同名有限公司")
    record_org_event(other, OrgAction.SEAL_CREATED, actor=alice, seal="合同专用章")
    assert [e.seq for e in _events(org)] == list(range(1, 7))
    assert [e.seq for e in _events(other)] == [1]
    assert _chain(org).count == 6 and _chain(org).head == _events(org)[-1].mac
    assert check_org_chain(_chain(org)) == [] and audit_findings("--orgs") == ""


def test_a_deleted_tail_is_detected_by_the_row_and_after_rollback_by_the_anchor(
    org: Organization,
) -> None:
    events = _events(org)
    OrgEvent.objects.filter(pk=events[-1].pk).delete()
    assert _first_break(org) == 6
    # The attacker also moves the head back: every MAC left is valid …
    AuditChain.objects.filter(key=chain_key(org.pk)).update(count=5, head=events[-2].mac)
    assert check_org_chain(_chain(org)) == []
    # … which is why heads are anchored: the same deletion after an anchor shows.
    OrgEvent.objects.create(**_copy(events[-1]))
    AuditChain.objects.filter(key=chain_key(org.pk)).update(count=6, head=events[-1].mac)
    assert check_org_chain(_chain(org)) == []
    assert audit.anchor_all() is not None
    OrgEvent.objects.filter(org=org, seq=6).delete()
    AuditChain.objects.filter(key=chain_key(org.pk)).update(count=5, head=events[-2].mac)
    assert _first_break(org) == 6
    assert "anchor #1" in audit_findings("--orgs")


def _copy(event: OrgEvent) -> dict[str, Any]:
    fields = ("org", "actor_id", "action", "detail", "ip", "created_at", "chain")
    data = {name: getattr(event, name) for name in fields}
    return {
        **data,
        "seq": event.seq,
        "key_id": event.key_id,
        "prev_mac": event.prev_mac,
        "mac": event.mac,
    }


def test_a_rewritten_event_is_detected_however_it_is_relinked(
    org: Organization, settings: Any
) -> None:
    events = _events(org)

    def relink(mac: Any) -> None:
        prev = events[1].mac
        for event in events[2:]:
            event.prev_mac, event.mac = prev, mac(event, prev)
            OrgEvent.objects.filter(pk=event.pk).update(
                detail=event.detail, prev_mac=event.prev_mac, mac=event.mac
            )
            prev = event.mac
        AuditChain.objects.filter(key=chain_key(org.pk)).update(head=prev)

    events[2].detail = {"phone": "13999999999"}
    relink(lambda e, prev: hashlib.sha256(chains.canonical([prev, event_content(e)])).hexdigest())
    assert _first_break(org) == 3
    ours = settings.MASTER_KEY
    settings.MASTER_KEY = base64.urlsafe_b64encode(b"another-master-key-32-bytes-long").decode()
    relink(lambda e, prev: chains.event_mac("m1", chain_key(org.pk), e.seq, prev, event_content(e)))
    settings.MASTER_KEY = ours
    assert _first_break(org) == 3
    assert "event 3 was altered" in audit_findings("--orgs")


def test_deleted_swapped_or_moved_events_are_detected(org: Organization, alice: User) -> None:
    events = _events(org)
    OrgEvent.objects.filter(pk=events[1].pk).delete()
    assert _first_break(org) == 2
    OrgEvent.objects.create(**_copy(events[1]))
    assert check_org_chain(_chain(org)) == []
    OrgEvent.objects.filter(pk=events[3].pk).update(seq=100)
    OrgEvent.objects.filter(pk=events[4].pk).update(seq=4)
    OrgEvent.objects.filter(pk=events[3].pk).update(seq=5)
    assert _first_break(org) == 4
    OrgEvent.objects.filter(pk=events[3].pk).update(seq=100)
    OrgEvent.objects.filter(pk=events[4].pk).update(seq=5)
    OrgEvent.objects.filter(pk=events[3].pk).update(seq=4)
    assert check_org_chain(_chain(org)) == []
    # An event shown under another organisation of the same name.
    impostor = make_verified_org(alice, name=org.name)
    OrgEvent.objects.filter(pk=events[0].pk).update(org=impostor)
    assert "moved to another organisation" in audit_findings("--orgs")


def test_a_deleted_user_leaves_the_log_intact(org: Organization) -> None:
    actor = User.objects.create_user("13700000077", display_name="临时")
    record_org_event(org, OrgAction.MEMBER_REMOVED, actor=actor)
    actor_id = actor.pk
    actor.delete()
    assert check_org_chain(_chain(org)) == []
    assert _events(org)[-1].actor_id == actor_id  # who acted stays on record


def test_events_held_to_the_end_of_a_block_are_chained_in_order_or_not_at_all(
    org: Organization, alice: User
) -> None:
    from django.db import transaction

    chain_row = AuditChain.objects.filter(key=chain_key(org.pk))
    before = chain_row.get().count if chain_row.exists() else 0
    with pytest.raises(RuntimeError), transaction.atomic(), chains.appended_at_end():
        record_org_event(org, OrgAction.SEAL_USED, actor=alice, n=1)
        raise RuntimeError("the step failed after the use was recorded")
    assert OrgEvent.objects.filter(org=org).count() == before
    with transaction.atomic(), chains.appended_at_end():
        for n in (1, 2, 3):
            record_org_event(org, OrgAction.SEAL_USED, actor=alice, n=n)
        assert OrgEvent.objects.filter(org=org).count() == before  # not yet
    events = list(OrgEvent.objects.filter(org=org).order_by("seq"))
    assert [e.detail.get("n") for e in events[before:]] == [1, 2, 3]
    assert [e.seq for e in events] == list(range(1, before + 4))
    assert check_org_chain(AuditChain.objects.get(key=chain_key(org.pk))) == []


def test_an_event_held_in_a_savepoint_rolled_back_and_caught_is_not_written(
    org: Organization, alice: User
) -> None:
    """Code inside the block that rolls a savepoint back and catches the error (a seal's use
    that failed and was handled): the event it appended is not written — the use it records
    never happened — while the events before and after it are, numbered without a gap; a
    savepoint released inside one rolled back goes with it. No commit callback is left."""
    from django.db import transaction
    from django.test import TestCase

    before = len(_events(org))
    with TestCase.captureOnCommitCallbacks() as callbacks, transaction.atomic():
        with chains.appended_at_end():
            record_org_event(org, OrgAction.SEAL_USED, actor=alice, n=1)
            try:
                with transaction.atomic():
                    record_org_event(org, OrgAction.SEAL_USED, actor=alice, n=2)
                    with transaction.atomic():  # released, inside the one rolled back
                        record_org_event(org, OrgAction.SEAL_USED, actor=alice, n=3)
                    raise RuntimeError("the use failed and was handled")
            except RuntimeError:
                pass
            with transaction.atomic():  # released: stands
                record_org_event(org, OrgAction.SEAL_USED, actor=alice, n=4)
    events = _events(org)
    assert [e.detail.get("n") for e in events[before:]] == [1, 4]
    assert [e.seq for e in events] == list(range(1, before + 3))
    assert check_org_chain(_chain(org)) == []
    assert callbacks == []
