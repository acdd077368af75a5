"""Delivery: claims, retries with backoff, redaction, and the development SMS backends."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.test import TestCase
from django.utils import timezone

from qianshu.notifications.actions import (
    delivered_together,
    do_queue_email,
    do_queue_sms,
    do_release_held,
    do_retry_messages,
    do_take_held,
    written_together,
)
from qianshu.notifications.models import REDACTED, OutboxMessage
from qianshu.notifications.sms import ConsoleSmsBackend
from qianshu.notifications.tasks import deliver_due_messages, deliver_message, deliver_messages
from tests.notifications.conftest import make_due

PHONE = "13900139000"

pytestmark = pytest.mark.django_db


def deliver_outbox() -> str:
    out = io.StringIO()
    call_command("deliver_outbox", stdout=out)
    return out.getvalue()


def test_delivering_one_message_twice_sends_it_once(sms_sent: Any) -> None:
    message = do_queue_sms(PHONE, "test_message", {})
    first = deliver_message.enqueue(message.pk)
    second = deliver_message.enqueue(message.pk)
    assert (first.return_value, second.return_value) == ("sent", "skipped")
    assert len(sms_sent()) == 1
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT and message.attempts == 1
    assert message.delivery_attempts.count() == 1


def test_message_claimed_by_a_live_worker_is_not_sent_again(sms_sent: Any) -> None:
    message = do_queue_sms(PHONE, "test_message", {})
    lease_end = timezone.now() + timedelta(minutes=5)
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxMessage.Status.SENDING, attempts=1, next_attempt_at=lease_end
    )
    assert deliver_message.enqueue(message.pk).return_value == "skipped"
    assert "nothing due" in deliver_outbox()
    assert sms_sent() == []


def test_message_of_a_dead_worker_is_sent_when_its_lease_ends(sms_sent: Any) -> None:
    message = do_queue_sms(PHONE, "test_message", {})
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxMessage.Status.SENDING,
        attempts=1,
        next_attempt_at=timezone.now() - timedelta(seconds=1),
    )
    assert deliver_outbox().strip() == "outbox: sent 1"
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT and message.attempts == 2
    assert len(sms_sent()) == 1


def test_failures_back_off_then_fail_after_max_attempts(
    settings: Any, committed: Any, tmp_path: Path
) -> None:
    settings.QIANSHU_NOTIFY_MAX_ATTEMPTS = 3
    settings.QIANSHU_SMS_FILE = tmp_path  # a directory: every append fails
    message = committed(lambda: do_queue_sms(PHONE, "test_message", {}))
    code = committed(lambda: do_queue_sms(PHONE, "login_code", {"code": "1", "minutes": 5}))
    delays = []
    for expected in (1, 2):
        assert message.status == OutboxMessage.Status.PENDING
        assert message.attempts == expected
        assert "SmsError" in message.last_error
        delays.append(message.next_attempt_at - message.delivery_attempts.last().finished_at)
        # Not due before its time: the sweep leaves it alone.
        assert "nothing due" in deliver_outbox()
        make_due(message)
        make_due(code)
        assert deliver_outbox().strip() == "outbox: " + ("retry 2" if expected == 1 else "failed 2")
        message.refresh_from_db()
    assert delays == [timedelta(seconds=30), timedelta(minutes=2)]
    assert message.status == OutboxMessage.Status.FAILED and message.attempts == 3
    assert message.next_attempt_at is None
    assert [a.ok for a in message.delivery_attempts.all()] == [False, False, False]
    assert "测试短信" in message.body
    # A code given up on is not kept, and so cannot be retried.
    code.refresh_from_db()
    assert code.status == OutboxMessage.Status.FAILED and code.body == REDACTED

    # "Retry now" (admin) gives a failed message a new series of attempts.
    settings.QIANSHU_SMS_FILE = tmp_path / "sms.log"
    assert do_retry_messages([message.pk, code.pk]) == 1
    assert deliver_due_messages.enqueue().return_value == {"sent": 1}
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT and message.attempts == 1
    assert message.delivery_attempts.count() == 4


def test_sensitive_text_is_kept_when_configured(settings: Any, committed: Any) -> None:
    settings.QIANSHU_OUTBOX_KEEP_SENSITIVE = True
    kept = committed(lambda: do_queue_sms(PHONE, "reauth_code", {"code": "777", "minutes": 3}))
    assert kept.status == OutboxMessage.Status.SENT and "777" in kept.body
    settings.QIANSHU_OUTBOX_KEEP_SENSITIVE = False
    redacted = committed(
        lambda: do_queue_email("wang@example.cn", "test_message", {}, sensitive=True)
    )
    assert redacted.body == redacted.html_body == REDACTED
    plain = committed(lambda: do_queue_email("wang@example.cn", "test_message", {}))
    assert "测试邮件" in plain.body
    assert len(mail.outbox) == 2


def test_email_through_the_locmem_backend(committed: Any) -> None:
    message = committed(
        lambda: do_queue_email(
            "zhao@example.cn", "verification_approved", {"name": "赵六"}, language="en"
        )
    )
    [email] = mail.outbox
    assert email.to == ["zhao@example.cn"] and email.subject == "Identity verification approved"
    assert "赵六" in email.body and email.extra_headers["X-Qianshu-Message-Id"] == str(message.uuid)
    assert message.provider_message_id == email.extra_headers["Message-ID"]


def test_console_backend_prints_the_message(
    settings: Any, committed: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.QIANSHU_SMS_BACKEND = "console"
    message = committed(lambda: do_queue_sms(PHONE, "test_message", {}))
    assert message.status == OutboxMessage.Status.SENT
    out = capsys.readouterr().out
    assert f"to {PHONE}: 【签署】这是一条测试短信" in out and str(message.uuid) in out
    stream = io.StringIO()
    ConsoleSmsBackend(stream).send(phone=PHONE, text="文本", message_id="m-1")
    assert stream.getvalue() == f"[SMS m-1] to {PHONE}: 文本\n"


def test_file_backend_appends_json_lines(committed: Any, sms_sent: Any) -> None:
    committed(lambda: do_queue_sms(PHONE, "test_message", {}))
    committed(lambda: do_queue_sms("+85291234567", "email_changed", {"email": "a@b.cn"}))
    assert [(line["phone"], line["text"][:5]) for line in sms_sent()] == [
        (PHONE, "【签署】这"),
        ("+85291234567", "【签署】您"),
    ]


def test_messages_queued_together_go_out_in_one_task(sms_sent: Any) -> None:
    """delivered_together (a 批量发起 group's first signers): one delivery task for all the
    messages queued in the block, scheduled when the transaction commits; each still sent
    once."""
    phones = [f"1390013900{i}" for i in range(3)]
    with TestCase.captureOnCommitCallbacks() as callbacks, transaction.atomic():
        with delivered_together():
            queued = [do_queue_sms(phone, "test_message", {}) for phone in phones]
        alone = do_queue_sms(PHONE, "test_message", {})  # after the block: a task of its own
    assert len(callbacks) == 2
    assert sms_sent() == []
    for callback in callbacks:
        callback()
    assert sorted(sms["phone"] for sms in sms_sent()) == sorted([*phones, PHONE])
    for message in [*queued, alone]:
        message.refresh_from_db()
        assert message.status == OutboxMessage.Status.SENT and message.attempts == 1
    assert deliver_messages.enqueue([m.pk for m in queued]).return_value == {"skipped": 3}


def test_messages_written_together_are_one_insert_when_the_block_ends(sms_sent: Any) -> None:
    """written_together (a signing step's messages): nothing is written until the block
    ends, then every message in one INSERT; a held message gets no delivery (its uuid is
    what the batch takes or releases it by), the others are delivered once the transaction
    commits, in one task inside delivered_together."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    later = timezone.now() + timedelta(minutes=10)
    with (
        TestCase.captureOnCommitCallbacks() as callbacks,
        transaction.atomic(),
        CaptureQueriesContext(connection) as queries,
    ):
        with delivered_together(), written_together():
            now = [do_queue_sms(phone, "test_message", {}) for phone in (PHONE, "13900139001")]
            held = do_queue_sms("13900139002", "test_message", {}, hold_until=later)
            assert not OutboxMessage.objects.exists()
            assert all(m.pk is None and m.uuid for m in [*now, held])
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1
    assert all(m.pk is not None for m in [*now, held])
    assert OutboxMessage.objects.count() == 3
    assert len(callbacks) == 1  # one task for the two due now; none for the held one
    callbacks[0]()
    assert sorted(sms["phone"] for sms in sms_sent()) == [PHONE, "13900139001"]
    with transaction.atomic():
        assert do_take_held([str(held.uuid), str(now[0].uuid)]) is False  # one was sent
        assert do_release_held([str(held.uuid)]) == 1


def test_nothing_is_written_when_a_written_together_block_raises() -> None:
    with TestCase.captureOnCommitCallbacks() as callbacks, transaction.atomic():
        with pytest.raises(RuntimeError), written_together():
            do_queue_sms(PHONE, "test_message", {})
            raise RuntimeError("the step failed")
    assert callbacks == [] and not OutboxMessage.objects.exists()


def test_messages_queued_together_follow_their_transaction(sms_sent: Any) -> None:
    """A block that fails inside a savepoint leaves nothing, scheduled or queued; one whose
    exception is caught without a rollback leaves its message to commit, and delivered."""
    with TestCase.captureOnCommitCallbacks() as callbacks, transaction.atomic():
        try:
            with transaction.atomic(), delivered_together():
                do_queue_sms(PHONE, "test_message", {})
                raise RuntimeError("the group failed")
        except RuntimeError:
            pass
    assert callbacks == [] and not OutboxMessage.objects.exists()
    with TestCase.captureOnCommitCallbacks(execute=True), transaction.atomic():
        try:
            with delivered_together():
                kept = do_queue_sms(PHONE, "test_message", {})
                raise RuntimeError("caught, nothing rolled back")
        except RuntimeError:
            pass
    kept.refresh_from_db()
    assert kept.status == OutboxMessage.Status.SENT and len(sms_sent()) == 1


def test_a_message_queued_in_a_savepoint_rolled_back_and_caught_is_not_sent(
    sms_sent: Any,
) -> None:
    """written_together (a signing step's messages): a message queued inside a savepoint that
    is rolled back there, its error caught, is neither written nor delivered — the event it
    tells of was undone — while the messages before and after it go out."""
    with TestCase.captureOnCommitCallbacks(execute=True), transaction.atomic():
        with delivered_together(), written_together():
            do_queue_sms(PHONE, "test_message", {})
            try:
                with transaction.atomic():
                    do_queue_sms("13900139001", "test_message", {})
                    raise RuntimeError("undone")
            except RuntimeError:
                pass
            do_queue_sms("13900139002", "test_message", {})
    assert sorted(OutboxMessage.objects.values_list("recipient", flat=True)) == [
        PHONE,
        "13900139002",
    ]
    assert sorted(sms["phone"] for sms in sms_sent()) == [PHONE, "13900139002"]
