"""Business licence (营业执照) uploads: JPG, JPEG, PNG or PDF by content, at most 5 MB.

The file's name and declared type are ignored: a PDF is recognised by ``%PDF-``; an image must be
a JPEG or PNG that Pillow verifies and decodes completely (at most 50 megapixels).

A PDF is opened and its first page rendered once, at upload, in a child process with CPU-time and
memory limits (``signing.isolation``): a decompression bomb (a 2 MB file whose stream inflates to
gigabytes) or a page that takes too long is refused then, with a message naming the file, and
never reaches the web process. The rendered page is the licence's preview, stored once next to
the licence; pages only ever serve that stored image. For a picture, the picture is the preview.

Licences and previews are stored encrypted at rest (``storage.encryption``).

The stored files (and a licence kept across a form error) are written by
:mod:`qianshu.orgs.actions.licences`.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from qianshu.accounts.models import User
from qianshu.orgs.models import PendingLicence
from qianshu.signing.errors import EncryptedPdfError, PdfError, SigningError
from qianshu.signing.isolation import LimitExceeded, Limits, run_limited
from qianshu.signing.pages import open_pikepdf, render_page
from qianshu.storage.models import Blob

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

    StrOrPromise = str | _StrPromise

MAX_LICENCE_BYTES = 5 * 1024 * 1024
MAX_LICENCE_PIXELS = 50_000_000  # a 48 MP phone photo passes, a decompression bomb does not
MIN_LICENCE_SIDE = 200
PREVIEW_WIDTH = 1000
_IMAGE_TYPES = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png"}
PDF = "application/pdf"
PNG = "image/png"
# A licence is one scanned page: rendering it at 1000 px takes well under a second and a few
# tens of MB. A web process (about 250 MB of address space) forked with these limits cannot be
# made to inflate a bomb or spin.
LICENCE_LIMITS = Limits(cpu_seconds=10, memory_bytes=1024 * 1024 * 1024, wall_seconds=30)

#: How long a licence kept across a form error stays usable.
PENDING_LICENCE_HOURS = 24

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Licence:
    """An uploaded licence that passed the content checks."""

    data: bytes
    content_type: str  # image/jpeg, image/png or application/pdf
    # A PDF's first page rendered as PNG at upload; None for a picture (its own preview).
    preview: bytes | None = None

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


RENDERED, _ENCRYPTED, _DAMAGED = "ok", "encrypted", "damaged"


def _open_and_render(data: bytes) -> tuple[str, bytes]:
    """Runs in the limited child: open the PDF, count its pages, render the first one.

    Returns a status and the PNG rather than raising, because exceptions come back from the
    child only as text.
    """
    try:
        pdf = open_pikepdf(data)
    except EncryptedPdfError:
        return _ENCRYPTED, b""
    except PdfError:
        return _DAMAGED, b""
    try:
        pages = len(pdf.pages)
    except Exception:  # noqa: BLE001 - qpdf raises several types on a broken page tree
        return _DAMAGED, b""
    finally:
        pdf.close()
    if pages < 1:
        return _DAMAGED, b""
    try:
        return RENDERED, render_page(data, 0, width_px=PREVIEW_WIDTH, fmt="png")
    except EncryptedPdfError:
        return _ENCRYPTED, b""
    except PdfError:
        return _DAMAGED, b""


def render_licence_preview(data: bytes) -> tuple[str, bytes]:
    """Open and render a licence PDF in a child under ``LICENCE_LIMITS``: ``("ok", png)``,
    ``("encrypted", b"")``, ``("damaged", b"")``, or ``("limit", b"")`` when the child ran out
    of CPU time, memory or time."""
    try:
        return run_limited(_open_and_render, data, limits=LICENCE_LIMITS)
    except LimitExceeded as exc:
        log.warning("licence PDF refused: %s", exc)
        return "limit", b""
    except SigningError as exc:  # the child crashed: treat the file as damaged
        log.warning("licence PDF could not be rendered: %s", exc)
        return _DAMAGED, b""


def _check_pdf(data: bytes, name: str) -> Licence:
    status, preview = render_licence_preview(data)
    if status == _ENCRYPTED:
        raise _error(
            _("“%(name)s”已加密或设置了密码，请上传未加密的 PDF 文件。"), name, "encrypted"
        )
    if status == "limit":
        raise _error(
            _(
                "“%(name)s”打开时需要的内存或时间过多（可能含有异常压缩的内容），无法预览。"
                "请重新扫描，或导出为普通 PDF 后上传。"
            ),
            name,
            "too_complex",
        )
    if status != RENDERED:
        raise _damaged(name)
    return Licence(data=data, content_type=PDF, preview=preview)


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


def can_preview(blob: Blob | None) -> bool:
    """Whether ``blob`` (an organisation's ``licence_preview``) is an image to show inline."""
    return blob is not None and blob.content_type in {PNG, "image/jpeg"}


# --- A licence kept across a form error on 创建组织 (PendingLicence) ---


def upload_name(upload: UploadedFile | None) -> str:
    """The uploaded file's own name (no directories), for 已上传：<name>."""
    name = os.path.basename((getattr(upload, "name", "") or "").replace("\\", "/"))
    return name[:200] or "licence"


def pending_licence_for(actor: User, value: object) -> PendingLicence | None:
    """``actor``'s pending licence named by ``value`` (the uuid their session holds), if it is
    theirs and still fresh; anyone else's, or a stale one, is None."""
    if not value:
        return None
    since = timezone.now() - timedelta(hours=PENDING_LICENCE_HOURS)
    try:
        return (
            PendingLicence.objects.select_related("licence", "preview")
            .filter(uuid=str(value), user=actor, created_at__gte=since)
            .first()
        )
    except ValidationError:  # not a uuid
        return None


def pending_licence_contents(pending: PendingLicence) -> Licence:
    """The checked licence back from the store (raises ``BlobStoreError`` if unreadable)."""
    data = pending.licence.read()
    preview = None if pending.preview_id == pending.licence_id else pending.preview.read()
    return Licence(data=data, content_type=pending.licence.content_type, preview=preview)
