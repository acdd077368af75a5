"""Each recipient row carries its envelope's status (``Recipient.envelope_status``), kept by the
database's triggers (migration envelopes 0016); the lists read a user's rows of a tab by it. A
row that carried a wrong status would move an envelope into another tab, or out of every tab,
so these tests write it every way the code or an operator can — an action, a stale instance's
save, QuerySet.update() on either table, a bulk insert with a forged value, a row moved to
another envelope — and read back what the database holds."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from qianshu.core.meta import TASK
from qianshu.envelopes import queries
from qianshu.envelopes.access import Viewer
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.actions import turns as turn_actions
from qianshu.envelopes.models import Envelope, Recipient
from tests.envelopes.helpers import sign
from tests.support.accounts import make_user

pytestmark = pytest.mark.django_db

Status = Envelope.Status


def _stored(envelope: Envelope) -> set[str]:
    return set(
        Recipient.objects.filter(envelope=envelope).values_list("envelope_status", flat=True)
    )


def _bare(user: Any, status: str = Status.DRAFT, **fields: Any) -> Envelope:
    number = f"QT{Envelope.objects.count():012d}"
    return Envelope.objects.create(
        number=number, title="采购合同", initiator=user, status=status, **fields
    )


def _row(envelope: Envelope, **fields: Any) -> Recipient:
    fields.setdefault("role", Recipient.Role.SIGN)
    fields.setdefault("name", "签署方")
    return Recipient.objects.create(envelope=envelope, **fields)


def test_the_workflow_keeps_every_recipient_on_its_envelopes_status(
    people: dict[str, Any], build: Any
) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    envelope = build.draft(alice, [("sign", 1, bob), ("sign", 2, charlie)])
    assert _stored(envelope) == {Status.DRAFT}
    compose_actions.do_send_envelope(envelope, actor=alice, meta=TASK)
    assert _stored(envelope) == {Status.IN_PROGRESS}
    first, second = envelope.recipients.order_by("routing_order")
    sign(first, bob)  # saves the recipient rows: still the envelope's status
    assert _stored(envelope) == {Status.IN_PROGRESS}
    sign(second, charlie)
    envelope.refresh_from_db()
    assert envelope.status == Status.COMPLETED
    assert _stored(envelope) == {Status.COMPLETED}

    rejected = build.draft(alice, [("sign", 1, bob)])
    compose_actions.do_send_envelope(rejected, actor=alice, meta=TASK)
    turn_actions.do_reject(rejected.recipients.get(), "金额有误", actor=bob, meta=TASK)
    assert _stored(rejected) == {Status.REJECTED}


def test_a_stale_recipient_saved_after_a_status_change_does_not_bring_the_old_one_back(
    people: dict[str, Any],
) -> None:
    """Loaded while the envelope was in progress, saved (all its fields, or the copied status
    alone) after the envelope ended: the row holds the envelope's status now."""
    alice = people["alice"]
    envelope = _bare(alice, Status.IN_PROGRESS)
    stale = _row(envelope, user=people["bob"])
    stale.refresh_from_db()
    assert stale.envelope_status == Status.IN_PROGRESS
    envelope.status = Status.VOIDED
    envelope.save()
    stale.name = "李博"
    stale.save()
    assert _stored(envelope) == {Status.VOIDED}
    stale.save(update_fields=["envelope_status"])
    assert _stored(envelope) == {Status.VOIDED}


def test_a_forged_status_is_replaced_whatever_writes_it(people: dict[str, Any]) -> None:
    """A recipient inserted, bulk-inserted or updated with another status — as a script or an
    operator's shell might, to move an envelope into someone's 已完成签署 — holds its
    envelope's status instead."""
    alice, bob = people["alice"], people["bob"]
    envelope = _bare(alice, Status.IN_PROGRESS)
    _row(envelope, user=bob, envelope_status=Status.COMPLETED)
    Recipient.objects.bulk_create(
        [
            Recipient(
                envelope=envelope,
                role=Recipient.Role.CC,
                name="抄送",
                user=bob,
                envelope_status=Status.COMPLETED,
            )
        ]
    )
    assert _stored(envelope) == {Status.IN_PROGRESS}
    Recipient.objects.filter(envelope=envelope).update(envelope_status=Status.COMPLETED)
    assert _stored(envelope) == {Status.IN_PROGRESS}
    assert not queries.tab_queryset(Viewer.of(bob), "completed").exists()


def test_an_update_that_bypasses_save_reaches_the_recipients(people: dict[str, Any]) -> None:
    alice = people["alice"]
    ended = _bare(alice, Status.IN_PROGRESS)
    other = _bare(alice, Status.IN_PROGRESS)
    for envelope in (ended, other):
        _row(envelope, user=people["bob"])
        _row(envelope, role=Recipient.Role.CC, name="抄送", phone="13900000001")
    Envelope.objects.filter(pk=ended.pk).update(status=Status.EXPIRED)
    assert _stored(ended) == {Status.EXPIRED}
    assert _stored(other) == {Status.IN_PROGRESS}


def test_a_row_moved_to_another_envelope_takes_that_ones_status(people: dict[str, Any]) -> None:
    alice = people["alice"]
    completed = _bare(alice, Status.COMPLETED)
    draft = _bare(alice)
    row = _row(draft, user=people["bob"])
    Recipient.objects.filter(pk=row.pk).update(envelope=completed)
    assert _stored(completed) == {Status.COMPLETED}


def test_the_lists_follow_the_envelope_not_a_copy_in_memory(people: dict[str, Any]) -> None:
    """bob's turn on an envelope in progress is 待我签署; once the envelope is voided by a
    plain update, it is 已作废 and no longer 待我签署 — and stays so after an instance loaded
    before is saved again. An outsider sees it in no tab."""
    alice, bob = people["alice"], people["bob"]
    envelope = _bare(alice, Status.IN_PROGRESS, sent_at=None)
    turn = _row(envelope, user=bob, status=Recipient.Status.PENDING)
    turn.refresh_from_db()

    def tabs() -> set[str]:
        viewer = Viewer.of(bob)
        return {
            tab.slug
            for tab in queries.TABS
            if queries.tab_queryset(viewer, tab.slug).filter(pk=envelope.pk).exists()
        }

    assert tabs() == {"todo"}
    Envelope.objects.filter(pk=envelope.pk).update(status=Status.VOIDED)
    turn.save()
    assert tabs() == {"voided"}
    outsider = make_user("eve", phone="13900000099")
    assert not queries.tab_queryset(Viewer.of(outsider), "voided").exists()


def test_the_sending_time_is_copied_the_same_way(people: dict[str, Any], build: Any) -> None:
    """Sending sets the time on every recipient row; a forged one, or a change made by a plain
    update of the envelope, is replaced by the envelope's own."""
    alice, bob = people["alice"], people["bob"]
    envelope = build.draft(alice, [("sign", 1, bob)])

    def times() -> set[Any]:
        return set(envelope.recipients.values_list("envelope_sent_at", flat=True))

    assert times() == {None}
    compose_actions.do_send_envelope(envelope, actor=alice, meta=TASK)
    envelope.refresh_from_db()
    assert envelope.sent_at is not None and times() == {envelope.sent_at}
    envelope.recipients.update(envelope_sent_at=None)
    assert times() == {envelope.sent_at}
    earlier = envelope.sent_at - dt.timedelta(days=30)
    Envelope.objects.filter(pk=envelope.pk).update(sent_at=earlier)
    assert times() == {earlier}
