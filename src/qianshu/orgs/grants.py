"""Seal grants (印章授权) and using a seal (用印): the state changes.

* :func:`do_grant_seal` — an administrator grants a seal to a member for a period. The legal
  representative's seal (法定代表人章) is granted only with the legal representative's own
  approval: the grant waits (``awaiting_legal_rep``) until they open the SMS link, log in as a
  verified person whose verified name is the organisation's declared legal representative, and
  approve (:func:`do_decide_legal_rep_grant`).
* :func:`do_revoke_grant` — effective at once: :func:`qianshu.orgs.access.current_grant` stops
  returning the grant.
* :func:`do_use_seal` — a member with a current grant confirms with their own signing PIN (it
  proves the grantee is present), and the document is signed with the *seal's* key and
  certificate as a visible stamp (PAdES, timestamped, finished as B-LTA). Every use writes a
  :class:`~qianshu.orgs.models.SealUsage` row and an organisation event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import secrets
import uuid
from dataclasses import dataclass

from cryptography import x509
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop, ngettext
from pyhanko.pdf_utils.reader import PdfFileReader

from qianshu.accounts.audit import client_ip
from qianshu.accounts.models import User
from qianshu.core.errors import UserError
from qianshu.core.meta import TASK, request_meta
from qianshu.identity.access import verified_identity
from qianshu.identity.actions import do_unlock_signing_key
from qianshu.notifications.actions import do_queue_sms
from qianshu.orgs.audit import record_org_event
from qianshu.orgs.models import Membership, OrgAction, Organization, Seal, SealGrant, SealUsage
from qianshu.orgs.people import person_label
from qianshu.orgs.seals import SealError, seal_signing_key
from qianshu.pki.platform import load_platform
from qianshu.signing import documents
from qianshu.signing.errors import SigningError
from qianshu.signing.ingest import IngestedPdf
from qianshu.signing.signers import KeySigner, to_asn1
from qianshu.signing.stamps import Rect, StampImage
from qianshu.storage.actions import do_store_blob

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


def _local(moment: dt.datetime) -> str:
    return date_format(timezone.localtime(moment), "Y-m-d H:i")


def _is_member(org: Organization, user: User) -> bool:
    return Membership.objects.filter(org=org, user=user).exists()


def _notify_granted(grant: SealGrant) -> None:
    grantee = grant.grantee
    do_queue_sms(
        grantee.phone,
        "seal_granted",
        {"org": grant.seal.org.name, "seal": grant.seal.name, "until": _local(grant.valid_until)},
        language=grantee.language or "zh-hans",
    )


def _grant_detail(grant: SealGrant) -> dict[str, object]:
    return {
        "grant": str(grant.uuid),
        "seal": str(grant.seal.uuid),
        "seal_name": grant.seal.name,
        "grantee": grant.grantee_id,
        "valid_from": grant.valid_from.isoformat(),
        "valid_until": grant.valid_until.isoformat(),
    }


def do_grant_seal(
    org: Organization,
    seal: Seal,
    grantee: User,
    *,
    valid_from: dt.datetime,
    valid_until: dt.datetime,
    legal_rep_phone: str = "",
    note: str = "",
    actor: User,
    request: HttpRequest | None = None,
) -> SealGrant:
    """Grant ``seal`` to ``grantee`` (a current member) from ``valid_from`` to ``valid_until``.

    An ordinary seal's grant is active at once and the grantee gets a ``seal_granted`` SMS. The
    legal representative's seal gives a grant ``awaiting_legal_rep`` and a ``seal_grant_approval``
    SMS with a one-time link to ``legal_rep_phone``. Raises :class:`GrantError`.
    """
    now = timezone.now()
    if seal.org_id != org.pk or not seal.is_usable:
        raise GrantError(_("只能授权本组织启用中的印章。"))
    if valid_until <= valid_from:
        raise GrantError(_("截止时间必须晚于生效时间。"))
    if valid_until <= now:
        raise GrantError(_("截止时间必须晚于当前时间。"))
    if valid_until - valid_from > dt.timedelta(days=MAX_GRANT_DAYS):
        raise GrantError(_("授权期限最长 5 年。"))
    needs_legal_rep = seal.kind == Seal.Kind.LEGAL_REP
    if needs_legal_rep and not legal_rep_phone:
        raise GrantError(_("授权法定代表人章需要法定代表人本人同意，请填写法定代表人手机号。"))
    with transaction.atomic():
        # Serialise grants of one seal, so two admins cannot create overlapping duplicates.
        locked = Seal.objects.select_for_update().get(pk=seal.pk)
        if not locked.is_usable:
            raise GrantError(_("只能授权本组织启用中的印章。"))
        if not _is_member(org, grantee):
            raise GrantError(_("只能授权给本组织的成员。"))
        open_grant = SealGrant.objects.filter(
            seal=locked,
            grantee=grantee,
            status__in=(SealGrant.Status.ACTIVE, SealGrant.Status.AWAITING_LEGAL_REP),
            valid_until__gt=now,
        ).exists()
        if open_grant:
            raise GrantError(_("该成员已有此印章的有效或待确认授权，如需调整请先撤销原授权。"))
        token = secrets.token_urlsafe(32) if needs_legal_rep else ""
        grant = SealGrant.objects.create(
            seal=locked,
            grantee=grantee,
            granted_by=actor,
            valid_from=valid_from,
            valid_until=valid_until,
            status=(
                SealGrant.Status.AWAITING_LEGAL_REP if needs_legal_rep else SealGrant.Status.ACTIVE
            ),
            legal_rep_token_hash=token_hash(token) if token else "",
            note=note,
        )
        if needs_legal_rep:
            link = settings.PUBLIC_URL + reverse("orgs:grant-decision", args=[token])
            do_queue_sms(
                legal_rep_phone,
                "seal_grant_approval",
                {
                    "name": org.legal_rep_name,
                    "org": org.name,
                    "seal": locked.name,
                    "grantee": person_label(grantee),
                    "link": link,
                },
                sensitive=True,
            )
            record_org_event(
                org,
                OrgAction.SEAL_GRANT_REQUESTED,
                actor=actor,
                request=request,
                legal_rep_phone=legal_rep_phone[:3] + "****" + legal_rep_phone[-4:],
                **_grant_detail(grant),
            )
        else:
            _notify_granted(grant)
            record_org_event(
                org, OrgAction.SEAL_GRANTED, actor=actor, request=request, **_grant_detail(grant)
            )
    return grant


def do_revoke_grant(
    grant: SealGrant, *, actor: User, request: HttpRequest | None = None
) -> SealGrant:
    """Revoke a grant (active or awaiting the legal representative), effective at once."""
    with transaction.atomic():
        locked = SealGrant.objects.select_for_update().select_related("seal__org").get(pk=grant.pk)
        if locked.status not in (SealGrant.Status.ACTIVE, SealGrant.Status.AWAITING_LEGAL_REP):
            raise GrantError(_("该授权已失效，无需撤销。"))
        locked.status = SealGrant.Status.REVOKED
        locked.revoked_by = actor
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["status", "revoked_by", "revoked_at"])
        record_org_event(
            locked.seal.org,
            OrgAction.SEAL_GRANT_REVOKED,
            actor=actor,
            request=request,
            **_grant_detail(locked),
        )
    return locked


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


def do_decide_legal_rep_grant(
    token: str, *, approve: bool, actor: User, request: HttpRequest | None = None
) -> SealGrant:
    """The legal representative approves (grant becomes active, the grantee is told) or refuses
    a grant of their seal. Raises :class:`GrantError` with the reason of a refusal."""
    with transaction.atomic():
        found = grant_for_token(token)
        if found is None:
            raise GrantError(_("链接无效或已失效。"))
        grant = (
            SealGrant.objects.select_for_update()
            .select_related("seal__org", "grantee")
            .get(pk=found.pk)
        )
        refusal = legal_rep_refusal(grant, actor)
        if refusal is not None:
            raise GrantError(refusal)
        grant.status = SealGrant.Status.ACTIVE if approve else SealGrant.Status.REFUSED
        grant.legal_rep_decided_by = actor
        grant.save(update_fields=["status", "legal_rep_decided_by"])
        org = grant.seal.org
        if approve:
            _notify_granted(grant)
        record_org_event(
            org,
            OrgAction.SEAL_GRANT_APPROVED if approve else OrgAction.SEAL_GRANT_REFUSED,
            actor=actor,
            request=request,
            **_grant_detail(grant),
        )
    return grant


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


def _check_grant_still_current(grant: SealGrant, actor: User) -> tuple[Seal, SealGrant]:
    """Lock the grant and the seal and check, once more, that the use is allowed right now."""
    locked = SealGrant.objects.select_for_update().get(pk=grant.pk)
    seal = (
        Seal.objects.select_for_update().select_related("org", "certificate").get(pk=locked.seal_id)
    )
    allowed = (
        locked.grantee_id == actor.pk
        and locked.is_current()
        and seal.is_usable
        and _is_member(seal.org, actor)
    )
    if not allowed:
        raise SealUseError(_("您对该印章的授权已失效。"))
    return seal, locked


def _is_certified(data: bytes) -> bool:
    """Whether an already signed PDF carries a certification signature (DocMDP): a new seal
    field would then be an illegal change for it."""
    try:
        perms = PdfFileReader(io.BytesIO(data), strict=False).root.get("/Perms")
        return perms is not None and "/DocMDP" in perms.get_object()
    except Exception:  # noqa: BLE001 - unreadable here: signing reports it
        return False


def _seal_pdf(seal: Seal, pdf: IngestedPdf, page: int | None, position: str) -> bytes:
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


def record_seal_use(
    seal: Seal,
    grant: SealGrant,
    *,
    actor: User,
    request: HttpRequest | None,
    document_name: str,
    sha256: str,
    reference: str = "",
    **detail: str,
) -> SealUsage:
    """用印记录: a ``SealUsage`` row and an organisation event for one use of ``seal`` (here,
    or on an envelope: ``reference`` is then its task number). Call inside the transaction
    that applied the seal."""
    usage = SealUsage.objects.create(
        seal=seal,
        user=actor,
        grant=grant,
        document_name=document_name[:200],
        document_sha256=sha256,
        reference=reference,
        ip=client_ip(request),
    )
    record_org_event(
        seal.org,
        OrgAction.SEAL_USED,
        actor=actor,
        request=request,
        seal=str(seal.uuid),
        seal_name=seal.name,
        grant=str(grant.uuid),
        usage=usage.pk,
        document_name=usage.document_name,
        output_sha256=sha256,
        **({"envelope": reference} if reference else {}),
        **detail,
    )
    return usage


def sealed_filename(document_name: str) -> str:
    stem = document_name[:-4] if document_name.lower().endswith(".pdf") else document_name
    return f"{stem}（已盖章）.pdf"


def do_use_seal(
    grant: SealGrant,
    pdf: IngestedPdf,
    *,
    document_name: str,
    pin: str,
    page: int | None = None,
    position: str = DEFAULT_POSITION,
    actor: User,
    request: HttpRequest | None = None,
) -> SealedDocument:
    """Seal ``pdf`` with the seal of ``grant`` after the grantee confirms with their own PIN.

    ``page`` counts from 1 (None: the last page); ``position`` is a key of :data:`POSITIONS`.
    Raises the identity app's ``PinError`` subclasses (wrong PIN, locked, no PIN set) and
    :class:`SealUseError`; nothing is recorded then. On success the sealed PDF is stored as a
    blob, and a ``SealUsage`` row and an organisation event are written.
    """
    if position not in POSITIONS:
        raise SealUseError(_("请选择盖章位置。"))
    # The PIN check commits its own attempt counter, so it runs before our transaction: a
    # rollback here must not forget a wrong PIN.
    do_unlock_signing_key(actor, pin, meta=request_meta(request) if request is not None else TASK)
    with transaction.atomic():
        seal, locked = _check_grant_still_current(grant, actor)
        data = _seal_pdf(seal, pdf, page, position)
        blob = do_store_blob(data, content_type="application/pdf")
        usage = record_seal_use(
            seal,
            locked,
            actor=actor,
            request=request,
            document_name=document_name,
            sha256=blob.sha256,
            input_sha256=pdf.sha256,
        )
    return SealedDocument(data=data, filename=sealed_filename(usage.document_name), usage=usage)
