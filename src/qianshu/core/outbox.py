"""What the outboxes share (notifications, webhooks): enqueueing a delivery for later, and
picking the due rows oldest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet


def enqueue_at(job: Any, *args: object, run_after: datetime | None = None) -> None:
    """Enqueue the django-tasks ``job`` with ``args``, at ``run_after`` where the task backend
    can defer. Without deferral (the immediate backend of tests) a delayed job is not
    enqueued: the outbox's sweep delivers it when it is due."""
    if run_after is not None:
        if not job.get_backend().supports_defer:
            return
        job = job.using(run_after=run_after)
    job.enqueue(*args)


def due_ids(due: QuerySet[Any], limit: int) -> list[int]:
    """The ids of up to ``limit`` due rows, the longest due first."""
    return list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])
