"""文件签署: a recipient's turn in the browser.

* ``sign_view`` — 签署文件列表 and the document viewer (the recipient link leads here); or a
  page that says what is missing first (实名认证, a name that does not match, 印章授权).
* ``sign_submit_view`` — 提交签署 (JSON in, JSON out) → :func:`actions.turns.do_sign`.
* ``sign_code_view`` — the SMS code that confirms a signing for someone who never had a signing
  PIN (refused to everybody else, and where the envelope does not allow it).
* ``approve_view`` (同意), ``reject_view`` (拒签 / 退回, with a reason), ``done_view`` (the result).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from qianshu.accounts import codes
from qianshu.accounts.decorators import login_required
from qianshu.accounts.models import User
from qianshu.accounts.signatures import (
    HandwrittenSignatureError,
    decode_png_data_url,
    prepare_drawn_signature,
)
from qianshu.core.errors import add_message
from qianshu.core.meta import request_meta
from qianshu.core.requests import current_user
from qianshu.envelopes import confirmations, geometry, placement, returns, routing, turns
from qianshu.envelopes.access import (
    access_envelope_by_uuid,
    access_turn_by_uuid,
    turn_of,
    usable_seals_for,
)
from qianshu.envelopes.actions.confirmations import do_send_signing_code
from qianshu.envelopes.actions.returns import do_send_back
from qianshu.envelopes.actions.turns import do_approve, do_mark_viewed, do_reject, do_sign
from qianshu.envelopes.errors import ConfirmationError, DocumentChanged, EnvelopeError, NotYourTurn
from qianshu.envelopes.models import Document, Envelope, Field, Recipient, Submission
from qianshu.envelopes.views.common import BadInput, invalid, json_body, posted
from qianshu.envelopes.views.documents import WIDTHS
from qianshu.envelopes.views.seal_help import seal_help
from qianshu.identity.access import verified_identity
from qianshu.identity.holds import new_key_held_until
from qianshu.orgs.models import Membership
from qianshu.signing import stamps

Role = Recipient.Role
Kind = Field.Kind
MAX_STAGED = placement.MAX_FIELDS  # declared fields and free placements together
SHA256_HEX = frozenset("0123456789abcdef")


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "fetch" or (
        request.content_type == "application/json"
    )


def _error(message: str, status: int = 400, **extra: Any) -> JsonResponse:
    return JsonResponse({"ok": False, "message": message, **extra}, status=status)


def _done_url(envelope: Envelope) -> str:
    return reverse("envelopes:sign-done", args=[envelope.uuid])


# --- the page ---------------------------------------------------------------------------------


KIND_LABELS: dict[str, Any] = {
    Kind.SIGNATURE: gettext_lazy("签名处"),
    Kind.SEAL: gettext_lazy("盖章处"),
    Kind.CROSS_PAGE_SEAL: gettext_lazy("骑缝章"),
    Kind.DATE: gettext_lazy("签署日期"),
    Kind.TEXT: gettext_lazy("填写内容"),
}


def _field_data(field: Field, boxes: list[stamps.Rect]) -> dict[str, Any]:
    """A field in fractions of its page(s), as the viewer draws it."""
    data: dict[str, Any] = {
        "id": field.pk,
        "doc": field.document_id,
        "kind": field.kind,
        "label": field.label or str(KIND_LABELS.get(field.kind, field.get_kind_display())),
        "value": field.value,
    }
    if field.kind == Kind.CROSS_PAGE_SEAL:
        slices = stamps.cross_page_slices(
            [stamps.Rect(b.x1, b.y1, b.x2, b.y2) for b in boxes],
            list(field.pages),
            seal_size_pt=field.y2 - field.y1,
            center_y_pt=(field.y1 + field.y2) / 2,
        )
        data["parts"] = [
            {"page": page, **geometry.to_fractions(boxes[page], rect)} for page, rect in slices
        ]
        data["page"] = slices[0][0]
    else:
        rect = stamps.Rect(field.x1, field.y1, field.x2, field.y2)
        data["parts"] = [{"page": field.page, **geometry.to_fractions(boxes[field.page], rect)}]
        data["page"] = field.page
    return data


def _page_urls(envelope: Envelope, document: Document, page: int) -> dict[str, str]:
    base = reverse("envelopes:page-image", args=[envelope.uuid, document.pk, page])
    sha = document.current_id
    srcset = ", ".join(f"{base}?w={w}&r={sha} {w}w" for w in WIDTHS)
    return {"src": f"{base}?w=800&r={sha}", "srcset": srcset}


def _viewer(envelope: Envelope, recipient: Recipient) -> tuple[list[dict[str, Any]], dict]:
    """The documents with their pages (for the template) and the data of the viewer script."""
    documents = list(envelope.documents.order_by("position", "id"))
    # Fields filled before a 退回 on a document that kept its signatures are done.
    free = (
        recipient.role in (Role.SIGN, Role.SEAL)
        and not recipient.fields.filter(filled_at__isnull=True).exists()
    )
    fields = list(
        Field.objects.filter(envelope=envelope).select_related("recipient").order_by("page", "id")
    )
    out = []
    data_docs = []
    mine: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for document in documents:
        boxes = document.boxes()
        pages = []
        for index, box in enumerate(boxes):
            pages.append(
                {
                    "index": index,
                    "number": index + 1,
                    "width": round(box.width, 2),
                    "height": round(box.height, 2),
                    "ratio": f"{box.width:.3f} / {box.height:.3f}",
                    "img_height": round(800 * box.height / box.width),
                    **_page_urls(envelope, document, index),
                }
            )
        out.append({"document": document, "pages": pages})
        data_docs.append(
            {
                "id": document.pk,
                "name": document.name,
                "free": free and not document.certified,
                "pages": [[p["width"], p["height"]] for p in pages],
            }
        )
        for field in (f for f in fields if f.document_id == document.pk):
            if field.recipient_id == recipient.pk:
                if field.filled_at is None:
                    mine.append(_field_data(field, boxes))
            elif field.filled_at is None and field.recipient.role != Role.CC:
                others.append({**_field_data(field, boxes), "name": field.recipient.name})
    data = {
        "documents": data_docs,
        "fields": mine,
        "others": others,
        "seen": {str(d.pk): d.current_id for d in documents},
    }
    return out, data


def _signatures(user: User) -> list[dict[str, Any]]:
    return [
        {
            "id": s.pk,
            "url": reverse("accounts:signature-image", args=[s.pk]),
            "default": s.is_default,
        }
        for s in user.signatures.order_by("-is_default", "-created_at")
    ]


def _seals(user: User, recipient: Recipient) -> list[dict[str, Any]]:
    return [
        {
            "uuid": str(seal.uuid),
            "name": seal.name,
            "org": seal.org.name,
            "url": reverse("orgs:my-seal-image", args=[seal.org.uuid, seal.uuid]),
        }
        for seal in usable_seals_for(user, recipient)
    ]


def _turn_context(envelope: Envelope, recipient: Recipient, user: User) -> dict[str, Any]:
    documents, data = _viewer(envelope, recipient)
    data.update(
        {
            "recipient": recipient.pk,
            "role": recipient.role,
            "free": any(d["free"] for d in data["documents"]),
            "needsCode": confirmations.needs_code(user),
            "signatures": _signatures(user) if recipient.role == Role.SIGN else [],
            "seals": _seals(user, recipient) if recipient.role == Role.SEAL else [],
            "today": turns.signing_date_text(),
            "sizes": {
                "signature": geometry.SIGNATURE_SIZE,
                "seal": geometry.SEAL_SIZE,
                "date": geometry.DATE_SIZE,
                "crossPage": geometry.CROSS_PAGE_SEAL_PT,
            },
            "urls": {
                "submit": reverse("envelopes:sign-submit", args=[envelope.uuid]),
                "code": reverse("envelopes:sign-code", args=[envelope.uuid]),
                "done": _done_url(envelope),
            },
            "storageKey": f"qianshu-sign:{envelope.uuid}:{recipient.pk}",
        }
    )
    return {
        "envelope": envelope,
        "recipient": recipient,
        "nav": "envelopes",
        "initiator_label": routing.initiator_label(envelope),
        "initiator_verified": routing.initiator_verified(envelope),
        "action_label": routing.action_label(recipient),
        "documents": documents,
        "signing_data": data,
        "signatures": data["signatures"],
        "seals": data["seals"],
        "is_approver": recipient.role == Role.APPROVE,
        "is_seal": recipient.role == Role.SEAL,
        "free": data["free"],
        "needs_code": data["needsCode"],
        "pin_locked_until": None if data["needsCode"] else confirmations.pin_locked_until(user),
        "masked_phone": user.masked_phone,
        "reasons": [_("文件内容有误"), _("签署方信息有误"), _("签署位置有误"), _("暂不签署")],
        "lost_documents": returns.lost_documents(recipient),
    }


def _seal_help(user: User, envelope: Envelope) -> dict[str, Any] | None:
    """Why a member of the organisation a pending seal step is bound to cannot seal it (no grant
    of a matching seal), e.g. its administrator. By the binding only, never by a name."""
    orgs = set(Membership.objects.filter(user=user).values_list("org_id", flat=True))
    pending = envelope.recipients.filter(
        role=Role.SEAL,
        org__isnull=False,
        status__in=(Recipient.Status.PENDING, Recipient.Status.VIEWED),
    ).select_related("org", "envelope")
    for recipient in pending.order_by("routing_order", "id"):
        if recipient.org_id in orgs:
            return seal_help(user, recipient)
    return None


@require_GET
@login_required
def sign_view(request: HttpRequest, envelope_uuid: str) -> HttpResponse:
    """签署文件列表 + 文件签署 on the user's turn; otherwise what they must do first, or the
    envelope's page."""
    user = current_user(request)
    envelope = access_envelope_by_uuid(user, envelope_uuid)
    recipient = turn_of(user, envelope)
    base = {"envelope": envelope, "nav": "envelopes"}
    if recipient is None:
        help_context = _seal_help(user, envelope) if envelope.is_active() else None
        if help_context is None:
            return HttpResponseRedirect(envelope.get_absolute_url())
        return render(request, "envelopes/sign/no_seal.html", {**base, **help_context})
    guide = {
        **base,
        "recipient": recipient,
        "initiator_label": routing.initiator_label(envelope),
        "initiator_verified": routing.initiator_verified(envelope),
    }
    try:
        turns.check_managed(envelope, managed=False)  # e.g. an employment agreement
        turns.check_signer(recipient, user)
    except EnvelopeError as exc:
        guide.update(
            guide_id="sign-blocked",
            reason=str(exc),
            needs_identity=verified_identity(user) is None,
        )
        return render(request, "envelopes/sign/blocked.html", guide)
    if recipient.role != Role.APPROVE and confirmations.needs_code(user):
        refusal = confirmations.sms_refusal(user, [envelope])
        if refusal is not None:  # no SMS code here: set a PIN first, or wait
            guide.update(
                guide_id="sign-needs-pin",
                reason=refusal,
                may_set_pin=new_key_held_until(user) is None,
            )
            return render(request, "envelopes/sign/needs_pin.html", guide)
    do_mark_viewed(recipient, actor=user, meta=request_meta(request))
    return render(request, "envelopes/sign/page.html", _turn_context(envelope, recipient, user))


# --- 提交签署 ---------------------------------------------------------------------------------


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise invalid()
    try:
        return int(value)
    except ValueError:
        raise invalid() from None


def _text(value: object, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid()
    return value[:limit]


def _seen(envelope: Envelope, value: object) -> dict[int, str]:
    if not isinstance(value, dict) or not value:
        raise invalid()
    doc_ids = set(envelope.documents.values_list("pk", flat=True))
    seen = {}
    for key, sha in value.items():
        doc = _int(key)
        if doc not in doc_ids or not isinstance(sha, str) or len(sha) != 64:
            raise invalid()
        if not set(sha) <= SHA256_HEX:  # hex, as the blob ids
            raise invalid()
        seen[doc] = sha
    return seen


def _free_field(documents: dict[int, Document], item: dict[str, Any]) -> turns.StagedField:
    """A placement the signer dragged onto a page (指定位置签署), from page fractions."""
    try:
        where = placement.signer_field(item, documents)
    except placement.PlacementError as exc:
        raise BadInput(str(exc)) from None
    return turns.StagedField(
        document_id=where.document_id,
        kind=where.kind,
        page=where.page,
        rect=where.rect,
        pages=where.pages,
        value=where.value,
    )


def _staged(envelope: Envelope, value: object) -> list[turns.StagedField]:
    if not isinstance(value, list) or len(value) > MAX_STAGED:
        raise invalid()
    documents = {d.pk: d for d in envelope.documents.all()}
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise invalid()
        if item.get("field") is not None:
            out.append(
                turns.StagedField(field_id=_int(item["field"]), value=_text(item.get("value"), 200))
            )
        else:
            out.append(_free_field(documents, item))
    return out


def _drawn_signature(value: object) -> bytes | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise BadInput(_("签名图片格式不正确（应为 PNG），请重新书写。"))
    try:
        return prepare_drawn_signature(decode_png_data_url(value)).png
    except HandwrittenSignatureError as exc:
        raise BadInput(str(exc)) from exc


def _sign_request(envelope: Envelope, payload: dict[str, Any]) -> turns.SignRequest:
    signature_id = payload.get("signature_id")
    seal = payload.get("seal")
    return turns.SignRequest(
        key=_text(payload.get("key"), 65),
        seen=_seen(envelope, payload.get("seen")),
        fields=_staged(envelope, payload.get("fields", [])),
        signature_png=_drawn_signature(payload.get("signature")),
        signature_id=_int(signature_id) if signature_id not in (None, "") else None,
        seal_uuid=_text(seal, 64) or None,
    )


def _signed(envelope: Envelope) -> JsonResponse:
    return JsonResponse({"ok": True, "redirect": _done_url(envelope)})


def _already_submitted(envelope: Envelope, user: User, key: object) -> bool:
    """A retried 提交签署 after the first one signed (the turn has moved on since)."""
    if not isinstance(key, str) or not key:
        return False
    return Submission.objects.filter(
        recipient__envelope=envelope, recipient__acted_by=user, key=key[:64]
    ).exists()


@require_POST
@login_required
def sign_submit_view(request: HttpRequest, envelope_uuid: str) -> HttpResponse:
    """提交签署: JSON ``{key, recipient, seen, fields, seal, signature, signature_id, pin|code}``
    → ``{ok, redirect}`` or ``{ok: false, message, reload?}`` (400, 409 when the document or
    the turn changed)."""
    user = current_user(request)
    envelope = access_envelope_by_uuid(user, envelope_uuid)
    try:
        payload = json_body(request)
    except BadInput as exc:
        return _error(str(exc))
    recipient = turn_of(user, envelope)
    if recipient is None:
        if _already_submitted(envelope, user, payload.get("key")):
            return _signed(envelope)
        raise Http404
    if payload.get("recipient") not in (None, recipient.pk):
        return _error(_("签署环节已变化，请刷新页面后重试。"), 409, reload=True)
    try:
        sign_request = _sign_request(envelope, payload)
    except BadInput as exc:
        return _error(str(exc))
    pin = _text(payload.get("pin"), 32).strip() or None
    code = _text(payload.get("code"), 32).strip() or None
    try:
        do_sign(
            recipient,
            sign_request,
            pin=pin,
            code=None if pin else code,
            actor=user,
            meta=request_meta(request),  # transitional: see do_sign
        )
    except DocumentChanged as exc:
        return _error(str(exc), 409, reload=True)
    except NotYourTurn as exc:
        return _error(str(exc), 409, redirect=envelope.get_absolute_url())
    except EnvelopeError as exc:
        return _error(str(exc), confirm=isinstance(exc, ConfirmationError))
    return _signed(envelope)


@require_POST
@login_required
def sign_code_view(request: HttpRequest, envelope_uuid: str) -> HttpResponse:
    """获取验证码: JSON ``{seen}``; the code is bound to this envelope and the hashes seen."""
    user = current_user(request)
    envelope, _recipient = access_turn_by_uuid(user, envelope_uuid)
    try:
        seen = _seen(envelope, json_body(request).get("seen"))
    except BadInput as exc:
        return _error(str(exc))
    try:
        do_send_signing_code(
            confirmations.confirmation_binding(envelope, seen),
            envelopes=[envelope],
            actor=user,
            meta=request_meta(request),
        )
    except codes.CodeError as exc:
        return _error(str(exc), 429, retry_after=exc.retry_after)
    except ConfirmationError as exc:  # a PIN holder, or no SMS codes for this envelope
        return _error(str(exc), confirm=True)
    return JsonResponse(
        {
            "ok": True,
            "message": _("验证码已发送至 %(phone)s，5 分钟内有效。") % {"phone": user.masked_phone},
            "retry_after": 60,
        }
    )


# --- 同意 / 拒签 ----------------------------------------------------------------------------


@require_POST
@login_required
def approve_view(request: HttpRequest, envelope_uuid: str) -> HttpResponse:
    """审批 同意."""
    user = current_user(request)
    envelope, recipient = access_turn_by_uuid(user, envelope_uuid)
    try:
        do_approve(recipient, actor=user, meta=request_meta(request))
    except EnvelopeError as exc:
        if _wants_json(request):
            return _error(str(exc))
        add_message(request, exc)
        return HttpResponseRedirect(reverse("envelopes:sign", args=[envelope.uuid]))
    if _wants_json(request):
        return _signed(envelope)
    return HttpResponseRedirect(_done_url(envelope))


@login_required
def reject_view(request: HttpRequest, envelope_uuid: str) -> HttpResponse:
    """拒签 / 退回 with a reason (the form also works as a page of its own)."""
    user = current_user(request)
    envelope, recipient = access_turn_by_uuid(user, envelope_uuid)
    reason = ""
    error = ""
    if request.method == "POST":
        reason = posted(request, "reason")
        try:
            do_reject(recipient, reason, actor=user, meta=request_meta(request))
        except EnvelopeError as exc:
            error = str(exc)
            if _wants_json(request):
                return _error(error)
        else:
            if _wants_json(request):
                return _signed(envelope)
            return HttpResponseRedirect(_done_url(envelope))
    context = _turn_context(envelope, recipient, user)
    context.update({"reason": reason, "error": error})
    return render(request, "envelopes/sign/reject.html", context, status=400 if error else 200)


@login_required
def send_back_view(request: HttpRequest, envelope_uuid: str) -> HttpResponse:
    """退回 to the initiator for correction, with a reason (a dialog of the signing page that
    also works as a page of its own)."""
    user = current_user(request)
    envelope, recipient = access_turn_by_uuid(user, envelope_uuid)
    reason = ""
    error = ""
    if request.method == "POST":
        reason = posted(request, "reason")
        try:
            do_send_back(recipient, reason, actor=user, meta=request_meta(request))
        except EnvelopeError as exc:
            error = str(exc)
        else:
            messages.success(request, _("已退回发起方修改，发起方重新发起后会再通知您。"))
            return HttpResponseRedirect(envelope.get_absolute_url())
    context = _turn_context(envelope, recipient, user)
    context.update({"reason": reason, "error": error})
    return render(request, "envelopes/sign/send_back.html", context, status=400 if error else 200)


# --- the result -----------------------------------------------------------------------------


def _acted(user: User, envelope: Envelope) -> Recipient | None:
    """The recipient the user acted as most recently in this envelope."""
    return (
        envelope.recipients.filter(acted_by=user, done_at__isnull=False)
        .select_related("seal", "org")
        .order_by("-done_at", "-id")
        .first()
    )


@require_GET
@login_required
def done_view(request: HttpRequest, envelope_uuid: str) -> HttpResponse:
    """签署结果: what happened and what comes next (下一位签署方, 归档, 下载)."""
    user = current_user(request)
    envelope = access_envelope_by_uuid(user, envelope_uuid)
    recipient = _acted(user, envelope)
    next_turn = turn_of(user, envelope)
    if recipient is None:
        if next_turn is not None:
            return HttpResponseRedirect(reverse("envelopes:sign", args=[envelope.uuid]))
        return HttpResponseRedirect(envelope.get_absolute_url())
    done, total = routing.progress(envelope)
    waiting_for = [
        r
        for r in envelope.recipients.order_by("routing_order", "id")
        if r.acts and r.status in (Recipient.Status.PENDING, Recipient.Status.VIEWED)
    ]
    rejected = recipient.status == Recipient.Status.REJECTED
    archiving = not rejected and envelope.is_active() and envelope.all_signed_at is not None
    context = {
        "envelope": envelope,
        "nav": "envelopes",
        "recipient": recipient,
        "rejected": rejected,
        "approved": recipient.role == Role.APPROVE and not rejected,
        "completed": envelope.status == Envelope.Status.COMPLETED,
        "archiving": archiving,
        "waiting_for": [r for r in waiting_for if r.pk != recipient.pk],
        "progress": f"{done}/{total}",
        "documents": list(envelope.documents.order_by("position", "id")),
        "next_turn": next_turn,
        "initiator_label": routing.initiator_label(envelope),
    }
    return render(request, "envelopes/sign/done.html", context)
