"""The student's uploads: the scan or photos of the stamped paper agreement (反馈协议书) and
the employer's stamped 解约证明. JPG, PNG or PDF by content (the name and declared type are
ignored), at most 5 MB each, checked as business licences are (:mod:`qianshu.orgs.licences`:
an image decoded completely, a PDF opened in a limited child process), then kept in the blob
store."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from qianshu.employment.errors import EmploymentError
from qianshu.orgs.licences import MAX_LICENCE_BYTES, check_licence, upload_name
from qianshu.storage.actions import do_store_blob
from qianshu.storage.models import Blob

MAX_BYTES = MAX_LICENCE_BYTES
MAX_FILES = 10


def _message(code: str | None, name: str) -> str:
    messages = {
        "empty": _("“%(name)s”是空文件，请重新选择。"),
        "too_large": _("“%(name)s”超过 5 MB，请压缩后重新上传。"),
        "encrypted": _("“%(name)s”已加密或设置了密码，请上传未加密的 PDF 文件。"),
        "too_complex": _("“%(name)s”打开时需要的内存或时间过多，请重新扫描后上传。"),
        "too_small": _("“%(name)s”太小，无法看清，请重新拍摄或扫描。"),
        "wrong_type": _("“%(name)s”不是 JPG、PNG 图片或 PDF 文件。"),
    }
    text = messages.get(code or "", _("“%(name)s”已损坏，无法打开，请重新扫描或导出后上传。"))
    return text % {"name": name}


def read_upload(upload: UploadedFile, field: str) -> tuple[bytes, str]:
    """The checked bytes and content type of one upload (:class:`EmploymentError` naming the
    file otherwise)."""
    name = upload_name(upload)
    if (upload.size or 0) > MAX_BYTES:
        raise EmploymentError(_message("too_large", name), field=field)
    try:
        checked = check_licence(upload.read(MAX_BYTES + 1), name)
    except ValidationError as exc:
        raise EmploymentError(_message(exc.code, name), field=field) from None
    return checked.data, checked.content_type


def store_uploads(uploads: Sequence[UploadedFile], field: str, *, limit: int) -> list[Blob]:
    """Every upload checked first (none is stored when one is refused), then stored."""
    if not uploads:
        raise EmploymentError(_("请选择要上传的文件。"), field=field)
    if len(uploads) > limit:
        raise EmploymentError(_("最多上传 %(n)d 个文件。") % {"n": limit}, field=field)
    checked = [read_upload(upload, field) for upload in uploads]
    return [do_store_blob(data, content_type=content_type) for data, content_type in checked]
