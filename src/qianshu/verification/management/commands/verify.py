import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from qianshu.signing.verify import verify_pdf_limited
from qianshu.verification.cli import EXIT_CODES, render
from qianshu.verification.trust import verifier_trust


class Command(BaseCommand):
    help = (
        "Verify the signatures of a PDF (ours or any other). Exit status: 0 valid, 1 invalid, "
        "2 cannot be validated. `qianshu verify` runs the same check without starting Django."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the PDF to verify ('-' reads standard input)")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument(
            "--trust", metavar="PEM", help="also trust the root certificates in this PEM bundle"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["file"]
        try:
            data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {name}: {exc.strerror}") from None
        report = verify_pdf_limited(data, verifier_trust(options["trust"]))
        self.stdout.write(render(report, as_json=options["json"]))
        if EXIT_CODES[report.verdict]:
            sys.exit(EXIT_CODES[report.verdict])
