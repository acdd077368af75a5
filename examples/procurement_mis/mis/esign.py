"""Everything this system does with Qianshu, through the Python client (``qianshu_client``).

* :func:`ensure_webhook` registers ``<MIS_PUBLIC_URL>/webhooks/qianshu/`` on Qianshu for the
  envelope events and keeps its signing secret (the secret is shown only when an endpoint is
  created; for an endpoint that exists already the secret is rotated to learn a new one).
* :func:`push_contract` sends an approved contract for signing: upload the PDF, create a
  draft envelope with four recipients in the fixed order of seed 001 — the supplier's
  representative signs, the supplier seals, the buyer's representative signs, the tendering
  office (采招办, the API key's own organisation) seals with its 合同专用章 — each field placed
  by the words of the signature block; store it here, then send it (so that every webhook
  finds its contract). The envelope's ``Idempotency-Key`` names the contract: pushing again
  after a lost answer never makes a second envelope.
* :func:`apply_event` moves a contract and its steps on an event whose signature checked out;
  on ``envelope.completed`` it downloads the signed PDF (合同盖章终稿) and the evidence report
  (签署报告).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import httpx
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from qianshu_client import ApiError, Qianshu
from qianshu_client.client import Org

from mis import sample
from mis.models import Contract, Step, WebhookEvent, WebhookSubscription

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/qianshu/"
EVENTS = [
    "envelope.sent",
    "recipient.viewed",
    "recipient.signed",
    "recipient.rejected",
    "recipient.returned",
    "envelope.completed",
    "envelope.recalled",
    "envelope.expired",
    "envelope.voided",
]
DESCRIPTION = "采购管理系统"

# The steps of seed 001, in order: (role, label, anchor of the field, field type).
STEPS = [
    ("signer", "乙方履约代表签字", sample.SUPPLIER_SIGN, "signature"),
    ("seal", "乙方（供应商）盖章", sample.SUPPLIER_SEAL, "seal"),
    ("signer", "甲方履约代表签字", sample.BUYER_SIGN, "signature"),
    ("seal", "采招办加盖合同专用章", sample.BUYER_SEAL, "seal"),
]
# A small gap between the anchor words and the field (points). Fields never cover the words:
# Qianshu's verifier flags a signature appearance that hides page content.
GAP = 4.0
# Events that end a contract, and what it becomes.
ENDINGS = {
    "envelope.completed": Contract.Status.COMPLETED,
    "envelope.recalled": Contract.Status.RECALLED,
    "envelope.expired": Contract.Status.EXPIRED,
    "envelope.voided": Contract.Status.VOIDED,
}
# A step only moves forward (messages may arrive out of order); a return starts it again.
RANK = {
    Step.Status.WAITING: 0,
    Step.Status.VIEWED: 1,
    Step.Status.DONE: 2,
    Step.Status.REJECTED: 2,
}


def client() -> Qianshu:
    return Qianshu(settings.QIANSHU_URL, settings.QIANSHU_API_KEY, timeout=60)


# --- the webhook endpoint --------------------------------------------------------------------


def ensure_webhook() -> WebhookSubscription:
    """This system's endpoint on Qianshu, active, for :data:`EVENTS`, with a secret we know."""
    url = settings.PUBLIC_URL + WEBHOOK_PATH
    current = WebhookSubscription.objects.first()
    with client() as qs:
        if current is not None and current.url == url:
            try:
                hook = qs.get_webhook(current.endpoint_id)
            except ApiError as exc:
                if exc.status != 404:
                    raise
            else:
                if sorted(hook["events"]) != sorted(EVENTS):
                    qs.update_webhook(hook["id"], url, EVENTS, DESCRIPTION)
                if hook["status"] != "active":
                    qs.enable_webhook(hook["id"])
                return current
        if current is not None and current.url != url:
            _forget_endpoint(qs, current.endpoint_id)  # this system moved (MIS_PUBLIC_URL)
        existing = next((h for h in qs.list_webhooks() if h["url"] == url), None)
        if existing is None:
            created = qs.create_webhook(url, EVENTS, DESCRIPTION)
            endpoint_id, secret = created["id"], created["secret"]
        else:  # registered before, but its secret is not known here
            endpoint_id = existing["id"]
            qs.update_webhook(endpoint_id, url, EVENTS, DESCRIPTION)
            if existing["status"] != "active":
                qs.enable_webhook(endpoint_id)
            secret = qs.rotate_webhook_secret(endpoint_id)
    WebhookSubscription.objects.all().delete()
    subscription = WebhookSubscription.objects.create(
        endpoint_id=endpoint_id, url=url, secret=secret
    )
    log.info("webhook endpoint %s registered for %s", endpoint_id, url)
    return subscription


def _forget_endpoint(qs: Qianshu, endpoint_id: str) -> None:
    try:
        qs.delete_webhook(endpoint_id)
    except ApiError as exc:
        if exc.status != 404:
            raise


# --- pushing a contract ------------------------------------------------------------------------


def _recipients(contract: Contract, upload_id: str, buyer: Org) -> list[dict[str, Any]]:
    supplier = {"name": contract.supplier_name, "credit_code": contract.supplier_credit_code}
    buyer_org = {"name": buyer["name"], "credit_code": buyer["credit_code"]}
    people = [
        (contract.supplier_rep_name, contract.supplier_rep_phone, None),
        (contract.supplier_rep_name, contract.supplier_rep_phone, supplier),
        (contract.buyer_rep_name, contract.buyer_rep_phone, None),
        (settings.SEAL_CONTACT_NAME, settings.SEAL_CONTACT_PHONE, buyer_org),
    ]
    recipients = []
    for order, ((role, _label, anchor, kind), (name, phone, org)) in enumerate(
        zip(STEPS, people, strict=True), start=1
    ):
        field = {"type": kind, "document": upload_id, "anchor": anchor, "offset_x": GAP}
        recipient: dict[str, Any] = {
            "role": role,
            "order": order,
            "name": name,
            "phone": phone,
            "fields": [field],
        }
        if org is not None:
            recipient["org"] = org
        if org is buyer_org:
            recipient["seal_kind"] = "contract"  # 采招办 seals with its 合同专用章 (指定印章类型)
        recipients.append(recipient)
    return recipients


def push_contract(contract: Contract) -> None:
    """Send ``contract`` for signing; on failure it is 推送失败 with the reason, to push again
    (what was done already — the upload, the draft envelope — is not done twice)."""
    try:
        with client() as qs:
            if not contract.envelope_id:
                _create_envelope(qs, contract)
            _send_envelope(qs, contract)
    except (ApiError, httpx.HTTPError, sample.NoFont, OSError) as exc:
        log.warning("contract %s was not pushed: %s", contract.number, exc)
        contract.status = Contract.Status.PUSH_FAILED
        contract.push_error = exc.detail if isinstance(exc, ApiError) else str(exc)
        contract.save(update_fields=["status", "push_error"])
        return
    # Conditional: a webhook may have moved the contract on already.
    Contract.objects.filter(
        pk=contract.pk, status__in=[Contract.Status.DRAFT, Contract.Status.PUSH_FAILED]
    ).update(status=Contract.Status.SIGNING, push_error="", approved_at=timezone.now())
    log.info("contract %s pushed as envelope %s", contract.number, contract.envelope_number)


def _create_envelope(qs: Qianshu, contract: Contract) -> None:
    """The uploaded PDF in a draft envelope, its id and the steps stored before it is sent:
    the webhooks that follow the sending always find their contract."""
    buyer = qs.org()
    if not contract.document:
        pdf = sample.make_contract_pdf(contract, buyer["name"])
        contract.document.save(f"{contract.number}.pdf", ContentFile(pdf), save=True)
    if not contract.upload_id:
        with contract.document.open("rb") as file:
            upload = qs.upload_document(file.read(), f"{contract.title}.pdf")
        contract.upload_id = upload["id"]
        contract.save(update_fields=["upload_id"])
    envelope = qs.create_envelope(
        contract.title,
        [contract.upload_id],
        _recipients(contract, contract.upload_id, buyer),
        message=f"采购合同 {contract.number}，请按顺序签署。",
        send=False,
        idempotency_key=f"mis-contract-{contract.key}",
    )
    with transaction.atomic():
        contract.envelope_id = envelope["id"]
        contract.envelope_number = envelope["number"]
        contract.save(update_fields=["envelope_id", "envelope_number"])
        by_order = {r["order"]: r for r in envelope["recipients"]}
        for order, (_role, label, _anchor, _kind) in enumerate(STEPS, start=1):
            recipient = by_order[order]
            Step.objects.update_or_create(
                contract=contract,
                order=order,
                defaults={
                    "label": label,
                    "party": recipient["name"],
                    "recipient_id": recipient["id"],
                },
            )


def _send_envelope(qs: Qianshu, contract: Contract) -> None:
    try:
        qs.send_envelope(contract.envelope_id)
    except ApiError:
        # Sent by an earlier push whose answer was lost: nothing left to do.
        if qs.envelope(contract.envelope_id)["status"] == "draft":
            raise


# --- events --------------------------------------------------------------------------------------


def _when(payload: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return datetime.now(UTC)


def _move_step(contract: Contract, event_type: str, data: dict[str, Any], when: datetime) -> None:
    recipient = data.get("recipient") or {}
    step = contract.steps.filter(recipient_id=recipient.get("id")).first()
    if step is None:
        return
    new = {
        "recipient.viewed": Step.Status.VIEWED,
        "recipient.signed": Step.Status.DONE,
        "recipient.rejected": Step.Status.REJECTED,
        "recipient.returned": Step.Status.RETURNED,
    }[event_type]
    if new == Step.Status.RETURNED:
        step.status, step.done_at = new, None
    elif RANK[new] >= RANK.get(Step.Status(step.status), 0):
        step.status = new
    if new == Step.Status.VIEWED and step.viewed_at is None:
        step.viewed_at = when
    if new == Step.Status.DONE:
        step.done_at = when
    step.save()


def _download_final_files(contract: Contract) -> None:
    """合同盖章终稿 and 签署报告 (raises ApiError/httpx errors: the event is retried)."""
    with client() as qs:
        envelope = qs.envelope(contract.envelope_id)
        document = envelope["documents"][0]
        signed = qs.download_document(contract.envelope_id, document["id"])
        report = qs.download_report(contract.envelope_id)
    contract.signed_pdf.save(f"{contract.number}-signed.pdf", ContentFile(signed), save=False)
    contract.report_pdf.save(f"{contract.number}-report.pdf", ContentFile(report), save=False)
    contract.completed_at = _when({"timestamp": envelope["completed_at"] or ""})


def apply_event(event: WebhookEvent) -> None:
    """Move the event's contract (none: an envelope not pushed from here, kept and ignored)."""
    payload = json.loads(event.body)
    data = payload.get("data", {})
    envelope_id = (data.get("envelope") or {}).get("id", "")
    contract = Contract.objects.filter(envelope_id=envelope_id).first() if envelope_id else None
    if contract is not None:
        when = _when(payload)
        if event.event_type.startswith("recipient."):
            _move_step(contract, event.event_type, data, when)
        if event.event_type == "recipient.rejected":
            contract.status = Contract.Status.REJECTED
        elif event.event_type in ENDINGS:
            if event.event_type == "envelope.completed" and not contract.signed_pdf:
                _download_final_files(contract)
            contract.status = ENDINGS[event.event_type]
        contract.save()
    event.contract = contract
    event.applied_at = timezone.now()
    event.save(update_fields=["contract", "applied_at"])
