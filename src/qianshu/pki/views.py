"""Public PKI endpoints named by our certificates: CA certificates, CRLs, OCSP, and the TSA."""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives.serialization import Encoding
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from qianshu.core.downloads import content_disposition
from qianshu.pki.platform import PkiNotInitialised, Platform, load_platform, lookup_issued
from qianshu.signing import pki, revocation

MAX_REQUEST_BYTES = 16 * 1024


def _platform() -> Platform:
    try:
        return load_platform()
    except PkiNotInitialised:
        raise Http404("PKI not initialised") from None


def _ca(platform: Platform, ca_id: str) -> pki.CertifiedKey:
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
    return HttpResponse(platform.revocation.crl_for(ca_id), content_type="application/pkix-crl")


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
