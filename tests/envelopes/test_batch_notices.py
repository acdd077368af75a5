"""批量签署's messages and trail: one message per person and batch, the audit chain of every
envelope intact, a retried batch neither signing nor announcing anything twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.core.meta import TASK as TASK_META
from qianshu.envelopes import audit, routing, turns
from qianshu.envelopes.actions import batch as batch_actions
from qianshu.envelopes.actions.turns import do_sign
from qianshu.envelopes.models import AuditEvent, Envelope
from qianshu.notifications.models import OutboxMessage
from tests.envelopes.test_batch import items_for, send
from tests.support.personas import PIN, real_name

pytestmark = pytest.mark.django_db


def two_step(build: Any, alice: User, first: User, then: User, n: int, stem: str) -> list[Envelope]:
    return [
        send(build.draft(alice, [("sign", 1, first), ("sign", 2, then)], title=f"{stem}{i + 1}"))
        for i in range(n)
    ]


def messages(to: User, kind: str) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(recipient=to.phone, kind=kind).order_by("pk"))


def test_two_envelopes_for_the_same_next_signer_give_one_message_naming_both(
    people: dict, build: Any
) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    envelopes = two_step(build, alice, bob, charlie, 2, "考核表")
    alone = send(build.draft(alice, [("sign", 1, bob), ("sign", 2, alice)], title="单独一份"))
    OutboxMessage.objects.all().delete()  # the invitations of the sending
    results = batch_actions.do_batch_sign(
        items_for(bob, [*envelopes, alone]), pin=PIN, actor=bob, meta=TASK_META
    )
    assert all(r.ok for r in results), [r.message for r in results]

    # charlie: one SMS naming both envelopes, due now; no per-envelope request left
    assert messages(charlie, "envelope_sign_request") == []
    [summary] = messages(charlie, "envelope_sign_request_batch")
    assert "2 份文件" in summary.body
    assert "“考核表1”" in summary.body and "“考核表2”" in summary.body
    assert "/envelopes/?tab=todo" in summary.body
    assert summary.status == "pending" and summary.next_attempt_at <= timezone.now()
    # alice is the next signer of one envelope only: the ordinary request, sent now
    [request] = messages(alice, "envelope_sign_request")
    assert "单独一份" in request.body and request.next_attempt_at <= timezone.now()
    # alice as initiator: one progress message for the three envelopes bob signed
    assert messages(alice, "envelope_progress") == []
    [progress] = messages(alice, "envelope_progress_batch")
    assert real_name(bob) in progress.body and "3 份文件" in progress.body
    # nothing is left held back
    assert not OutboxMessage.objects.filter(next_attempt_at__gt=timezone.now()).exists()
    # each envelope still records whom it notified
    for envelope in [*envelopes, alone]:
        assert AuditEvent.objects.filter(envelope=envelope, action="notified").count() == 2


def test_the_summary_names_only_the_envelopes_signed(people: dict, build: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    envelopes = two_step(build, alice, bob, charlie, 3, "合同")
    items = items_for(bob, envelopes)
    stale = replace(items[2], seen={d: "0" * 64 for d in items[2].seen})
    OutboxMessage.objects.all().delete()
    results = batch_actions.do_batch_sign([*items[:2], stale], pin=PIN, actor=bob, meta=TASK_META)
    assert [r.ok for r in results] == [True, True, False]
    [summary] = messages(charlie, "envelope_sign_request_batch")
    assert "“合同1”" in summary.body and "“合同2”" in summary.body
    assert "合同3" not in summary.body


def sign_collected(bob: User, envelopes: Sequence[Envelope]) -> list[routing.Notice]:
    with routing.collecting_notices() as notices:
        for item in items_for(bob, envelopes):
            req = turns.SignRequest(key=item.key, seen=item.seen, fields=item.fields)
            do_sign(item.recipient, req, pin=PIN, actor=bob, meta=TASK_META)
    return notices


def test_held_messages_go_out_one_by_one_if_the_batch_never_sends_them(
    people: dict, build: Any
) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    envelopes = two_step(build, alice, bob, charlie, 2, "合同")
    OutboxMessage.objects.all().delete()
    notices = sign_collected(bob, envelopes)
    assert len(notices) == 4  # per envelope: charlie's turn, alice's progress
    held = messages(charlie, "envelope_sign_request")
    assert len(held) == 2
    now = timezone.now()
    due = OutboxMessage.objects.due(now)
    assert not due.filter(pk__in=[m.pk for m in held]).exists()
    # the batch died here: when the hold runs out, the sweep finds them due
    later = OutboxMessage.objects.due(now + routing.HOLD + dt.timedelta(seconds=1))
    assert set(later.filter(recipient=charlie.phone).values_list("pk", flat=True)) == {
        m.pk for m in held
    }
    # what the batch would have taken or released them by
    written = OutboxMessage.objects.filter(recipient__in=[alice.phone, charlie.phone])
    assert {u for n in notices for u in n.held} == {str(m.uuid) for m in written}


def test_a_step_writes_its_messages_in_one_insert_and_reads_its_recipients_once(
    people: dict, build: Any
) -> None:
    """The next signer's request and the initiator's progress of one step: one INSERT; the
    envelope's recipients (the step's and the routing's after it) one locked read."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    envelopes = two_step(build, alice, bob, charlie, 1, "合同")
    OutboxMessage.objects.all().delete()
    [item] = items_for(bob, envelopes)
    req = turns.SignRequest(key=item.key, seen=item.seen, fields=item.fields)
    with CaptureQueriesContext(connection) as queries:
        do_sign(item.recipient, req, pin=PIN, actor=bob, meta=TASK_META)
    inserts = [
        q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "notifications_')
    ]
    assert len(inserts) == 1
    reads = [q for q in queries.captured_queries if 'FROM "envelopes_recipient"' in q["sql"]]
    assert len(reads) == 1
    if connection.features.has_select_for_update_of:
        assert reads[0]["sql"].endswith('FOR UPDATE OF "envelopes_recipient"')
    assert {(m.recipient, m.kind) for m in OutboxMessage.objects.all()} == {
        (charlie.phone, "envelope_sign_request"),
        (alice.phone, "envelope_progress"),
    }


def test_a_message_sent_already_makes_every_one_go_as_it_is(people: dict, build: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    envelopes = two_step(build, alice, bob, charlie, 2, "合同")
    OutboxMessage.objects.all().delete()
    notices = sign_collected(bob, envelopes)
    first, second = messages(charlie, "envelope_sign_request")
    OutboxMessage.objects.filter(pk=first.pk).update(status="sent", attempts=1)
    routing.send_collected(notices)
    assert messages(charlie, "envelope_sign_request_batch") == []
    second.refresh_from_db()
    assert second.status == "pending" and second.next_attempt_at <= timezone.now()
    # alice's progress messages were all still held: summarised
    assert len(messages(alice, "envelope_progress_batch")) == 1


def test_the_audit_chain_of_every_envelope_verifies_after_a_batch(people: dict, build: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    envelopes = two_step(build, alice, bob, charlie, 4, "合同")
    results = batch_actions.do_batch_sign(
        items_for(bob, envelopes), pin=PIN, actor=bob, meta=TASK_META
    )
    assert all(r.ok for r in results)
    for envelope in envelopes:
        envelope.refresh_from_db()
        assert audit.check_envelope(envelope) == []
        events = list(AuditEvent.objects.filter(envelope=envelope).order_by("seq"))
        assert [e.seq for e in events] == list(range(1, envelope.audit_count + 1))
        assert [e.action for e in events[-2:]] == ["signed", "notified"]
        assert events[-1].mac == envelope.audit_head
    # a tampered event of a batch step is found
    victim = AuditEvent.objects.filter(envelope=envelopes[0], action="signed").get()
    AuditEvent.objects.filter(pk=victim.pk).update(document_name="别的文件.pdf")
    [problem] = audit.check_envelope(envelopes[0])
    assert problem.seq == victim.seq


def test_a_retried_batch_signs_and_announces_nothing_twice(people: dict, build: Any) -> None:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    envelopes = two_step(build, alice, bob, charlie, 3, "合同")
    items = items_for(bob, envelopes)
    OutboxMessage.objects.all().delete()
    first = batch_actions.do_batch_sign(items, pin=PIN, actor=bob, meta=TASK_META)
    count = OutboxMessage.objects.count()
    events = AuditEvent.objects.count()
    again = batch_actions.do_batch_sign(items, pin=PIN, actor=bob, meta=TASK_META)
    assert all(r.ok and not r.repeated for r in first)
    assert all(r.ok and r.repeated for r in again)
    assert [e.documents.get().revision for e in envelopes] == [2, 2, 2]
    assert OutboxMessage.objects.count() == count
    assert AuditEvent.objects.count() == events
