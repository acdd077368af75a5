"""``qianshu renew-archives``: renew the long-term validity of completed documents when due.

The envelope timers run the same renewal; this command runs it now, or shows what is due.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from qianshu.core.meta import COMMAND
from qianshu.envelopes.actions.archives import RenewalImpossible, do_renew_due_archives
from qianshu.envelopes.models import Document
from qianshu.pki.platform import PkiNotInitialised


class Command(BaseCommand):
    help = (
        "Add fresh validation data and a new document time-stamp to completed documents whose "
        "newest time-stamp's TSA certificate expires within the window (QIANSHU_ARCHIVE_RENEW_"
        "DAYS) or relies on a weakening algorithm (QIANSHU_ARCHIVE_WEAK_ALGORITHMS)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--within",
            type=int,
            metavar="DAYS",
            help="renewal window in days (default QIANSHU_ARCHIVE_RENEW_DAYS)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="list what is due, change no document"
        )
        parser.add_argument("--limit", type=int, default=1000, help="documents per run")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["within"] is not None and options["within"] < 0:
            raise CommandError("--within takes a number of days, 0 or more")
        try:
            summary = do_renew_due_archives(
                within_days=options["within"],
                dry_run=options["dry_run"],
                limit=max(options["limit"], 1),
                meta=COMMAND,
            )
        except (RenewalImpossible, PkiNotInitialised) as exc:
            raise CommandError(str(exc)) from None
        names = dict(
            Document.objects.filter(pk__in=summary.due)
            .select_related("envelope")
            .values_list("pk", "envelope__number")
        )
        for document_id in summary.due:
            state = (
                "renewed"
                if document_id in summary.renewed
                else "FAILED"
                if document_id in summary.failed
                else "due"
            )
            self.stdout.write(f"{state:8} document {document_id} of {names.get(document_id, '')}")
        self.stdout.write(
            f"{len(summary.due)} due, {len(summary.renewed)} renewed, "
            f"{len(summary.failed)} failed ({summary.inspected} newly read)"
        )
        if summary.failed:
            raise CommandError("some renewals failed: see the log")
