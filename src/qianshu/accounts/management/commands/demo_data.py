"""Demo accounts for a local start (``make run``): an operator and three people."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from qianshu.accounts.models import User

OPERATOR_PHONE = "13900000000"
OPERATOR_PASSWORD = "qianshu-demo"  # noqa: S105 - development only: the command refuses to run without DEBUG
PEOPLE = {"13800000001": "alice", "13800000002": "bob", "13800000003": "charlie"}


class Command(BaseCommand):
    help = "Create demo accounts (development only) and print how to log in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-absent", action="store_true", help="do nothing if the demo accounts exist"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo data is for development only (QIANSHU_DEBUG=1)")
        exists = User.objects.filter(phone=OPERATOR_PHONE).exists()
        if not exists:
            with transaction.atomic():
                User.objects.create_superuser(
                    OPERATOR_PHONE, OPERATOR_PASSWORD, display_name="运营管理员"
                )
                for phone, name in PEOPLE.items():
                    User.objects.get_or_create(phone=phone, defaults={"display_name": name})
        elif not options["if_absent"]:
            self.stdout.write("demo accounts already exist")
        url = settings.PUBLIC_URL
        self.stdout.write(
            "\nDemo accounts:\n"
            f"  operator (back office, /admin/): phone {OPERATOR_PHONE}, "
            f"password {OPERATOR_PASSWORD} at {url}/login/password/\n"
            f"  alice / bob / charlie: phones {', '.join(PEOPLE)} — log in with an SMS code at "
            f"{url}/login/; the code appears on {url}/dev/outbox/\n"
        )
