"""``/webhooks``: the key's organisation's endpoints, through the same actions as the
开放平台 pages (the key's creator is the actor in the organisation's log)."""

from __future__ import annotations

import json

from django.http import HttpRequest
from ninja import Router, Status

from qianshu.api.auth import api_meta, caller
from qianshu.api.errors import NotFound, uuid_or_404
from qianshu.api.models import ApiKey, Scope
from qianshu.api.schemas import (
    AttemptOut,
    MessageOut,
    Problem,
    SecretOut,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
)
from qianshu.webhooks.actions import endpoints as actions
from qianshu.webhooks.actions.messages import do_redeliver_message
from qianshu.webhooks.models import Endpoint, Message

router = Router(tags=["webhooks"])
RECENT = 100


def _out(endpoint: Endpoint) -> WebhookOut:
    return WebhookOut(
        id=str(endpoint.uuid),
        url=endpoint.url,
        events=list(endpoint.events),
        description=endpoint.description,
        status=endpoint.status,
        created_at=endpoint.created_at,
        failing_since=endpoint.failing_since,
    )


def _endpoint(key: ApiKey, endpoint_id: str) -> Endpoint:
    endpoint = Endpoint.objects.filter(org=key.org, uuid=uuid_or_404(endpoint_id)).first()
    if endpoint is None:
        raise NotFound()
    return endpoint


@router.get("/webhooks", response=list[WebhookOut], summary="List webhook endpoints")
def list_webhooks(request: HttpRequest) -> list[WebhookOut]:
    key = caller(request, Scope.WEBHOOKS)
    return [_out(e) for e in Endpoint.objects.filter(org=key.org).order_by("-created_at")]


@router.post(
    "/webhooks",
    response={201: WebhookCreated, 400: Problem, 409: Problem},
    summary="Add a webhook endpoint (its secret is in this answer only)",
)
def create_webhook(request: HttpRequest, body: WebhookIn) -> Status[WebhookCreated]:
    key = caller(request, Scope.WEBHOOKS)
    endpoint, secret = actions.do_create_endpoint(
        key.org,
        url=body.url,
        events=body.events,
        description=body.description,
        actor=key.created_by,
        meta=api_meta(request),
    )
    return Status(201, WebhookCreated(**_out(endpoint).dict(), secret=secret))


@router.get("/webhooks/{endpoint_id}", response={200: WebhookOut, 404: Problem})
def get_webhook(request: HttpRequest, endpoint_id: str) -> WebhookOut:
    key = caller(request, Scope.WEBHOOKS)
    return _out(_endpoint(key, endpoint_id))


@router.patch("/webhooks/{endpoint_id}", response={200: WebhookOut, 400: Problem, 404: Problem})
def update_webhook(request: HttpRequest, endpoint_id: str, body: WebhookIn) -> WebhookOut:
    key = caller(request, Scope.WEBHOOKS)
    endpoint = actions.do_update_endpoint(
        _endpoint(key, endpoint_id),
        url=body.url,
        events=body.events,
        description=body.description,
        actor=key.created_by,
        meta=api_meta(request),
    )
    return _out(endpoint)


@router.delete("/webhooks/{endpoint_id}", response={204: None, 404: Problem})
def delete_webhook(request: HttpRequest, endpoint_id: str) -> Status[None]:
    key = caller(request, Scope.WEBHOOKS)
    actions.do_delete_endpoint(
        _endpoint(key, endpoint_id), actor=key.created_by, meta=api_meta(request)
    )
    return Status(204, None)


@router.post(
    "/webhooks/{endpoint_id}/rotate-secret",
    response={200: SecretOut, 404: Problem},
    summary="A new secret; the previous one keeps signing for 24 hours",
)
def rotate_secret(request: HttpRequest, endpoint_id: str) -> SecretOut:
    key = caller(request, Scope.WEBHOOKS)
    secret = actions.do_rotate_secret(
        _endpoint(key, endpoint_id), actor=key.created_by, meta=api_meta(request)
    )
    return SecretOut(secret=secret)


@router.post("/webhooks/{endpoint_id}/enable", response={200: WebhookOut, 404: Problem})
def enable_webhook(request: HttpRequest, endpoint_id: str) -> WebhookOut:
    key = caller(request, Scope.WEBHOOKS)
    endpoint = actions.do_set_endpoint_enabled(
        _endpoint(key, endpoint_id), True, actor=key.created_by, meta=api_meta(request)
    )
    return _out(endpoint)


@router.post("/webhooks/{endpoint_id}/disable", response={200: WebhookOut, 404: Problem})
def disable_webhook(request: HttpRequest, endpoint_id: str) -> WebhookOut:
    key = caller(request, Scope.WEBHOOKS)
    endpoint = actions.do_set_endpoint_enabled(
        _endpoint(key, endpoint_id), False, actor=key.created_by, meta=api_meta(request)
    )
    return _out(endpoint)


def _message_out(message: Message) -> MessageOut:
    return MessageOut(
        id=message.msg_id,
        event_type=message.event_type,
        status=message.status,
        attempts=[
            AttemptOut(
                number=a.number,
                started_at=a.started_at,
                status_code=a.status_code,
                error=a.error,
                ok=a.ok,
            )
            for a in message.delivery_attempts.all()
        ],
        created_at=message.created_at,
        delivered_at=message.delivered_at,
        payload=json.loads(message.body),
    )


@router.get(
    "/webhooks/{endpoint_id}/messages",
    response={200: list[MessageOut], 404: Problem},
    summary="The endpoint's latest messages with every delivery attempt",
)
def list_messages(request: HttpRequest, endpoint_id: str) -> list[MessageOut]:
    key = caller(request, Scope.WEBHOOKS)
    messages = (
        Message.objects.filter(endpoint=_endpoint(key, endpoint_id))
        .prefetch_related("delivery_attempts")
        .order_by("-created_at", "-id")[:RECENT]
    )
    return [_message_out(m) for m in messages]


@router.post(
    "/webhooks/{endpoint_id}/messages/{message_id}/redeliver",
    response={200: MessageOut, 404: Problem, 409: Problem},
    summary="Send a message again now (same id and body)",
)
def redeliver(request: HttpRequest, endpoint_id: str, message_id: str) -> MessageOut:
    key = caller(request, Scope.WEBHOOKS)
    endpoint = _endpoint(key, endpoint_id)
    message = Message.objects.filter(endpoint=endpoint, msg_id=message_id[:40]).first()
    if message is None:
        raise NotFound()
    do_redeliver_message(message, actor=key.created_by, meta=api_meta(request))
    message.refresh_from_db()
    return _message_out(message)
