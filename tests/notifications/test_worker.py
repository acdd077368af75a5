"""With the configured database task backend, a real db_worker delivers and schedules retries."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from qianshu.notifications.actions import do_queue_sms
from qianshu.notifications.models import OutboxMessage
from qianshu.notifications.tasks import deliver
from qianshu.settings import TASKS as CONFIGURED
from tests.notifications.conftest import Gateway, free_port


def run_worker() -> None:
    call_command("db_worker", "--batch", "--no-startup-delay", "--queue-name", "notifications")


@pytest.mark.django_db(transaction=True)
def test_worker_delivers_and_enqueues_the_retry_for_later(
    sms_gateway: Gateway, settings: Any
) -> None:
    gateway_url = settings.QIANSHU_SMS_GATEWAY_URL
    settings.QIANSHU_SMS_GATEWAY_URL = f"http://127.0.0.1:{free_port()}/sms"
    with override_settings(TASKS=CONFIGURED):
        with transaction.atomic():
            message = do_queue_sms("13800138000", "test_message", {})
            assert not DBTaskResult.objects.exists()  # enqueued only on commit
        [job] = DBTaskResult.objects.all()
        assert job.queue_name == "notifications"

        run_worker()
        message.refresh_from_db()
        assert message.status == OutboxMessage.Status.PENDING and message.attempts == 1
        retry = DBTaskResult.objects.exclude(pk=job.pk).get()
        assert retry.status == "READY" and retry.run_after == message.next_attempt_at
        assert sms_gateway.accepted == []

        # When the retry's time comes (moved here instead of waiting), the worker sends it.
        settings.QIANSHU_SMS_GATEWAY_URL = gateway_url
        OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=message.created_at)
        DBTaskResult.objects.filter(pk=retry.pk).update(run_after=message.created_at)
        run_worker()
        message.refresh_from_db()
        assert message.status == OutboxMessage.Status.SENT and message.attempts == 2
        assert [item["message_id"] for item in sms_gateway.accepted] == [str(message.uuid)]
        assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_send_a_message_once(sms_gateway: Gateway) -> None:
    if connection.vendor != "postgresql":
        # In-memory SQLite shared between threads raises "table is locked" instead of waiting.
        pytest.skip("concurrent claims need PostgreSQL (DATABASE_URL)")
    # Written directly: queueing in autocommit mode would deliver at once (immediate backend).
    message = OutboxMessage.objects.create(
        channel=OutboxMessage.Channel.SMS,
        recipient="13800138000",
        kind="test_message",
        language="zh-hans",
        body="【签署】并发测试",
        next_attempt_at=timezone.now(),
    )
    sms_gateway.delay = 0.2  # the first send is still running when the others try
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=5)
            outcomes.append(deliver(message.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(outcomes) == ["sent", "skipped", "skipped", "skipped"]
    assert len(sms_gateway.accepted) == 1
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT and message.attempts == 1
