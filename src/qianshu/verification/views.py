"""文档验证: anyone uploads a PDF and reads, per signature, whether it holds.

The file is read into memory, checked in the limited child process
(:func:`qianshu.signing.verify.verify_pdf_limited`, the same fast path as ``qianshu verify``)
and dropped: nothing of it is stored but a rate-limit counter per client address. The
downloadable report is the JSON of ``qianshu verify --json`` with the file name and the
time of the check; the page hands it to the browser signed by the server (``report``), so the
download link cannot be made to serve a report the platform did not produce.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from qianshu.accounts import throttles
from qianshu.core.meta import request_meta
from qianshu.signing.verify import verify_pdf_limited
from qianshu.verification.plain import plain_report
from qianshu.verification.trust import verifier_trust

REPORT_SALT = "qianshu.verification.report"
REPORT_MAX_AGE = 24 * 3600
_PDF_MAGIC = b"%PDF-"


def _page(request: HttpRequest, status: int = 200, **context: Any) -> HttpResponse:
    context.setdefault("max_mb", settings.QIANSHU_VERIFY_MAX_BYTES // (1024 * 1024))
    return render(request, "verification/verify.html", {"nav": "verify", **context}, status=status)


def checked_upload(
    request: HttpRequest, page: Callable[..., HttpResponse]
) -> tuple[bytes, str] | HttpResponse:
    """The uploaded PDF and its name, or the page answering why not (no file, too large, too
    many uploads from this address, not a PDF). Shared by the envelope check page."""
    upload = request.FILES.get("file")
    if upload is None:
        return page(request, 400, error=_("请选择要验证的 PDF 文件。"))
    limit = settings.QIANSHU_VERIFY_MAX_BYTES
    if upload.size is None or upload.size > limit:
        message = _("文件过大：文档验证最多接受 %(mb)d MB 的文件。") % {
            "mb": limit // (1024 * 1024)
        }
        return page(request, 413, error=message)
    ip = request_meta(request).ip or "unknown"
    allowed = throttles.hit(f"verify:ip:{ip}", limit=settings.QIANSHU_VERIFY_PER_HOUR, window=3600)
    if not allowed:
        minutes = max(1, (allowed.retry_after + 59) // 60)
        response = page(
            request,
            429,
            error=_("验证次数过多，请 %(minutes)d 分钟后再试。") % {"minutes": minutes},
        )
        response["Retry-After"] = str(allowed.retry_after)
        return response
    data = upload.read()
    if _PDF_MAGIC not in data[:1024]:
        return page(request, 400, error=_("这不是 PDF 文件，请上传签署后的 PDF 文档。"))
    return data, str(upload.name or "document.pdf")[:200]


def result_context(data: bytes, name: str) -> dict[str, Any]:
    """Verify ``data`` (limited child process) and give the result page's context: the plain
    report, the technical reason and the signed token of the downloadable report."""
    report = verify_pdf_limited(data, verifier_trust())
    payload = {
        "file_name": name,
        "verified_at": timezone.now().isoformat(timespec="seconds"),
        **report.to_dict(),
    }
    token = signing.dumps(payload, salt=REPORT_SALT, compress=True)
    return {
        "plain": plain_report(report),
        "file_name": name,
        "reason": report.reason,
        "token": token,
    }


@require_http_methods(["GET", "POST"])
def verify_view(request: HttpRequest) -> HttpResponse:
    """The upload form, and the result for an uploaded file."""
    if request.method == "GET":
        return _page(request)
    checked = checked_upload(request, _page)
    if isinstance(checked, HttpResponse):
        return checked
    return _page(request, **result_context(*checked))


@require_POST
def report_download(request: HttpRequest) -> HttpResponse:
    """The signed report of an earlier check, as a JSON file."""
    try:
        payload = signing.loads(
            request.POST.get("report", ""), salt=REPORT_SALT, max_age=REPORT_MAX_AGE
        )
    except signing.BadSignature:
        return _page(request, 400, error=_("验证报告已过期或无效，请重新上传文件验证。"))
    body = json.dumps(payload, ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    filename = f"verification-{str(payload.get('sha256', ''))[:12]}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
