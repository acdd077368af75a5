"""Seal grants (印章授权) and using a seal (用印): the refusals, the limits, reading a legal
representative's approval link, and sealing a PDF (a visible stamp signed with the *seal's* key
and certificate: PAdES, timestamped, finished as B-LTA).

The state changes (granting, revoking, the legal representative's decision, using a seal and
its 用印记录) are in :mod:`qianshu.orgs.actions.grants`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop, ngettext
from pyhanko.pdf_utils.reader import PdfFileReader

from qianshu.accounts.models import User
from qianshu.core.errors import UserError
from qianshu.core.sql import lock_shared
from qianshu.core.statements import Statement
from qianshu.identity.access import verified_identity
from qianshu.orgs.models import Membership, Organization, Seal, SealGrant, SealUsage
from qianshu.orgs.seals import SealError, seal_signing_key
from qianshu.pki.models import IssuedCertificate
from qianshu.pki.platform import load_platform
from qianshu.signing import documents
from qianshu.signing.errors import SigningError
from qianshu.signing.ingest import IngestedPdf
from qianshu.signing.signers import KeySigner, to_asn1
from qianshu.signing.stamps import Rect, StampImage

log = logging.getLogger(__name__)

MAX_GRANT_DAYS = 5 * 366
DEFAULT_GRANT_DAYS = 365

# Where the stamp goes on the chosen page. Real seals: 42 mm round (~119 pt), square personal
# seals ~22 mm (~64 pt); the height follows the image's aspect ratio.
POSITIONS: dict[str, str | Promise] = {
    "bottom_right": gettext_lazy("右下角"),
    "bottom_center": gettext_lazy("底部居中"),
    "bottom_left": gettext_lazy("左下角"),
    "center": gettext_lazy("页面中央"),
    "top_right": gettext_lazy("右上角"),
    "top_left": gettext_lazy("左上角"),
}
DEFAULT_POSITION = "bottom_right"
SEAL_WIDTH_PT = 119.0
PERSONAL_SEAL_WIDTH_PT = 64.0
PAGE_MARGIN_PT = 48.0


class GrantError(UserError):
    """A refused grant operation; ``str(exc)`` is a message for the user."""

    code = "grant_refused"


class SealUseError(UserError):
    """Sealing a document failed; ``str(exc)`` is a message for the user."""

    code = "seal_use_failed"
    default_message = gettext_noop("盖章失败，请检查文件后重试。")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def local_time(moment: dt.datetime) -> str:
    return date_format(timezone.localtime(moment), "Y-m-d H:i")


def is_member(org: Organization, user: User) -> bool:
    return Membership.objects.filter(org=org, user=user).exists()


def grant_detail(grant: SealGrant) -> dict[str, Any]:
    """What the organisation's log records of a grant: the seal, the holder (the member, or the
    API key of an API sealing grant) and the period."""
    holder: dict[str, Any] = (
        {"api_key": str(grant.api_key)} if grant.api_key_id else {"grantee": grant.grantee_id}
    )
    return {
        "grant": str(grant.uuid),
        "seal": str(grant.seal.uuid),
        "seal_name": grant.seal.name,
        **holder,
        "valid_from": grant.valid_from.isoformat(),
        "valid_until": grant.valid_until.isoformat(),
    }


def locked_for_use(grants: QuerySet[SealGrant]) -> tuple[SealGrant, Seal] | None:
    """The first of ``grants`` and its seal (with its organisation, certificate and image),
    locked for one use of the seal, or None when none of them is left (revoked meanwhile).

    The locks are shared and taken grant, seal, certificate — the order in which a revocation
    takes them: a revocation, a disabled or destroyed seal or a revoked certificate waits for
    the uses under way and holds back the ones after it, as an exclusive lock would, but uses
    of one seal in several envelopes at once do not wait for each other (批量用印 and
    批量签署 over several processes). Each row is read as it is locked or after (never
    before: a revocation committed while the use waited is seen)."""
    if not lock_shared(grants):
        return None
    grant = grants.first()
    if grant is None:
        return None
    return grant, _locked_seal(grant.seal_id)


def locked_grant_for_use(grant_id: int) -> tuple[SealGrant, Seal] | None:
    """:func:`locked_for_use` of the grant ``grant_id`` (read with its API key): the same
    locks in the same order, from statements built once that lock a row and read it in one
    (a 批量用印 step takes them)."""
    found = _GRANT.objects(grant_id)
    if not found:
        return None
    return found[0], _locked_seal(found[0].seal_id)


def _locked_seal(seal_id: int) -> Seal:
    """The seal (with its organisation and image) locked, then its certificate locked, each
    read by the statement that locks it: a seal's organisation, image and certificate are
    its own for life (never changed), so the rows joined to a locked row are the ones it
    names."""
    seal = _SEAL.get(seal_id)
    seal.certificate = _CERTIFICATE.get(seal.certificate_id)
    return seal


# The locks and reads of one use of a seal, built once (core/statements.py). Each statement
# locks its own table's row FOR SHARE and reads it (as changed, when a change was under way);
# the rows it joins are read, not locked, by keys that never change (a grant's API key, a
# seal's organisation and image). A key's revocation revokes its grant in the same
# transaction, so the grant's lock orders a use and a revocation of its key.
_GRANT: Statement[SealGrant] = Statement(
    lambda grant: SealGrant.objects.select_related("api_key").filter(pk=grant.as_int()).order_by(),
    arity=1,
    share=True,
)
_SEAL: Statement[Seal] = Statement(
    lambda seal: Seal.objects.select_related("org", "image").filter(pk=seal.as_int()).order_by(),
    arity=1,
    share=True,
)
_CERTIFICATE: Statement[IssuedCertificate] = Statement(
    lambda certificate: IssuedCertificate.objects.filter(pk=certificate.as_int()),
    arity=1,
    share=True,
)


def grant_for_token(token: str) -> SealGrant | None:
    """The grant a legal representative's approval link names (any status), or None."""
    if not token or len(token) > 100:
        return None
    return (
        SealGrant.objects.select_related("seal__org", "grantee", "granted_by")
        .filter(legal_rep_token_hash=token_hash(token))
        .first()
    )


def legal_rep_refusal(grant: SealGrant, actor: User) -> str | None:
    """Why ``actor`` may not decide this grant as the legal representative, or None."""
    identity = verified_identity(actor)
    if identity is None:
        return _("请先完成个人实名认证，再以法定代表人身份处理此授权。")
    declared = " ".join(grant.seal.org.legal_rep_name.split())
    if " ".join(identity.name.split()) != declared:
        return _("您的实名认证姓名与“%(org)s”登记的法定代表人不一致，无法处理此授权。") % {
            "org": grant.seal.org.name
        }
    if grant.status != SealGrant.Status.AWAITING_LEGAL_REP:
        return _("该授权申请已处理或已撤销。")
    if grant.valid_until <= timezone.now():
        return _("该授权申请的期限已过，请联系管理员重新发起。")
    return None


# --- Using a seal ---


@dataclass(frozen=True)
class SealedDocument:
    data: bytes
    filename: str
    usage: SealUsage


def seal_rect(box: Rect, image: StampImage, position: str, width_pt: float) -> Rect:
    """The stamp's rectangle on a page of visible area ``box`` (PDF points)."""
    width = width_pt
    height = width * image.height / image.width
    scale = min(1.0, box.width * 0.8 / width, box.height * 0.8 / height)
    width, height = width * scale, height * scale
    margin = min(PAGE_MARGIN_PT, (box.width - width) / 2, (box.height - height) / 2)
    vertical, _sep, horizontal = position.partition("_")
    if position == "center":
        vertical = horizontal = "center"
    x1 = {
        "left": box.x1 + margin,
        "right": box.x2 - margin - width,
    }.get(horizontal, (box.x1 + box.x2 - width) / 2)
    y1 = {
        "bottom": box.y1 + margin,
        "top": box.y2 - margin - height,
    }.get(vertical, (box.y1 + box.y2 - height) / 2)
    return Rect(x1, y1, x1 + width, y1 + height)


def _is_certified(data: bytes) -> bool:
    """Whether an already signed PDF carries a certification signature (DocMDP): a new seal
    field would then be an illegal change for it."""
    try:
        perms = PdfFileReader(io.BytesIO(data), strict=False).root.get("/Perms")
        return perms is not None and "/DocMDP" in perms.get_object()
    except Exception:  # noqa: BLE001 - unreadable here: signing reports it
        return False


def seal_pdf(seal: Seal, pdf: IngestedPdf, page: int | None, position: str) -> bytes:
    issued = seal.certificate
    now = timezone.now()
    if issued.revoked_at is not None or issued.not_after <= now:
        raise SealUseError(_("印章证书已失效，请联系管理员。"))
    if pdf.already_signed and _is_certified(pdf.data):
        raise SealUseError(_("该文件已被认证签名锁定，不能再追加印章。"))
    try:
        certificate = x509.load_der_x509_certificate(bytes(issued.certificate_der))
        platform = load_platform()
        signer = KeySigner(seal_signing_key(seal), certificate, platform.pki.chain)
        image = StampImage.from_png(seal.image.read())
        boxes = documents.page_boxes(pdf.data)
        index = len(boxes) - 1 if page is None else page - 1
        if not 0 <= index < len(boxes):
            count = len(boxes)
            raise SealUseError(
                ngettext("文件只有 %(count)s 页。", "文件只有 %(count)s 页。", count)
                % {"count": count}
            )
        width = PERSONAL_SEAL_WIDTH_PT if seal.kind == Seal.Kind.LEGAL_REP else SEAL_WIDTH_PT
        field_name = f"QS-Seal-{uuid.uuid4().hex[:16]}"
        rect = seal_rect(boxes[index], image, position, width)
        declared = documents.declare_fields(
            pdf.data, [documents.FieldSpec(field_name, index, rect)]
        )
        sealed = documents.sign_turn(
            declared,
            [documents.Placement(field_name, image)],
            signer=signer,
            timestamper=platform.timestamper,
            details=documents.SignatureDetails(
                reason=_("用印：%(seal)s") % {"seal": seal.name},
                location="Qianshu",
                name=f"{seal.org.name} {seal.name}",
            ),
        )
        if documents.DOC_TIMESTAMP_FIELD in documents.signature_fields(pdf.data):
            # finish_document names its document timestamp field always the same: a document
            # finished before (sealed here earlier) keeps this seal at B-T.
            return sealed
        return documents.finish_document(
            sealed,
            timestamper=platform.timestamper,
            revocation=platform.revocation,
            trust_roots=[to_asn1(platform.pki.root.certificate)],
        )
    except SealError as exc:
        raise SealUseError(str(exc)) from exc
    except SigningError as exc:
        log.warning("sealing with seal %s failed: %s", seal.uuid, exc)
        raise SealUseError(_("盖章失败，请检查文件后重试。")) from exc
    except Exception as exc:  # a parser on a hostile file: a message, never a 500
        log.exception("sealing with seal %s failed unexpectedly", seal.uuid)
        raise SealUseError(_("盖章失败，请检查文件后重试。")) from exc


def sealed_filename(document_name: str) -> str:
    stem = document_name[:-4] if document_name.lower().endswith(".pdf") else document_name
    return f"{stem}（已盖章）.pdf"
