"""``qianshu check-audit``: check the audit trails (keyed-MAC chains, heads, anchors, reports).

Exit status 0 when everything checked is intact, 1 when anything is broken (for cron), 2 for
a usage error (no such envelope, unreadable file).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from qianshu.envelopes import audit_checks
from qianshu.envelopes.audit_checks import Finding
from qianshu.envelopes.models import Envelope


class Command(BaseCommand):
    help = (
        "Check audit trails: envelope events (against the envelope row, the completion "
        "time-stamp, periodic anchors and the stored evidence report), organisation logs, "
        "security events and the anchors. Without arguments, everything."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("numbers", nargs="*", help="task numbers of envelopes to check")
        parser.add_argument("--envelopes", action="store_true", help="every envelope")
        parser.add_argument("--orgs", action="store_true", help="every organisation log")
        parser.add_argument("--security", action="store_true", help="every user's security events")
        parser.add_argument("--anchors", action="store_true", help="the time-stamped anchors")
        parser.add_argument(
            "--report",
            action="append",
            default=[],
            metavar="FILE.pdf",
            help="an evidence report (签署报告) a party kept: check the database against it",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        kinds = {k: options[k] for k in ("envelopes", "orgs", "security", "anchors")}
        everything = not any(kinds.values()) and not options["numbers"] and not options["report"]
        if everything:
            kinds = dict.fromkeys(kinds, True)
        found: list[Finding] = []
        checked = 0
        for path in options["report"]:
            try:
                data = Path(path).read_bytes()
            except OSError as exc:
                raise CommandError(f"cannot read {path}: {exc.strerror}", returncode=2) from exc
            number, problems = audit_checks.report_file_findings(data, path)
            checked += 1
            found += self._show(problems)
            if not problems:
                self.stdout.write(f"report {path}: matches the audit trail of {number}")
        for envelope in self._envelopes(options["numbers"], kinds["envelopes"]):
            checked += 1
            # A full run checks every anchor's token once below.
            found += self._show(
                audit_checks.envelope_findings(envelope, tokens=not kinds["anchors"])
            )
        if kinds["orgs"] or kinds["security"]:
            for count, problems in audit_checks.chain_findings(
                orgs=kinds["orgs"], security=kinds["security"]
            ):
                checked += count
                found += self._show(problems)
        if kinds["anchors"]:
            interval = dt.timedelta(seconds=settings.QIANSHU_AUDIT_ANCHOR_SECONDS)
            found += self._show(audit_checks.anchor_findings(stale_after=2 * interval))
        broken, warnings = audit_checks.summarise(found)
        if broken:
            raise CommandError(f"{broken} problems in {checked} audit trails", returncode=1)
        suffix = f" ({warnings} warnings)" if warnings else ""
        self.stdout.write(f"{checked} audit trails intact{suffix}")

    def _envelopes(self, numbers: list[str], every: bool) -> Any:
        envelopes = Envelope.objects.select_related("report").order_by("pk")
        if every:
            return envelopes.iterator(chunk_size=500)
        if not numbers:
            return []
        chosen = envelopes.filter(number__in=numbers)
        missing = set(numbers) - set(chosen.values_list("number", flat=True))
        if missing:
            raise CommandError(f"no such envelope: {', '.join(sorted(missing))}", returncode=2)
        return chosen

    def _show(self, findings: list[Finding]) -> list[Finding]:
        for finding in findings:
            prefix = "warning: " if finding.warning else ""
            self.stdout.write(f"{prefix}{finding.subject}: {finding.problem}")
        return findings
