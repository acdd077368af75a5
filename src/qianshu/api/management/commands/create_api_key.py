"""``qianshu create-api-key --org <credit code> --name NAME [--scopes …]``: print a new key of
a verified organisation (for set-up scripts; administrators use 开放平台 · API 密钥)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from qianshu.api.actions.keys import do_create_api_key
from qianshu.api.models import Scope
from qianshu.core.errors import UserError
from qianshu.core.meta import COMMAND
from qianshu.orgs.access import org_admins
from qianshu.orgs.models import Organization


class Command(BaseCommand):
    help = "Create an API key for a verified organisation and print it (shown only once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="the organisation's credit code")
        parser.add_argument("--name", required=True, help="what the key is for")
        parser.add_argument(
            "--scopes",
            nargs="+",
            default=list(Scope.values),
            choices=list(Scope.values),
            help="what the key may do (default: everything)",
        )

    def handle(self, *args: Any, org: str, name: str, scopes: list[str], **options: Any) -> None:
        found = Organization.objects.filter(
            credit_code=org.strip().upper(), status=Organization.Status.VERIFIED
        ).first()
        if found is None:
            raise CommandError(f"no verified organisation has the credit code {org!r}")
        admins = org_admins(found)
        if not admins:
            raise CommandError("the organisation has no administrator to own the key")
        try:
            key, plain = do_create_api_key(
                found, name=name, scopes=scopes, actor=admins[0], meta=COMMAND
            )
        except UserError as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(f"API key {key.name!r} of {found.name} ({', '.join(key.scopes)}):")
        self.stdout.write(plain)
