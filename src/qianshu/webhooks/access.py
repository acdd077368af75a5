"""Permission-checked fetches of webhook endpoints and messages. Missing and forbidden both
raise Http404."""

from __future__ import annotations

import uuid

from django.http import Http404

from qianshu.orgs.models import Organization
from qianshu.webhooks.models import Endpoint, Message


def access_endpoint_by_uuid(org: Organization, endpoint_uuid: object) -> Endpoint:
    """An endpoint of ``org`` (which the caller accessed with the administrator's role)."""
    try:
        key = uuid.UUID(str(endpoint_uuid))
    except ValueError:
        raise Http404 from None
    endpoint = Endpoint.objects.filter(org=org, uuid=key).first()
    if endpoint is None:
        raise Http404
    return endpoint


def access_message_by_id(endpoint: Endpoint, msg_id: str) -> Message:
    """A message of ``endpoint`` by its ``webhook-id``."""
    message = Message.objects.filter(endpoint=endpoint, msg_id=str(msg_id)[:40]).first()
    if message is None:
        raise Http404
    return message
