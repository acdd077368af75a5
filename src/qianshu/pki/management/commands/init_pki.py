"""``qianshu init-pki``: create the platform hierarchy; the root key goes to a file, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from qianshu.pki import rootkeys
from qianshu.pki.actions import PkiAlreadyInitialised, do_init_pki
from qianshu.pki.platform import is_initialised, load_platform
from qianshu.signing.keys import SoftwareSigningKey


class Command(BaseCommand):
    help = (
        "Create the platform PKI (root CA, issuing CA, TSA, OCSP responder) if absent. The root "
        "key is written to --root-key-out and never stored by the platform: take it offline."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", help="organisation name in the CA certificates")
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace an existing PKI (development only: earlier signatures become untrusted)",
        )
        parser.add_argument(
            "--if-absent", action="store_true", help="do nothing (exit 0) when a PKI exists"
        )
        parser.add_argument(
            "--root-key-out",
            metavar="FILE",
            help="new file for the root key (PEM, mode 600); in development mode defaults to "
            "var/pki/root-ca-key-<time>.pem",
        )
        rootkeys.add_passphrase_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_absent"] and is_initialised():
            self.stdout.write("Platform PKI already initialised.")
            return
        out = options["root_key_out"] or rootkeys.default_key_path()
        if out is None:
            raise CommandError(
                "Give --root-key-out FILE: the root key is written there once and the platform "
                "never keeps it (store it offline)."
            )
        path = Path(out)
        if path.exists():
            raise CommandError(f"{path} exists: the root key is never written over a file")
        secret = rootkeys.passphrase(options)

        def keep(key: SoftwareSigningKey) -> None:
            rootkeys.write_key_file(path, key, secret)

        try:
            do_init_pki(name=options["name"], force=options["force"], keep_root_key=keep)
        except PkiAlreadyInitialised:
            raise CommandError(
                "The platform PKI already exists. Use --if-absent to skip, or --force to replace "
                "it (every certificate issued so far becomes untrusted)."
            ) from None
        root = load_platform().pki.root.certificate
        self.stdout.write(
            self.style.SUCCESS(f"Platform PKI created: {root.subject.rfc4514_string()}")
        )
        self.stdout.write(
            f"The root CA key is in {path}: move it offline (a vault, an encrypted USB key). "
            "`qianshu pki root-sign` needs it once a year for the root CRL."
        )
