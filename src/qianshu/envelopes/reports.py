"""The evidence report (签署报告) of a completed envelope: built from the database, rendered by
the signing core, certified and time-stamped by the platform (PAdES B-LTA).

The report prints the audit chain's head, its event count and the time of the completion
time-stamp, and embeds ``qianshu-audit.json`` (:func:`audit_attachment`): the envelope, count,
head and the anchor with its time-stamp token, so that whoever keeps the report can later have
the platform's audit trail checked against it (``qianshu check-audit --report FILE.pdf``).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, override

from qianshu.accounts.phones import mask_phone
from qianshu.core import anchors
from qianshu.core.models import AuditAnchor
from qianshu.envelopes import audit
from qianshu.envelopes.models import AuditEvent, Envelope, Recipient
from qianshu.envelopes.routing import initiator_label
from qianshu.identity.models import PersonIdentity
from qianshu.pki.platform import load_platform
from qianshu.signing import documents, reports
from qianshu.signing.signers import to_asn1
from qianshu.storage.actions import do_store_blob
from qianshu.storage.models import Blob

REPORT_LANGUAGE = "zh-hans"
AUDIT_ATTACHMENT = "qianshu-audit.json"
AUDIT_FORMAT = "qianshu-audit-report/1"


def _time(value: object) -> str:
    if value is None:
        return ""
    return date_format(timezone.localtime(value), "Y-m-d H:i:s")  # type: ignore[arg-type]


def _verify_url(envelope: Envelope) -> str:
    """The envelope's public check page (is a file one of its completed documents?)."""
    path = reverse("envelopes:check", args=[envelope.uuid])
    return settings.PUBLIC_URL.rstrip("/") + path


# Attribute names for the distinguished names the platform's certificates carry, instead of
# dotted OIDs (2.5.4.5, 2.5.4.97) that mean nothing to a reader.
_ATTRIBUTE_NAMES = {
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.ORGANIZATION_IDENTIFIER: "organizationIdentifier",
}


def _names(der: bytes | memoryview) -> tuple[str, str]:
    """The certificate's subject and issuer, as a reader can read them."""
    certificate = x509.load_der_x509_certificate(bytes(der))
    return (
        certificate.subject.rfc4514_string(_ATTRIBUTE_NAMES),
        certificate.issuer.rfc4514_string(_ATTRIBUTE_NAMES),
    )


def _party(recipient: Recipient) -> reports.ReportParty:
    identity = ""
    acted_by = ""
    if recipient.role == Recipient.Role.SEAL:
        if recipient.org_id is not None:
            identity = recipient.org.identifier  # type: ignore[union-attr]
        if recipient.acted_by_id is not None:
            acted_by = audit.person_label(recipient.acted_by)
        name = recipient.org.name if recipient.org_id else recipient.name  # type: ignore[union-attr]
    else:
        person = (
            PersonIdentity.objects.filter(user_id=recipient.user_id).first()
            if recipient.user_id
            else None
        )
        identity = person.number_masked if person else ""
        name = person.name if person else recipient.name
    certificate = recipient.certificate
    subject, issuer = _names(certificate.certificate_der) if certificate else ("", "")
    cc = recipient.role == Recipient.Role.CC
    return reports.ReportParty(
        # A CC has no place in the order: it gets the signed files once everyone has signed.
        order=0 if cc else recipient.routing_order,
        role=str(recipient.get_role_display()),
        name=name,
        identity=identity,
        contact=mask_phone(recipient.phone) if recipient.phone else recipient.email,
        status=gettext("已抄送") if cc else str(recipient.get_status_display()),
        acted_at=_time(recipient.done_at),
        acted_by=acted_by,
        seal_name=recipient.seal.name if recipient.seal_id else "",  # type: ignore[union-attr]
        certificate_subject=subject,
        certificate_serial=certificate.serial_hex if certificate else "",
        certificate_issuer=issuer,
        certificate_validity=(
            f"{_time(certificate.not_before)} 至 {_time(certificate.not_after)}"
            if certificate
            else ""
        ),
    )


def _event(event: AuditEvent) -> reports.ReportEvent:
    return reports.ReportEvent(
        time=_time(event.created_at),
        actor=event.actor_name or gettext("平台"),
        action=audit.event_label(event),
        ip=event.ip or "",
        detail=" · ".join(audit.event_details(event)),
        sha256_before=event.sha256_before,
        sha256_after=event.sha256_after,
    )


def audit_attachment(envelope: Envelope, anchor: AuditAnchor) -> bytes:
    """The machine-readable copy of the chain's head and its completion time-stamp."""
    entries = anchors.entries_of(anchor)
    content = {
        "format": AUDIT_FORMAT,
        "envelope": str(envelope.uuid),
        "number": envelope.number,
        "chain": audit.chain_id(envelope),
        "count": envelope.audit_count,
        "head": envelope.audit_head,
        "mac": "HMAC-SHA256",
        "anchor": {
            "format": anchors.FORMAT,
            "prev": anchor.prev_digest,
            "entries": sorted([list(e) for e in entries]),
            "digest": anchor.digest,
            "time": anchor.token_time.astimezone(dt.UTC).isoformat(),
            "token": base64.b64encode(bytes(anchor.token)).decode(),
        },
    }
    return json.dumps(content, ensure_ascii=False, indent=1).encode()


def parse_audit_attachment(data: bytes) -> dict[str, Any]:
    """The content of ``qianshu-audit.json``, its shape checked (what a check reads is there
    with its type). Raises ValueError."""
    content = json.loads(data)
    anchor = content.get("anchor") if isinstance(content, dict) else None
    if not isinstance(anchor, dict) or content.get("format") != AUDIT_FORMAT:
        raise ValueError("not a Qianshu audit attachment")
    fields = {"envelope": str, "number": str, "chain": str, "count": int, "head": str}
    anchor_fields = {"prev": str, "digest": str, "token": str, "entries": list}
    for holder, expected in ((content, fields), (anchor, anchor_fields)):
        for name, kind in expected.items():
            if not isinstance(holder.get(name), kind) or isinstance(holder.get(name), bool):
                raise ValueError(f"{name} missing or malformed")
    for entry in anchor["entries"]:
        shape = isinstance(entry, list) and len(entry) == 3
        if not shape or not isinstance(entry[1], int) or not isinstance(entry[2], str):
            raise ValueError("anchor entries malformed")
    return content


def evidence_report(
    envelope: Envelope, anchor: AuditAnchor | None = None
) -> reports.EvidenceReport:
    """The report's content (labels in Chinese, times in Beijing time)."""
    with override(REPORT_LANGUAGE):
        docs = []
        for document in envelope.documents.select_related("current"):
            fields = documents.signature_fields(document.current.read())
            docs.append(
                reports.ReportDocument(
                    name=document.name,
                    pages=document.page_count,
                    original_sha256=document.original_id,
                    final_sha256=document.current_id,
                    signatures=sum(1 for filled in fields.values() if filled),
                )
            )
        recipients = envelope.recipients.select_related("org", "seal", "certificate", "acted_by")
        return reports.EvidenceReport(
            title=envelope.title,
            number=envelope.number,
            initiator=initiator_label(envelope),
            status=str(envelope.get_status_display()),
            created_at=_time(envelope.sent_at or envelope.created_at),
            completed_at=_time(envelope.completed_at),
            generated_at=_time(timezone.now()),
            platform_name=settings.QIANSHU_PKI_NAME,
            verify_url=_verify_url(envelope),
            audit_head=envelope.audit_head,
            audit_count=envelope.audit_count,
            audit_timestamp=_time(anchor.token_time) if anchor else "",
            attachments=(
                (
                    reports.ReportAttachment(
                        AUDIT_ATTACHMENT,
                        audit_attachment(envelope, anchor),
                        description="Qianshu audit chain head and time-stamp token",
                    ),
                )
                if anchor
                else ()
            ),
            documents=tuple(docs),
            parties=tuple(_party(r) for r in recipients),
            events=tuple(_event(e) for e in envelope.events.order_by("seq")),
        )


def build_signed_report(envelope: Envelope, anchor: AuditAnchor | None = None) -> Blob:
    """Render the report, certify it with the platform key and finish it as B-LTA; store it.
    ``anchor``: the completion time-stamp over the audit chain (printed and embedded)."""
    platform = load_platform()
    pdf = reports.render_evidence_report(evidence_report(envelope, anchor))
    signed = documents.prepare_document(
        pdf,
        [],
        certifier=platform.certifier,
        timestamper=platform.timestamper,
        details=documents.SignatureDetails(
            reason=f"签署报告 {envelope.number}", location="Qianshu"
        ),
    )
    final = documents.finish_document(
        signed,
        timestamper=platform.timestamper,
        revocation=platform.revocation,
        trust_roots=[to_asn1(platform.pki.root.certificate)],
        locker=platform.certifier,
    )
    return do_store_blob(final, content_type="application/pdf")
