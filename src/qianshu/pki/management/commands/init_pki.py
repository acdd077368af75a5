from django.core.management.base import BaseCommand, CommandError

from qianshu.pki.actions import PkiAlreadyInitialised, do_init_pki
from qianshu.pki.platform import is_initialised, load_platform


class Command(BaseCommand):
    help = "Create the platform PKI (root CA, issuing CA, TSA, OCSP responder) if absent."

    def add_arguments(self, parser):
        parser.add_argument("--name", help="organisation name in the CA certificates")
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace an existing PKI (development only: earlier signatures become untrusted)",
        )
        parser.add_argument(
            "--if-absent", action="store_true", help="do nothing (exit 0) when a PKI exists"
        )

    def handle(self, *args, **options):
        if options["if_absent"] and is_initialised():
            self.stdout.write("Platform PKI already initialised.")
            return
        try:
            do_init_pki(name=options["name"], force=options["force"])
        except PkiAlreadyInitialised:
            raise CommandError(
                "The platform PKI already exists. Use --if-absent to skip, or --force to replace "
                "it (every certificate issued so far becomes untrusted)."
            ) from None
        root = load_platform().pki.root.certificate
        self.stdout.write(
            self.style.SUCCESS(f"Platform PKI created: {root.subject.rfc4514_string()}")
        )
