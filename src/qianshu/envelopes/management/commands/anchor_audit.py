"""``qianshu anchor-audit``: time-stamp the heads of every audit chain that moved.

The envelope timers do this hourly (``QIANSHU_AUDIT_ANCHOR_SECONDS``); run it by hand or from
cron when they do not run. ``--if-due`` anchors only when the last anchor is older than that.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from qianshu.envelopes import audit


class Command(BaseCommand):
    help = "Time-stamp the heads of the envelope, organisation and security audit chains."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-due",
            action="store_true",
            help="only when the last anchor is older than the interval",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        due = (
            dt.timedelta(seconds=settings.QIANSHU_AUDIT_ANCHOR_SECONDS)
            if options["if_due"]
            else None
        )
        anchored = audit.anchor_all(due_after=due)
        if anchored is None:
            self.stdout.write("not due")
        else:
            self.stdout.write(f"anchored {anchored} audit chains")
