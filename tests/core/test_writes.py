"""Writes built once (core/statements.py): ``Insert`` writes the rows ``bulk_create`` would,
their keys read back in order, values kept as values, and takes nothing but new rows;
``Update`` changes what ``filter().update()`` / ``save(update_fields=…)`` would, and a
compare-and-swap on stale values changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import DatabaseError, connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from qianshu.core.statements import Insert, Update
from qianshu.envelopes.models import AuditEvent, Envelope, Recipient, Submission
from qianshu.notifications.models import OutboxMessage
from tests.envelopes.helpers import Builder
from tests.support.personas import make_verified_person

pytestmark = pytest.mark.django_db


def _stored(obj: Model) -> dict[str, Any]:
    """The row as the database has it, but its key."""
    row = type(obj)._default_manager.get(pk=obj.pk)
    return {
        f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields if not f.primary_key
    }


def _envelope() -> Envelope:
    alice = make_verified_person("alice", "13800000001", real_name="张三")
    bob = make_verified_person("bob", "13800000002", real_name="李四")
    return Builder().draft(alice, [("sign", 1, bob)])


def _event(envelope: Envelope, seq: int, **detail: Any) -> AuditEvent:
    return AuditEvent(
        envelope=envelope,
        seq=seq,
        action="signed",
        actor_name="张三",
        ip="2001:db8::1",
        user_agent="Mozilla/5.0",
        sha256_before="a" * 64,
        sha256_after="b" * 64,
        detail={"fields": 2, "名称": "合同专用章", **detail},
        key_id="k1",
        prev_mac="c" * 64,
        mac="d" * 64,
    )


def test_the_rows_are_those_bulk_create_writes_with_their_keys() -> None:
    envelope = _envelope()
    when = timezone.now() - dt.timedelta(days=3)
    ours = [_event(envelope, 101), _event(envelope, 102, note="二")]
    theirs = [_event(envelope, 103), _event(envelope, 104, note="二")]
    for a, b in zip(ours, theirs, strict=True):
        a.created_at = b.created_at = when
    with CaptureQueriesContext(connection) as queries:
        Insert(AuditEvent).save(ours)
    assert len(queries.captured_queries) == 1  # both rows in one statement
    AuditEvent.objects.bulk_create(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a.pk is not None and not a._state.adding and a._state.db == "default"
        mine, bulk = _stored(a), _stored(b)
        assert mine.pop("seq") + 2 == bulk.pop("seq")
        assert mine == bulk
    # Each instance got its own row's key (the keys come back in the rows' order).
    assert [AuditEvent.objects.get(pk=e.pk).seq for e in ours] == [101, 102]


def test_defaults_json_and_hostile_text_stay_values() -> None:
    hostile = "'); DELETE FROM notifications_outboxmessage; --"
    message = OutboxMessage(
        channel="sms",
        recipient="13800000009",
        kind="envelope_turn",
        language="zh-hans",
        body=hostile + " %s %(x)s",
        attachments=[{"name": hostile, "sha256": "e" * 64}],
    )
    other = OutboxMessage(channel="sms", recipient="1", kind="k", language="en", body="keep")
    other.save()
    Insert(OutboxMessage).save([message])
    row = OutboxMessage.objects.get(pk=message.pk)
    assert row.body == hostile + " %s %(x)s"
    assert row.attachments == [{"name": hostile, "sha256": "e" * 64}]
    assert row.uuid == message.uuid and row.status == message.status  # the model's defaults
    assert OutboxMessage.objects.filter(pk=other.pk).exists()


def test_related_objects_saved_after_assignment_are_followed() -> None:
    """As bulk_create: a foreign key set from an object saved after it was assigned."""
    envelope = _envelope()
    recipient = Recipient(envelope=envelope, role="sign", routing_order=2, name="王五")
    submission = Submission(recipient=recipient, key="k" * 64)
    recipient.save()
    Insert(Submission).save([submission])
    assert Submission.objects.get(pk=submission.pk).recipient_id == recipient.pk


def test_saved_or_keyed_rows_and_unsaved_relations_are_refused() -> None:
    envelope = _envelope()
    recipient = envelope.recipients.get()
    saved = Submission.objects.create(recipient=recipient, key="first")
    with pytest.raises(ValueError):
        Insert(Submission).save([saved])
    with pytest.raises(ValueError):
        Insert(Submission).save([Submission(pk=10**9, recipient=recipient, key="keyed")])
    unsaved = Recipient(envelope=envelope, role="sign", routing_order=3, name="赵六")
    with pytest.raises(ValueError):
        Insert(Submission).save([Submission(recipient=unsaved, key="orphan")])
    assert list(Submission.objects.values_list("key", flat=True)) == ["first"]


def test_many_rows_are_split_where_the_database_limits_parameters() -> None:
    recipient = _envelope().recipients.get()
    rows = [Submission(recipient=recipient, key=f"key-{i}") for i in range(1200)]
    with CaptureQueriesContext(connection) as queries:
        Insert(Submission).save(rows)
    # SQLite takes at most 999 parameters a statement (three columns: 333 rows); PostgreSQL
    # all of them in one.
    assert len(queries.captured_queries) == (1 if connection.vendor == "postgresql" else 4)
    assert len({r.pk for r in rows}) == 1200
    stored = dict(Submission.objects.values_list("pk", "key"))
    assert all(stored[r.pk] == r.key for r in rows)


def test_an_update_swaps_only_on_the_values_it_expects() -> None:
    envelope = _envelope()
    swap = Update(
        Envelope, set=("audit_count", "audit_head"), where=("pk", "audit_count", "audit_head")
    )
    envelope.refresh_from_db()
    count, head = envelope.audit_count, envelope.audit_head
    assert swap.run((count + 1, "f" * 64), (envelope.pk, count + 5, head)) == 0  # stale count
    assert swap.run((count + 1, "f" * 64), (envelope.pk, count, "0" * 64)) == 0  # stale head
    envelope.refresh_from_db()
    assert (envelope.audit_count, envelope.audit_head) == (count, head)
    assert swap.run((count + 1, "f" * 64), (envelope.pk, count, head)) == 1
    envelope.refresh_from_db()
    assert (envelope.audit_count, envelope.audit_head) == (count + 1, "f" * 64)
    hostile = "' OR '1'='1"
    assert swap.run((count + 2, hostile), (envelope.pk, count + 1, hostile)) == 0
    with pytest.raises(ValueError):
        swap.run((count + 2, "e" * 64), (envelope.pk, None, head))  # NULL matches nothing
    with pytest.raises(TypeError):
        swap.run((count + 2,), (envelope.pk, count + 1, "f" * 64))


def test_save_writes_what_save_update_fields_writes() -> None:
    envelope = _envelope()
    bob = envelope.recipients.get()
    alice = envelope.initiator
    fields = ("status", "done_at", "acted_by", "user", "org", "seal", "certificate")
    ours = Recipient.objects.create(
        envelope=envelope, role="sign", routing_order=2, name="王五", phone="13800000005"
    )
    now = timezone.now()
    for row in (bob, ours):
        row.status, row.done_at, row.acted_by, row.user = "done", now, alice, alice
        row.name = "不写入"  # not among the fields: stays as stored
    bob.save(update_fields=list(fields))
    Update(Recipient, set=fields, where=("pk",)).save(ours)
    theirs, mine = _stored(bob), _stored(ours)
    for name in ("routing_order", "phone", "name", "recipient_token", "created_at"):
        theirs.pop(name, None), mine.pop(name, None)
    assert mine == theirs
    assert Recipient.objects.get(pk=ours.pk).name == "王五"
    ours.pk = 10**9
    with pytest.raises(DatabaseError):
        Update(Recipient, set=fields, where=("pk",)).save(ours)
    with pytest.raises(TypeError):
        Update(Recipient, set=fields, where=("envelope",)).save(bob)


def test_an_update_writes_a_related_object_as_update_does_and_refuses_an_unsaved_one() -> None:
    envelope = _envelope()
    bob = envelope.recipients.get()
    alice = envelope.initiator
    acted = Update(Recipient, set=("acted_by",), where=("pk",))
    assert acted.run((alice,), (bob.pk,)) == 1  # an object: its key, as update() writes it
    assert Recipient.objects.get(pk=bob.pk).acted_by_id == alice.pk
    unsaved = type(alice)(phone="13800000099")
    with pytest.raises(ValueError):  # its key would have been written as NULL
        acted.run((unsaved,), (bob.pk,))
    assert Recipient.objects.get(pk=bob.pk).acted_by_id == alice.pk
    with pytest.raises(TypeError):  # an object where no relation is
        Update(Recipient, set=("name",), where=("pk",)).run((alice,), (bob.pk,))
