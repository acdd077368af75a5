"""Pages of the procurement system, and the endpoint Qianshu's webhooks arrive at."""

from __future__ import annotations

import json
import logging

import httpx
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from qianshu_client import ApiError, WebhookVerificationError, verify_webhook

from mis import esign
from mis.forms import ContractForm
from mis.models import Contract, WebhookEvent, WebhookSubscription

log = logging.getLogger(__name__)

FILES = {"document": "合同文本", "signed": "合同盖章终稿", "report": "签署报告"}


def contract_list(request: HttpRequest) -> HttpResponse:
    contracts = Contract.objects.prefetch_related("steps")
    return render(request, "mis/contract_list.html", {"contracts": contracts})


def contract_new(request: HttpRequest) -> HttpResponse:
    form = ContractForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        contract = form.save()
        return redirect(contract)
    return render(request, "mis/contract_new.html", {"form": form})


def contract_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contract = get_object_or_404(Contract, pk=pk)
    context = {
        "contract": contract,
        "steps": contract.steps.all(),
        "events": contract.events.all(),
        "subscribed": WebhookSubscription.objects.exists(),
    }
    return render(request, "mis/contract_detail.html", context)


@require_POST
def contract_approve(request: HttpRequest, pk: int) -> HttpResponse:
    """审批通过: the contract goes to Qianshu for signing (again, after a failed push)."""
    contract = get_object_or_404(Contract, pk=pk)
    if contract.can_push():
        esign.push_contract(contract)
    return redirect(contract)


def contract_file(request: HttpRequest, pk: int, kind: str) -> FileResponse:
    contract = get_object_or_404(Contract, pk=pk)
    file = {
        "document": contract.document,
        "signed": contract.signed_pdf,
        "report": contract.report_pdf,
    }.get(kind)
    if not file:
        raise Http404
    name = f"{contract.number}-{FILES[kind]}.pdf"
    return FileResponse(file.open("rb"), as_attachment=True, filename=name)


def integration(request: HttpRequest) -> HttpResponse:
    """接入设置: which Qianshu, which organisation, the webhook endpoint (registered here)."""
    error = ""
    if request.method == "POST":
        try:
            esign.ensure_webhook()
        except (ApiError, httpx.HTTPError) as exc:
            error = str(exc)
        else:
            return redirect("integration")
    org = None
    try:
        with esign.client() as qs:
            org = qs.org()
    except (ApiError, httpx.HTTPError) as exc:
        error = error or str(exc)
    context = {
        "org": org,
        "error": error,
        "subscription": WebhookSubscription.objects.first(),
        "webhook_url": settings.PUBLIC_URL + esign.WEBHOOK_PATH,
        "qianshu_url": settings.QIANSHU_URL,
    }
    return render(request, "mis/integration.html", context)


@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    """A message from Qianshu: 400 unless its signature checks out with our endpoint's
    secret; a message seen before is acknowledged again; otherwise it is stored and applied.
    A 503 (e.g. the final files could not be downloaded) makes Qianshu send it again later."""
    subscription = WebhookSubscription.objects.first()
    if subscription is None:
        log.warning("webhook refused: no endpoint is registered (run register_webhook)")
        return HttpResponse("no endpoint registered", status=400)
    try:
        payload = verify_webhook(subscription.secret, request.headers, request.body)
    except (WebhookVerificationError, ValueError) as exc:
        log.warning(
            "webhook refused from %s: invalid signature (%s), webhook-id %r",
            request.META.get("REMOTE_ADDR"),
            exc,
            request.headers.get("webhook-id", ""),
        )
        return HttpResponse("invalid signature", status=400)
    message_id = request.headers["webhook-id"]
    try:
        with transaction.atomic():
            event, _created = WebhookEvent.objects.get_or_create(
                message_id=message_id,
                defaults={
                    "event_type": str(payload.get("type", "")),
                    "body": request.body.decode(),
                    "signature": request.headers.get("webhook-signature", ""),
                    "timestamp": int(request.headers["webhook-timestamp"]),
                },
            )
    except IntegrityError:  # the same message, arriving twice at once
        return HttpResponse("duplicate", status=409)
    if event.applied_at is not None:
        return HttpResponse("duplicate")
    try:
        esign.apply_event(event)
    except (ApiError, httpx.HTTPError, OSError) as exc:
        log.warning("webhook %s (%s) not applied yet: %s", message_id, event.event_type, exc)
        return HttpResponse("try again later", status=503)
    log.info("webhook %s %s", message_id, event.event_type)
    return HttpResponse(json.dumps({"ok": True}), content_type="application/json")
