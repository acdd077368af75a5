"""Handwritten signatures (个人签章 / 手写签名): image checks and limits.

A signature reaches the platform in three ways: drawn in the browser (a canvas PNG), drawn on a
phone through a QR-code hand-off, or uploaded as a photo or scan that the platform cleans up.
Whatever the way, what is stored is a tight, transparent PNG with the ink in the alpha channel.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import io
from dataclasses import dataclass

from django.core import signing
from django.utils.translation import gettext as _
from PIL import Image, ImageChops, ImageOps

from qianshu.accounts.models import HandwrittenSignature, User
from qianshu.core.errors import UserError
from qianshu.signing.errors import ImageError, NoInkError
from qianshu.storage.models import Blob

MAX_SIGNATURES = 10
SIGNATURE_MAX_PX = 1000  # long side of a stored signature: crisp on an A4 page, still small
MAX_DRAWN_BYTES = 2 * 1024 * 1024
MAX_DRAWN_PX = 4000
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
HANDOFF_LIFETIME = dt.timedelta(minutes=10)
HANDOFFS_PER_HOUR = 30  # per user: more QR codes than anyone needs
STAGED_UPLOAD_MAX_AGE = 30 * 60  # seconds a cleaned upload waits on the preview page

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_MIN_INK_PIXELS = 30  # fewer solid ink pixels than this is an empty canvas (or a stray tap)
_MAX_INK_FRACTION = 0.6  # a canvas painted over is not a signature
_MIN_INK_EXTENT = 0.03  # a signature spans at least this share of the canvas (not a mere dot)
STAGED_SALT = "qianshu.accounts.signatures.staged-upload"


class HandwrittenSignatureError(UserError):
    """A signature request that cannot be done; ``str()`` is a message for the user."""

    code = "signature_refused"


class SignatureImageError(HandwrittenSignatureError):
    """The picture cannot be used as a signature (not a picture, too big, no ink, ...)."""

    code = "signature_image"


class TooManySignatures(HandwrittenSignatureError):
    """The account already holds ``MAX_SIGNATURES`` signatures."""

    code = "too_many_signatures"


class SignatureHandoffUnusable(HandwrittenSignatureError):
    """A phone hand-off token is unknown, expired or already used (see ``reason``); an
    unknown one is a 404, the others are gone (410)."""

    code = "signature_handoff_unusable"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message, status=404 if reason == "unknown" else 410)
        self.reason = reason


@dataclass(frozen=True)
class SignatureImage:
    """A normalised signature: transparent PNG bytes and their size in pixels."""

    png: bytes
    width: int
    height: int

    @classmethod
    def from_png(cls, png: bytes) -> SignatureImage:
        with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
            width, height = image.size
        return cls(png=png, width=width, height=height)


# --------------------------------------------------------------------------------------------
# Image checks (pure functions: bytes in, SignatureImage out, SignatureImageError otherwise)
# --------------------------------------------------------------------------------------------


def drawn_too_large() -> SignatureImageError:
    return SignatureImageError(_("签名图片过大（不能超过 2 MB），请清屏后重新书写。"))


def upload_too_large() -> SignatureImageError:
    return SignatureImageError(_("文件过大，签名图片不能超过 10 MB。"))


def prepare_drawn_signature(data: bytes) -> SignatureImage:
    """Check a canvas PNG and turn it into a trimmed, transparent black-ink signature.

    Works for transparent canvases (ink in the alpha channel) and for canvases filled with white
    (ink is whatever is dark): the ink strength is opacity times darkness.
    """
    if not data:
        raise SignatureImageError(_("没有收到签名，请书写后再提交。"))
    if len(data) > MAX_DRAWN_BYTES:
        raise drawn_too_large()
    if not data.startswith(_PNG_MAGIC):
        raise SignatureImageError(_("签名图片格式不正确（应为 PNG），请重新书写。"))
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            width, height = image.size
            if width > MAX_DRAWN_PX or height > MAX_DRAWN_PX:
                raise SignatureImageError(
                    _("签名图片尺寸过大（每边不能超过 %(max)d 像素）。") % {"max": MAX_DRAWN_PX}
                )
            rgba = image.convert("RGBA")
    except SignatureImageError:
        raise
    except Exception as exc:  # Pillow raises many types on damaged files
        raise SignatureImageError(_("无法读取签名图片，请重新书写。")) from exc

    darkness = ImageOps.invert(rgba.convert("RGB")).convert("L")
    strength = ImageChops.multiply(rgba.getchannel("A"), darkness)
    histogram = strength.histogram()
    solid = sum(histogram[64:])
    box = strength.point(lambda v: 255 if v > 8 else 0).getbbox()
    if solid < _MIN_INK_PIXELS or box is None:
        raise SignatureImageError(_("签名为空，请先书写签名。"))
    if solid > _MAX_INK_FRACTION * width * height:
        raise SignatureImageError(_("签名区域几乎被涂满，请清屏后重新书写。"))
    if max(box[2] - box[0], box[3] - box[1]) < max(16, _MIN_INK_EXTENT * max(width, height)):
        raise SignatureImageError(_("签名太小，请在书写区域内写得大一些。"))
    return SignatureImage.from_png(_encode_ink(strength, box))


def decode_png_data_url(text: str) -> bytes:
    """The bytes of a ``data:image/png;base64,…`` URL (a canvas's ``toDataURL()``)."""
    prefix, _sep, payload = text.partition(",")
    if prefix.strip().lower() != "data:image/png;base64":
        raise SignatureImageError(_("签名图片格式不正确（应为 PNG），请重新书写。"))
    try:
        return base64.b64decode(payload.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureImageError(_("签名图片格式不正确（应为 PNG），请重新书写。")) from exc


def prepare_uploaded_signature(data: bytes) -> SignatureImage:
    """Check an uploaded photo or scan and clean it into a transparent signature PNG."""
    # numpy (~0.1 s) is imported by the first upload, not at the web process's start-up.
    from qianshu.signing.photos import ACCEPTED_FORMATS, MAX_INPUT_PIXELS, clean_signature_image

    if not data:
        raise SignatureImageError(_("文件为空，请重新选择签名图片。"))
    if len(data) > MAX_UPLOAD_BYTES:
        raise upload_too_large()
    try:
        with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as image:
            width, height = image.size
    except Exception as exc:  # anything Pillow cannot identify is not a picture we take
        raise SignatureImageError(
            _("该文件不是可识别的图片，请上传 JPG、PNG、WEBP、BMP、GIF 或 TIFF 格式的图片。")
        ) from exc
    if width * height > MAX_INPUT_PIXELS:
        raise SignatureImageError(_("图片像素过多，请缩小后再上传。"))
    try:
        png = clean_signature_image(data, max_px=SIGNATURE_MAX_PX)
    except NoInkError as exc:
        raise SignatureImageError(
            _("图片中没有找到手写签名。请在白纸上用黑色签字笔书写，光线充足时拍照或扫描后再上传。")
        ) from exc
    except ImageError as exc:
        raise SignatureImageError(_("无法读取该图片，文件可能已损坏，请换一张图片。")) from exc
    return SignatureImage.from_png(png)


def _encode_ink(strength: Image.Image, box: tuple[int, int, int, int]) -> bytes:
    """Crop the ink strength map to ``box`` plus a margin, scale down, write black-ink RGBA."""
    x0, y0, x1, y1 = box
    margin = round(0.04 * max(x1 - x0, y1 - y0)) + 4
    crop = (
        max(0, x0 - margin),
        max(0, y0 - margin),
        min(strength.width, x1 + margin),
        min(strength.height, y1 + margin),
    )
    mask = strength.crop(crop)
    long_side = max(mask.size)
    if long_side > SIGNATURE_MAX_PX:
        factor = SIGNATURE_MAX_PX / long_side
        size = (max(1, round(mask.width * factor)), max(1, round(mask.height * factor)))
        mask = mask.resize(size, Image.Resampling.LANCZOS)
    image = Image.new("RGBA", mask.size, (0, 0, 0, 0))
    image.putalpha(mask)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def signature_count(actor: User) -> int:
    return HandwrittenSignature.objects.filter(user=actor).count()


def cap_message() -> str:
    return _("最多可保存 %(max)d 个手写签名，请先删除不再使用的签名。") % {"max": MAX_SIGNATURES}


def load_staged_signature(reference: str, *, actor: User) -> SignatureImage:
    """The image of a reference from
    :func:`qianshu.accounts.actions.signatures.do_stage_signature_upload`, for the same user."""
    expired = SignatureImageError(_("预览已失效，请重新上传签名图片。"))
    try:
        payload = signing.loads(reference, salt=STAGED_SALT, max_age=STAGED_UPLOAD_MAX_AGE)
    except signing.BadSignature as exc:
        raise expired from exc
    if not isinstance(payload, dict) or payload.get("user") != actor.pk:
        raise expired
    blob = Blob.objects.filter(sha256=str(payload.get("blob", ""))).first()
    if blob is None:
        raise expired
    return SignatureImage.from_png(blob.read())
