"""Jobs of task workers that died (qianshu.core.taskqueue): queued again when their lease runs
out, run by another worker, with one effect."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import transaction
from django.test import TestCase, override_settings
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from qianshu.core import taskqueue
from qianshu.core.meta import TASK
from qianshu.envelopes import tasks
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.models import AuditEvent, Envelope
from qianshu.notifications.models import OutboxMessage
from qianshu.webhooks import delivery
from qianshu.webhooks.actions.endpoints import do_create_endpoint
from qianshu.webhooks.actions.messages import do_emit_event
from tests.envelopes.helpers import sign
from tests.support.personas import make_verified_org
from tests.webhooks.receiver import running_receiver

LEASE = 600


# As in production: work is queued in the database for the workers (not run inline).
DATABASE_TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "signing", "notifications", "webhooks"],
    }
}
pytestmark = pytest.mark.usefixtures("database_tasks")


@pytest.fixture
def database_tasks(settings: Any) -> None:
    settings.TASKS = DATABASE_TASKS
    settings.QIANSHU_TASK_LEASE_SECONDS = LEASE


def _signed_not_completed(people: dict, build: Any) -> Envelope:
    """An envelope everyone signed; its completion job is queued, not run yet."""
    alice, bob = people["alice"], people["bob"]
    envelope = build.draft(alice, [("sign", 1, bob)])
    with TestCase.captureOnCommitCallbacks(execute=True):
        compose_actions.do_send_envelope(envelope, actor=alice, meta=TASK)
    sign(envelope.recipients.get(), bob)
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.IN_PROGRESS and envelope.all_signed_at is not None
    return envelope


def _claimed_job(envelope: Envelope, *, workers: list[str], started: dt.datetime) -> DBTaskResult:
    """The envelope's completion job as a worker leaves it when it claims it (``RUNNING``,
    its id last in ``worker_ids``) and then dies."""
    job = DBTaskResult.objects.ready().get(
        task_path=tasks.complete_envelope.module_path, args_kwargs__args=[envelope.pk]
    )
    job.worker_ids = workers[:-1]
    job.claim(workers[-1])
    DBTaskResult.objects.filter(pk=job.pk).update(started_at=started)
    job.refresh_from_db()
    return job


def _worker(worker_id: str) -> Worker:
    """A django-tasks-db worker that runs what is ready, then stops (``db_worker --batch``)."""
    return Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=worker_id,
        excluded_queue_names=[],
    )


def _completed_events(envelope: Envelope) -> int:
    return AuditEvent.objects.filter(
        envelope=envelope, action="completed", detail__step="envelope"
    ).count()


# transaction=True: the worker closes its connection between jobs (close_old_connections), as
# it must in production, which would end a test's enclosing transaction on PostgreSQL.
@pytest.mark.django_db(transaction=True)
def test_a_job_of_a_dead_worker_is_run_again_and_completes_once(people: dict, build: Any) -> None:
    envelope = _signed_not_completed(people, build)
    long_ago = timezone.now() - dt.timedelta(seconds=LEASE + 1)
    job = _claimed_job(envelope, workers=["killed"], started=long_ago)
    # Nobody else runs it: a worker only claims READY jobs.
    _worker("alive").run()
    job.refresh_from_db()
    assert job.status == TaskResultStatus.RUNNING and job.worker_ids == ["killed"]

    result = tasks.run_timers()
    assert (result["jobs_requeued"], result["jobs_failed"]) == (1, 0)
    _worker("alive").run()

    job.refresh_from_db()
    assert job.status == TaskResultStatus.SUCCESSFUL and job.return_value is True
    assert job.worker_ids == ["killed", "alive"]
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    assert _completed_events(envelope) == 1
    assert tasks.run_timers()["jobs_requeued"] == 0


def test_a_job_within_its_lease_is_left_to_its_worker(people: dict, build: Any) -> None:
    envelope = _signed_not_completed(people, build)
    recently = timezone.now() - dt.timedelta(seconds=LEASE - 60)
    job = _claimed_job(envelope, workers=["slow"], started=recently)
    assert taskqueue.requeue_abandoned_jobs() == taskqueue.Recovery(requeued=0, failed=0)
    job.refresh_from_db()
    assert job.status == TaskResultStatus.RUNNING
    # Its lease runs out later: then it is queued again.
    later = timezone.now() + dt.timedelta(seconds=120)
    assert taskqueue.requeue_abandoned_jobs(later) == taskqueue.Recovery(requeued=1, failed=0)
    job.refresh_from_db()
    assert job.status == TaskResultStatus.READY


# transaction=True: the worker closes its connection between jobs (close_old_connections), as
# it must in production, which would end a test's enclosing transaction on PostgreSQL.
@pytest.mark.django_db(transaction=True)
@override_settings(QIANSHU_TASK_MAX_CLAIMS=3)
def test_a_job_that_killed_every_worker_fails(people: dict, build: Any) -> None:
    envelope = _signed_not_completed(people, build)
    long_ago = timezone.now() - dt.timedelta(seconds=LEASE + 1)
    job = _claimed_job(envelope, workers=["w1", "w2", "w3"], started=long_ago)
    assert taskqueue.requeue_abandoned_jobs() == taskqueue.Recovery(requeued=0, failed=1)
    job.refresh_from_db()
    assert job.status == TaskResultStatus.FAILED
    assert job.exception_class_path == taskqueue.ABANDONED_ERROR
    assert "w1, w2, w3" in job.traceback
    _worker("alive").run()
    job.refresh_from_db()
    assert job.status == TaskResultStatus.FAILED  # not run again


def test_a_job_finished_meanwhile_is_not_queued_again(people: dict, build: Any) -> None:
    """The requeue is a compare-and-swap: the job read as abandoned finished before it."""
    envelope = _signed_not_completed(people, build)
    long_ago = timezone.now() - dt.timedelta(seconds=LEASE + 1)
    job = _claimed_job(envelope, workers=["late"], started=long_ago)
    abandoned = taskqueue.abandoned_jobs()
    assert [j.pk for j in abandoned] == [job.pk]
    job.set_successful(True)
    assert taskqueue.requeue_abandoned_jobs() == taskqueue.Recovery(requeued=0, failed=0)
    job.refresh_from_db()
    assert job.status == TaskResultStatus.SUCCESSFUL


def test_running_the_completion_twice_has_one_effect(people: dict, build: Any) -> None:
    """A job run a second time (its first worker died after committing) changes nothing."""
    envelope = _signed_not_completed(people, build)
    outbox = OutboxMessage.objects.count()
    assert tasks.complete_envelope.call(envelope.pk) is True
    after_first = OutboxMessage.objects.count()
    assert after_first > outbox  # the completion told the people
    report = Envelope.objects.get(pk=envelope.pk).report
    assert tasks.complete_envelope.call(envelope.pk) is False
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED and envelope.report == report
    assert _completed_events(envelope) == 1
    assert OutboxMessage.objects.count() == after_first


def test_running_a_webhook_delivery_twice_posts_once(people: dict, settings: Any) -> None:
    """The delivery job of a message run again (its first worker died after the POST was
    recorded) finds it delivered and posts nothing."""
    settings.QIANSHU_WEBHOOK_ALLOW_PRIVATE = True  # the receiver runs on loopback
    org = make_verified_org(people["alice"])
    with running_receiver() as receiver:
        do_create_endpoint(
            org, url=receiver.url, events=["envelope.completed"], actor=people["alice"], meta=TASK
        )
        with transaction.atomic():
            (message,) = do_emit_event(org, "envelope.completed", {"envelope": {"number": "1"}})
        # Queued in the database: nothing was posted at commit.
        assert receiver.received == []
        first = delivery.deliver_message.call(message.pk)
        second = delivery.deliver_message.call(message.pk)
    assert (first, second) == ("delivered", "skipped")
    assert len(receiver.received) == 1
    assert message.delivery_attempts.count() == 1
