"""Background work of envelopes: completion (B-LTA + evidence report) and the timers (which also
renew archives and the PKI's service certificates)."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django_tasks import task

from qianshu.core import taskqueue
from qianshu.core.meta import TASK
from qianshu.envelopes import audit, queries, signals
from qianshu.envelopes.actions import archives, lifecycle
from qianshu.envelopes.models import Envelope
from qianshu.orgs.actions.licences import do_purge_pending_licences
from qianshu.pki.actions import do_renew_service_certificates
from qianshu.pki.platform import is_initialised

log = logging.getLogger(__name__)


@task(queue_name="signing")
def complete_envelope(envelope_id: int) -> bool:
    """Finish an envelope everyone has signed (idempotent; see
    :func:`qianshu.envelopes.actions.lifecycle.do_complete_envelope`)."""
    return lifecycle.do_complete_envelope(envelope_id, meta=TASK)


def schedule_completion(*, envelope: Envelope, **kwargs: object) -> None:
    """Receiver of ``signals.all_signed``: complete the envelope once its transaction commits."""
    envelope_id = envelope.pk
    transaction.on_commit(lambda: complete_envelope.enqueue(envelope_id))


def run_timers() -> dict[str, int]:
    """Queue again the jobs of task workers that died, expire overdue envelopes, send the
    reminders before deadlines, retry completions a worker did not finish, time-stamp the audit
    chains' heads when an anchor is due, keep the PKI's service certificates current and renew
    due archives. Safe to run from several machines at
    once (rows are locked). Also deletes licences kept from abandoned 创建组织 forms."""
    jobs = taskqueue.requeue_abandoned_jobs()
    expired = lifecycle.do_expire_overdue_envelopes(meta=TASK)
    reminded = lifecycle.do_remind_before_deadline(meta=TASK)
    stuck = queries.stuck_completions()
    for envelope_id in stuck:
        try:
            lifecycle.do_complete_envelope(envelope_id, meta=TASK)
        except Exception:  # one broken envelope must not stop the others
            log.exception("completing envelope %s failed", envelope_id)
    anchored = 0
    try:
        if is_initialised():  # the anchors' time-stamps come from the platform TSA
            interval = dt.timedelta(seconds=settings.QIANSHU_AUDIT_ANCHOR_SECONDS)
            anchored = audit.anchor_all(due_after=interval) or 0
    except Exception:  # the other timers must keep running; the next round retries
        log.exception("anchoring the audit chains failed")
    others: dict[str, int] = {}
    for receiver, result in signals.timer_tick.send_robust(sender=None, meta=TASK):
        if isinstance(result, Exception):  # the other timers must keep running
            log.error("timer %r failed: %r", receiver, result, exc_info=result)
        elif isinstance(result, dict):
            others.update(result)
    return {
        **others,
        "expired": expired,
        "reminded": reminded,
        "completed": len(stuck),
        "anchored": anchored,
        "renewed": _maintain_archives(),
        "licences_purged": do_purge_pending_licences(meta=TASK),
        "jobs_requeued": jobs.requeued,
        "jobs_failed": jobs.failed,
    }


def _maintain_archives() -> int:
    """Service certificates and archive renewal: one indexed query when nothing is due, so it
    runs with every timer tick (at least daily is what renewal needs)."""
    try:
        if not is_initialised():
            return 0
        do_renew_service_certificates()
        return len(archives.do_renew_due_archives(meta=TASK).renewed)
    except archives.RenewalImpossible as exc:
        log.error("archive renewal: %s", exc)
    except Exception:  # the other timers must keep running
        log.exception("archive maintenance failed")
    return 0
