"""文件管理: the lists (待我签署 …), 批量签署 and 下载 (a ZIP of the ticked tasks)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from qianshu.accounts.codes import CodeError
from qianshu.accounts.decorators import login_required
from qianshu.accounts.models import User
from qianshu.core.errors import add_message
from qianshu.core.meta import request_meta
from qianshu.core.requests import current_user
from qianshu.envelopes import batch, confirmations, downloads, queries
from qianshu.envelopes.access import (
    Viewer,
    access_batch_items,
    access_envelopes_for_download,
    batch_listed,
)
from qianshu.envelopes.actions.batch import do_batch_sign, do_send_batch_code
from qianshu.envelopes.actions.downloads import do_download_archive
from qianshu.envelopes.errors import ConfirmationError, EnvelopeError
from qianshu.envelopes.models import Envelope
from qianshu.envelopes.turns import BatchItem, PostedTask
from qianshu.envelopes.views import batch_lines, list_lines

RESULT_SESSION_KEY = "qianshu_batch_result"


def _uuids(values: list[str]) -> list[str]:
    """Valid, distinct envelope uuids in the order given (anything else is dropped)."""
    out: list[str] = []
    for value in values:
        try:
            text = str(uuid.UUID(str(value)))
        except ValueError:
            continue
        if text not in out:
            out.append(text)
    return out


def _back(request: HttpRequest) -> HttpResponseRedirect:
    """Back to the list the form was on (its tab and filters), else 待我签署."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("envelopes:list")
    return HttpResponseRedirect(target)


# --- the lists --------------------------------------------------------------------------------


def _page_links(listing: queries.Listing) -> dict[str, str]:
    base = {"tab": listing.tab.slug, **listing.filters.query()}
    page = listing.page
    links = {}
    if page.has_previous():
        links["previous"] = "?" + urlencode({**base, "page": page.previous_page_number()})
    if page.has_next():
        links["next"] = "?" + urlencode({**base, "page": page.next_page_number()})
    return links


@require_GET
@login_required
def list_view(request: HttpRequest) -> HttpResponse:
    """``?tab=todo|others|completed|voided|cc`` (default todo), ``q`` (任务名称 / 任务编号),
    高级搜索 ``initiator``, ``from``, ``to`` (发起时间, Beijing dates), ``status``, ``scene``
    (场景); ``page``."""
    user = current_user(request)
    tab = request.GET.get("tab") or queries.DEFAULT_TAB
    if tab not in queries.TAB_BY_SLUG:
        tab = queries.DEFAULT_TAB
    filters = queries.parse_filters(request.GET, tab)
    listing = queries.list_envelopes(user, tab, filters, request.GET.get("page"))
    sign_all = ""
    if tab == "todo" and listing.page.object_list:
        sign_all = (
            reverse("envelopes:batch-sign") + "?" + urlencode({"all": "1", **filters.query()})
        )
    _link_rows(listing.rows)
    statuses = [(value, queries.Status(value).label) for value in listing.tab.statuses]
    status_choices = statuses if len(statuses) > 1 else []  # the 状态 filter and column
    context: dict[str, Any] = {
        "nav": "envelopes",
        "listing": listing,
        "tab": listing.tab,
        "tabs": queries.TABS,
        "filters": filters,
        "rows": listing.rows,
        "row_lines": list_lines.table_rows(
            listing.rows, listing.tab.slug, with_status=bool(status_choices)
        ),
        "page_obj": listing.page,
        "page_links": _page_links(listing),
        "status_choices": status_choices,
        "max_selected": downloads.MAX_TASKS,
        "current": request.get_full_path(),
        "preview": _preview_data(listing.rows),
        "sign_all": sign_all,
        "sign_all_count": min(listing.page.count, batch.MAX_BATCH)
        if listing.page.exact
        else batch.MAX_BATCH,
        "count_limit": f"{queries.COUNT_LIMIT:,}",
    }
    return render(request, "envelopes/lists/list.html", context)


_PLACEHOLDER = uuid.UUID(int=0)
_PLACEHOLDER_ID = 987654321  # stands for a document's id in a reversed URL


def _url_of(name: str, *extra: object) -> Callable[..., str]:
    """``reverse(name, args=[envelope uuid, *extra])`` for many rows: reversed once, then
    filled in (a list page would otherwise reverse a hundred URLs); an ``extra`` of
    ``_PLACEHOLDER_ID`` is filled in from the call's second argument."""
    try:
        template = reverse(name, args=[_PLACEHOLDER, *extra])
    except NoReverseMatch:
        return lambda envelope_uuid, *args: ""

    def url(envelope_uuid: object, *args: object) -> str:
        text = template.replace(str(_PLACEHOLDER), str(envelope_uuid))
        if args:
            text = text.replace(f"/{_PLACEHOLDER_ID}/", f"/{args[0]}/")
        return text

    return url


def _link_rows(rows: list[queries.Row]) -> None:
    detail, sign = _url_of("envelopes:detail"), _url_of("envelopes:sign")
    for row in rows:
        row.detail_url = detail(row.envelope.uuid)
        if row.turn is not None:
            row.sign_url = sign(row.envelope.uuid) or row.detail_url


def _preview_data(rows: list[queries.Row]) -> dict[str, Any]:
    """What the 预览 dialog (lists.js) shows of each row: its documents' page images."""
    data: dict[str, Any] = {}
    image = _url_of("envelopes:page-image", _PLACEHOLDER_ID, 0)
    for row in rows:
        envelope = row.envelope
        data[str(envelope.uuid)] = {
            "title": envelope.title,
            "detail": row.detail_url,
            "sign": row.sign_url,
            "action": row.action,
            "documents": [
                {
                    "name": document.name,
                    "pages": document.page_count,
                    "image": image(envelope.uuid, document.pk),
                    "revision": document.current_id,
                }
                for document in row.documents
            ],
        }
    return data


# --- 下载 ----------------------------------------------------------------------------------------


@require_POST
@login_required
def download_zip_view(request: HttpRequest) -> HttpResponseBase:
    """下载: the ticked tasks (``ids``) as one streamed ZIP; ids the user cannot open are left
    out, and none at all is a 404. Too many tasks or too many bytes are refused with a message
    before anything is sent."""
    user = current_user(request)
    ids = _uuids(request.POST.getlist("ids"))
    if not ids:
        messages.error(request, _("请先勾选要下载的任务。"))
        return _back(request)
    if len(ids) > downloads.MAX_TASKS:
        messages.error(
            request,
            _("一次最多下载 %(n)d 个任务，请减少勾选后重试。") % {"n": downloads.MAX_TASKS},
        )
        return _back(request)
    envelopes = access_envelopes_for_download(user, ids)
    if not envelopes:
        raise Http404
    try:
        archive = downloads.plan_archive(envelopes)
    except EnvelopeError as exc:
        add_message(request, exc)
        return _back(request)
    stream = do_download_archive(archive, actor=user, meta=request_meta(request))
    if len(envelopes) == 1:
        filename = f"{envelopes[0].number}.zip"
    else:
        filename = _("签署文件-%(time)s.zip") % {
            "time": timezone.localtime().strftime("%Y%m%d-%H%M%S")
        }
    response = StreamingHttpResponse(stream, content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "private, no-store"
    return response


# --- 批量签署 ------------------------------------------------------------------------------------


def _posted_tasks(request: HttpRequest) -> dict[str, PostedTask]:
    """The tasks of a submitted batch form: ``task`` = "<envelope uuid>:<recipient id>" with
    ``key-<uuid>`` and ``seen-<uuid>``; malformed ones are dropped."""
    posted: dict[str, PostedTask] = {}
    for value in request.POST.getlist("task")[: batch.MAX_BATCH]:
        envelope_uuid, _sep, recipient_id = value.partition(":")
        uuids = _uuids([envelope_uuid])
        if not uuids or not recipient_id.isdigit():
            continue
        key = request.POST.get(f"key-{uuids[0]}", "")
        seen = batch.decode_seen(request.POST.get(f"seen-{uuids[0]}", ""))
        if not batch.valid_key(key) or seen is None:
            continue
        posted[uuids[0]] = PostedTask(uuids[0], int(recipient_id), key, seen)
    return posted


def _seal_choice(request: HttpRequest) -> dict[str, str]:
    """``seal-<organisation uuid>`` = the chosen seal's uuid."""
    chosen = {}
    for name in request.POST:
        value = str(request.POST.get(name, ""))
        if name.startswith("seal-") and len(value) <= 40:
            chosen[name[len("seal-") :]] = value
    return chosen


def _batch_page(
    request: HttpRequest,
    user: User,
    ids: list[str],
    posted: dict[str, PostedTask] | None = None,
    *,
    error: str = "",
    status: int = 200,
    viewer: Viewer | None = None,
    shown: dict[str, Envelope] | None = None,
) -> HttpResponse:
    plan = batch.plan_batch(user, ids, posted, viewer=viewer, shown=shown)
    _link_tasks(plan.skipped)
    chosen = _seal_choice(request) if request.method == "POST" else {}
    choices = plan.seal_choices()
    for choice in choices:
        wanted = chosen.get(str(choice.org.uuid))
        choice.default = next((s for s in choice.seals if str(s.uuid) == wanted), choice.default)
    context = {
        "nav": "envelopes",
        "plan": plan,
        "ready_lines": batch_lines.ready_lines(batch.task_lines(plan.ready)),
        "skipped_lines": batch_lines.skipped_lines(batch.task_lines(plan.skipped)),
        "id_inputs": batch_lines.id_inputs(ids),
        "seal_choices": choices,
        **_confirmation_context(user, plan),
        "masked_phone": user.masked_phone,
        "error": error,
    }
    return render(request, "envelopes/lists/batch.html", context, status=status)


def _link_tasks(tasks: list[batch.BatchTask]) -> None:
    """单独签署 (the signing page) for a task still the user's to sign, else 查看."""
    detail, sign = _url_of("envelopes:detail"), _url_of("envelopes:sign")
    for task in tasks:
        envelope = task.envelope
        task.link = detail(envelope.uuid)
        if task.recipient is not None and envelope.is_active():
            task.link = sign(envelope.uuid) or task.link


def _confirmation_context(user: User, plan: batch.BatchPlan) -> dict[str, Any]:
    """How the batch is confirmed: the PIN (and until when it is locked), or an SMS code (and
    why it cannot be used now)."""
    if not plan.by_code:  # as plan_batch found it (the page judged its tasks by it)
        return {"needs_code": False, "pin_locked_until": confirmations.pin_locked_until(user)}
    envelopes = [task.envelope for task in plan.ready]
    return {"needs_code": True, "sms_refusal": confirmations.sms_refusal(user, envelopes)}


def _store_results(
    request: HttpRequest, results: list[batch.BatchResult], skipped: list[batch.BatchTask]
) -> None:
    rows = [
        {
            "uuid": str(r.envelope.uuid),
            "title": r.envelope.title,
            "number": r.envelope.number,
            "ok": r.ok,
            "repeated": r.repeated,
            "message": r.message,
        }
        for r in results
    ]
    rows += [
        {
            "uuid": str(t.envelope.uuid),
            "title": t.envelope.title,
            "number": t.envelope.number,
            "ok": False,
            "skipped": True,
            "message": t.problem or _("未包含在本次签署中，请重新勾选。"),
        }
        for t in skipped
    ]
    request.session[RESULT_SESSION_KEY] = rows


@require_http_methods(["GET", "POST"])
@login_required
def batch_sign_view(request: HttpRequest) -> HttpResponse:
    """批量签署. GET ``?ids=…``: the ticked tasks, what will be applied and the confirmation.
    POST from the list (``ids`` only): back here as a GET. POST ``action=send``: the SMS code;
    ``action=sign``: sign them all, then the result page."""
    user = current_user(request)
    source = request.POST if request.method == "POST" else request.GET
    ids = _uuids(source.getlist("ids"))
    viewer: Viewer | None = None
    shown: dict[str, Envelope] | None = None
    if request.method == "GET" and request.GET.get("all") == "1":
        # 全部批量签署: every task of 待我签署 matching the list's filters (no long URL of ids).
        filters = queries.parse_filters(request.GET, "todo")
        viewer = Viewer.of(user)
        newest = queries.newest_envelopes(viewer, "todo", filters, batch.MAX_BATCH, batch_listed)
        shown = {str(e.uuid): e for e in newest}
        ids = list(shown)
    if not ids:
        messages.error(request, _("请先勾选要签署的任务。"))
        return _back(request) if request.method == "POST" else _list_redirect()
    if len(ids) > batch.MAX_BATCH:
        messages.error(
            request,
            _("一次最多批量签署 %(n)d 个任务，请减少勾选后重试。") % {"n": batch.MAX_BATCH},
        )
        return _back(request) if request.method == "POST" else _list_redirect()
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if request.method == "POST" and action not in ("send", "sign"):
        return HttpResponseRedirect(
            reverse("envelopes:batch-sign") + "?" + urlencode({"ids": ids}, doseq=True)
        )
    if request.method == "GET":
        return _batch_page(request, user, ids, viewer=viewer, shown=shown)

    posted = _posted_tasks(request)
    items = access_batch_items(user, list(posted.values()), _seal_choice(request))
    if action == "send":
        return _send_code(request, user, ids, posted, items)
    pin = request.POST.get("pin", "").strip()
    code = request.POST.get("code", "").strip()
    try:
        results = do_batch_sign(
            items,
            pin=pin or None,
            code=code or None,
            actor=user,
            meta=request_meta(request),  # transitional: see actions.turns.do_sign
        )
    except ConfirmationError as exc:
        return _batch_page(request, user, ids, posted, error=str(exc), status=400)
    except EnvelopeError as exc:
        return _batch_page(request, user, ids, posted, error=str(exc), status=400)
    signed = {str(r.envelope.uuid) for r in results}
    plan = batch.plan_batch(user, [i for i in ids if i not in signed])
    _store_results(request, results, plan.tasks)
    return HttpResponseRedirect(reverse("envelopes:batch-result"))


def _send_code(
    request: HttpRequest,
    user: User,
    ids: list[str],
    posted: dict[str, PostedTask],
    items: list[BatchItem],
) -> HttpResponse:
    error = ""
    retry_after = 0
    try:
        do_send_batch_code(items, actor=user, meta=request_meta(request))
    except CodeError as exc:
        error, retry_after = str(exc), exc.retry_after
    except EnvelopeError as exc:
        error = str(exc)
    if request.headers.get("X-Requested-With") == "fetch":
        if error:
            return JsonResponse(
                {"ok": False, "message": error, "retry_after": retry_after},
                status=429 if retry_after else 400,  # rate-limited, or refused (a PIN holder)
            )
        return JsonResponse(
            {"ok": True, "message": _("验证码已发送，5 分钟内有效。"), "retry_after": 60}
        )
    if error:
        return _batch_page(request, user, ids, posted, error=error, status=400)
    messages.success(request, _("验证码已发送，5 分钟内有效。"))
    return _batch_page(request, user, ids, posted)


def _list_redirect() -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("envelopes:list"))


@require_GET
@login_required
def batch_result_view(request: HttpRequest) -> HttpResponse:
    """The result of the last batch: every task with 成功 / 失败 and the reason."""
    rows = request.session.get(RESULT_SESSION_KEY)
    if not rows:
        return _list_redirect()
    signed = [r for r in rows if not r.get("skipped")]
    states = {
        str(e.uuid): e
        for e in Envelope.objects.filter(uuid__in=[r["uuid"] for r in signed if r["ok"]]).only(
            "uuid", "status", "all_signed_at"
        )
    }
    for row in signed:
        envelope = states.get(row["uuid"])
        if envelope is None:
            continue
        if envelope.status == Envelope.Status.COMPLETED:
            row["next"] = _("全部签署完成")
        elif envelope.all_signed_at is not None:
            row["next"] = _("全部签署完成，签署文件正在归档")
        elif envelope.is_active():
            row["next"] = _("等待其他签署方")
    context = {
        "nav": "envelopes",
        "rows": rows,
        "ok_count": sum(1 for r in signed if r["ok"]),
        "failed_count": sum(1 for r in signed if not r["ok"]),
        "skipped_count": sum(1 for r in rows if r.get("skipped")),
    }
    return render(request, "envelopes/lists/batch_result.html", context)
