"""``python manage.py register_webhook``: register this system's webhook endpoint on Qianshu
(or check the one registered), as the 接入设置 page's button does."""

from __future__ import annotations

from typing import Any

import httpx
from django.core.management.base import BaseCommand, CommandError
from qianshu_client import ApiError

from mis import esign


class Command(BaseCommand):
    help = "Register (or check) the webhook endpoint of this system on Qianshu."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            subscription = esign.ensure_webhook()
        except (ApiError, httpx.HTTPError) as exc:
            raise CommandError(f"Qianshu refused or is unreachable: {exc}") from exc
        self.stdout.write(f"webhook endpoint {subscription.endpoint_id}: {subscription.url}")
