"""Background work of envelopes: completion (B-LTA + evidence report) and the timers."""

from __future__ import annotations

import logging

from django_tasks import task

from qianshu.envelopes import lifecycle

log = logging.getLogger(__name__)


@task(queue_name="signing")
def complete_envelope(envelope_id: int) -> bool:
    """Finish an envelope everyone has signed (idempotent; see lifecycle.do_complete_envelope)."""
    return lifecycle.do_complete_envelope(envelope_id)


def run_timers() -> dict[str, int]:
    """Expire overdue envelopes, send the reminders before deadlines, and retry completions a
    worker did not finish. Safe to run from several machines at once (rows are locked)."""
    expired = lifecycle.expire_due()
    reminded = lifecycle.remind_before_deadline()
    stuck = lifecycle.stuck_completions()
    for envelope_id in stuck:
        try:
            lifecycle.do_complete_envelope(envelope_id)
        except Exception:  # one broken envelope must not stop the others
            log.exception("completing envelope %s failed", envelope_id)
    return {"expired": expired, "reminded": reminded, "completed": len(stuck)}
