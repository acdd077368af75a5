"""``qianshu envelope-timers``: jobs of dead task workers queued again (``qianshu.core.taskqueue``),
expiry, reminders before deadlines, retried completions, the hourly time-stamp of the audit
chains' heads (``QIANSHU_AUDIT_ANCHOR_SECONDS``), archive renewal and the PKI's service
certificates (OCSP responder, TSA).

Run it every minute from cron (or once with ``--loop``, as ``make run`` does).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from qianshu.envelopes.tasks import run_timers


class Command(BaseCommand):
    help = (
        "Queue again the jobs of task workers that died, expire overdue envelopes, send "
        "deadline reminders, retry unfinished completions, "
        "time-stamp the audit chains' heads when due, renew due archives and the PKI's service "
        "certificates."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="repeat until interrupted")
        parser.add_argument("--interval", type=int, default=60, help="seconds between runs")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            result = run_timers()
            if options["verbosity"] > 1 or any(result.values()):
                self.stdout.write(
                    "expired {expired}, reminded {reminded}, completed {completed}, "
                    "anchored {anchored}, archives renewed {renewed}, "
                    "jobs queued again {jobs_requeued}, jobs failed {jobs_failed}".format(**result)
                )
            if not options["loop"]:
                return
            time.sleep(max(options["interval"], 1))
