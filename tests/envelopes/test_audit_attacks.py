"""Attacks on the envelope audit trail by someone with database access (issue 10 item 4)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from qianshu.envelopes.audit import check_chain
from qianshu.envelopes.models import AuditEvent, Envelope
from tests.envelopes.helpers import sign

pytestmark = pytest.mark.django_db


def _completed(people: dict, build: Any) -> Envelope:
    from tests.envelopes.test_lifecycle import _send

    alice, bob = people["alice"], people["bob"]
    envelope = _send(build.draft(alice, [("sign", 1, bob)]))
    sign(envelope.recipients.get(), bob)
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    assert check_chain(envelope) is None
    return envelope


def _plain_sha256(event: AuditEvent, prev: str) -> str:
    """What an attacker without the key computes: the old plain SHA-256 link."""
    created = event.created_at.astimezone(dt.UTC)
    content = {
        "envelope": str(event.envelope.uuid),
        "seq": event.seq,
        "action": event.action,
        "actor": event.actor_id,
        "actor_name": event.actor_name,
        "recipient": event.recipient_id,
        "time": created.isoformat(timespec="microseconds"),
        "ip": event.ip or "",
        "user_agent": event.user_agent,
        "document": event.document_name,
        "before": event.sha256_before,
        "after": event.sha256_after,
        "detail": event.detail,
        "prev": prev,
    }
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _broken(envelope: Envelope) -> str:
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_audit", envelope.number, stdout=out)
    return out.getvalue()


def test_deleting_the_last_events_of_a_completed_envelope_is_detected(
    people: dict, build: Any
) -> None:
    envelope = _completed(people, build)
    tail = list(envelope.events.order_by("-seq").values_list("pk", flat=True)[:2])
    AuditEvent.objects.filter(pk__in=tail).delete()
    assert check_chain(envelope) is not None
    _broken(envelope)


def test_an_edited_event_rehashed_to_the_end_is_detected(people: dict, build: Any) -> None:
    envelope = _completed(people, build)
    events = list(envelope.events.select_related("envelope").order_by("seq"))
    target = events[2]
    prev = events[1].hash
    for event in events[2:]:
        if event.pk == target.pk:
            event.ip = "10.6.6.6"
        new = _plain_sha256(event, prev)
        AuditEvent.objects.filter(pk=event.pk).update(ip=event.ip, prev_hash=prev, hash=new)
        prev = new
    assert check_chain(envelope) is not None
    _broken(envelope)
