"""证书: the person's certificate (details, status, downloads as .cer and .pem)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from qianshu.core.downloads import content_disposition
from qianshu.core.requests import current_user
from qianshu.identity import access
from qianshu.identity.models import SigningCredential

_ATTRIBUTE_NAMES = {NameOID.SERIAL_NUMBER: "serialNumber"}


@dataclass(frozen=True)
class CertificateInfo:
    """What the certificate page shows about one certificate."""

    serial_hex: str
    serial_display: str
    subject_name: str
    subject: str
    issuer: str
    not_before: dt.datetime
    not_after: dt.datetime
    status: str
    status_label: str
    fingerprint: str


def _name_value(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def certificate_info(credential: SigningCredential) -> CertificateInfo:
    issued = credential.certificate
    cert = x509.load_der_x509_certificate(bytes(issued.certificate_der))
    now = timezone.now()
    if issued.revoked_at is not None:
        status, label = "revoked", _("已吊销")
    elif cert.not_valid_after_utc <= now:
        status, label = "expired", _("已过期")
    else:
        status, label = "valid", _("有效")
    serial = format(cert.serial_number, "X")
    serial = serial.rjust(len(serial) + len(serial) % 2, "0")
    return CertificateInfo(
        serial_hex=issued.serial_hex,
        serial_display=" ".join(serial[i : i + 2] for i in range(0, len(serial), 2)),
        subject_name=_name_value(cert.subject, NameOID.COMMON_NAME),
        subject=cert.subject.rfc4514_string(_ATTRIBUTE_NAMES),
        issuer=_name_value(cert.issuer, NameOID.COMMON_NAME) or cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        status=status,
        status_label=str(label),
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(":").upper(),
    )


@login_required
def certificate_view(request: HttpRequest) -> HttpResponse:
    """The current certificate and the ones it replaced."""
    user = current_user(request)
    credentials = list(SigningCredential.objects.select_related("certificate").filter(user=user))
    current = next((c for c in credentials if c.replaced_at is None), None)
    return render(
        request,
        "identity/certificate.html",
        {
            "centre": "certificate",
            "nav": "identity",
            "identity": access.verified_identity(user),
            "current": certificate_info(current) if current else None,
            "history": [certificate_info(c) for c in credentials if c.replaced_at is not None],
        },
    )


@login_required
@never_cache
def certificate_download_view(request: HttpRequest, serial: str, fmt: str) -> HttpResponse:
    """One of the user's own certificates as DER (.cer) or PEM (.pem)."""
    credential = access.access_credential_by_serial(current_user(request), serial)
    cert = x509.load_der_x509_certificate(bytes(credential.certificate.certificate_der))
    if fmt == "cer":
        body, content_type = cert.public_bytes(Encoding.DER), "application/pkix-cert"
    elif fmt == "pem":
        body, content_type = cert.public_bytes(Encoding.PEM), "application/x-pem-file"
    else:
        raise Http404("unknown format")
    response = HttpResponse(body, content_type=content_type)
    name = f"qianshu-{credential.certificate.serial_hex}.{fmt}"
    response["Content-Disposition"] = content_disposition(name)
    return response
