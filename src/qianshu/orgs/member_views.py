"""Pages of the organisation overview (组织概况), members and roles (成员管理), invitations and
the personal / organisation context switcher."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from qianshu.accounts.hints import login_url
from qianshu.core.errors import add_message, add_to_form
from qianshu.core.meta import request_meta
from qianshu.core.requests import current_user
from qianshu.orgs.access import (
    ADMIN_ONLY,
    access_invitation_by_uuid,
    access_member_by_id,
    access_org_by_uuid,
)
from qianshu.orgs.actions.members import (
    do_accept_invitation,
    do_change_member_role,
    do_decline_invitation,
    do_invite_member,
    do_leave_org,
    do_remove_member,
    do_revoke_invitation,
    do_transfer_admin,
)
from qianshu.orgs.context import acting_org, set_acting_org
from qianshu.orgs.member_forms import InviteForm, RoleForm, SwitchForm
from qianshu.orgs.members import MemberError, invitation_by_token, invitation_state
from qianshu.orgs.models import Invitation, Membership, Organization, Seal
from qianshu.orgs.people import person_label, real_name
from qianshu.orgs.queries import members_of, pending_invitations
from qianshu.orgs.reauth import kept_input, needs_reauth, reauth_redirect

Role = Membership.Role
ROLE_ORDER = {Role.ADMIN: 0, Role.SEAL_KEEPER: 1, Role.MEMBER: 2}


def _context(org: Organization, membership: Membership, section: str) -> dict[str, Any]:
    return {"org": org, "membership": membership, "section": section, "nav": "orgs"}


def _members_path(org: Organization) -> str:
    return reverse("orgs:members", args=[org.uuid])


def _first_error(form: Any) -> str:
    for errors in form.errors.values():
        return str(errors[0])
    return _("输入有误，请检查后重试。")


# --- 组织概况 ---


@require_GET
@login_required
def detail_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """The organisation at a glance: identity, verification status, my role, counts, links."""
    org, membership = access_org_by_uuid(current_user(request), org_uuid)
    context = _context(org, membership, "overview")
    context.update(
        member_count=Membership.objects.filter(org=org).count(),
        seal_count=Seal.objects.filter(org=org).exclude(status=Seal.Status.DESTROYED).count(),
        is_admin=membership.role == Role.ADMIN,
        is_acting=(current := acting_org(request)) is not None and current.pk == org.pk,
    )
    return render(request, "orgs/detail.html", context)


# --- 成员管理 ---


def _member_rows(org: Organization) -> list[dict[str, Any]]:
    """Members by role, named by their verified name (未实名 + masked phone otherwise)."""
    memberships = members_of(org)
    memberships.sort(key=lambda m: (ROLE_ORDER.get(Role(m.role), 9), m.created_at, m.pk))
    rows = []
    for m in memberships:
        name = real_name(m.user)
        rows.append(
            {
                "membership": m,
                # The row's badge says 未实名; the masked phone stands for the name then.
                "name": name or m.user.masked_phone,
                "show_phone": bool(name),
                "verified": bool(name),
                "role_form": RoleForm(initial={"role": m.role}, prefix=f"m{m.pk}"),
            }
        )
    return rows


def _render_members(
    request: HttpRequest,
    org: Organization,
    membership: Membership,
    *,
    invite_form: InviteForm | None = None,
    status: int = 200,
) -> HttpResponse:
    is_admin = membership.role == Role.ADMIN
    rows = _member_rows(org)
    context = _context(org, membership, "members")
    context.update(
        rows=rows,
        is_admin=is_admin,
        admin_count=sum(1 for row in rows if row["membership"].role == Role.ADMIN),
        invite_form=(
            (invite_form or InviteForm(initial=kept_input(request, request.path)))
            if is_admin
            else None
        ),
        invitations=(
            [
                {"invitation": inv, "inviter": person_label(inv.invited_by)}
                for inv in pending_invitations(org)
            ]
            if is_admin
            else []
        ),
    )
    return render(request, "orgs/members/list.html", context, status=status)


@require_GET
@login_required
def members_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    """The member list (every member sees it); administrators also invite and manage."""
    org, membership = access_org_by_uuid(current_user(request), org_uuid)
    return _render_members(request, org, membership)


@require_POST
@login_required
def invite_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    user = current_user(request)
    org, membership = access_org_by_uuid(user, org_uuid, roles=ADMIN_ONLY)
    if request.POST.get("role") == Role.ADMIN and needs_reauth(request):
        return reauth_redirect(request, _members_path(org), keep=("phone", "role"))
    form = InviteForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            _invitation, _token = do_invite_member(
                org, data["phone"], data["role"], actor=user, meta=request_meta(request)
            )
        except MemberError as exc:
            add_to_form(form, exc)
        else:
            messages.success(
                request,
                _("已向 %(phone)s 发送邀请短信，对方登录后接受即可加入，7 天内有效。")
                % {"phone": data["phone"]},
            )
            return redirect("orgs:members", org.uuid)
    return _render_members(request, org, membership, invite_form=form, status=400)


@require_POST
@login_required
def invitation_revoke_view(
    request: HttpRequest, org_uuid: uuid.UUID, invitation_uuid: uuid.UUID
) -> HttpResponse:
    user = current_user(request)
    org, _membership = access_org_by_uuid(user, org_uuid, roles=ADMIN_ONLY)
    invitation = access_invitation_by_uuid(org, invitation_uuid)
    try:
        do_revoke_invitation(invitation, actor=user, meta=request_meta(request))
    except MemberError as exc:
        add_message(request, exc)
    else:
        messages.success(request, _("邀请已撤销，短信中的链接已失效。"))
    return redirect("orgs:members", org.uuid)


@require_POST
@login_required
def member_role_view(request: HttpRequest, org_uuid: uuid.UUID, member_id: int) -> HttpResponse:
    user = current_user(request)
    org, _membership = access_org_by_uuid(user, org_uuid, roles=ADMIN_ONLY)
    target = access_member_by_id(org, member_id)
    form = RoleForm(request.POST, prefix=f"m{target.pk}")
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect("orgs:members", org.uuid)
    if Role.ADMIN in (form.cleaned_data["role"], target.role) and needs_reauth(request):
        return reauth_redirect(request, _members_path(org))
    try:
        changed = do_change_member_role(
            target, form.cleaned_data["role"], actor=user, meta=request_meta(request)
        )
    except MemberError as exc:
        add_message(request, exc)
    else:
        messages.success(
            request,
            _("%(name)s 的角色已设为%(role)s。")
            % {"name": person_label(changed.user), "role": changed.get_role_display()},
        )
    return redirect("orgs:members", org.uuid)


@require_POST
@login_required
def member_remove_view(request: HttpRequest, org_uuid: uuid.UUID, member_id: int) -> HttpResponse:
    user = current_user(request)
    org, _membership = access_org_by_uuid(user, org_uuid, roles=ADMIN_ONLY)
    target = access_member_by_id(org, member_id)
    if needs_reauth(request):
        return reauth_redirect(request, _members_path(org))
    name = person_label(target.user)
    try:
        revoked = do_remove_member(target, actor=user, meta=request_meta(request))
    except MemberError as exc:
        add_message(request, exc)
        return redirect("orgs:members", org.uuid)
    if target.user_id == user.pk:
        messages.success(request, _("您已退出“%(org)s”。") % {"org": org.name})
        return redirect("home")
    text = _("已将 %(name)s 移出组织。") % {"name": name}
    if revoked:
        text += " " + ngettext(
            "其 %(count)d 项印章授权已同时撤销。", "其 %(count)d 项印章授权已同时撤销。", revoked
        ) % {"count": revoked}
    messages.success(request, text)
    return redirect("orgs:members", org.uuid)


@require_POST
@login_required
def member_transfer_view(request: HttpRequest, org_uuid: uuid.UUID, member_id: int) -> HttpResponse:
    user = current_user(request)
    org, _membership = access_org_by_uuid(user, org_uuid, roles=ADMIN_ONLY)
    target = access_member_by_id(org, member_id)
    if needs_reauth(request):
        return reauth_redirect(request, _members_path(org))
    try:
        do_transfer_admin(target, actor=user, meta=request_meta(request))
    except MemberError as exc:
        add_message(request, exc)
    else:
        messages.success(
            request,
            _("已将管理员转让给 %(name)s，您现在是普通成员。")
            % {"name": person_label(target.user)},
        )
    return redirect("orgs:members", org.uuid)


@require_POST
@login_required
def leave_view(request: HttpRequest, org_uuid: uuid.UUID) -> HttpResponse:
    user = current_user(request)
    org, _membership = access_org_by_uuid(user, org_uuid)
    try:
        do_leave_org(org, actor=user, meta=request_meta(request))
    except MemberError as exc:
        add_message(request, exc)
        return redirect("orgs:members", org.uuid)
    acting_org(request)  # drops the stale choice from the session if it was this organisation
    messages.success(request, _("您已退出“%(org)s”。") % {"org": org.name})
    return redirect("home")


# --- 成员邀请 (the invitee's page) ---


def _render_invitation(
    request: HttpRequest, invitation: Invitation, *, error: str = "", needs_identity: bool = False
) -> HttpResponse:
    user = current_user(request)
    state = invitation_state(invitation)
    membership = Membership.objects.filter(org=invitation.org, user=user).first()
    context = {
        "invitation": invitation,
        "org": invitation.org,
        "state": state,
        "inviter": person_label(invitation.invited_by),
        "wrong_phone": state == Invitation.Status.PENDING and user.phone != invitation.phone,
        "membership": membership,
        "error": error,
        "needs_identity": needs_identity,
    }
    return render(request, "orgs/invitation.html", context, status=400 if error else 200)


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_view(request: HttpRequest, token: str) -> HttpResponse:
    """Open an invitation link: log in with the invited phone (an opaque hint, shown masked),
    then accept or decline."""
    invitation = invitation_by_token(token)
    if invitation is None:
        return render(request, "orgs/invitation_invalid.html", status=404)
    if not request.user.is_authenticated:
        return HttpResponseRedirect(login_url(request.path, invitation.phone))
    if request.method == "GET":
        return _render_invitation(request, invitation)
    user = current_user(request)
    decision = request.POST.get("decision")
    try:
        if decision == "accept":
            membership = do_accept_invitation(invitation, actor=user, meta=request_meta(request))
        elif decision == "decline":
            do_decline_invitation(invitation, actor=user, meta=request_meta(request))
        else:
            raise MemberError(_("请选择接受或拒绝邀请。"))
    except MemberError as exc:
        invitation.refresh_from_db()
        return _render_invitation(
            request, invitation, error=str(exc), needs_identity=exc.needs_identity
        )
    if decision == "decline":
        messages.info(request, _("您已拒绝加入“%(org)s”。") % {"org": invitation.org.name})
        return redirect("orgs:invitation", token)
    messages.success(
        request,
        _("您已加入“%(org)s”，角色：%(role)s。可在顶部切换到该组织。")
        % {"org": invitation.org.name, "role": membership.get_role_display()},
    )
    return redirect("orgs:detail", invitation.org.uuid)


# --- 个人 / 组织 切换 ---


@require_POST
@login_required
def switch_view(request: HttpRequest) -> HttpResponse:
    """Act personally or for one of the user's organisations (404 for any other uuid)."""
    form = SwitchForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect("home")
    org_uuid = form.cleaned_data["org"]
    if org_uuid is None:
        set_acting_org(request, None)
        messages.success(request, _("已切换到个人。"))
        return redirect("home")
    org, _membership = access_org_by_uuid(current_user(request), org_uuid)
    set_acting_org(request, org)
    messages.success(request, _("已切换到“%(org)s”。") % {"org": org.name})
    return redirect("orgs:detail", org.uuid)
