"""ID photo uploads for manual review: JPG or PNG by content (not by name), at most 5 MB."""

from __future__ import annotations

import io
import warnings

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from qianshu.identity.actions import Photo

MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_PHOTO_PIXELS = 50_000_000  # a 48 MP phone photo passes, a decompression bomb does not
MIN_PHOTO_SIDE = 100
_CONTENT_TYPES = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png"}


def read_id_photo(upload: UploadedFile) -> Photo:
    """Check an uploaded ID photo and return its bytes and real content type.

    Raises ``ValidationError`` with a message that says what is wrong: empty, too large, not a
    JPG/PNG picture (e.g. a program renamed ``.png``), damaged, or too small to read.
    """
    name = upload.name or ""
    size = upload.size or 0
    if size == 0:
        raise ValidationError(_("“%(name)s”是空文件，请重新选择照片。"), params={"name": name})
    if size > MAX_PHOTO_BYTES:
        raise ValidationError(
            _("“%(name)s”超过 5 MB（%(size)s MB），请压缩或重新拍摄后上传。"),
            params={"name": name, "size": f"{size / 1024 / 1024:.1f}"},
            code="too_large",
        )
    data = upload.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:  # the declared size lied
        raise ValidationError(_("照片不能超过 5 MB。"), code="too_large")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image_format = image.format or ""
            width, height = image.size
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ValidationError(
            _("“%(name)s”不是 JPG 或 PNG 图片，请上传证件照片（只支持 JPG、PNG 格式）。"),
            params={"name": name},
            code="not_image",
        ) from None
    except (OSError, SyntaxError, ValueError):
        raise _damaged(name) from None
    if image_format not in _CONTENT_TYPES:
        raise ValidationError(
            _("“%(name)s”是 %(format)s 格式，只支持 JPG、PNG 格式的照片。"),
            params={"name": name, "format": image_format or "?"},
            code="not_image",
        )
    if width * height > MAX_PHOTO_PIXELS:
        raise ValidationError(_("照片像素过大，请压缩后上传。"), code="too_large")
    if min(width, height) < MIN_PHOTO_SIDE:
        raise ValidationError(
            _("“%(name)s”太小（%(width)s×%(height)s），无法看清证件，请重新拍摄。"),
            params={"name": name, "width": width, "height": height},
            code="too_small",
        )
    try:
        # verify() checks the structure (CRCs of PNG chunks); load() decodes every pixel,
        # which catches truncated files that verify() lets through.
        Image.open(io.BytesIO(data)).verify()
        with Image.open(io.BytesIO(data)) as full:
            full.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise _damaged(name) from None
    return Photo(data=data, content_type=_CONTENT_TYPES[image_format])


def _damaged(name: str) -> ValidationError:
    return ValidationError(
        _("“%(name)s”已损坏，无法打开，请重新拍摄或导出后上传。"),
        params={"name": name},
        code="damaged",
    )
