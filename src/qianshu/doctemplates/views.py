"""模板管理: the templates a user may use, saving a draft as a template (保存为模板), a template's
page (versions, roles, sharing, 归档), and 使用模板 (a draft made from it, then 确认发起)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.db.models import Count, Max
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from qianshu.accounts.decorators import login_required
from qianshu.accounts.models import User
from qianshu.core.errors import UserError, add_message, add_to_form
from qianshu.core.meta import request_meta
from qianshu.core.requests import current_user
from qianshu.doctemplates.access import access_template_by_uuid, can_manage, usable_templates
from qianshu.doctemplates.actions.templates import (
    do_save_template,
    do_set_archived,
    do_share_template,
    do_use_template,
)
from qianshu.doctemplates.forms import SaveForm, ShareForm, UseForm
from qianshu.doctemplates.models import Template
from qianshu.doctemplates.snapshots import recipients_of
from qianshu.envelopes.access import access_draft_by_uuid
from qianshu.orgs.models import Membership
from qianshu.orgs.people import IDENTITY


@login_required
def list_view(request: HttpRequest) -> HttpResponse:
    """The templates the user may use (and, for those they manage, the archived ones)."""
    user = current_user(request)
    templates = list(
        usable_templates(user)
        .select_related("org", "owner")
        .annotate(version_count=Max("versions__number"), use_count=Count("versions__uses"))
        .order_by("-updated_at", "-id")
    )
    active = [t for t in templates if t.is_active]
    archived = [t for t in templates if not t.is_active and can_manage(user, t)]
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
    managed = [
        t
        for t in usable_templates(user).filter(
            org_id=envelope.initiator_org_id, status=Template.Status.ACTIVE
        )
        if can_manage(user, t)
    ]
    form = SaveForm(recipients, managed, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            version = do_save_template(
                envelope,
                name=form.cleaned_data.get("name") or "",
                choices=form.choices(),
                template=form.template(),
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
        "is_member": Membership.objects.filter(org_id=template.org_id, user=user).exists(),
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
    if request.method == "POST" and form.is_valid():
        try:
            envelope = do_use_template(
                version,
                form.parties(),
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
