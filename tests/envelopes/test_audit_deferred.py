"""Audit events held back and written together (``audit.deferred`` / ``audit.batched``): a
批量发起 row creates, fills and sends an envelope with one write of its trail. The trail must be
the one the actions write one by one — same events, numbered without gaps, every MAC right —
nothing may be written when the block fails, and a writer that moved the chain's head meanwhile
(another process, or a stale copy of the row) must be chained after, never overwritten."""

from __future__ import annotations

import contextvars
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from qianshu.core.meta import TASK
from qianshu.envelopes import audit
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.audit import check_chain
from qianshu.envelopes.models import AuditEvent, Envelope
from tests.envelopes.helpers import Builder

pytestmark = pytest.mark.django_db


def _trail(envelope: Envelope) -> list[tuple[int, str, str]]:
    return [
        (e.seq, e.action, str(e.detail.get("step", "")))
        for e in AuditEvent.objects.filter(envelope=envelope).order_by("seq")
    ]


def _make_and_send(people: dict[str, Any], title: str) -> Envelope:
    draft = Builder().draft(people["alice"], [("sign", 1, people["bob"])], title=title, pages=1)
    return compose_actions.do_send_envelope(draft, actor=people["alice"], meta=TASK)


def _inserts(queries: CaptureQueriesContext) -> int:
    insert = 'INSERT INTO "envelopes_auditevent"'
    return sum(1 for q in queries.captured_queries if insert in q["sql"])


def test_a_deferred_trail_is_the_trail_written_event_by_event(people: dict[str, Any]) -> None:
    one_by_one = _make_and_send(people, "逐条")
    with CaptureQueriesContext(connection) as queries, transaction.atomic(), audit.deferred():
        together = _make_and_send(people, "一起")
        # Nothing is written before the block ends: nothing to read yet.
        assert not AuditEvent.objects.filter(envelope=together).exists()
    assert _inserts(queries) == 1
    together.refresh_from_db()
    expected = _trail(one_by_one)
    assert len(expected) >= 4  # created, its document, prepared and sent, notified
    assert _trail(together) == expected
    assert [seq for seq, _a, _s in expected] == list(range(1, len(expected) + 1))
    assert check_chain(together) is None
    assert (together.audit_count, together.audit_head) == (
        len(expected),
        AuditEvent.objects.get(envelope=together, seq=len(expected)).mac,
    )


def test_nothing_is_written_when_the_block_fails(people: dict[str, Any]) -> None:
    draft = Builder().draft(people["alice"], [("sign", 1, people["bob"])], title="失败", pages=1)
    before = _trail(draft)
    with pytest.raises(RuntimeError), transaction.atomic(), audit.deferred():
        compose_actions.do_send_envelope(draft, actor=people["alice"], meta=TASK)
        raise RuntimeError("the row failed after sending")
    draft.refresh_from_db()
    assert draft.status == Envelope.Status.DRAFT
    assert _trail(draft) == before and check_chain(draft) is None


def test_batched_inside_deferred_joins_it(people: dict[str, Any]) -> None:
    envelope = _make_and_send(people, "嵌套")
    count = envelope.audit_count
    with CaptureQueriesContext(connection) as queries, transaction.atomic(), audit.deferred():
        locked = Envelope.objects.select_for_update().get(pk=envelope.pk)
        audit.record(locked, "viewed", actor=people["bob"], meta=TASK)
        with audit.batched(locked):
            audit.record(locked, "viewed", actor=people["bob"], meta=TASK, step="again")
        assert AuditEvent.objects.filter(envelope=envelope).count() == count
    assert _inserts(queries) == 1
    envelope.refresh_from_db()
    assert envelope.audit_count == count + 2 and check_chain(envelope) is None


def test_several_envelopes_in_one_block_keep_their_own_chains(people: dict[str, Any]) -> None:
    with CaptureQueriesContext(connection) as queries, transaction.atomic(), audit.deferred():
        first = _make_and_send(people, "甲")
        second = _make_and_send(people, "乙")
    assert _inserts(queries) == 1  # both trails in one INSERT
    for envelope in (first, second):
        envelope.refresh_from_db()
        assert check_chain(envelope) is None
        assert {e.envelope_id for e in AuditEvent.objects.filter(envelope=envelope)} == {
            envelope.pk
        }
    assert len(_trail(first)) == len(_trail(second)) == first.audit_count


def test_a_head_moved_meanwhile_is_chained_after_not_overwritten(people: dict[str, Any]) -> None:
    envelope = _make_and_send(people, "并发")
    count = envelope.audit_count
    with transaction.atomic(), audit.deferred():
        locked = Envelope.objects.select_for_update().get(pk=envelope.pk)
        audit.record(locked, "viewed", actor=people["bob"], meta=TASK, step="held")
        # Another writer (outside the block: its own context) appends to the chain first.
        stale = Envelope.objects.get(pk=envelope.pk)
        contextvars.Context().run(
            audit.record, stale, "viewed", actor=people["alice"], meta=TASK, step="other"
        )
    envelope.refresh_from_db()
    trail = _trail(envelope)
    assert trail[count:] == [(count + 1, "viewed", "other"), (count + 2, "viewed", "held")]
    assert envelope.audit_count == count + 2 and check_chain(envelope) is None


def test_a_rolled_back_savepoint_drops_its_events_and_keeps_the_others(
    people: dict[str, Any],
) -> None:
    """``audit.savepoint``: a 批量发起 group's row that fails is rolled back inside the block,
    with the events it held — also those of an envelope it made, which no longer exists —
    while the events before and after it are written, chained without a gap."""
    kept = _make_and_send(people, "保留")
    count = kept.audit_count
    bob = people["bob"]
    with transaction.atomic(), audit.deferred():
        locked = Envelope.objects.select_for_update().get(pk=kept.pk)
        audit.record(locked, "viewed", actor=bob, meta=TASK, step="before")
        with pytest.raises(RuntimeError), audit.savepoint():
            audit.record(locked, "viewed", actor=bob, meta=TASK, step="dropped")
            _make_and_send(people, "回滚")
            raise RuntimeError("the row failed")
        audit.record(locked, "viewed", actor=bob, meta=TASK, step="after")
    kept.refresh_from_db()
    assert _trail(kept)[count:] == [
        (count + 1, "viewed", "before"),
        (count + 2, "viewed", "after"),
    ]
    assert kept.audit_count == count + 2 and check_chain(kept) is None
    assert not Envelope.objects.filter(title="回滚").exists()


def test_events_of_any_savepoint_rolled_back_and_caught_are_dropped(
    people: dict[str, Any],
) -> None:
    """Not only ``audit.savepoint``: code in the block that rolls back a plain savepoint and
    catches the error (a step that tried something and handled its failure) leaves none of
    the events recorded in it — also in a savepoint released inside it — and the trail
    stays whole; a block whose events were all rolled back writes nothing and leaves the
    envelope's head as it was. No commit callback is left behind."""
    from django.test import TestCase

    envelope = _make_and_send(people, "保留")
    other = _make_and_send(people, "全部回滚")
    count, other_count, other_head = envelope.audit_count, other.audit_count, other.audit_head
    bob = people["bob"]
    with TestCase.captureOnCommitCallbacks() as callbacks, transaction.atomic():
        with audit.deferred():
            locked = Envelope.objects.select_for_update().get(pk=envelope.pk)
            second = Envelope.objects.select_for_update().get(pk=other.pk)
            audit.record(locked, "viewed", actor=bob, meta=TASK, step="before")
            try:
                with transaction.atomic():
                    audit.record(locked, "viewed", actor=bob, meta=TASK, step="dropped")
                    audit.record(second, "viewed", actor=bob, meta=TASK, step="dropped")
                    with transaction.atomic():
                        audit.record(locked, "viewed", actor=bob, meta=TASK, step="inner")
                    raise RuntimeError("tried, failed, handled")
            except RuntimeError:
                pass
            audit.record(locked, "viewed", actor=bob, meta=TASK, step="after")
    envelope.refresh_from_db()
    other.refresh_from_db()
    assert _trail(envelope)[count:] == [
        (count + 1, "viewed", "before"),
        (count + 2, "viewed", "after"),
    ]
    assert envelope.audit_count == count + 2 and check_chain(envelope) is None
    assert (other.audit_count, other.audit_head) == (other_count, other_head)
    assert (second.audit_count, second.audit_head) == (other_count, other_head)
    assert check_chain(other) is None
    assert callbacks == []
