"""Members and roles of an organisation (成员管理): the state changes.

* :func:`do_invite_member` — an administrator invites a phone number with a role: an
  :class:`~qianshu.orgs.models.Invitation` (only the hash of the link's token is stored, 7 days)
  and an ``org_invitation`` SMS with the link.
* :func:`do_accept_invitation` / :func:`do_decline_invitation` — the invitee, logged in with the
  invited phone, answers. Accepting twice is harmless; the invitation row is locked, so two
  concurrent answers cannot both win.
* :func:`do_revoke_invitation`, :func:`do_change_member_role`, :func:`do_remove_member`,
  :func:`do_transfer_admin`, :func:`do_leave_org` — every change of the member list locks the
  organisation row first, so that two administrators acting at once can never leave the
  organisation without an administrator. Removing a member (or leaving) revokes their grants of
  the organisation's seals at once.

Every action raises :class:`~qianshu.orgs.members.MemberError` (a message for the user) when
refused and writes an organisation event when it succeeds.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts import throttles
from qianshu.accounts.models import User
from qianshu.accounts.phones import mask_phone
from qianshu.core.meta import RequestMeta
from qianshu.identity.access import verified_identity
from qianshu.notifications.actions import do_queue_sms
from qianshu.orgs.audit import record_org_event
from qianshu.orgs.members import (
    DAY,
    INVITATION_DAYS,
    INVITES_PER_ORG_PER_DAY,
    INVITES_PER_PHONE_PER_DAY,
    MemberError,
    invitation_state,
    token_hash,
)
from qianshu.orgs.models import Invitation, Membership, OrgAction, Organization, SealGrant
from qianshu.orgs.people import person_label

Role = Membership.Role


def _lock_org(org: Organization) -> Organization:
    """Serialise member changes of one organisation (admin counts are checked after this)."""
    return Organization.objects.select_for_update().get(pk=org.pk)


def _admin_count(org: Organization) -> int:
    return Membership.objects.filter(org=org, role=Role.ADMIN).count()


def _require_verified_for_admin(user: User, role: str) -> None:
    if role == Role.ADMIN and verified_identity(user) is None:
        raise MemberError(
            _("管理员须为已实名认证的个人，%(name)s 尚未完成个人实名认证。")
            % {"name": person_label(user)},
            needs_identity=True,
        )


def _revoke_grants(org: Organization, user: User, *, actor: User) -> int:
    """Revoke the user's active and awaiting grants of the organisation's seals."""
    return SealGrant.objects.filter(
        seal__org=org,
        grantee=user,
        status__in=(SealGrant.Status.ACTIVE, SealGrant.Status.AWAITING_LEGAL_REP),
    ).update(status=SealGrant.Status.REVOKED, revoked_by=actor, revoked_at=timezone.now())


def _member_detail(membership: Membership) -> dict[str, Any]:
    return {
        "member": membership.pk,
        "user": membership.user_id,
        "phone": mask_phone(membership.user.phone),
    }


def _language_for(phone: str, meta: RequestMeta) -> str:
    """The invitee's own language if they have an account, else the inviter's (the site
    default for a task)."""
    user = User.objects.filter(phone=phone).first()
    if user is not None and user.language:
        return user.language
    return meta.language or settings.LANGUAGE_CODE


def do_invite_member(
    org: Organization,
    phone: str,
    role: str,
    *,
    actor: User,
    meta: RequestMeta,
) -> tuple[Invitation, str]:
    """Invite ``phone`` (canonical, see ``normalize_phone``) to ``org`` with ``role``.

    Returns the invitation and the token of its link (only its hash is stored). A pending
    invitation of the same number is replaced by the new one. Raises :class:`MemberError`.
    """
    if role not in Role.values:
        raise MemberError(_("请选择成员角色。"))
    if not org.is_verified:
        raise MemberError(_("组织机构认证通过后才能邀请成员。"))
    if Membership.objects.filter(org=org, user__phone=phone).exists():
        raise MemberError(_("该手机号已是本组织成员。"))
    if not throttles.hit(f"org-invite:{org.pk}", limit=INVITES_PER_ORG_PER_DAY, window=DAY):
        raise MemberError(_("今天发出的邀请太多，请明天再试。"))
    verdict = throttles.hit(
        f"org-invite:{org.pk}:{phone}", limit=INVITES_PER_PHONE_PER_DAY, window=DAY
    )
    if not verdict:
        raise MemberError(_("今天已多次邀请该手机号，请明天再试。"))
    now = timezone.now()
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        locked = _lock_org(org)
        if Membership.objects.filter(org=locked, user__phone=phone).exists():
            raise MemberError(_("该手机号已是本组织成员。"))
        replaced = Invitation.objects.filter(
            org=locked, phone=phone, status=Invitation.Status.PENDING
        ).update(status=Invitation.Status.REVOKED, decided_at=now)
        invitation = Invitation.objects.create(
            org=locked,
            phone=phone,
            role=role,
            token_hash=token_hash(token),
            invited_by=actor,
            created_at=now,
            expires_at=now + dt.timedelta(days=INVITATION_DAYS),
        )
        link = settings.PUBLIC_URL + reverse("orgs:invitation", args=[token])
        do_queue_sms(
            phone,
            "org_invitation",
            {
                "inviter": person_label(actor),
                "role": Role(role).label,
                "org": locked.name,
                "link": link,
            },
            language=_language_for(phone, meta),
            sensitive=True,
        )
        record_org_event(
            locked,
            OrgAction.MEMBER_INVITED,
            actor=actor,
            meta=meta,
            invitation=str(invitation.uuid),
            phone=mask_phone(phone),
            role=role,
            replaced=replaced,
        )
    return invitation, token


def do_revoke_invitation(invitation: Invitation, *, actor: User, meta: RequestMeta) -> Invitation:
    """Revoke a pending invitation (its link stops working at once)."""
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().select_related("org").get(pk=invitation.pk)
        if invitation_state(locked) != Invitation.Status.PENDING:
            raise MemberError(_("该邀请已处理或已过期，无需撤销。"))
        locked.status = Invitation.Status.REVOKED
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "decided_at"])
        record_org_event(
            locked.org,
            OrgAction.INVITATION_REVOKED,
            actor=actor,
            meta=meta,
            invitation=str(locked.uuid),
            phone=mask_phone(locked.phone),
        )
    return locked


def _check_answerable(invitation: Invitation, actor: User) -> None:
    state = invitation_state(invitation)
    if state == Invitation.Status.EXPIRED:
        raise MemberError(_("该邀请已过期，请联系组织管理员重新邀请。"))
    if state == Invitation.Status.REVOKED:
        raise MemberError(_("该邀请已被管理员撤销。"))
    if state == Invitation.Status.DECLINED:
        raise MemberError(_("您已拒绝该邀请。"))
    if state == Invitation.Status.ACCEPTED:
        raise MemberError(_("该邀请已被使用。"))
    if actor.phone != invitation.phone:
        raise MemberError(
            _("该邀请发给手机号 %(phone)s，请使用该手机号登录后再接受。")
            % {"phone": mask_phone(invitation.phone)}
        )


def do_accept_invitation(invitation: Invitation, *, actor: User, meta: RequestMeta) -> Membership:
    """The invitee (logged in with the invited phone) joins with the invited role.

    Accepting an invitation one has already accepted returns the membership again. An invited
    administrator must be a verified person. Raises :class:`MemberError`.
    """
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().select_related("org").get(pk=invitation.pk)
        if locked.status == Invitation.Status.ACCEPTED and locked.accepted_by_id == actor.pk:
            existing = Membership.objects.filter(org=locked.org, user=actor).first()
            if existing is not None:
                return existing
        _check_answerable(locked, actor)
        # Someone who is already a member keeps their role (an invitation never demotes).
        membership = Membership.objects.filter(org=locked.org, user=actor).first()
        created = membership is None
        if membership is None:
            _require_verified_for_admin(actor, locked.role)
            membership, created = Membership.objects.get_or_create(
                org=locked.org, user=actor, defaults={"role": locked.role}
            )
        locked.status = Invitation.Status.ACCEPTED
        locked.accepted_by = actor
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "accepted_by", "decided_at"])
        record_org_event(
            locked.org,
            OrgAction.INVITATION_ACCEPTED,
            actor=actor,
            meta=meta,
            invitation=str(locked.uuid),
            role=membership.role,
            already_member=not created,
            **_member_detail(membership),
        )
    return membership


def do_decline_invitation(invitation: Invitation, *, actor: User, meta: RequestMeta) -> Invitation:
    """The invitee (logged in with the invited phone) declines. Raises :class:`MemberError`."""
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().select_related("org").get(pk=invitation.pk)
        _check_answerable(locked, actor)
        locked.status = Invitation.Status.DECLINED
        locked.accepted_by = actor
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "accepted_by", "decided_at"])
        record_org_event(
            locked.org,
            OrgAction.INVITATION_DECLINED,
            actor=actor,
            meta=meta,
            invitation=str(locked.uuid),
            phone=mask_phone(locked.phone),
        )
    return locked


def do_change_member_role(
    membership: Membership,
    role: str,
    *,
    actor: User,
    meta: RequestMeta,
) -> Membership:
    """Give a member another role. The last administrator keeps theirs; a new administrator
    must be a verified person. Raises :class:`MemberError`."""
    if role not in Role.values:
        raise MemberError(_("请选择成员角色。"))
    with transaction.atomic():
        org = _lock_org(membership.org)
        current = Membership.objects.select_related("user").filter(pk=membership.pk).first()
        if current is None:
            raise MemberError(_("该成员已不在本组织。"))
        old_role = current.role
        if old_role == role:
            return current
        if old_role == Role.ADMIN and _admin_count(org) <= 1:
            raise MemberError(_("组织至少需要一名管理员，请先将管理员转让给其他成员。"))
        _require_verified_for_admin(current.user, role)
        current.role = role
        current.save(update_fields=["role"])
        record_org_event(
            org,
            OrgAction.MEMBER_ROLE_CHANGED,
            actor=actor,
            meta=meta,
            old_role=old_role,
            role=role,
            **_member_detail(current),
        )
    return current


def _remove(
    org: Organization,
    membership: Membership,
    *,
    action: OrgAction,
    actor: User,
    meta: RequestMeta,
) -> int:
    """Delete the membership (keeping an administrator) and revoke the member's grants."""
    current = Membership.objects.select_related("user").filter(pk=membership.pk).first()
    if current is None:
        raise MemberError(_("该成员已不在本组织。"))
    if current.role == Role.ADMIN and _admin_count(org) <= 1:
        if current.user_id == actor.pk:
            raise MemberError(_("您是组织唯一的管理员，请先将管理员转让给其他成员。"))
        raise MemberError(_("组织至少需要一名管理员。"))
    revoked = _revoke_grants(org, current.user, actor=actor)
    detail = _member_detail(current)
    role = current.role
    current.delete()
    record_org_event(
        org, action, actor=actor, meta=meta, role=role, revoked_grants=revoked, **detail
    )
    return revoked


def do_remove_member(membership: Membership, *, actor: User, meta: RequestMeta) -> int:
    """Remove a member; their grants of this organisation's seals are revoked at once.
    Returns the number of grants revoked. Raises :class:`MemberError`."""
    with transaction.atomic():
        org = _lock_org(membership.org)
        return _remove(org, membership, action=OrgAction.MEMBER_REMOVED, actor=actor, meta=meta)


def do_leave_org(org: Organization, *, actor: User, meta: RequestMeta) -> int:
    """The actor leaves ``org`` (never leaving it without an administrator); their grants are
    revoked. Raises :class:`MemberError`."""
    with transaction.atomic():
        locked = _lock_org(org)
        membership = Membership.objects.filter(org=locked, user=actor).first()
        if membership is None:
            raise MemberError(_("您已不是该组织的成员。"))
        return _remove(locked, membership, action=OrgAction.MEMBER_LEFT, actor=actor, meta=meta)


def do_transfer_admin(membership: Membership, *, actor: User, meta: RequestMeta) -> Membership:
    """转让管理员: the member ``membership`` becomes administrator and the actor (an
    administrator) becomes an ordinary member. Raises :class:`MemberError`."""
    with transaction.atomic():
        org = _lock_org(membership.org)
        mine = Membership.objects.filter(org=org, user=actor, role=Role.ADMIN).first()
        if mine is None:
            raise MemberError(_("只有管理员可以转让管理员。"))
        target = Membership.objects.select_related("user").filter(pk=membership.pk).first()
        if target is None:
            raise MemberError(_("该成员已不在本组织。"))
        if target.pk == mine.pk:
            raise MemberError(_("不能把管理员转让给自己。"))
        _require_verified_for_admin(target.user, Role.ADMIN)
        old_role = target.role
        target.role = Role.ADMIN
        target.save(update_fields=["role"])
        mine.role = Role.MEMBER
        mine.save(update_fields=["role"])
        record_org_event(
            org,
            OrgAction.ADMIN_TRANSFERRED,
            actor=actor,
            meta=meta,
            old_role=old_role,
            **_member_detail(target),
        )
    return target
