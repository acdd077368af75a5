"""Delivery of webhook messages: background tasks on the "webhooks" queue.

Same protocol as the notification outbox (:mod:`qianshu.notifications.tasks`): a worker
*claims* a due message (row lock, ``sending``, a lease in ``next_attempt_at``), POSTs it
outside any transaction, then records the attempt and the outcome. A worker that dies
mid-send leaves the message due again when its lease ends, so nothing is lost; at worst a
message is delivered twice (receivers deduplicate on ``webhook-id``).

* Success is any 2xx answer within ``QIANSHU_WEBHOOK_TIMEOUT`` seconds. Redirects are not
  followed; the URL is checked again and the connection goes to the checked address
  (:mod:`qianshu.webhooks.targets`).
* Failures are retried on :data:`SCHEDULE` (5 s … 24 h, about three days in all); then the
  message is ``failed`` and can be redelivered by hand.
* An endpoint that has failed for ``QIANSHU_WEBHOOK_DISABLE_AFTER_DAYS`` without one success
  is disabled and its organisation's administrators are told by SMS; its pending messages
  wait as ``failed`` until someone enables it and redelivers them.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from datetime import datetime, timedelta
from functools import partial
from typing import Literal

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django_tasks import task

from qianshu.core.errors import UserError
from qianshu.core.outbox import due_ids, enqueue_at
from qianshu.webhooks import alerts, secrets, targets
from qianshu.webhooks.models import Attempt, Endpoint, Message

log = logging.getLogger(__name__)

QUEUE = "webhooks"
#: Delay after the 1st, 2nd, … failed attempt; after the last one the message has failed.
SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
    timedelta(hours=24),
    timedelta(hours=24),
)
SENDING_LEASE = timedelta(minutes=5)  # longer than any POST can take (the timeout)
SWEEP_LIMIT = 500
USER_AGENT = "Qianshu-Webhooks/1"
_EXCERPT = 500

Outcome = Literal["delivered", "retry", "failed", "skipped", "stale"]


def schedule(message_id: int, run_after: datetime | None = None) -> None:
    """Enqueue ``deliver_message`` (a retry at ``run_after``; see ``core.outbox.enqueue_at``)."""
    enqueue_at(deliver_message, message_id, run_after=run_after)


@task(queue_name=QUEUE)
def deliver_message(message_id: int) -> str:
    """Deliver one message if it is due (a no-op for one delivered or being delivered)."""
    return deliver(message_id)


def deliver_due(*, limit: int = SWEEP_LIMIT) -> Counter[str]:
    """Deliver up to ``limit`` due messages (``qianshu deliver-webhooks``): retries on task
    backends that cannot defer, and messages of workers that died."""
    due = Message.objects.due(timezone.now())
    return Counter(deliver(message_id) for message_id in due_ids(due, limit))


def deliver(message_id: int) -> Outcome:
    """Claim, POST and record one message; never raises for a failed delivery."""
    claimed = _claim(message_id)
    if claimed is None:
        return "skipped"
    message, attempt, signers = claimed
    status_code: int | None = None
    excerpt = ""
    try:
        status_code, excerpt = _post(message, signers)
        error = "" if 200 <= status_code < 300 else f"HTTP {status_code}"
    except UserError as exc:  # the URL no longer passes the guard
        error = exc.message
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - whatever broke is recorded and retried
        error = f"{type(exc).__name__}: {exc}"
    return _finish(message, attempt, status_code=status_code, excerpt=excerpt, error=error)


def _claim(message_id: int) -> tuple[Message, Attempt, list[str]] | None:
    now = timezone.now()
    with transaction.atomic():
        # Only the message's row: locking the joined endpoint too made a worker skip every
        # message of an endpoint another worker was claiming or recording a failure for.
        message = (
            Message.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .due(now)
            .filter(pk=message_id)
            .first()
        )
        if message is None:
            return None
        endpoint = message.endpoint
        if endpoint.status != Endpoint.Status.ACTIVE:
            message.status = Message.Status.FAILED
            message.next_attempt_at = None
            message.last_error = "the endpoint is disabled"
            message.save(update_fields=["status", "next_attempt_at", "last_error"])
            return None
        message.status = Message.Status.SENDING
        message.attempts += 1
        message.next_attempt_at = now + SENDING_LEASE
        message.save(update_fields=["status", "attempts", "next_attempt_at"])
        last = message.delivery_attempts.aggregate(last=Max("number"))["last"] or 0
        attempt = Attempt.objects.create(message=message, number=last + 1, started_at=now)
        signers = [secrets.decrypt(endpoint.secret_encrypted, endpoint_uuid=endpoint.uuid)]
        if endpoint.previous_secret_encrypted and (
            endpoint.previous_secret_until and endpoint.previous_secret_until > now
        ):
            signers.append(
                secrets.decrypt(endpoint.previous_secret_encrypted, endpoint_uuid=endpoint.uuid)
            )
    return message, attempt, signers


def _post(message: Message, signers: list[str]) -> tuple[int, str]:
    target = targets.resolve(message.endpoint.url)
    stamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message.msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": secrets.signature_header(signers, message.msg_id, stamp, message.body),
    }
    default_port = 443 if target.scheme == "https" else 80
    headers["host"] = target.host if target.port == default_port else f"{target.host}:{target.port}"
    address = f"[{target.address}]" if ":" in target.address else target.address
    url = f"{target.scheme}://{address}:{target.port}{target.path}"
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    response = _client().post(
        url,
        content=message.body.encode(),
        headers=headers,
        extensions=extensions,
        timeout=float(settings.QIANSHU_WEBHOOK_TIMEOUT),
    )
    return response.status_code, response.text[:_EXCERPT]


_CLIENT: tuple[int, httpx.Client] | None = None


def _client() -> httpx.Client:
    """One HTTP client per process: its TLS context is reused (building a client loads the CA
    bundle, ~50 ms). Connections are not kept: a pooled connection is keyed by the checked
    address, so a message for another host name on the same address could travel over a
    connection whose certificate named the first. Redirects are not followed, and
    ``trust_env=False``: no proxy from the environment may route around the checked
    address."""
    global _CLIENT
    if _CLIENT is None or _CLIENT[0] != os.getpid():  # a forked worker makes its own
        _CLIENT = (
            os.getpid(),
            httpx.Client(
                follow_redirects=False,
                trust_env=False,
                limits=httpx.Limits(max_keepalive_connections=0),
            ),
        )
    return _CLIENT[1]


def _finish(
    message: Message,
    attempt: Attempt,
    *,
    status_code: int | None,
    excerpt: str,
    error: str,
) -> Outcome:
    now = timezone.now()
    ok = not error
    notify_disabled: Endpoint | None = None
    with transaction.atomic():
        attempt.finished_at = now
        attempt.ok = ok
        attempt.status_code = status_code
        attempt.response = excerpt
        attempt.error = error[:_EXCERPT]
        attempt.save(update_fields=["finished_at", "ok", "status_code", "response", "error"])
        current = Message.objects.select_for_update().get(pk=message.pk)
        if ok:
            # Only an endpoint that was failing has anything to clear (no lock otherwise).
            Endpoint.objects.filter(pk=current.endpoint_id, failing_since__isnull=False).update(
                failing_since=None
            )
            if current.status == Message.Status.DELIVERED:
                return "stale"
            current.status = Message.Status.DELIVERED
            current.delivered_at = now
            current.next_attempt_at = None
            current.last_error = ""
            current.save(update_fields=["status", "delivered_at", "next_attempt_at", "last_error"])
            return "delivered"
        endpoint = Endpoint.objects.select_for_update().get(pk=current.endpoint_id)
        taken_over = current.delivery_attempts.filter(number__gt=attempt.number).exists()
        if current.status != Message.Status.SENDING or taken_over:
            return "stale"
        current.last_error = error[:_EXCERPT]
        if endpoint.failing_since is None:
            endpoint.failing_since = now
            endpoint.save(update_fields=["failing_since"])
        days = timedelta(days=settings.QIANSHU_WEBHOOK_DISABLE_AFTER_DAYS)
        if endpoint.status == Endpoint.Status.ACTIVE and now - endpoint.failing_since >= days:
            endpoint.status = Endpoint.Status.DISABLED
            endpoint.disabled_reason = "failing"
            endpoint.save(update_fields=["status", "disabled_reason"])
            notify_disabled = endpoint
        if current.attempts > len(SCHEDULE) or notify_disabled is not None:
            current.status = Message.Status.FAILED
            current.next_attempt_at = None
            outcome: Outcome = "failed"
        else:
            current.status = Message.Status.PENDING
            current.next_attempt_at = now + SCHEDULE[current.attempts - 1]
            transaction.on_commit(
                partial(schedule, current.pk, current.next_attempt_at), robust=True
            )
            outcome = "retry"
        current.save()
        if notify_disabled is not None:
            alerts.disabled_for_failures(notify_disabled)
    return outcome
