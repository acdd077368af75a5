"""``qianshu check-audit [NUMBER …]``: verify the hash chain of envelope audit trails."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from qianshu.envelopes.audit import check_chain
from qianshu.envelopes.models import Envelope


class Command(BaseCommand):
    help = "Check the hash-chained audit trail of envelopes; report the first broken link."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("numbers", nargs="*", help="task numbers (default: every envelope)")

    def handle(self, *args: Any, **options: Any) -> None:
        envelopes = Envelope.objects.order_by("pk")
        if options["numbers"]:
            envelopes = envelopes.filter(number__in=options["numbers"])
            missing = set(options["numbers"]) - set(envelopes.values_list("number", flat=True))
            if missing:
                raise CommandError(f"no such envelope: {', '.join(sorted(missing))}")
        broken = 0
        checked = 0
        for envelope in envelopes.iterator(chunk_size=500):
            checked += 1
            problem = check_chain(envelope)
            if problem is not None:
                broken += 1
                self.stdout.write(
                    f"{envelope.number}: broken at event {problem.seq}: {problem.reason}"
                )
        if broken:
            raise CommandError(f"{broken} of {checked} audit trails are broken")
        self.stdout.write(f"{checked} audit trails intact")
