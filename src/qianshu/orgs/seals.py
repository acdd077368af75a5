"""Seals of a verified organisation (印章制作 / 印章管理): limits, checks, rendering, photos
and key stores. The state changes (making, disabling, enabling, destroying a seal) are in
:mod:`qianshu.orgs.actions.seals`.
"""

from __future__ import annotations

import hashlib
import io
import logging
import uuid

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _
from PIL import Image

from qianshu.accounts.models import User
from qianshu.core.errors import UserError, signing_message
from qianshu.orgs.models import Organization, Seal
from qianshu.pki.keystores import pkcs11_key_store, software_key_store
from qianshu.signing.errors import ImageError, NoInkError, SigningError
from qianshu.signing.keys import SigningKey
from qianshu.signing.seals import SealSpec, render_seal
from qianshu.storage.models import Blob

log = logging.getLogger(__name__)

MAX_SEALS_PER_ORG = 50  # seals not destroyed
MAX_SEAL_NAME_CHARS = 16
MAX_PHOTO_BYTES = 10 * 1024 * 1024
PHOTO_MAX_PX = 500
MIN_PHOTO_SEAL_PX = 40
STAGED_PHOTO_MAX_AGE = 3600  # seconds a cleaned photo waits for 保存
STAGED_PHOTO_SALT = "qianshu.orgs.seal-photo"
KEY_STORES = ("software", "pkcs11")
RENDERED_SEAL_SECONDS = 600  # as long as the browser keeps a preview (seal_views.PREVIEW_CACHE)


class SealError(UserError):
    """A seal action was refused; the message is for the user."""

    code = "seal_refused"


def seal_key_label(seal_uuid: uuid.UUID | str) -> str:
    return f"seal:{seal_uuid}"


def configured_key_store() -> str:
    name = str(getattr(settings, "QIANSHU_KEYSTORE", "software") or "software")
    if name not in KEY_STORES:
        raise ImproperlyConfigured(f"QIANSHU_KEYSTORE must be one of {KEY_STORES}, not {name!r}")
    return name


def seal_signing_key(seal: Seal) -> SigningKey:
    """The seal's private key from its key store, for signing with the seal's certificate.

    Callers must have checked that the actor may use the seal (a current grant); a destroyed
    seal has no key any more.
    """
    if seal.status == Seal.Status.DESTROYED:
        raise SealError(_("印章已销毁，不能再使用。"))
    reference = bytes(seal.key_reference)
    label = seal_key_label(seal.uuid)
    if seal.key_store == "pkcs11":
        return pkcs11_key_store().load_key(reference, label)
    return software_key_store().load_key(reference, label)


def seal_certificate_der(seal: Seal) -> bytes:
    return bytes(seal.certificate.certificate_der)


# --- Checks shared by both ways of making a seal ---


def clean_seal_name(value: str) -> str:
    """A seal name: 1 to 16 printable characters, inner white space collapsed."""
    name = " ".join(str(value or "").split())
    if not name:
        raise SealError(_("请输入印章名称。"))
    if len(name) > MAX_SEAL_NAME_CHARS:
        raise SealError(_("印章名称最多 %(n)d 个字。") % {"n": MAX_SEAL_NAME_CHARS})
    if any(not ch.isprintable() for ch in name):
        raise SealError(_("印章名称含有无法显示的字符。"))
    return name


def check_can_add_seal(org: Organization, kind: str) -> None:
    """Refuse (``SealError``) a new seal of ``kind`` for an unverified organisation or one that
    already keeps :data:`MAX_SEALS_PER_ORG` seals."""
    if not org.is_verified:
        raise SealError(_("组织机构认证通过后才能制作印章。"))
    if kind not in Seal.Kind.values:
        raise SealError(_("请选择印章类型。"))
    if Seal.objects.filter(org=org).exclude(status=Seal.Status.DESTROYED).count() >= (
        MAX_SEALS_PER_ORG
    ):
        raise SealError(
            _("每个组织最多保留 %(n)d 枚印章，请先销毁不再使用的印章。") % {"n": MAX_SEALS_PER_ORG}
        )


# --- 自动生成 ---


def render_seal_image(spec: SealSpec) -> bytes:
    """The PNG of a generator spec; the renderer's refusals become a user message.

    Pictures are kept in the cache under the spec's hash for :data:`RENDERED_SEAL_SECONDS`
    (drawing one takes 30-100 ms): the type chooser shows the same default seals on every
    visit, the live preview asks again for what was shown as the admin types back and forth,
    and 完成制作 draws exactly what was previewed. The picture is a function of the spec alone
    (the organisation's name is part of it), so whoever asks for a spec gets the same bytes."""
    key = "seal-image:" + hashlib.sha256(repr(spec).encode()).hexdigest()
    cached = cache.get(key)
    if isinstance(cached, bytes):
        return cached
    try:
        png = render_seal(spec)
    except ImageError as exc:
        raise SealError(render_problem(exc)) from exc
    except SigningError as exc:  # a missing seal font: the installation's fault
        log.error("seal rendering failed: %s", exc)
        raise SealError(_("印章生成服务暂不可用，请稍后重试或改用上传图片。")) from exc
    cache.set(key, png, RENDERED_SEAL_SECONDS)
    return png


# The renderer's refusals a person can fix in the generator form (by the error's code).
SPEC_PROBLEMS = ("missing_glyph", "char_spacing", "font_size", "text_too_long")


def render_problem(exc: ImageError) -> str:
    """A message for the user about a spec the renderer refused."""
    if exc.code in SPEC_PROBLEMS:
        return signing_message(exc)
    return _("这组规格无法生成印章，请调整后重试。")


# --- 上传图片 ---


def photo_too_large() -> SealError:
    return SealError(
        _("图片不能超过 %(mb)d MB，请压缩后再上传。") % {"mb": MAX_PHOTO_BYTES // (1024 * 1024)}
    )


def prepare_seal_photo(data: bytes) -> bytes:
    """Check an uploaded photo of a physical seal and clean it into a transparent red PNG,
    cropped to the seal."""
    # numpy (~0.1 s) is imported by the first upload, not at the web process's start-up.
    from qianshu.signing.photos import ACCEPTED_FORMATS, MAX_INPUT_PIXELS, clean_seal_photo

    if not data:
        raise SealError(_("文件为空，请重新选择印章图片。"))
    if len(data) > MAX_PHOTO_BYTES:
        raise photo_too_large()
    try:
        with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as image:
            width, height = image.size
    except Exception as exc:  # anything Pillow cannot identify is not a picture we take
        raise SealError(
            _("该文件不是可识别的图片，请上传 JPG、PNG、WEBP、BMP、GIF 或 TIFF 格式的图片。")
        ) from exc
    if width * height > MAX_INPUT_PIXELS:
        raise SealError(_("图片像素过多，请缩小后再上传。"))
    try:
        png = clean_seal_photo(data, max_px=PHOTO_MAX_PX)
    except NoInkError as exc:
        raise SealError(
            _("图片中没有找到红色印章。请将印章清晰地盖在白纸上，光线充足时正对章面拍照，再上传。")
        ) from exc
    except ImageError as exc:
        # image_too_small, or the file is not a readable image
        raise SealError(signing_message(exc)) from exc
    with Image.open(io.BytesIO(png)) as cleaned:
        if min(cleaned.size) < MIN_PHOTO_SEAL_PX:
            raise SealError(_("找到的红色印记太小，不像完整的印章，请拍摄完整、清晰的章面。"))
    return png


def load_staged_seal_photo(reference: str, *, org: Organization, actor: User) -> bytes:
    """The cleaned PNG of a reference from :func:`do_stage_seal_photo` (same org and user)."""
    expired = SealError(_("预览已失效，请重新上传印章图片。"))
    try:
        payload = signing.loads(reference, salt=STAGED_PHOTO_SALT, max_age=STAGED_PHOTO_MAX_AGE)
    except signing.BadSignature as exc:
        raise expired from exc
    if (
        not isinstance(payload, dict)
        or payload.get("user") != actor.pk
        or payload.get("org") != str(org.uuid)
    ):
        raise expired
    blob = Blob.objects.filter(sha256=str(payload.get("blob", ""))).first()
    if blob is None:
        raise expired
    return blob.read()
