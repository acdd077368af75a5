"""``qianshu pki``: the offline root's ceremonies and the state of the platform PKI.

qianshu pki status
qianshu pki root-sign --root-key FILE [--crl] [--issuing-ca] [--crl-days N] [--years N]
qianshu pki export-root-key --out FILE        # older deployments: take the root key offline
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography import x509
from django.core.management.base import BaseCommand, CommandError, CommandParser

from qianshu.pki import rootkeys
from qianshu.pki.actions import do_export_root_key, do_root_sign
from qianshu.pki.models import PlatformKey, RootRevocationList
from qianshu.pki.platform import PkiNotInitialised, root_key_online
from qianshu.signing import revocation
from qianshu.signing.errors import PkiError
from qianshu.signing.keys import SoftwareSigningKey


class Command(BaseCommand):
    help = "The platform PKI: status, the offline root's signing ceremony, root key export."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("status", help="certificates, root CRL and where the root key is")
        sign = actions.add_parser(
            "root-sign", help="sign with the offline root key: a root CRL, the issuing CA"
        )
        source = sign.add_mutually_exclusive_group(required=True)
        source.add_argument("--root-key", metavar="FILE", help='root key PEM ("-": stdin)')
        source.add_argument("--root-key-env", metavar="NAME", help="variable holding the PEM")
        rootkeys.add_passphrase_argument(sign)
        sign.add_argument("--crl", action="store_true", help="a fresh root CRL (the default)")
        sign.add_argument(
            "--issuing-ca",
            action="store_true",
            help="a new certificate for the issuing CA's key (when it nears its end)",
        )
        sign.add_argument(
            "--crl-days",
            type=int,
            default=revocation.ROOT_CRL_LIFETIME.days,
            help="days until the root CRL's next update (default 365)",
        )
        sign.add_argument("--years", type=int, default=10, help="issuing CA validity in years")
        export = actions.add_parser(
            "export-root-key", help="move a root key still in the database to a file"
        )
        export.add_argument("--out", required=True, metavar="FILE", help="new file (mode 600)")
        rootkeys.add_passphrase_argument(export)

    def handle(self, *args: Any, **options: Any) -> None:
        if not PlatformKey.objects.exists():
            raise CommandError(str(PkiNotInitialised("run `qianshu init-pki` first")))
        action = options["action"]
        if action == "status":
            self._status()
        elif action == "root-sign":
            key = rootkeys.read_key(options)
            try:
                done = do_root_sign(
                    key,
                    crl=options["crl"] or not options["issuing_ca"],
                    issuing_ca=options["issuing_ca"],
                    crl_days=options["crl_days"],
                    years=options["years"],
                )
            except PkiError as exc:
                raise CommandError(str(exc)) from None
            for line in done:
                self.stdout.write(self.style.SUCCESS(f"Signed: {line}"))
        else:
            self._export(Path(options["out"]), rootkeys.passphrase(options))

    def _export(self, path: Path, secret: bytes | None) -> None:
        if path.exists():
            raise CommandError(f"{path} exists: the root key is never written over a file")

        def keep(key: SoftwareSigningKey) -> None:
            rootkeys.write_key_file(path, key, secret)

        try:
            do_export_root_key(keep)
        except PkiError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"The root key is in {path} and no longer in the database: move it offline."
            )
        )

    def _status(self) -> None:
        for row in PlatformKey.objects.order_by("role"):
            cert = x509.load_der_x509_certificate(bytes(row.certificate_der))
            self.stdout.write(
                f"{row.role:9} {cert.subject.rfc4514_string()}  "
                f"valid until {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
            )
        newest = RootRevocationList.objects.order_by("-crl_number").first()
        if newest is None:
            self.stdout.write("root CRL  none signed yet: run `qianshu pki root-sign --crl`")
        else:
            self.stdout.write(
                f"root CRL  #{newest.crl_number}, next update {newest.next_update:%Y-%m-%d} UTC"
            )
        where = (
            "IN THE DATABASE (run `qianshu pki export-root-key`)"
            if root_key_online()
            else ("offline (not held by the platform)")
        )
        self.stdout.write(f"root key  {where}")
