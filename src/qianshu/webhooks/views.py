"""开放平台 · Webhook: an organisation administrator's endpoints, their secrets and deliveries.

Only administrators of a verified organisation reach these pages (others get 404). Adding,
re-pointing, enabling or deleting an endpoint and rotating its secret need a fresh
re-authentication (:mod:`qianshu.orgs.reauth`): whoever controls the URL receives the
organisation's contract events. A new secret is shown once, on the page that answers the
change.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from qianshu.core.errors import UserError, add_message, add_to_form
from qianshu.core.meta import request_meta
from qianshu.core.requests import current_user
from qianshu.orgs.access import ADMIN_ONLY, access_org_by_uuid
from qianshu.orgs.models import Membership, Organization
from qianshu.orgs.reauth import kept_input, needs_reauth, reauth_redirect
from qianshu.webhooks.access import access_endpoint_by_uuid, access_message_by_id
from qianshu.webhooks.actions import endpoints as endpoint_actions
from qianshu.webhooks.actions.messages import do_redeliver_message
from qianshu.webhooks.forms import EVENT_LABELS, EndpointForm
from qianshu.webhooks.models import Endpoint, Message

RECENT = 50
_KEEP = ("url", "description", "events")


def _context(org: Organization, membership: Membership, **extra: Any) -> dict[str, Any]:
    return {"org": org, "membership": membership, "section": "webhooks", **extra}


def _not_verified(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    return render(request, "webhooks/not_verified.html", _context(org, membership), status=403)


def _initial(request: HttpRequest, endpoint: Endpoint | None = None) -> dict[str, Any]:
    kept = kept_input(request, request.path)
    if kept:
        return {**kept, "events": kept.get("events", "").split(",")}
    if endpoint is None:
        return {"events": list(EVENT_LABELS)}
    return {"url": endpoint.url, "description": endpoint.description, "events": endpoint.events}


@login_required
@require_http_methods(["GET", "POST"])
def endpoints_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """The organisation's endpoints, and the form to add one."""
    user = current_user(request)
    org, membership = access_org_by_uuid(user, org_uuid, roles=ADMIN_ONLY)
    if not org.is_verified:
        return _not_verified(request, org, membership)
    form = EndpointForm(request.POST or None, initial=_initial(request))
    secret = ""
    created: Endpoint | None = None
    if request.method == "POST":
        if needs_reauth(request):
            return _reauth(request)
        if form.is_valid():
            try:
                created, secret = endpoint_actions.do_create_endpoint(
                    org,
                    url=form.cleaned_data["url"],
                    events=form.cleaned_data["events"],
                    description=form.cleaned_data["description"],
                    actor=user,
                    meta=request_meta(request),
                )
            except UserError as exc:
                add_to_form(form, exc)
            else:
                form = EndpointForm(initial=_initial(request))
    endpoints = Endpoint.objects.filter(org=org).order_by("-created_at")
    status = 400 if request.method == "POST" and created is None else 200
    return render(
        request,
        "webhooks/list.html",
        _context(
            org,
            membership,
            form=form,
            endpoints=endpoints,
            created=created,
            secret=secret,
            labels=EVENT_LABELS,
        ),
        status=status,
    )


def _reauth(request: HttpRequest) -> HttpResponse:
    # The checked events travel as one comma-separated value through the kept input.
    if "events" in request.POST:
        post = request.POST.copy()
        post["events"] = ",".join(request.POST.getlist("events"))
        request.POST = post  # type: ignore[assignment]
    return reauth_redirect(request, request.path, keep=_KEEP)


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_view(
    request: HttpRequest, org_uuid: uuid.UUID, endpoint_uuid: uuid.UUID
) -> HttpResponse:
    """One endpoint: its settings, its secret's rotation, and its recent deliveries."""
    user = current_user(request)
    org, membership = access_org_by_uuid(user, org_uuid, roles=ADMIN_ONLY)
    if not org.is_verified:
        return _not_verified(request, org, membership)
    endpoint = access_endpoint_by_uuid(org, endpoint_uuid)
    form = EndpointForm(initial=_initial(request, endpoint))
    secret = ""
    status = 200
    if request.method == "POST":
        op = request.POST.get("op", "")
        meta = request_meta(request)
        if op in ("update", "rotate", "enable", "delete") and needs_reauth(request):
            return _reauth(request)
        try:
            if op == "update":
                form = EndpointForm(request.POST)
                if not form.is_valid():
                    status = 400
                else:
                    endpoint = endpoint_actions.do_update_endpoint(
                        endpoint,
                        url=form.cleaned_data["url"],
                        events=form.cleaned_data["events"],
                        description=form.cleaned_data["description"],
                        actor=user,
                        meta=meta,
                    )
                    messages.success(request, _("接收地址已保存。"))
                    return redirect("webhooks:detail", org.uuid, endpoint.uuid)
            elif op == "rotate":
                secret = endpoint_actions.do_rotate_secret(endpoint, actor=user, meta=meta)
            elif op in ("enable", "disable"):
                endpoint_actions.do_set_endpoint_enabled(
                    endpoint, op == "enable", actor=user, meta=meta
                )
                return redirect("webhooks:detail", org.uuid, endpoint.uuid)
            elif op == "delete":
                endpoint_actions.do_delete_endpoint(endpoint, actor=user, meta=meta)
                messages.success(request, _("接收地址已删除。"))
                return redirect("webhooks:list", org.uuid)
            elif op == "redeliver":
                message = access_message_by_id(endpoint, request.POST.get("message", ""))
                do_redeliver_message(message, actor=user, meta=meta)
                messages.success(request, _("消息已重新加入推送队列。"))
                return redirect("webhooks:detail", org.uuid, endpoint.uuid)
            else:
                status = 400
        except UserError as exc:
            if op == "update":
                add_to_form(form, exc)
            else:
                add_message(request, exc)
            status = 400
    recent = (
        Message.objects.filter(endpoint=endpoint)
        .prefetch_related("delivery_attempts")
        .order_by("-created_at", "-id")[:RECENT]
    )
    return render(
        request,
        "webhooks/detail.html",
        _context(
            org,
            membership,
            endpoint=endpoint,
            form=form,
            secret=secret,
            recent=recent,
            labels=EVENT_LABELS,
            list_url=reverse("webhooks:list", args=[org.uuid]),
        ),
        status=status,
    )
