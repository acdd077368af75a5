"""Background work of templates: sending a batch (批量发起)."""

from __future__ import annotations

from django.conf import settings
from django_tasks import task

from qianshu.core.meta import TASK
from qianshu.doctemplates.actions.bulk import send_batch_rows
from qianshu.doctemplates.models import Batch

ROWS_PER_SENDER = 50


@task(queue_name="default")
def send_batch(batch_id: int) -> int:
    """Send the pending rows of a batch (continues where an earlier run stopped)."""
    return send_batch_rows(batch_id, meta=TASK)


def senders(batch: Batch) -> int:
    """How many ``send_batch`` tasks to enqueue for a batch: ``QIANSHU_BULK_SENDERS`` (task
    workers that may share it), no more than one per 50 rows."""
    wanted = max(1, int(settings.QIANSHU_BULK_SENDERS))
    return max(1, min(wanted, -(-batch.valid // ROWS_PER_SENDER)))
