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
import threading
import time
from collections import Counter, OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from django_tasks import task

from qianshu.core.errors import UserError
from qianshu.core.outbox import enqueue_at
from qianshu.webhooks import alerts, secrets, targets
from qianshu.webhooks.models import Attempt, Endpoint, Message, MessageQuerySet

if TYPE_CHECKING:
    import httpx

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
BATCH = 50  # messages claimed in one transaction by the sweep
SEND_THREADS = 8  # POSTs in flight at once in a sweep
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
    backends that cannot defer, messages of workers that died, and a backlog.

    Messages are claimed :data:`BATCH` at a time in one transaction (rows another worker holds
    are skipped, so several sweeps share a backlog), POSTed by :data:`SEND_THREADS` threads at
    once, and the successes of a batch recorded in one transaction (a failure as
    :func:`deliver` records it). Every attempt has its row, as one by one."""
    outcomes: Counter[str] = Counter()
    with ThreadPoolExecutor(SEND_THREADS, thread_name_prefix="webhooks") as pool:
        while (done := outcomes.total()) < limit:
            claims, skipped = _claim_batch(min(BATCH, limit - done))
            if skipped:
                outcomes["skipped"] += skipped
            if not claims:
                if skipped:
                    continue
                break
            sent = list(pool.map(_send, claims))
            outcomes.update(_record_successes([s for s in sent if not s.error]))
            for failed in (s for s in sent if s.error):
                outcomes[_finish(failed.message, failed.attempt, **failed.result())] += 1
    return outcomes


def deliver(message_id: int) -> Outcome:
    """Claim, POST and record one message; never raises for a failed delivery."""
    claims, _skipped = _claim_rows(Message.objects.filter(pk=message_id).order_by(), 1)
    if not claims:
        return "skipped"
    sent = _send(claims[0])
    return _finish(sent.message, sent.attempt, **sent.result())


@dataclass(frozen=True)
class _Claim:
    message: Message
    attempt: Attempt
    signers: list[str]


@dataclass(frozen=True)
class _Sent:
    message: Message
    attempt: Attempt
    status_code: int | None
    excerpt: str
    error: str

    def result(self) -> dict[str, Any]:
        return {"status_code": self.status_code, "excerpt": self.excerpt, "error": self.error}


def _send(claim: _Claim) -> _Sent:
    """POST one claimed message (no database access: runs in the sending threads)."""
    from httpx import HTTPError

    status_code: int | None = None
    excerpt = ""
    try:
        status_code, excerpt = _post(claim.message, claim.signers)
        error = "" if 200 <= status_code < 300 else f"HTTP {status_code}"
    except UserError as exc:  # the URL no longer passes the guard
        error = exc.message
    except HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - whatever broke is recorded and retried
        error = f"{type(exc).__name__}: {exc}"
    return _Sent(claim.message, claim.attempt, status_code, excerpt, error)


def _claim_batch(count: int) -> tuple[list[_Claim], int]:
    return _claim_rows(Message.objects.order_by("next_attempt_at", "pk"), count)


def _claim_rows(messages: MessageQuerySet, count: int) -> tuple[list[_Claim], int]:
    """Claim up to ``count`` due messages of ``messages`` (``sending``, a lease, a new attempt
    row each); those of a disabled endpoint are failed instead and only counted."""
    now = timezone.now()
    with transaction.atomic():
        # Only the messages' rows: locking the joined endpoint too made a worker skip every
        # message of an endpoint another worker was claiming or recording a failure for.
        rows = list(
            messages.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .due(now)[:count]
        )
        disabled = [m.pk for m in rows if m.endpoint.status != Endpoint.Status.ACTIVE]
        if disabled:
            Message.objects.filter(pk__in=disabled).update(
                status=Message.Status.FAILED,
                next_attempt_at=None,
                last_error="the endpoint is disabled",
            )
        active = [m for m in rows if m.endpoint.status == Endpoint.Status.ACTIVE]
        if not active:
            return [], len(disabled)
        lease = now + SENDING_LEASE
        Message.objects.filter(pk__in=[m.pk for m in active]).update(
            status=Message.Status.SENDING, attempts=F("attempts") + 1, next_attempt_at=lease
        )
        last = dict(
            Attempt.objects.filter(message__in=active)
            .values("message")
            .annotate(last=Max("number"))
            .values_list("message", "last")
        )
        attempts = Attempt.objects.bulk_create(
            Attempt(message=m, number=last.get(m.pk, 0) + 1, started_at=now) for m in active
        )
        signers: dict[int, list[str]] = {}
        claims = []
        for message, attempt in zip(active, attempts, strict=True):
            message.status = Message.Status.SENDING
            message.attempts += 1
            message.next_attempt_at = lease
            endpoint = message.endpoint
            if endpoint.pk not in signers:
                signers[endpoint.pk] = _signers(endpoint, now)
            claims.append(_Claim(message, attempt, signers[endpoint.pk]))
    return claims, len(disabled)


def _signers(endpoint: Endpoint, now: datetime) -> list[str]:
    signers = [secrets.decrypt(endpoint.secret_encrypted, endpoint_uuid=endpoint.uuid)]
    if endpoint.previous_secret_encrypted and (
        endpoint.previous_secret_until and endpoint.previous_secret_until > now
    ):
        signers.append(
            secrets.decrypt(endpoint.previous_secret_encrypted, endpoint_uuid=endpoint.uuid)
        )
    return signers


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
    response = _client(target).post(
        url,
        content=message.body.encode(),
        headers=headers,
        extensions=extensions,
        timeout=float(settings.QIANSHU_WEBHOOK_TIMEOUT),
    )
    return response.status_code, response.text[:_EXCERPT]


_CLIENTS: OrderedDict[tuple[str, str, int, str], httpx.Client] = OrderedDict()
_CLIENTS_PID = 0
_CLIENTS_LOCK = threading.Lock()
MAX_CLIENTS = 64


def _client(target: targets.Target) -> httpx.Client:
    """An HTTP client per checked target (scheme, host name, port and address), kept by the
    process: its TLS context is reused (building a client loads the CA bundle, ~50 ms) and so
    are its connections. A connection is only ever reused for the same host name at the same
    checked address, so a message can never travel over a connection made for another name
    (another certificate) or to an address the guard did not just approve. Redirects are not
    followed, and ``trust_env=False``: no proxy from the environment may route around the
    checked address."""
    global _CLIENTS_PID
    key = (target.scheme, target.host, target.port, target.address)
    with _CLIENTS_LOCK:
        if _CLIENTS_PID != os.getpid():  # a forked worker makes its own
            _CLIENTS.clear()
            _CLIENTS_PID = os.getpid()
        client = _CLIENTS.get(key)
        if client is not None:
            _CLIENTS.move_to_end(key)
            return client
        import httpx  # imported by the first delivery, not at the web process's start-up

        client = _CLIENTS[key] = httpx.Client(
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=SEND_THREADS, keepalive_expiry=30),
        )
        if len(_CLIENTS) > MAX_CLIENTS:
            _key, oldest = _CLIENTS.popitem(last=False)
            oldest.close()
    return client


def _record_successes(sent: list[_Sent]) -> Counter[str]:
    """Record delivered messages of a batch in one transaction (a message another worker
    delivered meanwhile, after its lease ran out, is "stale")."""
    if not sent:
        return Counter()
    now = timezone.now()
    with transaction.atomic():
        for item in sent:
            attempt = item.attempt
            attempt.finished_at = now
            attempt.ok = True
            attempt.status_code = item.status_code
            attempt.response = item.excerpt
            attempt.error = ""
        Attempt.objects.bulk_update(
            [item.attempt for item in sent],
            ["finished_at", "ok", "status_code", "response", "error"],
        )
        ids = [item.message.pk for item in sent]
        status = dict(
            Message.objects.select_for_update().filter(pk__in=ids).values_list("pk", "status")
        )
        fresh = [pk for pk in ids if status.get(pk) != Message.Status.DELIVERED]
        Message.objects.filter(pk__in=fresh).update(
            status=Message.Status.DELIVERED, delivered_at=now, next_attempt_at=None, last_error=""
        )
        # Only an endpoint that was failing has anything to clear (no lock otherwise).
        Endpoint.objects.filter(
            pk__in={item.message.endpoint_id for item in sent}, failing_since__isnull=False
        ).update(failing_since=None)
    outcomes = Counter(delivered=len(fresh), stale=len(ids) - len(fresh))
    return +outcomes  # without the zeros


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
        if ok:
            # Only an endpoint that was failing has anything to clear (no lock otherwise).
            Endpoint.objects.filter(pk=message.endpoint_id, failing_since__isnull=False).update(
                failing_since=None
            )
            # One statement: delivered unless another worker (that took the message over when
            # its lease ran out) recorded it delivered first.
            fresh = (
                Message.objects.filter(pk=message.pk)
                .exclude(status=Message.Status.DELIVERED)
                .update(
                    status=Message.Status.DELIVERED,
                    delivered_at=now,
                    next_attempt_at=None,
                    last_error="",
                )
            )
            return "delivered" if fresh else "stale"
        current = Message.objects.select_for_update().get(pk=message.pk)
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
