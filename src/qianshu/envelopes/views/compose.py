"""发起签署: step 1 (基本信息 / 签署文件 / 签署方), step 2 (设置签署位置, the field editor),
step 3 (确认发起), and the draft box (草稿箱).

Step 1 is one form; each of its parts (basics, new files, recipient rows) is saved on its own,
so an error in one part never loses another: the page comes back with the user's input and
the files already stored stay on the draft. A draft is created by the first save that has a
task name (or a file to name it after).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from qianshu.accounts.decorators import login_required
from qianshu.accounts.models import User
from qianshu.core.errors import add_message, add_to_form
from qianshu.core.meta import RequestMeta, request_meta
from qianshu.core.requests import current_user
from qianshu.envelopes import compose, geometry, placement, queries, returns, routing, sending
from qianshu.envelopes.access import access_draft_by_uuid, access_initiated_by_uuid
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.actions.returns import do_resend_envelope
from qianshu.envelopes.audit import person_label
from qianshu.envelopes.compose_forms import (
    RECIPIENT_PREFIX,
    DraftForm,
    RecipientFormSet,
    field_fractions,
    recipient_initial,
)
from qianshu.envelopes.errors import EnvelopeError
from qianshu.envelopes.models import Document, Envelope, Field, Recipient
from qianshu.identity.access import verified_identity
from qianshu.orgs.context import acting_org
from qianshu.orgs.models import Organization, Seal
from qianshu.signing import pages, stamps
from qianshu.signing.errors import PdfError

Role = Recipient.Role
Kind = Field.Kind
DRAFTS_PAGE_SIZE = 20
# One colour per recipient in the field editor (and its name label), by position.
COLOURS = ("#1d5bd8", "#d9480f", "#2b8a3e", "#7048e8", "#c2255c", "#0b7285", "#e67700", "#5c940d")
KIND_ORDER = (Kind.SIGNATURE, Kind.SEAL, Kind.CROSS_PAGE_SEAL, Kind.DATE, Kind.TEXT)
DEFAULT_SIZES = {
    Kind.SIGNATURE: geometry.SIGNATURE_SIZE,
    Kind.SEAL: geometry.SEAL_SIZE,
    Kind.CROSS_PAGE_SEAL: (geometry.CROSS_PAGE_SEAL_PT, geometry.CROSS_PAGE_SEAL_PT),
    Kind.DATE: geometry.DATE_SIZE,
    Kind.TEXT: geometry.TEXT_SIZE,
}


class _Sent(Exception):
    """The envelope is the actor's but already sent: it can no longer be edited."""

    def __init__(self, envelope: Envelope) -> None:
        self.envelope = envelope


def _draft(user: User, envelope_uuid: object) -> Envelope:
    """The actor's draft; :class:`_Sent` when the actor sent it already; else 404."""
    try:
        return access_draft_by_uuid(user, envelope_uuid)
    except Http404:
        raise _Sent(access_initiated_by_uuid(user, envelope_uuid)) from None


def _already_sent(request: HttpRequest, envelope: Envelope) -> HttpResponse:
    messages.info(request, _("任务已发起，不能再修改。"))
    return HttpResponseRedirect(envelope.get_absolute_url())


def _documents(envelope: Envelope | None) -> list[Document]:
    if envelope is None:
        return []
    return list(envelope.documents.annotate(field_count=Count("fields")).order_by("position", "id"))


def _page_url(envelope: Envelope, document: Document, page: int, width: int) -> str:
    url = reverse("envelopes:page-image", args=[envelope.uuid, document.pk, page])
    return f"{url}?w={width}&r={document.current_id}"


def _recipients(envelope: Envelope) -> list[Recipient]:
    return list(
        envelope.recipients.select_related("org")
        .annotate(field_count=Count("fields"))
        .order_by("routing_order", "id")
    )


# --- step 1: 基本信息 / 签署文件 / 签署方 -------------------------------------------------


def _add_files(
    envelope: Envelope, uploads: list[UploadedFile], user: User, meta: RequestMeta
) -> tuple[list[Document], list[str]]:
    added, errors = [], []
    for upload in uploads:
        name = upload.name or "document.pdf"
        if not upload.size:
            errors.append(_("“%(name)s”是空文件，请重新选择。") % {"name": name})
            continue
        if upload.size > compose.DOCUMENT_LIMITS.max_bytes:
            errors.append(_("“%(name)s”太大：文件最大 20 MB，最多 300 页。") % {"name": name})
            continue
        try:
            added.append(
                compose_actions.do_add_document(
                    envelope, upload.read(), name, actor=user, meta=meta
                )
            )
        except EnvelopeError as exc:
            errors.append(str(exc))
    return added, errors


def _default_title(form: DraftForm, uploads: list[UploadedFile]) -> str:
    title = str(form.cleaned_data.get("title") or "")
    if not title and uploads and uploads[0].name:
        title = uploads[0].name.rsplit(".", 1)[0].strip()[: compose.MAX_TITLE]
    return title


@dataclass
class _Saved:
    envelope: Envelope | None
    added: list[Document] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    recipient_errors: list[str] = field(default_factory=list)
    recipients_saved: bool = False


def _save_basics(
    request: HttpRequest,
    user: User,
    envelope: Envelope | None,
    form: DraftForm,
    rows: Any,
    uploads: list[UploadedFile],
) -> _Saved:
    """Save each part of step 1 that is valid: the basics, the new files, the recipients."""
    meta = request_meta(request)
    form_ok = form.is_valid()
    data = form.cleaned_data  # the valid fields only, when some are not
    if envelope is None:
        title = _default_title(form, uploads)
        if not title:
            if "title" not in form.errors:
                form.add_error("title", _("请输入任务名称，或先上传签署文件。"))
            return _Saved(None)
        try:
            envelope = compose_actions.do_create_draft(
                title=title,
                scene=data.get("scene", ""),
                message=data.get("message", ""),
                deadline=data.get("deadline"),
                auto_remind=data.get("auto_remind", True),
                allow_sms_signing=data.get("allow_sms_signing", True),
                org=acting_org(request),
                actor=user,
                meta=meta,
            )
        except EnvelopeError as exc:
            add_to_form(form, exc)
            return _Saved(None)
    elif form_ok:
        try:
            compose_actions.do_update_draft(
                envelope,
                title=data["title"] or envelope.title,
                scene=data["scene"],
                message=data["message"],
                deadline=data["deadline"],
                auto_remind=data["auto_remind"],
                allow_sms_signing=data["allow_sms_signing"],
                actor=user,
            )
        except EnvelopeError as exc:
            add_to_form(form, exc)
    saved = _Saved(envelope)
    saved.added, saved.file_errors = _add_files(envelope, uploads, user, meta)
    if rows.is_valid():
        try:
            compose_actions.do_set_recipients(envelope, rows.inputs(), actor=user)
        except EnvelopeError as exc:
            saved.recipient_errors.append(str(exc))
        else:
            saved.recipients_saved = True
    return saved


def _saved_rows(envelope: Envelope) -> Any:
    """The recipient rows of the draft as stored (with their ids)."""
    recipients = list(envelope.recipients.select_related("org").order_by("routing_order", "id"))
    return RecipientFormSet(initial=recipient_initial(recipients), prefix=RECIPIENT_PREFIX)


def _next_problems(envelope: Envelope) -> list[str]:
    """What keeps step 2 from making sense yet."""
    out = []
    if not envelope.documents.exists():
        out.append(_("请至少上传一份文件。"))
    if not any(r.acts for r in envelope.recipients.all()):
        out.append(_("请至少添加一个签署方（抄送人不算）。"))
    return out


def _basics_context(
    request: HttpRequest,
    user: User,
    envelope: Envelope | None,
    form: DraftForm,
    rows: Any,
    saved: _Saved | None = None,
    problems: list[str] | None = None,
) -> dict[str, Any]:
    org: Organization | None = envelope.initiator_org if envelope else acting_org(request)
    documents = _documents(envelope)
    for document in documents:
        box = document.boxes()[0]
        document.thumb_url = _page_url(envelope, document, 0, 400)  # type: ignore[arg-type,attr-defined]
        document.thumb_height = round(60 * box.height / box.width)  # type: ignore[attr-defined]
    if envelope is not None:
        initiator = routing.initiator_label(envelope)
    else:
        initiator = org.name if org else person_label(user)
    return {
        "nav": "envelopes",
        "envelope": envelope,
        "form": form,
        "rows": rows,
        "documents": documents,
        "file_errors": saved.file_errors if saved else [],
        "recipient_errors": saved.recipient_errors if saved else [],
        "problems": problems or [],
        "initiator_label": initiator,
        "acting_org": org,
        "scene_options": queries.scene_suggestions(user, org),
        "me_name": person_label(user),
        "me_phone": user.phone,
        "action_url": (
            reverse("envelopes:edit", args=[envelope.uuid])
            if envelope
            else reverse("envelopes:new")
        ),
        "max_documents": compose.MAX_DOCUMENTS,
        "step": 1,
    }


def _basics(request: HttpRequest, user: User, envelope: Envelope | None) -> HttpResponse:
    template = "envelopes/compose/basics.html"
    if request.method != "POST":
        initial: dict[str, Any] = {"auto_remind": True, "allow_sms_signing": True}
        if envelope is not None:
            initial = {
                "title": envelope.title,
                "scene": envelope.scene,
                "deadline": envelope.deadline,
                "auto_remind": envelope.auto_remind,
                "allow_sms_signing": envelope.allow_sms_signing,
                "message": envelope.message,
            }
        form = DraftForm(initial=initial)
        rows = (
            _saved_rows(envelope)
            if envelope is not None
            else RecipientFormSet(initial=recipient_initial([]), prefix=RECIPIENT_PREFIX)
        )
        return render(request, template, _basics_context(request, user, envelope, form, rows))

    form = DraftForm(request.POST)
    rows = RecipientFormSet(request.POST, prefix=RECIPIENT_PREFIX)
    saved = _save_basics(request, user, envelope, form, rows, request.FILES.getlist("files"))
    envelope = saved.envelope
    removed = ""
    remove_id = request.POST.get("remove_document", "")
    if envelope is not None and remove_id.isdigit():
        document = envelope.documents.filter(pk=int(remove_id)).first()
        if document is not None:
            try:
                compose_actions.do_remove_document(document, actor=user)
            except EnvelopeError as exc:
                saved.file_errors.append(str(exc))
            else:
                removed = document.name
    action = request.POST.get("action", "save")
    failed = bool(form.errors or saved.file_errors or saved.recipient_errors or not rows.is_valid())
    problems = []
    if envelope is not None and not failed and action == "next":
        problems = _next_problems(envelope)
    if failed or problems or envelope is None:
        if envelope is not None and saved.recipients_saved:
            rows = _saved_rows(envelope)  # the same rows, now with the ids they were given
        context = _basics_context(request, user, envelope, form, rows, saved, problems)
        return render(request, template, context, status=400)
    if action == "next":
        return HttpResponseRedirect(reverse("envelopes:fields", args=[envelope.uuid]))
    if removed:
        messages.success(request, _("已删除文件“%(name)s”。") % {"name": removed})
    elif saved.added:
        n = len(saved.added)
        messages.success(
            request, ngettext("已上传 %(n)d 份文件。", "已上传 %(n)d 份文件。", n) % {"n": n}
        )
    else:
        messages.success(request, _("草稿已保存。"))
    anchor = "#documents" if removed or saved.added else ""
    return HttpResponseRedirect(reverse("envelopes:edit", args=[envelope.uuid]) + anchor)


@require_http_methods(["GET", "POST"])
@login_required
def new_view(request: HttpRequest) -> HttpResponse:
    """发起签署: a new draft (created by its first save)."""
    return _basics(request, current_user(request), None)


@require_http_methods(["GET", "POST"])
@login_required
def edit_view(request: HttpRequest, envelope_uuid: str) -> HttpResponse:
    """Step 1 of an existing draft."""
    user = current_user(request)
    try:
        envelope = _draft(user, envelope_uuid)
    except _Sent as sent:
        return _already_sent(request, sent.envelope)
    return _basics(request, user, envelope)


# --- step 2: 设置签署位置 ------------------------------------------------------------------


def _editor_config(envelope: Envelope, documents: list[Document]) -> dict[str, Any]:
    recipients = _recipients(envelope)
    colours = {r.pk: COLOURS[i % len(COLOURS)] for i, r in enumerate(recipients)}
    by_id = {d.pk: d for d in documents}
    fields = [
        field_fractions(f, by_id[f.document_id])
        for f in Field.objects.filter(envelope=envelope).order_by("id")
        if f.document_id in by_id
    ]
    kinds = {
        kind: {
            "label": str(Kind(kind).label),
            "w": DEFAULT_SIZES[kind][0],
            "h": DEFAULT_SIZES[kind][1],
        }
        for kind in KIND_ORDER
    }
    return {
        "saveUrl": reverse("envelopes:fields", args=[envelope.uuid]),
        "nextUrl": reverse("envelopes:send", args=[envelope.uuid]),
        "minSide": geometry.MIN_SIDE_PT,
        "kinds": kinds,
        "documents": [
            {
                "id": d.pk,
                "name": d.name,
                "pages": [
                    {"x1": b[0], "y1": b[1], "w": b[2] - b[0], "h": b[3] - b[1]}
                    for b in d.page_boxes
                ],
            }
            for d in documents
        ],
        "recipients": [
            {
                "id": r.pk,
                "name": r.name,
                "role": r.role,
                "roleLabel": str(r.get_role_display()),
                "colour": colours[r.pk],
                "kinds": [k for k in KIND_ORDER if k in compose.KINDS_FOR_ROLE[r.role]],
            }
            for r in recipients
            if compose.KINDS_FOR_ROLE[r.role]
        ],
        "fields": fields,
        "strings": {
            "saving": _("正在保存…"),
            "saved": _("已保存"),
            "unsaved": _("有未保存的修改"),
            "failed": _("网络错误，签署位置未保存，请重试。"),
            "placeHint": _("点击页面放置“%(kind)s”"),
            "page": _("第 %(n)s 页"),
            "pageOf": _("第 %(n)s / %(total)s 页"),
            "delete": _("删除"),
            "noFields": _("签署时自行指定位置"),
            "fieldCount": _("%(n)s 个位置"),
            "needTwoPages": _("骑缝章至少需要两页"),
            "leave": _("签署位置还没有保存，确定离开吗？"),
            "recipientOption": _("%(name)s（%(role)s）"),
        },
    }


def _save_fields(request: HttpRequest, user: User, envelope: Envelope) -> JsonResponse:
    documents = {d.pk: d for d in envelope.documents.all()}
    recipients = {r.pk: r for r in envelope.recipients.all()}
    try:
        items = placement.editor_fields(request.body, documents, recipients)
    except placement.PlacementError as exc:
        return JsonResponse({"ok": False, "message": str(exc), "index": exc.index}, status=400)
    # Check each one first, to say which field is wrong; do_set_fields checks them again.
    for index, item in enumerate(items):
        recipient = recipients.get(item.recipient_id)
        if recipient is None:
            message = _("签署位置对应的签署方或文件不存在，请刷新页面。")
            return JsonResponse({"ok": False, "message": message, "index": index}, status=400)
        try:
            compose.check_field(item, recipient, documents[item.document_id])
        except EnvelopeError as exc:
            message = str(exc)
            if item.kind in compose.KINDS_FOR_ROLE[recipient.role]:  # say which one
                message = (
                    _("第 %(n)d 页“%(who)s”的%(kind)s：")
                    % {
                        "n": item.page + 1,
                        "who": recipient.name,
                        "kind": Kind(item.kind).label,
                    }
                    + message
                )
            return JsonResponse({"ok": False, "message": message, "index": index}, status=400)
    try:
        created = compose_actions.do_set_fields(envelope, items, actor=user)
    except EnvelopeError as exc:
        return JsonResponse({"ok": False, "message": str(exc)}, status=400)
    count = len(created)
    return JsonResponse(
        {
            "ok": True,
            "count": count,
            "message": ngettext("已保存 %(n)d 个签署位置。", "已保存 %(n)d 个签署位置。", count)
            % {"n": count},
        }
    )


@require_http_methods(["GET", "POST"])
@login_required
def fields_view(request: HttpRequest, envelope_uuid: str) -> HttpResponse:
    """The field editor (拖拽放置签署位置); a JSON POST saves every field of the draft."""
    user = current_user(request)
    try:
        envelope = _draft(user, envelope_uuid)
    except _Sent as sent:
        if request.method == "POST":
            message = _("任务已发起，不能再修改签署位置。")
            return JsonResponse({"ok": False, "message": message}, status=409)
        return _already_sent(request, sent.envelope)
    if request.method == "POST":
        return _save_fields(request, user, envelope)
    documents = _documents(envelope)
    if not documents:
        messages.error(request, _("请先上传签署文件。"))
        return HttpResponseRedirect(reverse("envelopes:edit", args=[envelope.uuid]) + "#documents")
    for document in documents:
        document.pages = [  # type: ignore[attr-defined]
            {
                "n": n,
                "ratio": f"{box[2] - box[0]:.2f} / {box[3] - box[1]:.2f}",
                "src": _page_url(envelope, document, n, 800),
                "src2x": _page_url(envelope, document, n, 1600),
                "thumb": _page_url(envelope, document, n, 400),
            }
            for n, box in enumerate(document.page_boxes)
        ]
    config = _editor_config(envelope, documents)
    colours = {r["id"]: r["colour"] for r in config["recipients"]}
    recipients = _recipients(envelope)
    placeable = [r for r in recipients if compose.KINDS_FOR_ROLE[r.role]]
    for recipient in placeable:
        recipient.colour = colours[recipient.pk]  # type: ignore[attr-defined]
        recipient.kinds = [  # type: ignore[attr-defined]
            (kind, Kind(kind).label)
            for kind in KIND_ORDER
            if kind in compose.KINDS_FOR_ROLE[recipient.role]
        ]
    context = {
        "nav": "envelopes",
        "envelope": envelope,
        "documents": documents,
        "placeable": placeable,
        "others": [r for r in recipients if not compose.KINDS_FOR_ROLE[r.role]],
        "config": config,
        "step": 2,
        "anchor_kinds": [(k, Kind(k).label) for k in KIND_ORDER if k != Kind.CROSS_PAGE_SEAL],
    }
    return render(request, "envelopes/compose/fields.html", context)


ANCHOR_GAP = 4.0  # points between the words and the field (the field never covers them)


@require_POST
@login_required
def fields_anchor_view(request: HttpRequest, envelope_uuid: str) -> HttpResponse:
    """按关键字放置 (契约锁 关键字定位, the open API's rule): a field for a recipient just right of
    the first occurrence of the words, vertically centred on them, added to the draft's fields."""
    user = current_user(request)
    try:
        envelope = _draft(user, envelope_uuid)
    except _Sent as sent:
        return _already_sent(request, sent.envelope)
    back = HttpResponseRedirect(reverse("envelopes:fields", args=[envelope.uuid]))
    words = " ".join(request.POST.get("words", "").split())[:60]
    kind = request.POST.get("kind", "")
    document = envelope.documents.filter(pk=_int(request.POST.get("document"))).first()
    recipient = envelope.recipients.filter(pk=_int(request.POST.get("recipient"))).first()
    if not words or document is None or recipient is None or kind not in DEFAULT_SIZES:
        messages.error(request, _("请填写关键字并选择签署方和控件。"))
        return back
    try:
        hit = pages.find_text(document.current.read(), words)
    except PdfError:
        hit = None
    if hit is None:
        messages.error(request, _("在文件中找不到关键字“%(anchor)s”。") % {"anchor": words})
        return back
    width, height = DEFAULT_SIZES[Kind(kind)]
    middle = (hit.y1 + hit.y2) / 2
    left = hit.x2 + ANCHOR_GAP
    new = placement.FieldInput(
        recipient_id=recipient.pk,
        document_id=document.pk,
        kind=kind,
        page=hit.page,
        rect=stamps.Rect(left, middle - height / 2, left + width, middle + height / 2),
    )
    kept = [
        placement.FieldInput(
            recipient_id=f.recipient_id,
            document_id=f.document_id,
            kind=f.kind,
            page=f.page,
            rect=stamps.Rect(f.x1, f.y1, f.x2, f.y2),
            pages=tuple(f.pages or ()),
            label=f.label,
            value=f.value,
        )
        for f in Field.objects.filter(envelope=envelope, placed_by_signer=False)
    ]
    try:
        compose.check_field(new, recipient, document)
        compose_actions.do_set_fields(envelope, [*kept, new], actor=user)
    except EnvelopeError as exc:
        add_message(request, exc)
    else:
        messages.success(
            request,
            _("已在第 %(n)d 页“%(words)s”右侧放置%(kind)s。")
            % {"n": hit.page + 1, "words": words, "kind": Kind(kind).label},
        )
    return back


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


# --- step 3: 确认发起 ----------------------------------------------------------------------


def _send_context(envelope: Envelope, user: User) -> dict[str, Any]:
    recipients = _recipients(envelope)
    for recipient in recipients:
        kind = recipient.required_seal_kind
        recipient.seal_kind_label = Seal.Kind(kind).label if kind in Seal.Kind.values else ""  # type: ignore[attr-defined]
    orders = [r.routing_order for r in recipients if r.acts]
    return {
        "nav": "envelopes",
        "envelope": envelope,
        "documents": _documents(envelope),
        "recipients": recipients,
        "parallel": {o for o in orders if orders.count(o) > 1},
        "self_placing": [
            r
            for r in recipients
            if r.role in (Role.SIGN, Role.SEAL) and not r.field_count  # type: ignore[attr-defined]
        ],
        "problems": sending.sender_problems(envelope, user) + compose.problems(envelope),
        "needs_identity": verified_identity(user) is None,
        "unbound": [r for r in recipients if r.role == Role.SEAL and r.org_id is None],
        "initiator_label": routing.initiator_label(envelope),
        "plan": returns.resend_plan(envelope) if envelope.is_returned() else None,
        "step": 3,
    }


@require_http_methods(["GET", "POST"])
@login_required
def send_view(request: HttpRequest, envelope_uuid: str) -> HttpResponse:
    """确认发起: the summary, what is missing, and 发起签署."""
    user = current_user(request)
    try:
        envelope = _draft(user, envelope_uuid)
    except _Sent as sent:
        return _already_sent(request, sent.envelope)
    error = ""
    if request.method == "POST":
        resending = envelope.is_returned()
        send = do_resend_envelope if resending else compose_actions.do_send_envelope
        try:
            send(envelope, actor=user, meta=request_meta(request))
        except EnvelopeError as exc:
            error = str(exc)
        else:
            if resending:
                messages.success(request, _("已重新发起，已通知相关签署方。"))
            else:
                messages.success(request, _("已发起，已通知第一位签署方。"))
            return HttpResponseRedirect(envelope.get_absolute_url())
    context = _send_context(envelope, user)
    context["error"] = error
    return render(request, "envelopes/compose/send.html", context, status=400 if error else 200)


# --- 草稿箱 ----------------------------------------------------------------------------------


@require_GET
@login_required
def drafts_view(request: HttpRequest) -> HttpResponse:
    """The user's drafts, newest first."""
    user = current_user(request)
    page = Paginator(queries.drafts_of(user), DRAFTS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "envelopes/compose/drafts.html", {"nav": "envelopes", "page": page})


@require_POST
@login_required
def delete_view(request: HttpRequest, envelope_uuid: str) -> HttpResponse:
    """删除 a draft."""
    user = current_user(request)
    try:
        envelope = _draft(user, envelope_uuid)
    except _Sent as sent:
        messages.error(request, _("只能删除草稿。"))
        return HttpResponseRedirect(sent.envelope.get_absolute_url())
    title = envelope.title
    try:
        compose_actions.do_delete_draft(envelope, actor=user)
    except EnvelopeError as exc:
        add_message(request, exc)
    else:
        messages.success(request, _("已删除草稿“%(title)s”。") % {"title": title})
    return HttpResponseRedirect(reverse("envelopes:drafts"))
