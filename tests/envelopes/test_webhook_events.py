"""What an organisation's systems hear of its envelopes (issue 13, webhooks): one event per
step, signed, in order, with the state after the step — and nothing for an envelope sent in
another organisation's or a person's own name, nothing per document, no phone numbers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import TestCase
from standardwebhooks import Webhook

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.actions import lifecycle, turns
from qianshu.envelopes.models import Envelope, Recipient
from qianshu.orgs.models import Organization
from qianshu.webhooks.actions.endpoints import do_create_endpoint
from qianshu.webhooks.models import EVENT_TYPES
from tests.envelopes.helpers import Builder, sign
from tests.support.personas import make_verified_org
from tests.webhooks.receiver import Receiver, running_receiver


@pytest.fixture(autouse=True)
def _loopback(settings: Any) -> None:
    settings.QIANSHU_WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture
def org(people: dict[str, User]) -> Organization:
    return make_verified_org(people["alice"])


@pytest.fixture
def hooked(org: Organization, people: dict[str, User]) -> Iterator[tuple[Receiver, str]]:
    with running_receiver() as receiver:
        _endpoint, secret = do_create_endpoint(
            org, url=receiver.url, events=EVENT_TYPES, actor=people["alice"], meta=TASK
        )
        yield receiver, secret


def _send(envelope: Envelope, actor: User) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        compose_actions.do_send_envelope(envelope, actor=actor, meta=TASK)


def _events(receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    return [Webhook(secret).verify(r.body, r.headers) for r in receiver.received]


def test_each_step_of_a_completed_envelope(
    build: Builder, people: dict[str, User], org: Organization, hooked: tuple[Receiver, str]
) -> None:
    receiver, secret = hooked
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    envelope = build.draft(alice, [("sign", 1, bob), ("sign", 2, charlie)], documents=2, org=org)
    _send(envelope, alice)
    first = envelope.recipients.get(routing_order=1)
    with TestCase.captureOnCommitCallbacks(execute=True):
        turns.do_mark_viewed(first, actor=bob, meta=TASK)
    sign(first, bob)
    sign(envelope.recipients.get(routing_order=2), charlie)
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    events = _events(receiver, secret)
    assert [e["type"] for e in events] == [
        "envelope.sent",
        "recipient.viewed",
        "recipient.signed",  # once for bob's two documents, not once per document
        "recipient.signed",
        "envelope.completed",
    ]
    assert {e["data"]["envelope"]["id"] for e in events} == {str(envelope.uuid)}
    assert events[0]["data"]["envelope"]["status"] == "in_progress"
    assert events[2]["data"]["recipient"] == {
        "id": first.pk,
        "role": "sign",
        "order": 1,
        "name": first.name,
        "status": "done",
    }
    assert events[-1]["data"]["envelope"]["status"] == "completed"
    for received in receiver.received:
        assert bob.phone not in received.body and charlie.phone not in received.body


def test_rejected_and_recalled(
    build: Builder, people: dict[str, User], org: Organization, hooked: tuple[Receiver, str]
) -> None:
    receiver, secret = hooked
    alice, bob = people["alice"], people["bob"]
    rejected = build.draft(alice, [("sign", 1, bob)], org=org)
    _send(rejected, alice)
    with TestCase.captureOnCommitCallbacks(execute=True):
        turns.do_reject(rejected.recipients.get(), "金额有误", actor=bob, meta=TASK)
    recalled = build.draft(alice, [("sign", 1, bob)], org=org)
    _send(recalled, alice)
    with TestCase.captureOnCommitCallbacks(execute=True):
        lifecycle.do_recall(recalled, reason="重新起草", actor=alice, meta=TASK)
    events = _events(receiver, secret)
    assert [(e["type"], e["data"]["envelope"]["id"]) for e in events] == [
        ("envelope.sent", str(rejected.uuid)),
        ("recipient.rejected", str(rejected.uuid)),
        ("envelope.sent", str(recalled.uuid)),
        ("envelope.recalled", str(recalled.uuid)),
    ]
    assert events[1]["data"]["reason"] == "金额有误"
    assert events[1]["data"]["recipient"]["status"] == Recipient.Status.REJECTED
    assert events[3]["data"]["reason"] == "重新起草"


def test_personal_envelopes_and_other_organisations_say_nothing(
    build: Builder, people: dict[str, User], org: Organization, hooked: tuple[Receiver, str]
) -> None:
    receiver, _secret = hooked
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    personal = build.draft(alice, [("sign", 1, bob)])
    _send(personal, alice)
    other = make_verified_org(charlie, name="上海其他科技有限公司")
    theirs = build.draft(charlie, [("sign", 1, bob)], org=other)
    _send(theirs, charlie)
    assert receiver.received == []


def test_sent_back_resent_expired_and_voided(
    build: Builder, people: dict[str, User], org: Organization, hooked: tuple[Receiver, str]
) -> None:
    import datetime as dt

    from django.utils import timezone

    from qianshu.envelopes.actions import returns, voiding

    receiver, secret = hooked
    alice, bob = people["alice"], people["bob"]
    back = build.draft(alice, [("sign", 1, bob)], org=org)
    _send(back, alice)
    with TestCase.captureOnCommitCallbacks(execute=True):
        returns.do_send_back(back.recipients.get(), "请补充附件", actor=bob, meta=TASK)
    with TestCase.captureOnCommitCallbacks(execute=True):
        returns.do_resend_envelope(back, actor=alice, meta=TASK)
    late = build.draft(alice, [("sign", 1, bob)], org=org)
    _send(late, alice)
    Envelope.objects.filter(pk=late.pk).update(deadline=timezone.now() - dt.timedelta(minutes=1))
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert lifecycle.do_expire_overdue_envelopes(meta=TASK) == 1
    done = build.draft(alice, [("sign", 1, bob)], org=org)
    _send(done, alice)
    sign(done.recipients.get(), bob)
    done.refresh_from_db()
    with TestCase.captureOnCommitCallbacks(execute=True):
        statement = voiding.do_request_void(done, "重复签署", actor=alice, meta=TASK)
    sign(statement.recipients.get(role="sign"), bob)
    statement.refresh_from_db()
    assert statement.status == Envelope.Status.COMPLETED
    types = [(e["type"], e["data"]["envelope"]["id"]) for e in _events(receiver, secret)]
    assert types == [
        ("envelope.sent", str(back.uuid)),
        ("recipient.returned", str(back.uuid)),
        ("envelope.sent", str(back.uuid)),
        ("envelope.sent", str(late.uuid)),
        ("envelope.expired", str(late.uuid)),
        ("envelope.sent", str(done.uuid)),
        ("recipient.signed", str(done.uuid)),
        ("envelope.completed", str(done.uuid)),
        ("envelope.voided", str(done.uuid)),  # the statement itself says nothing
    ]
    events = _events(receiver, secret)
    assert events[2]["data"]["resent"] is True
    assert events[-1]["data"]["reason"] == "重复签署"
