"""Webhooks as a receiver sees them (issue 13): signed per Standard Webhooks (checked with the
reference library), written with the change, delivered after commit, retried while the
receiver answers 500 or is down, nothing lost, redelivered by hand with the same id, the old
secret honoured for a day after a rotation, and an endpoint failing for days disabled with
its administrators told."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.notifications.models import OutboxMessage
from qianshu.orgs.models import OrgAction, OrgEvent
from qianshu.webhooks import delivery, secrets
from qianshu.webhooks.actions import messages
from qianshu.webhooks.actions.endpoints import (
    do_create_endpoint,
    do_rotate_secret,
    do_set_endpoint_enabled,
)
from qianshu.webhooks.actions.messages import do_emit_event, do_redeliver_message
from qianshu.webhooks.errors import EndpointDisabled
from qianshu.webhooks.models import Attempt, Endpoint, Message
from tests.support.accounts import make_user
from tests.support.personas import make_verified_org
from tests.webhooks.receiver import closed_port_url, running_receiver

pytestmark = pytest.mark.django_db(transaction=True)

DATA = {"envelope": {"id": "e1", "number": "QS-1", "title": "采购合同", "status": "completed"}}


@pytest.fixture(autouse=True)
def _private_targets(settings: Any) -> None:
    settings.QIANSHU_WEBHOOK_ALLOW_PRIVATE = True  # the receiver runs on loopback


@pytest.fixture
def admin() -> User:
    return make_user("alice")


def _endpoint(admin: User, url: str, events: tuple[str, ...] = ("envelope.completed",)) -> Any:
    org = make_verified_org(admin)
    return do_create_endpoint(org, url=url, events=events, actor=admin, meta=TASK)


def _emit(endpoint: Endpoint) -> Message:
    with transaction.atomic():
        (message,) = do_emit_event(endpoint.org, "envelope.completed", DATA)
    return message


def _due_now(message: Message) -> None:
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())


def test_a_delivered_message_verifies_with_the_reference_library(admin: User) -> None:
    with running_receiver() as receiver:
        endpoint, secret = _endpoint(admin, receiver.url)
        message = _emit(endpoint)
        # The immediate task backend of the tests delivered it when the transaction committed.
        assert len(receiver.received) == 1
    got = receiver.received[0]
    assert got.path == "/hooks/qianshu"
    assert got.headers["webhook-id"] == message.msg_id
    assert got.headers["content-type"] == "application/json"
    payload = Webhook(secret).verify(got.body, got.headers)
    assert payload["type"] == "envelope.completed"
    assert payload["data"] == DATA
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    (attempt,) = message.delivery_attempts.all()
    assert attempt.ok and attempt.status_code == 200
    # Another secret does not verify it, nor does a changed body.
    with pytest.raises(WebhookVerificationError):
        Webhook(secrets.new_secret()).verify(got.body, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(got.body.replace("采购合同", "销售合同"), got.headers)


def test_nothing_is_written_when_the_change_rolls_back(admin: User) -> None:
    with running_receiver() as receiver:
        endpoint, _secret = _endpoint(admin, receiver.url)
        with pytest.raises(RuntimeError), transaction.atomic():
            do_emit_event(endpoint.org, "envelope.completed", DATA)
            raise RuntimeError("the change failed")
        assert not Message.objects.exists()
        assert receiver.received == []


def test_only_subscribed_active_endpoints_of_the_org_get_it(admin: User) -> None:
    with running_receiver() as receiver:
        endpoint, _secret = _endpoint(admin, receiver.url, events=("envelope.sent",))
        other_admin = make_user("bob")
        other, _ = _endpoint(other_admin, receiver.url)  # another organisation
        with transaction.atomic():
            assert do_emit_event(endpoint.org, "envelope.completed", DATA) == []
        do_set_endpoint_enabled(other, False, actor=other_admin, meta=TASK)
        with transaction.atomic():
            assert do_emit_event(other.org, "envelope.completed", DATA) == []
        assert receiver.received == []
    with pytest.raises(ValueError):
        do_emit_event(endpoint.org, "envelope.invented", DATA)


def test_retried_after_500s_until_delivered(admin: User) -> None:
    with running_receiver() as receiver:
        receiver.answers = [500, 503]
        endpoint, secret = _endpoint(admin, receiver.url)
        message = _emit(endpoint)
        message.refresh_from_db()
        assert message.status == Message.Status.PENDING
        assert message.last_error == "HTTP 500"
        delay = message.next_attempt_at - timezone.now()
        assert dt.timedelta(seconds=1) < delay <= delivery.SCHEDULE[0]
        _due_now(message)
        assert delivery.deliver_due() == {"retry": 1}
        message.refresh_from_db()
        assert message.next_attempt_at - timezone.now() > dt.timedelta(minutes=4)
        _due_now(message)
        assert delivery.deliver_due() == {"delivered": 1}
    codes = [a.status_code for a in message.delivery_attempts.order_by("number")]
    assert codes == [500, 503, 200]
    # The same message each time: one id, one body.
    assert {r.headers["webhook-id"] for r in receiver.received} == {message.msg_id}
    assert len({r.body for r in receiver.received}) == 1
    Webhook(secret).verify(receiver.received[-1].body, receiver.received[-1].headers)


def test_a_receiver_that_is_down_loses_nothing(admin: User) -> None:
    endpoint, secret = _endpoint(admin, closed_port_url())
    message = _emit(endpoint)
    for _ in range(len(delivery.SCHEDULE)):
        _due_now(message)
        delivery.deliver_due()
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.attempts == len(delivery.SCHEDULE) + 1
    assert all(not a.ok and a.error for a in message.delivery_attempts.all())
    # The receiver comes back; the administrator redelivers: same id, same body, delivered.
    with running_receiver() as receiver:
        Endpoint.objects.filter(pk=endpoint.pk).update(url=receiver.url)
        do_redeliver_message(message, actor=admin, meta=TASK)
    (got,) = receiver.received
    assert got.headers["webhook-id"] == message.msg_id
    assert Webhook(secret).verify(got.body, got.headers)["data"] == DATA
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert OrgEvent.objects.filter(action=OrgAction.WEBHOOK_REDELIVERED).count() == 1


def test_redirects_are_not_followed(admin: User) -> None:
    with running_receiver() as elsewhere, running_receiver() as receiver:
        receiver.answers = [(302, elsewhere.url)]
        endpoint, _secret = _endpoint(admin, receiver.url)
        message = _emit(endpoint)
        assert elsewhere.received == []
    message.refresh_from_db()
    assert message.status == Message.Status.PENDING
    assert message.last_error == "HTTP 302"


def test_rotation_signs_with_both_secrets_for_a_day(admin: User) -> None:
    with running_receiver() as receiver:
        endpoint, old = _endpoint(admin, receiver.url)
        new = do_rotate_secret(endpoint, actor=admin, meta=TASK)
        _emit(endpoint)
        got = receiver.received[-1]
        assert len(got.headers["webhook-signature"].split()) == 2
        Webhook(old).verify(got.body, got.headers)
        Webhook(new).verify(got.body, got.headers)
        # A day later only the new secret signs.
        Endpoint.objects.filter(pk=endpoint.pk).update(
            previous_secret_until=timezone.now() - dt.timedelta(seconds=1)
        )
        _emit(endpoint)
        got = receiver.received[-1]
        assert len(got.headers["webhook-signature"].split()) == 1
        Webhook(new).verify(got.body, got.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(got.body, got.headers)


def test_an_endpoint_failing_for_days_is_disabled_and_admins_told(
    admin: User, settings: Any
) -> None:
    endpoint, _secret = _endpoint(admin, closed_port_url())
    message = _emit(endpoint)
    assert Endpoint.objects.get(pk=endpoint.pk).failing_since is not None
    days = settings.QIANSHU_WEBHOOK_DISABLE_AFTER_DAYS
    Endpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - dt.timedelta(days=days, minutes=1)
    )
    # The next failure (the delivery of a new event) disables it.
    with transaction.atomic():
        (latest,) = do_emit_event(endpoint.org, "envelope.completed", DATA)
    endpoint.refresh_from_db()
    assert endpoint.status == Endpoint.Status.DISABLED
    assert endpoint.disabled_reason == "failing"
    latest.refresh_from_db()
    assert latest.status == Message.Status.FAILED
    sms = OutboxMessage.objects.get(kind="webhook_disabled")
    assert sms.recipient == admin.phone
    assert endpoint.url in sms.body
    event = OrgEvent.objects.get(action=OrgAction.WEBHOOK_DISABLED)
    assert event.actor is None and event.detail["reason"] == "failing"
    # The earlier message, due for a retry, waits as failed: nothing is tried while disabled.
    tried = message.delivery_attempts.count()
    _due_now(message)
    assert delivery.deliver_due() == {"skipped": 1}
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.delivery_attempts.count() == tried
    pending = message
    with pytest.raises(EndpointDisabled):
        do_redeliver_message(pending, actor=admin, meta=TASK)
    # Enabled again by the administrator, the failure record is cleared and redelivery works.
    do_set_endpoint_enabled(endpoint, True, actor=admin, meta=TASK)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None
    with running_receiver() as receiver:
        Endpoint.objects.filter(pk=endpoint.pk).update(url=receiver.url)
        do_redeliver_message(pending, actor=admin, meta=TASK)
        assert len(receiver.received) == 1


def test_a_success_clears_the_failure_record(admin: User) -> None:
    with running_receiver() as receiver:
        receiver.answers = [500]
        endpoint, _secret = _endpoint(admin, receiver.url)
        message = _emit(endpoint)
        assert Endpoint.objects.get(pk=endpoint.pk).failing_since is not None
        _due_now(message)
        delivery.deliver_due()
    assert Endpoint.objects.get(pk=endpoint.pk).failing_since is None


def test_a_message_another_worker_delivered_meanwhile_keeps_that_record(
    admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker whose lease ran out while it was posting records its success as stale: the
    worker that took the message over delivered it first, and that record stays (our attempt
    is logged as it went)."""
    earlier = timezone.now() - dt.timedelta(minutes=1)
    real = delivery._post

    def taken_over(message: Message, signers: list[str]) -> tuple[int, str]:
        Message.objects.filter(pk=message.pk).update(
            status=Message.Status.DELIVERED, delivered_at=earlier
        )
        return real(message, signers)

    with running_receiver() as receiver:
        endpoint, _secret = _endpoint(admin, receiver.url)
        monkeypatch.setattr(messages, "schedule", lambda *args, **kwargs: None)
        message = _emit(endpoint)
        monkeypatch.setattr(delivery, "_post", taken_over)
        assert delivery.deliver(message.pk) == "stale"
        monkeypatch.setattr(delivery, "_post", real)
        assert delivery.deliver(message.pk) == "skipped"  # delivered: nothing to claim
    message.refresh_from_db()
    assert (message.status, message.delivered_at) == (Message.Status.DELIVERED, earlier)
    attempt = message.delivery_attempts.get()
    assert attempt.ok and attempt.status_code == 200


def test_the_secret_is_encrypted_at_rest_and_bound_to_its_endpoint(admin: User) -> None:
    with running_receiver() as receiver:
        one, secret = _endpoint(admin, receiver.url)
        two, _ = do_create_endpoint(
            one.org, url=receiver.url, events=["envelope.sent"], actor=admin, meta=TASK
        )
    stored = bytes(Endpoint.objects.get(pk=one.pk).secret_encrypted)
    assert secret.encode() not in stored
    assert secret.removeprefix(secrets.PREFIX).encode() not in stored
    # A ciphertext copied onto another endpoint's row does not decrypt there.
    Endpoint.objects.filter(pk=two.pk).update(secret_encrypted=stored)
    two.refresh_from_db()
    from cryptography.exceptions import InvalidTag

    with pytest.raises(InvalidTag):
        secrets.decrypt(two.secret_encrypted, endpoint_uuid=two.uuid)


def test_the_payload_is_compact_utf8_json(admin: User) -> None:
    with running_receiver() as receiver:
        endpoint, _secret = _endpoint(admin, receiver.url)
        _emit(endpoint)
    body = receiver.received[0].body
    assert "采购合同" in body  # not \\u-escaped
    parsed = json.loads(body)
    assert set(parsed) == {"type", "timestamp", "data"}
    assert parsed["timestamp"].endswith("Z")


def test_the_sweep_command_delivers_what_is_due(admin: User) -> None:
    from io import StringIO

    from django.core.management import call_command

    with running_receiver() as receiver:
        receiver.answers = [500]
        endpoint, _secret = _endpoint(admin, receiver.url)
        message = _emit(endpoint)
        out = StringIO()
        call_command("deliver_webhooks", stdout=out)
        assert out.getvalue().strip() == "webhooks: nothing due"  # the retry is not due yet
        _due_now(message)
        call_command("deliver_webhooks", stdout=out)
        assert "delivered 1" in out.getvalue()
        assert len(receiver.received) == 2


@pytest.mark.postgres
def test_a_message_is_claimed_while_another_worker_holds_its_endpoint(
    admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two workers delivering messages of one endpoint: while one holds the endpoint's row (its
    # claim used to lock it, and recording a failure does), the other must still claim its
    # own due message, not skip it as "being delivered" until the next sweep.
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (DATABASE_URL)")
    with running_receiver() as receiver:
        endpoint, _secret = _endpoint(admin, receiver.url)
        monkeypatch.setattr(messages, "schedule", lambda *args, **kwargs: None)
        message = _emit(endpoint)  # queued for the workers, not delivered at commit
        locked, release = threading.Event(), threading.Event()

        def other_worker() -> None:
            try:
                with transaction.atomic():
                    Endpoint.objects.select_for_update().get(pk=endpoint.pk)
                    locked.set()
                    release.wait(timeout=10)
            finally:
                connection.close()

        thread = threading.Thread(target=other_worker)
        thread.start()
        try:
            assert locked.wait(timeout=10)
            outcome = delivery.deliver(message.pk)
        finally:
            release.set()
            thread.join()
    assert outcome == "delivered"
    assert [r.headers["webhook-id"] for r in receiver.received] == [message.msg_id]


def _queue(endpoint: Endpoint, count: int, monkeypatch: pytest.MonkeyPatch) -> list[Message]:
    """``count`` messages left in the outbox for the workers (not delivered at commit)."""
    monkeypatch.setattr(messages, "schedule", lambda *args, **kwargs: None)
    return [_emit(endpoint) for _ in range(count)]


def test_the_sweep_delivers_a_backlog_in_batches(
    admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery, "BATCH", 4)  # several batches, the last one partly full
    with running_receiver() as receiver:
        receiver.answers = [200, 200, 500]  # the third POST fails and is retried later
        endpoint, _secret = _endpoint(admin, receiver.url)
        queued = _queue(endpoint, 10, monkeypatch)
        assert delivery.deliver_due() == {"delivered": 9, "retry": 1}
        assert delivery.deliver_due() == {}  # the retry is not due yet
    assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(
        m.msg_id for m in queued
    )
    statuses = Counter(Message.objects.values_list("status", flat=True))
    assert statuses == {Message.Status.DELIVERED: 9, Message.Status.PENDING: 1}
    failed = Message.objects.get(status=Message.Status.PENDING)
    assert failed.last_error == "HTTP 500" and failed.attempts == 1
    # Every attempt has its row, finished, with the receiver's answer.
    attempts = list(Attempt.objects.values_list("number", "ok", "status_code"))
    assert sorted(attempts) == [(1, False, 500)] + [(1, True, 200)] * 9
    assert not Attempt.objects.filter(finished_at__isnull=True).exists()


def test_the_sweep_fails_the_messages_of_a_disabled_endpoint(
    admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_receiver() as receiver:
        endpoint, _secret = _endpoint(admin, receiver.url)
        _queue(endpoint, 2, monkeypatch)
        Endpoint.objects.filter(pk=endpoint.pk).update(status=Endpoint.Status.DISABLED)
        assert delivery.deliver_due() == {"skipped": 2}
    assert receiver.received == []
    assert set(Message.objects.values_list("status", "last_error")) == {
        (Message.Status.FAILED, "the endpoint is disabled")
    }


@pytest.mark.postgres
def test_concurrent_sweeps_deliver_each_message_once(
    admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent claims need PostgreSQL (DATABASE_URL)")
    monkeypatch.setattr(delivery, "BATCH", 5)
    with running_receiver() as receiver:
        endpoint, _secret = _endpoint(admin, receiver.url)
        queued = _queue(endpoint, 40, monkeypatch)
        barrier = threading.Barrier(3)
        outcomes: list[Counter[str]] = []

        def sweep() -> None:
            try:
                barrier.wait(timeout=10)
                outcomes.append(delivery.deliver_due())
            finally:
                connection.close()

        threads = [threading.Thread(target=sweep) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sum(outcomes, Counter()) == {"delivered": 40}
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert sorted(ids) == sorted(m.msg_id for m in queued)  # each once
    assert Attempt.objects.count() == 40
