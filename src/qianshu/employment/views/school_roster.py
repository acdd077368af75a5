"""学生名单 of the school (per 届, by 学院 and 状态, masked ID numbers only), 导入学生名单 —
the Excel template, the upload, the check page listing every row's problems, 确认导入 — and
the school's 学院管理员 (学校管理员 only).

The uploaded file is kept encrypted between the check page and 确认导入
(:mod:`qianshu.employment.actions.roster_uploads`); which file, for which school and 届, is
remembered in the session, never taken back from the page."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from qianshu.accounts.decorators import login_required
from qianshu.accounts.models import User
from qianshu.core import sheets
from qianshu.core.downloads import file_response
from qianshu.core.errors import UserError, add_message
from qianshu.core.requests import current_user
from qianshu.employment import roster, school_queries
from qianshu.employment.actions import roster_uploads
from qianshu.employment.actions.schools import do_set_staff, do_update_roster_entry
from qianshu.employment.models import College, RosterEntry, Staff
from qianshu.employment.views.school_base import (
    filters_from,
    page_of,
    query_without_page,
    require_staff,
    school_context,
)
from qianshu.orgs.people import IDENTITY

#: The session key of the uploaded roster waiting for 确认导入.
UPLOAD_KEY = "employment_roster_upload"
MAX_PROBLEM_ROWS = 200


def _year(value: str | None, default: int) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


def _roster_context(request: HttpRequest, staff: Staff) -> dict[str, Any]:
    statuses = {str(value): str(label) for value, label in RosterEntry.Status.choices}
    year = school_queries.default_year(staff)
    filters = filters_from(request, staff, statuses, year=year)
    page = page_of(request, school_queries.roster_list(staff, filters))
    return {
        **school_context(staff, "roster"),
        "filters": filters,
        "years": school_queries.years(staff),
        "colleges": list(school_queries.visible_colleges(staff)),
        "statuses": RosterEntry.Status.choices,
        "page_obj": page,
        "query": query_without_page(request),
        "import_year": filters.year,
        "import_error": "",
    }


@login_required
def roster_view(request: HttpRequest) -> HttpResponse:
    """学生名单 of one 届, filtered by 学院, 状态, name or 学号."""
    staff = require_staff(request)
    return render(request, "employment/school/roster.html", _roster_context(request, staff))


@login_required
def roster_template_view(request: HttpRequest) -> HttpResponse:
    """下载 Excel 模板 of the roster of one 届."""
    staff = require_staff(request, school_admin=True)
    year = _year(request.GET.get("year"), school_queries.default_year(staff))
    try:
        roster_uploads.check_year(year)
    except UserError:
        year = school_queries.default_year(staff)
    return file_response(
        roster.workbook(year),
        filename=_("%(year)d届学生名单.xlsx") % {"year": year},
        content_type=sheets.XLSX_TYPE,
    )


def _forget_upload(request: HttpRequest) -> None:
    pending = request.session.pop(UPLOAD_KEY, None)
    if isinstance(pending, dict) and pending.get("sha256"):
        roster_uploads.do_discard_staged_roster(str(pending["sha256"]))


@login_required
@require_POST
def roster_import_view(request: HttpRequest) -> HttpResponse:
    """上传并检查: the file is checked and kept; the check page follows (nothing imported)."""
    staff = require_staff(request, school_admin=True)
    year = _year(request.POST.get("year"), school_queries.default_year(staff))
    upload = request.FILES.get("file")
    error = ""
    if upload is None:
        error = _("请选择要导入的 Excel 文件。")
    elif upload.size and upload.size > sheets.MAX_FILE_BYTES:
        error = _("文件过大（最大 20 MB）。")
    else:
        try:
            sha256, _checked = roster_uploads.do_stage_roster(
                staff.school, year, upload.read(), actor=current_user(request)
            )
        except UserError as exc:
            error = str(exc)
        else:
            _forget_upload(request)
            request.session[UPLOAD_KEY] = {
                "school": staff.school_id,
                "year": year,
                "sha256": sha256,
                "name": (upload.name or "")[:200],
            }
            return HttpResponseRedirect(reverse("employment:school-roster-check"))
    context = {**_roster_context(request, staff), "import_year": year, "import_error": error}
    return render(request, "employment/school/roster.html", context, status=400)


def _pending(request: HttpRequest, staff: Staff) -> dict[str, Any]:
    pending = request.session.get(UPLOAD_KEY)
    if not isinstance(pending, dict) or pending.get("school") != staff.school_id:
        raise Http404
    return pending


@login_required
@require_http_methods(["GET", "POST"])
def roster_check_view(request: HttpRequest) -> HttpResponse:
    """The check page of the uploaded roster: every row's problems by row and column, then
    确认导入 (only a file without problems) or 取消."""
    staff = require_staff(request, school_admin=True)
    pending = _pending(request, staff)
    year, sha256 = int(pending["year"]), str(pending["sha256"])
    back = reverse("employment:school-roster") + "?" + urlencode({"year": year})
    if request.method == "POST":
        op = request.POST.get("op")
        if op == "cancel":
            _forget_upload(request)
            messages.info(request, _("已取消导入。"))
            return HttpResponseRedirect(back)
        if op != "import":
            raise Http404
        try:
            imported = roster_uploads.do_import_staged_roster(
                staff.school, year, sha256, actor=current_user(request)
            )
        except UserError as exc:
            add_message(request, exc)
            return HttpResponseRedirect(request.path)
        request.session.pop(UPLOAD_KEY, None)
        messages.success(
            request, _("已导入 %(n)d 名学生（%(year)d届）。") % {"n": imported, "year": year}
        )
        return HttpResponseRedirect(back)
    try:
        checked = roster_uploads.staged_check(staff.school, year, sha256)
    except UserError as exc:
        request.session.pop(UPLOAD_KEY, None)
        add_message(request, exc)
        return HttpResponseRedirect(back)
    problems = checked.problems
    context = {
        **school_context(staff, "roster"),
        "year": year,
        "file_name": pending.get("name", ""),
        "total": len(checked.rows),
        "problem_count": len(problems),
        "problems": problems[:MAX_PROBLEM_ROWS],
        "max_problem_rows": MAX_PROBLEM_ROWS,
        "ok": checked.ok,
    }
    return render(request, "employment/school/roster_check.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def roster_edit_view(request: HttpRequest, entry_uuid: uuid.UUID) -> HttpResponse:
    """编辑 one student of the roster (学校管理员; 学号 and ID number change only by import)."""
    staff = require_staff(request, school_admin=True)
    entry = (
        RosterEntry.objects.select_related("college")
        .filter(uuid=entry_uuid, school=staff.school)
        .first()
    )
    if entry is None:
        raise Http404
    fields = ("name", "phone", "college", "major", "class_name")
    values = {
        "name": entry.name,
        "phone": entry.phone,
        "college": entry.college.name,
        "major": entry.major,
        "class_name": entry.class_name,
    }
    status = 200
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in fields}
        try:
            do_update_roster_entry(entry, **values, actor=current_user(request))
        except UserError as exc:
            add_message(request, exc)
            status = 400
        else:
            messages.success(request, _("已保存学生信息。"))
            query = urlencode({"year": entry.year})
            return HttpResponseRedirect(f"{reverse('employment:school-roster')}?{query}")
    context = {**school_context(staff, "roster"), "entry": entry, "values": values}
    return render(request, "employment/school/roster_edit.html", context, status=status)


def _members(staff: Staff) -> list[User]:
    return list(
        User.objects.filter(memberships__org_id=staff.school.org_id)
        .select_related(IDENTITY)
        .order_by("pk")
    )


@login_required
@require_http_methods(["GET", "POST"])
def staff_view(request: HttpRequest) -> HttpResponse:
    """管理员设置: the school's 学校管理员 and 学院管理员; give a member of the school's
    organisation a role (a 学院管理员 for one college)."""
    staff = require_staff(request, school_admin=True)
    members = _members(staff)
    colleges = list(College.objects.filter(school=staff.school).order_by("name"))
    values = {"user": "", "role": Staff.Role.COLLEGE_ADMIN, "college": ""}
    status = 200
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in values}
        user = next((m for m in members if str(m.pk) == values["user"]), None)
        college = next((c for c in colleges if str(c.pk) == values["college"]), None)
        if user is None:
            messages.error(request, _("请选择本校组织的成员。"))
            status = 400
        else:
            try:
                do_set_staff(
                    staff.school, user, values["role"], college, actor=current_user(request)
                )
            except UserError as exc:
                add_message(request, exc)
                status = 400
            else:
                messages.success(request, _("已设置管理员。"))
                return HttpResponseRedirect(request.path)
    context = {
        **school_context(staff, "staff"),
        "staff_rows": list(school_queries.staff_list(staff)),
        "members": members,
        "colleges": colleges,
        "roles": Staff.Role.choices,
        "values": values,
    }
    return render(request, "employment/school/staff.html", context, status=status)


urlpatterns: list[URLPattern] = [
    path("school/roster/", roster_view, name="school-roster"),
    path("school/roster/template.xlsx", roster_template_view, name="school-roster-template"),
    path("school/roster/import/", roster_import_view, name="school-roster-import"),
    path("school/roster/import/check/", roster_check_view, name="school-roster-check"),
    path("school/roster/<uuid:entry_uuid>/edit/", roster_edit_view, name="school-roster-edit"),
    path("school/staff/", staff_view, name="school-staff"),
]
