"""模板管理: the templates a user may use, saving a draft as a template (保存为模板), a template's
page (versions, roles, sharing, 归档), 使用模板 (a draft made from it, then 确认发起), and 批量发起
(the spreadsheet, the check page, the progress and each row's result)."""

from __future__ import annotations

import io
import uuid

from django.contrib import messages
from django.db.models import Count, Max
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from qianshu.accounts.decorators import login_required
from qianshu.accounts.models import User
from qianshu.core.downloads import file_response
from qianshu.core.errors import UserError, add_message, add_to_form
from qianshu.core.meta import request_meta
from qianshu.core.requests import current_user
from qianshu.doctemplates import bulk
from qianshu.doctemplates.access import (
    access_template_by_uuid,
    can_manage,
    managed_templates,
    usable_templates,
)
from qianshu.doctemplates.actions.bulk import (
    batch_envelopes,
    batch_progress,
    do_cancel_batch,
    do_import_batch,
    do_remind_batch,
    do_start_batch,
    earlier_batches,
    result_rows,
)
from qianshu.doctemplates.actions.templates import (
    do_save_template,
    do_set_archived,
    do_share_template,
    do_use_template,
)
from qianshu.doctemplates.forms import SaveForm, ShareForm, UseForm
from qianshu.doctemplates.models import Batch, BatchRow, Template
from qianshu.doctemplates.snapshots import recipients_of, text_fields
from qianshu.doctemplates.tasks import send_batch, senders
from qianshu.envelopes.access import access_draft_by_uuid
from qianshu.envelopes.actions.downloads import do_download_archive
from qianshu.envelopes.downloads import plan_archive
from qianshu.envelopes.models import Envelope
from qianshu.orgs.people import IDENTITY


@login_required
def list_view(request: HttpRequest) -> HttpResponse:
    """The templates the user may use (and, for those they manage, the archived ones)."""
    user = current_user(request)
    templates = list(
        usable_templates(user)
        .select_related("org", "owner")
        .annotate(version_count=Max("versions__number"))
        .order_by("-updated_at", "-id")
    )
    active = [t for t in templates if t.is_active]
    archived = list(
        managed_templates(user).filter(status=Template.Status.ARCHIVED).order_by("-updated_at")
    )
    return render(
        request,
        "doctemplates/list.html",
        {"nav": "envelopes", "active": active, "archived": archived},
    )


@login_required
@require_http_methods(["GET", "POST"])
def save_view(request: HttpRequest, envelope_uuid: uuid.UUID) -> HttpResponse:
    """保存为模板: the user's draft as a new template, or a new version of one they manage
    (of the same organisation, or personal for a personal draft)."""
    user = current_user(request)
    envelope = access_draft_by_uuid(user, envelope_uuid)
    recipients = recipients_of(envelope)
    managed = list(
        managed_templates(user).filter(
            org_id=envelope.initiator_org_id, status=Template.Status.ACTIVE
        )
    )
    form = SaveForm(
        recipients,
        managed,
        request.POST if request.method == "POST" else None,
        texts=text_fields(envelope),
    )
    if request.method == "POST" and form.is_valid():
        try:
            version = do_save_template(
                envelope,
                name=form.cleaned_data.get("name") or "",
                choices=form.choices(),
                template=form.template(),
                data_fields=form.data_fields(),
                actor=user,
                meta=request_meta(request),
            )
        except UserError as exc:
            add_to_form(form, exc)
        else:
            messages.success(
                request,
                _("已保存为模板“%(name)s”（第 %(n)d 版）。")
                % {"name": version.template.name, "n": version.number},
            )
            return HttpResponseRedirect(
                reverse("doctemplates:detail", args=[version.template.uuid])
            )
    context = {
        "nav": "envelopes",
        "envelope": envelope,
        "form": form,
        "documents": list(envelope.documents.order_by("position", "id")),
    }
    return render(request, "doctemplates/save.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def detail_view(request: HttpRequest, template_uuid: uuid.UUID) -> HttpResponse:
    """A template: its versions, roles and documents; sharing and 归档 for its managers."""
    user = current_user(request)
    template = access_template_by_uuid(user, template_uuid)
    manager = can_manage(user, template)
    members = (
        User.objects.filter(memberships__org_id=template.org_id)
        .select_related(IDENTITY)
        .order_by("pk")
        if template.org_id
        else User.objects.none()
    )
    share = ShareForm(
        members,
        request.POST if request.method == "POST" and request.POST.get("op") == "share" else None,
        initial={"members": list(template.shared_with.all())},
    )
    if request.method == "POST":
        if not manager:
            raise Http404
        op = request.POST.get("op")
        try:
            if op == "share" and share.is_valid():
                do_share_template(template, share.cleaned_data["members"], actor=user)
                messages.success(request, _("已更新共享成员。"))
            elif op in ("archive", "restore"):
                do_set_archived(template, op == "archive", actor=user)
                messages.success(
                    request, _("模板已归档。") if op == "archive" else _("模板已恢复使用。")
                )
            else:
                raise Http404
        except UserError as exc:
            add_message(request, exc)
        return HttpResponseRedirect(request.path)
    versions = list(
        template.versions.select_related("created_by")
        .annotate(use_count=Count("uses"))
        .order_by("-number")
    )
    latest = versions[0] if versions else None
    context = {
        "nav": "envelopes",
        "template": template,
        "manager": manager,
        "versions": versions,
        "latest": latest,
        "documents": list(latest.documents.order_by("position")) if latest else [],
        "share": share if template.org_id and manager else None,
    }
    return render(request, "doctemplates/detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def use_view(request: HttpRequest, template_uuid: uuid.UUID) -> HttpResponse:
    """使用模板: fill the open roles; a draft is made from the latest version and 确认发起
    follows (where the draft can still be changed before it is sent)."""
    user = current_user(request)
    template = access_template_by_uuid(user, template_uuid)
    version = template.latest()
    if version is None or not template.is_active:
        raise Http404
    form = UseForm(
        list(version.roles),
        request.POST if request.method == "POST" else None,
        initial={"title": version.title},
    )
    form.add_data_fields(list(version.data_fields))
    if request.method == "POST" and form.is_valid():
        try:
            envelope = do_use_template(
                version,
                form.parties(),
                data=form.values(),
                title=form.cleaned_data["title"],
                actor=user,
                meta=request_meta(request),
            )
        except UserError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _("已根据模板创建草稿，请确认后发起。"))
            return HttpResponseRedirect(reverse("envelopes:send", args=[envelope.uuid]))
    context = {
        "nav": "envelopes",
        "template": template,
        "version": version,
        "form": form,
        "fixed": [r for r in version.roles if r.get("fixed")],
    }
    return render(request, "doctemplates/use.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def archive_view(request: HttpRequest, template_uuid: uuid.UUID) -> HttpResponse:
    """归档 from the list page."""
    user = current_user(request)
    template = access_template_by_uuid(user, template_uuid, manage=True)
    do_set_archived(template, True, actor=user)
    messages.success(request, _("模板已归档。"))
    return HttpResponseRedirect(reverse("doctemplates:list"))


# --- 批量发起 ---------------------------------------------------------------------------------

MAX_PROBLEM_ROWS = 200


@login_required
@require_http_methods(["GET", "POST"])
def bulk_view(request: HttpRequest, template_uuid: uuid.UUID) -> HttpResponse:
    """批量发起: download the spreadsheet, upload it filled in; the check page follows."""
    user = current_user(request)
    template = access_template_by_uuid(user, template_uuid)
    version = template.latest()
    if version is None or not template.is_active:
        raise Http404
    error = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            error = _("请选择要导入的 Excel 文件。")
        elif upload.size and upload.size > bulk.MAX_FILE_BYTES:
            error = _("文件过大（最大 20 MB）。")
        else:
            try:
                batch = do_import_batch(version, upload.read(), upload.name or "", actor=user)
            except UserError as exc:
                error = str(exc)
            else:
                return HttpResponseRedirect(reverse("doctemplates:batch", args=[batch.uuid]))
    context = {
        "nav": "envelopes",
        "template": template,
        "version": version,
        "columns": bulk.columns(version.roles, version.data_fields),
        "error": error,
        "max_rows": bulk.MAX_ROWS,
        "batches": Batch.objects.filter(created_by=user, version__template=template)[:10],
    }
    return render(request, "doctemplates/bulk.html", context, status=400 if error else 200)


@login_required
def bulk_xlsx_view(request: HttpRequest, template_uuid: uuid.UUID) -> HttpResponse:
    """The template's spreadsheet (header, example row, data validation)."""
    user = current_user(request)
    template = access_template_by_uuid(user, template_uuid)
    version = template.latest()
    if version is None:
        raise Http404
    data = bulk.workbook(version.roles, template.name, version.data_fields)
    return file_response(
        data, filename=f"{template.name}-批量发起.xlsx", content_type=bulk.XLSX_TYPE
    )


def _batch(user: User, batch_uuid: uuid.UUID) -> Batch:
    batch = (
        Batch.objects.select_related("version__template")
        .filter(uuid=batch_uuid, created_by=user)
        .first()
    )
    if batch is None:
        raise Http404
    return batch


@login_required
@require_http_methods(["GET", "POST"])
def batch_view(request: HttpRequest, batch_uuid: uuid.UUID) -> HttpResponse:
    """A batch: the check page before sending (every row's problems), the progress while
    sending, each row's envelope or error when done."""
    user = current_user(request)
    batch = _batch(user, batch_uuid)
    if request.method == "POST":
        op = request.POST.get("op")
        try:
            if op == "send":
                started = do_start_batch(batch, actor=user)
                if started.status == Batch.Status.SENDING:
                    # A task per worker that may help: rows are claimed with SKIP LOCKED, and
                    # each row's document is made (data fields written) before the send's
                    # organisation lock, so two workers send a batch about twice as fast.
                    for _worker in range(senders(started)):
                        send_batch.enqueue(started.pk)
                messages.success(request, _("已开始批量发起。"))
            elif op == "cancel":
                do_cancel_batch(batch, actor=user)
                messages.success(request, _("已取消该批次。"))
            elif op == "remind":
                reminded, skipped = do_remind_batch(batch, actor=user, meta=request_meta(request))
                messages.success(
                    request,
                    _("已催签 %(n)d 个任务（%(m)d 个一小时内已提醒过，未重复发送）。")
                    % {"n": reminded, "m": skipped},
                )
            else:
                raise Http404
        except UserError as exc:
            add_message(request, exc)
        return HttpResponseRedirect(request.path)
    batch.refresh_from_db()
    invalid = list(
        BatchRow.objects.filter(batch=batch, status=BatchRow.Status.INVALID).order_by("row_number")[
            :MAX_PROBLEM_ROWS
        ]
    )
    done = batch.sent + batch.failed
    context = {
        "nav": "envelopes",
        "batch": batch,
        "template": batch.version.template,
        "invalid": invalid,
        "invalid_count": batch.total - batch.valid,
        "earlier": earlier_batches(batch),
        "percent": int(100 * done / batch.valid) if batch.valid else 100,
        "results": result_rows(batch)[:500] if batch.status == Batch.Status.DONE else [],
        "max_problem_rows": MAX_PROBLEM_ROWS,
        "progress": _progress_rows(batch_progress(batch)),
    }
    return render(request, "doctemplates/batch.html", context)


def _progress_rows(counts: dict[str, int]) -> list[tuple[str, str, int]]:
    labels = dict(Envelope.Status.choices)
    return [(status, str(labels.get(status, status)), n) for status, n in sorted(counts.items())]


@login_required
@require_POST
def batch_download_view(request: HttpRequest, batch_uuid: uuid.UUID) -> HttpResponseBase:
    """下载: the batch's completed envelopes (documents and reports) as one streamed ZIP."""
    user = current_user(request)
    batch = _batch(user, batch_uuid)
    completed = list(
        batch_envelopes(batch).filter(status=Envelope.Status.COMPLETED, initiator=user)
    )
    if not completed:
        messages.error(request, _("该批次还没有已完成的任务。"))
        return HttpResponseRedirect(reverse("doctemplates:batch", args=[batch.uuid]))
    try:
        archive = plan_archive(completed)
    except UserError as exc:
        add_message(request, exc)
        return HttpResponseRedirect(reverse("doctemplates:batch", args=[batch.uuid]))
    stream = do_download_archive(archive, actor=user, meta=request_meta(request))
    response = StreamingHttpResponse(stream, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{batch.number}.zip"'
    return response


@login_required
def batch_result_view(request: HttpRequest, batch_uuid: uuid.UUID) -> HttpResponse:
    """Each row's outcome as XLSX (行号, 任务名称, 状态, 任务编号, 说明)."""
    from openpyxl import Workbook

    batch = _batch(current_user(request), batch_uuid)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(batch.number)
    sheet.append([_("行号"), _("任务名称"), _("状态"), _("任务编号"), _("说明")])
    for row in result_rows(batch):
        sheet.append([row["row"], row["title"], row["status"], row["number"], row["detail"]])
    out = io.BytesIO()
    book.save(out)
    return file_response(
        out.getvalue(), filename=f"{batch.number}-结果.xlsx", content_type=bulk.XLSX_TYPE
    )
