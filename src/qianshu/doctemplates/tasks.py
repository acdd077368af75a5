"""Background work of templates: sending a batch (批量发起)."""

from __future__ import annotations

from django_tasks import task

from qianshu.core.meta import TASK
from qianshu.doctemplates.actions.bulk import send_batch_rows


@task(queue_name="default")
def send_batch(batch_id: int) -> int:
    """Send the pending rows of a batch (continues where an earlier run stopped)."""
    return send_batch_rows(batch_id, meta=TASK)
