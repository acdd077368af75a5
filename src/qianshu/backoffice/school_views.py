"""运营后台: 标记为学校 — an operator marks a verified organisation as a school (its
administrators become 学校管理员), choosing how its students pass 信息验证."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from qianshu.accounts.models import User
from qianshu.backoffice.decorators import staff_required
from qianshu.core.errors import UserError, add_message
from qianshu.employment.actions.schools import do_mark_school
from qianshu.employment.models import School
from qianshu.orgs.access import access_org_for_review


class MarkSchoolForm(forms.Form):
    check_mode = forms.ChoiceField(
        label=gettext_lazy("学生信息验证方式"),
        choices=School.CheckMode.choices,
        initial=School.CheckMode.ID_NUMBER,
    )


@staff_required
@require_POST
def org_mark_school_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """标记为学校 with the chosen 学生信息验证方式 (an organisation already marked stays as
    it is)."""
    actor = request.user
    assert isinstance(actor, User)
    org = access_org_for_review(actor, org_uuid)
    form = MarkSchoolForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择学生信息验证方式。"))
        return redirect("backoffice:org-review", org_uuid=org.uuid)
    already = School.objects.filter(org=org).exists()
    try:
        do_mark_school(org, check_mode=form.cleaned_data["check_mode"], actor=actor)
    except UserError as exc:
        add_message(request, exc)
    else:
        if already:
            messages.info(request, _("“%(name)s”已经是学校。") % {"name": org.name})
        else:
            messages.success(
                request,
                _("已将“%(name)s”标记为学校，其管理员成为学校管理员。") % {"name": org.name},
            )
    return redirect("backoffice:org-review", org_uuid=org.uuid)
