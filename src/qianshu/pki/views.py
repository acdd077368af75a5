"""Public PKI endpoints named by our certificates: CA certificates, CRLs, OCSP, the TSA and the
certification practice statement (CPS) that every certificate's policy points to."""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from qianshu.core.downloads import content_disposition
from qianshu.pki.platform import (
    PkiNotInitialised,
    Platform,
    load_platform,
    lookup_issued,
    urls,
)
from qianshu.signing import pki, revocation
from qianshu.signing.timestamps import TSA_POLICY_OID

MAX_REQUEST_BYTES = 16 * 1024


def _platform() -> Platform:
    try:
        return load_platform()
    except PkiNotInitialised:
        raise Http404("PKI not initialised") from None


def _ca(platform: Platform, ca_id: str) -> pki.CertifiedKey | pki.RootCertificate:
    if ca_id == pki.ROOT_ID:
        return platform.pki.root
    if ca_id == pki.ISSUING_ID:
        return platform.pki.issuing
    raise Http404("no such CA")


@cache_control(public=True, max_age=86400)
def ca_certificate(request: HttpRequest, ca_id: str) -> HttpResponse:
    cert = _ca(_platform(), ca_id).certificate
    response = HttpResponse(cert.public_bytes(Encoding.DER), content_type="application/pkix-cert")
    response["Content-Disposition"] = content_disposition(f"{ca_id}.crt")
    return response


@cache_control(public=True, max_age=300)
def crl(request: HttpRequest, ca_id: str) -> HttpResponse:
    platform = _platform()
    _ca(platform, ca_id)
    der = platform.revocation.crl_for(ca_id)
    if der is None:  # no root CRL signed yet (see `qianshu pki status`)
        raise Http404("no CRL")
    return HttpResponse(der, content_type="application/pkix-crl")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def ocsp(request: HttpRequest, ca_id: str, encoded: str = "") -> HttpResponse:
    """RFC 6960 responder: POST the DER request, or GET with it base64-encoded in the path."""
    platform = _platform()
    if ca_id != pki.ISSUING_ID:
        raise Http404("no OCSP responder for this CA")
    if request.method == "POST":
        body = request.body
    else:
        try:
            body = base64.b64decode(encoded.replace("-", "+").replace("_", "/"), validate=False)
        except (binascii.Error, ValueError):
            body = b""
    if len(body) > MAX_REQUEST_BYTES:
        return HttpResponseBadRequest("request too large")
    answer = revocation.answer_ocsp_request(
        body, platform.pki.issuing.certificate, platform.pki.ocsp, lookup_issued
    )
    return HttpResponse(answer, content_type="application/ocsp-response")


@csrf_exempt
@require_http_methods(["POST"])
def timestamp(request: HttpRequest) -> HttpResponse:
    """RFC 3161 time-stamp protocol over HTTP."""
    if request.content_type != "application/timestamp-query":
        return HttpResponseBadRequest("Content-Type must be application/timestamp-query")
    if len(request.body) > MAX_REQUEST_BYTES:
        return HttpResponseBadRequest("request too large")
    answer = _platform().tsa.respond(request.body)
    return HttpResponse(answer, content_type="application/timestamp-reply")


@cache_control(public=True, max_age=3600)
def cps(request: HttpRequest) -> HttpResponse:
    """认证业务规则 (CPS), in Chinese or English (``?lang=en``, or the page language)."""
    lang = request.GET.get("lang") or translation.get_language() or "zh-hans"
    english = lang.lower().startswith("en")
    where = urls()
    context = {
        "pki_name": settings.QIANSHU_PKI_NAME,
        "urls": {
            "ca_root": where.ca_certificate(pki.ROOT_ID),
            "ca_issuing": where.ca_certificate(pki.ISSUING_ID),
            "crl_root": where.crl(pki.ROOT_ID),
            "crl_issuing": where.crl(pki.ISSUING_ID),
            "ocsp_issuing": where.ocsp(pki.ISSUING_ID),
            "tsa": f"{settings.PUBLIC_URL.rstrip('/')}/pki/tsa",
            "cps": where.cps(),
        },
        "policies": {
            "person": pki.POLICY_PERSON,
            "event": pki.POLICY_EVENT,
            "seal": pki.POLICY_SEAL,
            "service": pki.POLICY_SERVICE,
            "tsa": TSA_POLICY_OID,
        },
        "renew_days": settings.QIANSHU_ARCHIVE_RENEW_DAYS,
    }
    with translation.override("en" if english else "zh-hans"):
        return render(request, "pki/cps_en.html" if english else "pki/cps_zh.html", context)
