"""``qianshu deliver-outbox``: send every due outbox message (cron, or after a worker died)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from qianshu.notifications.tasks import SWEEP_LIMIT, deliver_due


class Command(BaseCommand):
    help = "Send every due pending SMS and e-mail in the outbox (run it from cron every minute)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--limit",
            type=int,
            default=SWEEP_LIMIT,
            help=f"most messages to try in this run (default {SWEEP_LIMIT})",
        )

    def handle(self, *args: Any, limit: int, **options: Any) -> None:
        outcomes = deliver_due(limit=limit)
        summary = ", ".join(f"{name} {count}" for name, count in sorted(outcomes.items()))
        self.stdout.write(f"outbox: {summary or 'nothing due'}")
