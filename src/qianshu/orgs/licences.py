"""Business licence (营业执照) uploads: JPG, JPEG, PNG or PDF by content, at most 5 MB.

The file's name and declared type are ignored: a PDF is recognised by ``%PDF-`` and must open
with pikepdf (unencrypted, with at least one page); an image must be a JPEG or PNG that Pillow
verifies and decodes completely. A preview (PNG) is the image itself or the PDF's first page.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from qianshu.signing.errors import EncryptedPdfError, PdfError
from qianshu.signing.pages import open_pikepdf, render_page

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

    StrOrPromise = str | _StrPromise

MAX_LICENCE_BYTES = 5 * 1024 * 1024
MAX_LICENCE_PIXELS = 50_000_000  # a 48 MP phone photo passes, a decompression bomb does not
MIN_LICENCE_SIDE = 200
PREVIEW_WIDTH = 1000
_IMAGE_TYPES = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png"}
PDF = "application/pdf"


@dataclass(frozen=True)
class Licence:
    """An uploaded licence that passed the content checks."""

    data: bytes
    content_type: str  # image/jpeg, image/png or application/pdf

    @property
    def is_pdf(self) -> bool:
        return self.content_type == PDF


def _error(message: StrOrPromise, name: str, code: str, **params: object) -> ValidationError:
    return ValidationError(message, params={"name": name, **params}, code=code)


def read_licence(upload: UploadedFile) -> Licence:
    """Check an uploaded licence; raise ``ValidationError`` saying what is wrong (empty, too
    large, not JPG/PNG/PDF — e.g. a program renamed ``.png`` —, damaged, encrypted)."""
    name = upload.name or ""
    size = upload.size or 0
    if size > MAX_LICENCE_BYTES:
        raise _error(
            _("“%(name)s”超过 5 MB（%(size)s MB），请压缩后重新上传。"),
            name,
            "too_large",
            size=f"{size / 1024 / 1024:.1f}",
        )
    data = upload.read(MAX_LICENCE_BYTES + 1)
    return check_licence(data, name)


def check_licence(data: bytes, name: str = "") -> Licence:
    """The content checks of :func:`read_licence` on bytes."""
    if not data:
        raise _error(_("“%(name)s”是空文件，请重新选择营业执照文件。"), name, "empty")
    if len(data) > MAX_LICENCE_BYTES:
        raise _error(_("“%(name)s”超过 5 MB，请压缩后重新上传。"), name, "too_large", size="")
    if b"%PDF-" in data[:1024]:
        return _check_pdf(data, name)
    return _check_image(data, name)


def _check_pdf(data: bytes, name: str) -> Licence:
    try:
        pdf = open_pikepdf(data)
    except EncryptedPdfError:
        raise _error(
            _("“%(name)s”已加密或设置了密码，请上传未加密的 PDF 文件。"), name, "encrypted"
        ) from None
    except PdfError:
        raise _damaged(name) from None
    try:
        try:
            pages = len(pdf.pages)
        except Exception as exc:  # qpdf errors on a broken page tree
            raise _damaged(name) from exc
        if pages < 1:
            raise _damaged(name)
    finally:
        pdf.close()
    return Licence(data=data, content_type=PDF)


def _check_image(data: bytes, name: str) -> Licence:
    wrong_type = _error(
        _("“%(name)s”不是 JPG、JPEG、PNG 图片或 PDF 文件，请上传营业执照的照片、扫描件或 PDF。"),
        name,
        "wrong_type",
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image_format = image.format or ""
            width, height = image.size
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise wrong_type from None
    except (OSError, SyntaxError, ValueError):
        raise _damaged(name) from None
    if image_format not in _IMAGE_TYPES:
        raise wrong_type
    if width * height > MAX_LICENCE_PIXELS:
        raise _error(_("“%(name)s”像素过大，请压缩后上传。"), name, "too_large", size="")
    if min(width, height) < MIN_LICENCE_SIDE:
        raise _error(
            _("“%(name)s”太小（%(width)s×%(height)s），无法看清营业执照，请重新拍摄或扫描。"),
            name,
            "too_small",
            width=width,
            height=height,
        )
    try:
        # verify() checks the structure (PNG chunk CRCs); load() decodes every pixel and
        # catches truncated files that verify() lets through.
        Image.open(io.BytesIO(data)).verify()
        with Image.open(io.BytesIO(data)) as full:
            full.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise _damaged(name) from None
    return Licence(data=data, content_type=_IMAGE_TYPES[image_format])


def _damaged(name: str) -> ValidationError:
    return _error(_("“%(name)s”已损坏，无法打开，请重新扫描或导出后上传。"), name, "damaged")


class PreviewError(Exception):
    """The stored licence cannot be rendered (it passed the checks, so this is rare)."""


def licence_preview(data: bytes, content_type: str) -> tuple[bytes, str]:
    """What to show inline: an image as it is, a PDF's first page rendered as PNG."""
    if content_type != PDF:
        return data, content_type
    try:
        return render_page(data, 0, width_px=PREVIEW_WIDTH, fmt="png"), "image/png"
    except PdfError as exc:
        raise PreviewError(str(exc)) from exc
