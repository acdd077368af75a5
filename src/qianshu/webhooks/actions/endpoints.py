"""State changes of webhook endpoints, by an organisation's administrator.

Each runs in one transaction with its organisation event (never the secret in it). The
secret is returned once, by :func:`do_create_endpoint` and :func:`do_rotate_secret`; a
rotation keeps the previous secret in force for :data:`ROTATION_OVERLAP`, during which
messages carry a signature by each.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.core.meta import RequestMeta
from qianshu.orgs.audit import record_org_event
from qianshu.orgs.models import OrgAction, Organization
from qianshu.webhooks import secrets, targets
from qianshu.webhooks.errors import NoEvents, TooManyEndpoints
from qianshu.webhooks.models import EVENT_TYPES, Endpoint, Message

MAX_ENDPOINTS = 10
ROTATION_OVERLAP = dt.timedelta(hours=24)
MAX_DESCRIPTION = 100


def _clean_events(events: Iterable[str]) -> list[str]:
    chosen = [e for e in EVENT_TYPES if e in set(events)]
    unknown = set(events) - set(EVENT_TYPES)
    if unknown or not chosen:
        raise NoEvents(
            _("未知的事件：%(names)s") % {"names": ", ".join(sorted(unknown))} if unknown else ""
        )
    return chosen


def do_create_endpoint(
    org: Organization,
    *,
    url: str,
    events: Iterable[str],
    description: str = "",
    actor: User,
    meta: RequestMeta,
) -> tuple[Endpoint, str]:
    """A new endpoint of ``org`` and its secret (shown once). The URL must pass the guard of
    :mod:`qianshu.webhooks.targets` (:class:`~qianshu.webhooks.errors.UnsafeTarget`)."""
    checked = targets.resolve(url)
    chosen = _clean_events(events)
    secret = secrets.new_secret()
    with transaction.atomic():
        Organization.objects.select_for_update().get(pk=org.pk)  # serialises the count
        if Endpoint.objects.filter(org=org).count() >= MAX_ENDPOINTS:
            raise TooManyEndpoints(
                _("每个组织最多配置 %(count)d 个接收地址。") % {"count": MAX_ENDPOINTS}
            )
        key = uuid.uuid4()
        endpoint = Endpoint.objects.create(
            uuid=key,
            org=org,
            url=checked.url,
            description=description.strip()[:MAX_DESCRIPTION],
            events=chosen,
            secret_encrypted=secrets.encrypt(secret, endpoint_uuid=key),
            created_by=actor,
        )
        record_org_event(
            org,
            OrgAction.WEBHOOK_CREATED,
            actor=actor,
            meta=meta,
            endpoint=str(endpoint.uuid),
            url=endpoint.url,
            events=chosen,
        )
    return endpoint, secret


def do_update_endpoint(
    endpoint: Endpoint,
    *,
    url: str,
    events: Iterable[str],
    description: str,
    actor: User,
    meta: RequestMeta,
) -> Endpoint:
    """Change where an endpoint points and what it receives (the secret stays)."""
    checked = targets.resolve(url)
    chosen = _clean_events(events)
    with transaction.atomic():
        current = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        current.url = checked.url
        current.events = chosen
        current.description = description.strip()[:MAX_DESCRIPTION]
        current.save(update_fields=["url", "events", "description"])
        record_org_event(
            current.org,
            OrgAction.WEBHOOK_UPDATED,
            actor=actor,
            meta=meta,
            endpoint=str(current.uuid),
            url=current.url,
            events=chosen,
        )
    return current


def do_rotate_secret(endpoint: Endpoint, *, actor: User, meta: RequestMeta) -> str:
    """A new secret (returned once); the old one signs too for the next 24 hours."""
    secret = secrets.new_secret()
    with transaction.atomic():
        current = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        current.previous_secret_encrypted = current.secret_encrypted
        current.previous_secret_until = timezone.now() + ROTATION_OVERLAP
        current.secret_encrypted = secrets.encrypt(secret, endpoint_uuid=current.uuid)
        current.save(
            update_fields=["previous_secret_encrypted", "previous_secret_until", "secret_encrypted"]
        )
        record_org_event(
            current.org,
            OrgAction.WEBHOOK_SECRET_ROTATED,
            actor=actor,
            meta=meta,
            endpoint=str(current.uuid),
        )
    return secret


def do_set_endpoint_enabled(
    endpoint: Endpoint, enabled: bool, *, actor: User, meta: RequestMeta
) -> Endpoint:
    """Stop or resume deliveries to an endpoint. Enabling one the platform disabled clears its
    failure record (its failed messages can then be redelivered)."""
    with transaction.atomic():
        current = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        status = Endpoint.Status.ACTIVE if enabled else Endpoint.Status.DISABLED
        if current.status == status:
            return current
        current.status = status
        current.disabled_reason = "" if enabled else "admin"
        current.failing_since = None
        current.save(update_fields=["status", "disabled_reason", "failing_since"])
        record_org_event(
            current.org,
            OrgAction.WEBHOOK_ENABLED if enabled else OrgAction.WEBHOOK_DISABLED,
            actor=actor,
            meta=meta,
            endpoint=str(current.uuid),
            url=current.url,
        )
    return current


def do_delete_endpoint(endpoint: Endpoint, *, actor: User, meta: RequestMeta) -> None:
    """Delete an endpoint with its messages and their attempts."""
    with transaction.atomic():
        current = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        record_org_event(
            current.org,
            OrgAction.WEBHOOK_DELETED,
            actor=actor,
            meta=meta,
            endpoint=str(current.uuid),
            url=current.url,
            messages=Message.objects.filter(endpoint=current).count(),
        )
        current.delete()
