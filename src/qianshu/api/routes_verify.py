"""``POST /verify``: the report of ``qianshu verify --json`` for an uploaded PDF."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import File, Router
from ninja.files import UploadedFile

from qianshu.api.auth import caller
from qianshu.api.models import Scope
from qianshu.api.schemas import Problem, VerifyOut
from qianshu.core.errors import UserError
from qianshu.signing.verify import verify_pdf_limited
from qianshu.verification.trust import verifier_trust

router = Router(tags=["verification"])


class FileTooLarge(UserError):
    code = "file_too_large"
    status = 413


class NotAPdf(UserError):
    code = "not_a_pdf"


@router.post(
    "/verify",
    response={200: VerifyOut, 400: Problem, 413: Problem},
    summary="Verify the signatures of a PDF (the file is not kept)",
)
def verify(request: HttpRequest, file: File[UploadedFile]) -> dict[str, Any]:
    caller(request, Scope.VERIFY)
    limit = settings.QIANSHU_VERIFY_MAX_BYTES
    if file.size is None or file.size > limit:
        raise FileTooLarge(
            _("文件过大：文档验证最多接受 %(mb)d MB 的文件。") % {"mb": limit // 2**20}
        )
    data = file.read()
    if b"%PDF-" not in data[:1024]:
        raise NotAPdf(_("这不是 PDF 文件，请上传签署后的 PDF 文档。"), field="file")
    return verify_pdf_limited(data, verifier_trust()).to_dict()
