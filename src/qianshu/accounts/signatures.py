"""Handwritten signatures (个人签章 / 手写签名): image checks, access helpers and actions.

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
import secrets
from dataclasses import dataclass

from django.core import signing
from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageChops, ImageOps

from qianshu.accounts import throttles
from qianshu.accounts.audit import record_event
from qianshu.accounts.models import HandwrittenSignature, SecurityAction, SignatureHandoff, User
from qianshu.core.errors import UserError
from qianshu.signing.errors import ImageError, NoInkError
from qianshu.signing.photos import ACCEPTED_FORMATS, MAX_INPUT_PIXELS, clean_signature_image
from qianshu.storage.actions import do_store_blob
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
_MAX_TOKEN_LENGTH = 128
_STAGED_SALT = "qianshu.accounts.signatures.staged-upload"


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


# --------------------------------------------------------------------------------------------
# Access
# --------------------------------------------------------------------------------------------


def access_signature_by_id(actor: User, signature_id: int) -> HandwrittenSignature:
    """The actor's own signature; someone else's and a missing one are both a 404."""
    signature = HandwrittenSignature.objects.select_related("image").filter(pk=signature_id).first()
    if signature is None:
        raise Http404
    if signature.user_id != actor.pk:
        raise Http404
    return signature


def access_handoff_by_id(actor: User, handoff_id: int) -> SignatureHandoff:
    """The actor's own phone hand-off; someone else's and a missing one are both a 404."""
    handoff = SignatureHandoff.objects.filter(pk=handoff_id).first()
    if handoff is None:
        raise Http404
    if handoff.user_id != actor.pk:
        raise Http404
    return handoff


def access_handoff_by_token(token: str) -> SignatureHandoff:
    """The hand-off a phone's token opens: the token is the authorisation, no login needed.

    Raises :class:`SignatureHandoffUnusable` for unknown, expired and used tokens.
    """
    handoffs = SignatureHandoff.objects.select_related("user")
    handoff = None
    if len(token) <= _MAX_TOKEN_LENGTH:  # real tokens are 43 characters
        handoff = handoffs.filter(token_hash=hash_token(token)).first()
    if handoff is None:
        raise SignatureHandoffUnusable(
            _("二维码无效，请在电脑上重新生成二维码。"), reason="unknown"
        )
    if handoff.used_at is not None:
        raise SignatureHandoffUnusable(
            _("该二维码已使用过，如需再次签名，请在电脑上重新生成二维码。"), reason="used"
        )
    if handoff.expires_at <= timezone.now():
        raise SignatureHandoffUnusable(
            _("二维码已过期，请在电脑上重新生成二维码。"), reason="expired"
        )
    if not handoff.user.is_active:
        raise SignatureHandoffUnusable(
            _("二维码无效，请在电脑上重新生成二维码。"), reason="unknown"
        )
    return handoff


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def signature_count(actor: User) -> int:
    return HandwrittenSignature.objects.filter(user=actor).count()


# --------------------------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------------------------


def cap_message() -> str:
    return _("最多可保存 %(max)d 个手写签名，请先删除不再使用的签名。") % {"max": MAX_SIGNATURES}


def _too_many() -> TooManySignatures:
    return TooManySignatures(cap_message())


def _add_signature(
    image: SignatureImage, blob: Blob, *, source: str, owner: User
) -> tuple[HandwrittenSignature, bool]:
    """Create the row inside the caller's transaction; the first signature becomes default.

    Returns the signature and whether it is new: the same picture saved again (a double click
    on 保存) gives back the existing one instead of a duplicate.
    """
    # Locking the owner serialises concurrent saves, so the cap and the default hold.
    User.objects.select_for_update().filter(pk=owner.pk).first()
    existing = HandwrittenSignature.objects.filter(user=owner)
    duplicate = existing.filter(image=blob).first()
    if duplicate is not None:
        return duplicate, False
    if existing.count() >= MAX_SIGNATURES:
        raise _too_many()
    signature = HandwrittenSignature.objects.create(
        user=owner,
        image=blob,
        source=source,
        width=image.width,
        height=image.height,
        is_default=not existing.filter(is_default=True).exists(),
    )
    return signature, True


def do_save_signature(
    image: SignatureImage,
    *,
    source: str,
    actor: User,
    request: HttpRequest | None = None,
) -> HandwrittenSignature:
    """Store a prepared signature image for ``actor`` (drawn here or an uploaded picture).

    The first signature of an account becomes its default. Raises :class:`TooManySignatures`
    beyond ``MAX_SIGNATURES``.
    """
    if source not in HandwrittenSignature.Source.values:
        raise ValueError(f"unknown signature source {source!r}")
    if signature_count(actor) >= MAX_SIGNATURES:  # cheap early answer before storing the blob
        raise _too_many()
    # The blob goes to the store before the row is written (a refused save leaves only an
    # unreferenced blob), and outside the transaction so a slow store never holds DB locks.
    blob = do_store_blob(image.png, content_type="image/png")
    with transaction.atomic():
        signature, created = _add_signature(image, blob, source=source, owner=actor)
        if not created:
            return signature
        record_event(
            SecurityAction.SIGNATURE_SAVED,
            user=actor,
            request=request,
            signature_id=signature.pk,
            source=source,
            is_default=signature.is_default,
        )
    return signature


def do_set_default_signature(
    signature: HandwrittenSignature, *, actor: User, request: HttpRequest | None = None
) -> None:
    """Make ``signature`` (fetched with :func:`access_signature_by_id`) the actor's default."""
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=actor.pk).first()
        # Clear the old default first: the database allows one default per user at any moment.
        HandwrittenSignature.objects.filter(user=actor, is_default=True).exclude(
            pk=signature.pk
        ).update(is_default=False)
        HandwrittenSignature.objects.filter(pk=signature.pk).update(is_default=True)
        signature.is_default = True
        record_event(
            SecurityAction.SIGNATURE_DEFAULT_SET,
            user=actor,
            request=request,
            signature_id=signature.pk,
        )


def do_delete_signature(
    signature: HandwrittenSignature, *, actor: User, request: HttpRequest | None = None
) -> HandwrittenSignature | None:
    """Delete ``signature``; if it was the default, the newest remaining one becomes default.

    Returns the new default, if the default changed. The image blob stays in the store (blobs
    are immutable; unreferenced ones are garbage-collected separately).
    """
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=actor.pk).first()
        was_default = HandwrittenSignature.objects.filter(pk=signature.pk, is_default=True).exists()
        signature_id = signature.pk
        HandwrittenSignature.objects.filter(pk=signature_id, user=actor).delete()
        new_default = None
        if was_default:
            new_default = (
                HandwrittenSignature.objects.filter(user=actor)
                .order_by("-created_at", "-pk")
                .first()
            )
            if new_default is not None:
                HandwrittenSignature.objects.filter(pk=new_default.pk).update(is_default=True)
                new_default.is_default = True
        record_event(
            SecurityAction.SIGNATURE_DELETED,
            user=actor,
            request=request,
            signature_id=signature_id,
            was_default=was_default,
            new_default_id=new_default.pk if new_default else None,
        )
    return new_default


def do_start_handoff(
    *, actor: User, request: HttpRequest | None = None
) -> tuple[SignatureHandoff, str]:
    """Open a phone hand-off for ``actor``: returns it with its one-time token.

    The token (256 random bits) is shown once, as a QR code; only its SHA-256 is stored.
    """
    if signature_count(actor) >= MAX_SIGNATURES:
        raise _too_many()
    if not throttles.hit(
        f"signature-handoff:user:{actor.pk}", limit=HANDOFFS_PER_HOUR, window=3600
    ):
        raise HandwrittenSignatureError(_("二维码生成过于频繁，请稍后再试。"))
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        handoff = SignatureHandoff.objects.create(
            user=actor,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + HANDOFF_LIFETIME,
        )
        record_event(
            SecurityAction.SIGNATURE_HANDOFF_STARTED,
            user=actor,
            request=request,
            handoff_id=handoff.pk,
        )
    return handoff, token


def do_complete_handoff(
    handoff: SignatureHandoff, image: SignatureImage, *, request: HttpRequest | None = None
) -> HandwrittenSignature:
    """Save the signature drawn on the phone for the hand-off's user and use up the token.

    ``handoff`` comes from :func:`access_handoff_by_token`; it is checked again under a lock so a
    token saves one signature even when two phones race. Raises :class:`SignatureHandoffUnusable` or
    :class:`TooManySignatures`.
    """
    blob = do_store_blob(image.png, content_type="image/png")
    with transaction.atomic():
        locked = (
            SignatureHandoff.objects.select_for_update().select_related("user").get(pk=handoff.pk)
        )
        if locked.used_at is not None:
            raise SignatureHandoffUnusable(
                _("该二维码已使用过，如需再次签名，请在电脑上重新生成二维码。"), reason="used"
            )
        if locked.expires_at <= timezone.now():
            raise SignatureHandoffUnusable(
                _("二维码已过期，请在电脑上重新生成二维码。"), reason="expired"
            )
        signature, _created = _add_signature(
            image, blob, source=HandwrittenSignature.Source.PHONE, owner=locked.user
        )
        locked.signature = signature
        locked.used_at = timezone.now()
        locked.save(update_fields=["signature", "used_at"])
        record_event(
            SecurityAction.SIGNATURE_SAVED,
            user=locked.user,
            request=request,
            signature_id=signature.pk,
            source=HandwrittenSignature.Source.PHONE,
            is_default=signature.is_default,
            handoff_id=locked.pk,
        )
    handoff.signature, handoff.used_at = locked.signature, locked.used_at
    return signature


def do_stage_signature_upload(image: SignatureImage, *, actor: User) -> str:
    """Keep a cleaned upload for its preview: store the blob, return a signed reference.

    Nothing is attached to the account until :func:`do_save_signature` is called with the image
    from :func:`load_staged_signature`; the reference is bound to the user and expires.
    """
    blob = do_store_blob(image.png, content_type="image/png")
    return signing.dumps({"user": actor.pk, "blob": blob.sha256}, salt=_STAGED_SALT)


def load_staged_signature(reference: str, *, actor: User) -> SignatureImage:
    """The image of a reference from :func:`do_stage_signature_upload`, for the same user."""
    expired = SignatureImageError(_("预览已失效，请重新上传签名图片。"))
    try:
        payload = signing.loads(reference, salt=_STAGED_SALT, max_age=STAGED_UPLOAD_MAX_AGE)
    except signing.BadSignature as exc:
        raise expired from exc
    if not isinstance(payload, dict) or payload.get("user") != actor.pk:
        raise expired
    blob = Blob.objects.filter(sha256=str(payload.get("blob", ""))).first()
    if blob is None:
        raise expired
    return SignatureImage.from_png(blob.read())
