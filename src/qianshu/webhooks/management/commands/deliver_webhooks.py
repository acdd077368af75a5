"""``qianshu deliver-webhooks``: deliver every due webhook message (cron, or after a worker
died; retries are otherwise enqueued for their time by the task backend)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from qianshu.webhooks.delivery import SWEEP_LIMIT, deliver_due


class Command(BaseCommand):
    help = "Deliver every due webhook message (run it from cron every minute)."

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
        self.stdout.write(f"webhooks: {summary or 'nothing due'}")
