"""Jobs of task workers that died: found by their lease and queued again.

django-tasks-db workers claim a job with ``SELECT … FOR UPDATE SKIP LOCKED`` and mark it
``RUNNING`` (``started_at``, the worker's id appended to ``worker_ids``); only the worker itself
ever marks it finished. A worker killed mid-job (SIGKILL, out of memory, the machine gone)
leaves its job ``RUNNING`` for ever, and the package has no heartbeat to tell a dead worker from
a slow one. So a claim is a lease: a job still ``RUNNING`` ``QIANSHU_TASK_LEASE_SECONDS`` after
it started belongs to a worker that is gone, and :func:`requeue_abandoned_jobs` (run with the
envelope timers) puts it back as ``READY`` for any worker to claim.

* The lease must be longer than any job runs (the longest are completions of large envelopes
  and a batch's ``send_batch``, minutes at most). A job that outlives it is started a second
  time while the first run goes on; that is safe because every task body is idempotent: a
  completion locks its envelope and does nothing for one already completed, outbox and webhook
  deliveries claim their message (a lease of their own) and skip one sent or being sent, and
  ``send_batch`` claims its rows one at a time.
* The requeue is a compare-and-swap on (status, ``started_at``): a job that finished or was
  claimed again since it was read is left alone, so the timers may run on several machines.
* A job whose worker died ``QIANSHU_TASK_MAX_CLAIMS`` times (``worker_ids`` holds one id per
  claim) is marked ``FAILED`` instead: a job that kills its worker must not kill them all in
  turn. Its traceback names the workers.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult

log = logging.getLogger(__name__)

ABANDONED_ERROR = "qianshu.core.taskqueue.WorkerLost"


@dataclass(frozen=True)
class Recovery:
    requeued: int
    failed: int


def lease() -> dt.timedelta:
    return dt.timedelta(seconds=settings.QIANSHU_TASK_LEASE_SECONDS)


def abandoned_jobs(now: dt.datetime | None = None) -> list[DBTaskResult]:
    """``RUNNING`` jobs whose lease ran out (their worker is gone), oldest first."""
    now = now or timezone.now()
    return list(
        DBTaskResult.objects.running()
        .filter(started_at__lt=now - lease())
        .order_by("started_at")[:500]
    )


def requeue_abandoned_jobs(now: dt.datetime | None = None) -> Recovery:
    """Queue again the jobs of workers that died; fail those that killed too many workers."""
    now = now or timezone.now()
    requeued = failed = 0
    for job in abandoned_jobs(now):
        claimed = DBTaskResult.objects.filter(
            pk=job.pk, status=TaskResultStatus.RUNNING, started_at=job.started_at
        )
        if len(job.worker_ids) >= settings.QIANSHU_TASK_MAX_CLAIMS:
            workers = ", ".join(job.worker_ids)
            changed = claimed.update(
                status=TaskResultStatus.FAILED,
                finished_at=now,
                exception_class_path=ABANDONED_ERROR,
                traceback=f"{ABANDONED_ERROR}: every worker that ran it died ({workers})",
            )
            if changed:
                log.error(
                    "job %s (%s) failed: its workers died (%s)", job.pk, job.task_path, workers
                )
            failed += changed
            continue
        # ``run_after`` is kept: it is in the past (or the package's "no delay" date).
        changed = claimed.update(status=TaskResultStatus.READY)
        if changed:
            log.warning(
                "job %s (%s) queued again: worker %s stopped before finishing it",
                job.pk,
                job.task_path,
                job.worker_ids[-1] if job.worker_ids else "?",
            )
        requeued += changed
    return Recovery(requeued=requeued, failed=failed)
