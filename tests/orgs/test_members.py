"""Members and roles: invitations by SMS link, accepting, revoking, roles, removal, transfer of
the administrator role, leaving — and the organisation overview."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.orgs.actions.members import (
    do_accept_invitation,
    do_change_member_role,
    do_invite_member,
    do_leave_org,
)
from qianshu.orgs.members import MemberError, token_hash
from qianshu.orgs.models import Invitation, Membership, Organization, OrgEvent, Seal, SealGrant
from tests.orgs.conftest import client_for
from tests.support.accounts import PERSONAS, latest_sms, make_user
from tests.support.seals import make_seal

pytestmark = pytest.mark.django_db

Role = Membership.Role
LINK = re.compile(r"(https?://\S+/orgs/invitations/([A-Za-z0-9_\-]+)/)")


def events(org: Organization, action: str) -> list[OrgEvent]:
    return list(OrgEvent.objects.filter(org=org, action=action))


def invite(client: Client, org: Organization, phone: str, role: str = Role.SEAL_KEEPER) -> Any:
    return client.post(
        reverse("orgs:member-invite", args=[org.uuid]), {"phone": phone, "role": role}
    )


def invitation_link(phone: str) -> tuple[str, str]:
    """(absolute link, token) of the newest invitation SMS to ``phone``."""
    body = latest_sms(phone, "org_invitation").body
    match = LINK.search(body)
    assert match, body
    return match.group(1), match.group(2)


def path_of(token: str) -> str:
    return reverse("orgs:invitation", args=[token])


def grant(seal: Seal, grantee: User, admin: User) -> SealGrant:
    now = timezone.now()
    return SealGrant.objects.create(
        seal=seal,
        grantee=grantee,
        granted_by=admin,
        valid_from=now - dt.timedelta(hours=1),
        valid_until=now + dt.timedelta(days=30),
    )


@pytest.fixture
def org_a(verified_person: Callable[..., User], verified_org: Callable[..., Organization]) -> Any:
    alice = verified_person("alice")
    return verified_org(alice, name="甲方科技有限公司"), alice


# --- invitations --------------------------------------------------------------------------------


def test_invite_sms_link_login_accept_becomes_member(org_a: Any) -> None:
    org, alice = org_a
    response = invite(client_for(alice), org, "138 0000 0002")
    assert response.status_code == 302
    invitation = Invitation.objects.get(org=org)
    assert invitation.phone == PERSONAS["bob"]
    assert invitation.role == Role.SEAL_KEEPER
    assert invitation.status == Invitation.Status.PENDING
    assert dt.timedelta(days=6, hours=23) < invitation.expires_at - timezone.now()
    link, token = invitation_link(PERSONAS["bob"])
    assert link.startswith("http://127.0.0.1:8000/orgs/invitations/")
    # Only the hash is stored, never the token.
    assert invitation.token_hash == token_hash(token)
    assert token not in invitation.token_hash
    sms = latest_sms(PERSONAS["bob"], "org_invitation").body
    assert "甲方科技有限公司" in sms and "用印人" in sms and "王爱丽" in sms
    assert events(org, "member_invited")[0].detail["phone"] == "138****0002"

    # Not logged in: to the login page with the phone shown masked (never in the URL).
    anonymous = Client()
    response = anonymous.get(path_of(token))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?")
    assert "13800000002" not in response["Location"]
    login = anonymous.get(response["Location"]).content.decode()
    assert "138****0002" in login and "13800000002" not in login

    bob = make_user("bob")
    client = client_for(bob)
    page = client.get(path_of(token))
    assert page.status_code == 200
    assert "甲方科技有限公司" in page.content.decode()
    assert b'data-testid="invitation-accept"' in page.content
    response = client.post(path_of(token), {"decision": "accept"})
    assert response.status_code == 302
    assert response["Location"] == reverse("orgs:detail", args=[org.uuid])
    membership = Membership.objects.get(org=org, user=bob)
    assert membership.role == Role.SEAL_KEEPER
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.ACCEPTED
    assert invitation.accepted_by == bob
    assert invitation.decided_at is not None
    assert events(org, "invitation_accepted")[0].actor == bob
    # Accepting twice is harmless.
    again = client.post(path_of(token), {"decision": "accept"})
    assert again.status_code == 302
    assert Membership.objects.filter(org=org, user=bob).count() == 1
    assert len(events(org, "invitation_accepted")) == 1
    # bob now sees the organisation.
    assert client.get(reverse("orgs:detail", args=[org.uuid])).status_code == 200


def test_wrong_phone_cannot_accept(org_a: Any) -> None:
    org, alice = org_a
    invite(client_for(alice), org, PERSONAS["bob"])
    _link, token = invitation_link(PERSONAS["bob"])
    charlie = make_user("charlie")
    client = client_for(charlie)
    page = client.get(path_of(token))
    assert page.status_code == 200
    text = page.content.decode()
    assert "138****0002" in text
    assert 'data-testid="invitation-wrong-phone"' in text
    assert 'data-testid="invitation-accept"' not in text
    response = client.post(path_of(token), {"decision": "accept"})
    assert response.status_code == 400
    assert "138****0002" in response.content.decode()
    assert not Membership.objects.filter(org=org, user=charlie).exists()
    assert Invitation.objects.get(org=org).status == Invitation.Status.PENDING
    # Nor can charlie decline it for bob.
    client.post(path_of(token), {"decision": "decline"})
    assert Invitation.objects.get(org=org).status == Invitation.Status.PENDING


def test_decline(org_a: Any) -> None:
    org, alice = org_a
    invite(client_for(alice), org, PERSONAS["bob"])
    _link, token = invitation_link(PERSONAS["bob"])
    client = client_for(make_user("bob"))
    response = client.post(path_of(token), {"decision": "decline"})
    assert response.status_code == 302
    assert Invitation.objects.get(org=org).status == Invitation.Status.DECLINED
    page = client.get(path_of(token))
    assert 'data-state="declined"' in page.content.decode()
    assert client.post(path_of(token), {"decision": "accept"}).status_code == 400
    assert not Membership.objects.filter(org=org, user__phone=PERSONAS["bob"]).exists()
    assert len(events(org, "invitation_declined")) == 1


def test_revoke_invitation(org_a: Any) -> None:
    org, alice = org_a
    admin = client_for(alice)
    invite(admin, org, PERSONAS["bob"])
    invitation = Invitation.objects.get(org=org)
    _link, token = invitation_link(PERSONAS["bob"])
    members_page = admin.get(reverse("orgs:members", args=[org.uuid])).content.decode()
    assert str(invitation.uuid) in members_page
    response = admin.post(reverse("orgs:invitation-revoke", args=[org.uuid, invitation.uuid]))
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.REVOKED
    assert len(events(org, "invitation_revoked")) == 1
    client = client_for(make_user("bob"))
    page = client.get(path_of(token))
    assert 'data-state="revoked"' in page.content.decode()
    assert "已被管理员撤销" in page.content.decode()
    assert client.post(path_of(token), {"decision": "accept"}).status_code == 400
    assert not Membership.objects.filter(org=org, user__phone=PERSONAS["bob"]).exists()
    # Revoking again says so, changes nothing.
    admin.post(reverse("orgs:invitation-revoke", args=[org.uuid, invitation.uuid]))
    assert len(events(org, "invitation_revoked")) == 1


def test_expired_invitation(org_a: Any) -> None:
    org, alice = org_a
    invite(client_for(alice), org, PERSONAS["bob"])
    _link, token = invitation_link(PERSONAS["bob"])
    Invitation.objects.filter(org=org).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    client = client_for(make_user("bob"))
    page = client.get(path_of(token))
    assert 'data-state="expired"' in page.content.decode()
    assert "已过期" in page.content.decode()
    response = client.post(path_of(token), {"decision": "accept"})
    assert response.status_code == 400
    assert not Membership.objects.filter(org=org, user__phone=PERSONAS["bob"]).exists()
    # It no longer shows among the pending ones.
    members_page = client_for(alice).get(reverse("orgs:members", args=[org.uuid]))
    assert b'data-testid="invitation-row"' not in members_page.content


def test_unknown_token_is_a_clear_404() -> None:
    response = Client().get(path_of("not-a-real-token"))
    assert response.status_code == 404
    assert "邀请链接无效" in response.content.decode()


def test_re_inviting_replaces_the_pending_invitation(org_a: Any) -> None:
    org, alice = org_a
    admin = client_for(alice)
    invite(admin, org, PERSONAS["bob"], Role.MEMBER)
    _old_link, old_token = invitation_link(PERSONAS["bob"])
    invite(admin, org, PERSONAS["bob"], Role.SEAL_KEEPER)
    _link, token = invitation_link(PERSONAS["bob"])
    assert token != old_token
    statuses = sorted(Invitation.objects.filter(org=org).values_list("status", flat=True))
    assert statuses == [Invitation.Status.PENDING, Invitation.Status.REVOKED]
    client = client_for(make_user("bob"))
    assert client.post(path_of(old_token), {"decision": "accept"}).status_code == 400
    client.post(path_of(token), {"decision": "accept"})
    assert Membership.objects.get(org=org, user__phone=PERSONAS["bob"]).role == Role.SEAL_KEEPER


@pytest.mark.parametrize(
    ("phone", "role", "message"),
    [
        ("12345", Role.MEMBER, "请输入正确的手机号码"),
        ("", Role.MEMBER, "请输入手机号"),
        (PERSONAS["bob"], "owner", "请选择成员角色"),
        (PERSONAS["alice"], Role.MEMBER, "已是本组织成员"),
    ],
)
def test_bad_invitations_get_clear_errors(org_a: Any, phone: str, role: str, message: str) -> None:
    org, alice = org_a
    response = invite(client_for(alice), org, phone, role)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Invitation.objects.filter(org=org).exists()


def test_unverified_organisation_cannot_invite(
    verified_person: Callable[..., User], verified_org: Callable[..., Organization]
) -> None:
    alice = verified_person("alice")
    org = verified_org(alice, status=Organization.Status.DRAFT)
    response = invite(client_for(alice), org, PERSONAS["bob"])
    assert response.status_code == 400
    assert "认证通过后才能邀请成员" in response.content.decode()
    assert not Invitation.objects.exists()


def test_invitations_are_rate_limited(org_a: Any) -> None:
    org, alice = org_a
    admin = client_for(alice)
    for _ in range(3):
        assert invite(admin, org, PERSONAS["bob"]).status_code == 302
    response = invite(admin, org, PERSONAS["bob"])
    assert response.status_code == 400
    assert "请明天再试" in response.content.decode()


def test_invited_admin_must_be_verified(org_a: Any, verified_person: Any) -> None:
    org, alice = org_a
    invite(client_for(alice), org, PERSONAS["bob"], Role.ADMIN)
    _link, token = invitation_link(PERSONAS["bob"])
    bob = make_user("bob")
    client = client_for(bob)
    response = client.post(path_of(token), {"decision": "accept"})
    assert response.status_code == 400
    assert "实名认证" in response.content.decode()
    assert not Membership.objects.filter(org=org, user=bob).exists()
    verified_person("bob")
    assert client.post(path_of(token), {"decision": "accept"}).status_code == 302
    assert Membership.objects.get(org=org, user=bob).role == Role.ADMIN


def test_accept_when_already_member_keeps_membership(org_a: Any) -> None:
    org, alice = org_a
    bob = make_user("bob")
    invitation, _token = do_invite_member(org, bob.phone, Role.ADMIN, actor=alice, meta=TASK)
    Membership.objects.create(org=org, user=bob, role=Role.MEMBER)
    membership = do_accept_invitation(invitation, actor=bob, meta=TASK)
    assert membership.role == Role.MEMBER
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.ACCEPTED
    with pytest.raises(MemberError):
        do_accept_invitation(invitation, actor=make_user("charlie"), meta=TASK)


# --- roles, removal, transfer, leaving ----------------------------------------------------------


@pytest.fixture
def team(org_a: Any) -> Any:
    """alice admin, bob seal keeper, charlie member of org A."""
    org, alice = org_a
    bob = make_user("bob")
    charlie = make_user("charlie")
    Membership.objects.create(org=org, user=bob, role=Role.SEAL_KEEPER)
    Membership.objects.create(org=org, user=charlie, role=Role.MEMBER)
    return org, alice, bob, charlie


def member_of(org: Organization, user: User) -> Membership:
    return Membership.objects.get(org=org, user=user)


def test_members_page_lists_everyone_masked(team: Any) -> None:
    org, alice, bob, _charlie = team
    page = client_for(bob).get(reverse("orgs:members", args=[org.uuid]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "王爱丽" in text  # alice's verified name
    assert "138****0001" in text and "138****0003" in text
    assert "13800000001" not in text
    assert text.count('data-testid="member-row"') == 3
    # A member sees no management controls.
    assert 'data-testid="invite-form"' not in text
    assert 'data-testid="member-remove"' not in text
    admin_text = client_for(alice).get(reverse("orgs:members", args=[org.uuid])).content.decode()
    assert 'data-testid="invite-form"' in admin_text
    assert admin_text.count('data-testid="member-remove"') == 2


def test_admin_changes_a_role(team: Any) -> None:
    org, alice, _bob, charlie = team
    target = member_of(org, charlie)
    response = client_for(alice).post(
        reverse("orgs:member-role", args=[org.uuid, target.pk]),
        {f"m{target.pk}-role": Role.SEAL_KEEPER},
    )
    assert response.status_code == 302
    assert member_of(org, charlie).role == Role.SEAL_KEEPER
    event = events(org, "member_role_changed")[0]
    assert event.detail["old_role"] == Role.MEMBER and event.detail["role"] == Role.SEAL_KEEPER
    # An unverified member cannot be made administrator.
    client_for(alice).post(
        reverse("orgs:member-role", args=[org.uuid, target.pk]), {f"m{target.pk}-role": "admin"}
    )
    assert member_of(org, charlie).role == Role.SEAL_KEEPER


@pytest.mark.parametrize("name", ["member-role", "member-remove", "member-transfer"])
def test_members_get_404_on_admin_actions(team: Any, name: str) -> None:
    org, _alice, bob, charlie = team
    target = member_of(org, charlie)
    before = list(Membership.objects.order_by("pk").values_list("pk", "role"))
    for actor in (bob, charlie):
        response = client_for(actor).post(
            reverse(f"orgs:{name}", args=[org.uuid, target.pk]), {f"m{target.pk}-role": "admin"}
        )
        assert response.status_code == 404
    assert list(Membership.objects.order_by("pk").values_list("pk", "role")) == before
    assert not OrgEvent.objects.filter(org=org).exists()
    assert invite(client_for(bob), org, "13800000099").status_code == 404
    assert not Invitation.objects.exists()


def test_member_of_another_org_is_404(team: Any, verified_org: Any) -> None:
    org, alice, _bob, _charlie = team
    other_admin = make_user("dora", phone="13800000044")
    other = verified_org(other_admin, name="乙方公司")
    stranger = member_of(other, other_admin)
    response = client_for(alice).post(reverse("orgs:member-remove", args=[org.uuid, stranger.pk]))
    assert response.status_code == 404
    assert Membership.objects.filter(pk=stranger.pk).exists()


def test_removal_revokes_grants(team: Any, pki: None) -> None:
    org, alice, bob, _charlie = team
    seal = make_seal(org, alice)
    bob_grant = grant(seal, bob, alice)
    response = client_for(alice).post(
        reverse("orgs:member-remove", args=[org.uuid, member_of(org, bob).pk])
    )
    assert response.status_code == 302
    assert not Membership.objects.filter(org=org, user=bob).exists()
    bob_grant.refresh_from_db()
    assert bob_grant.status == SealGrant.Status.REVOKED
    assert bob_grant.revoked_by == alice
    assert bob_grant.revoked_at is not None
    event = events(org, "member_removed")[0]
    assert event.detail["revoked_grants"] == 1
    assert client_for(bob).get(reverse("orgs:detail", args=[org.uuid])).status_code == 404


def test_last_admin_cannot_leave_or_be_removed(team: Any) -> None:
    org, alice, _bob, _charlie = team
    client = client_for(alice)
    page = client.get(reverse("orgs:members", args=[org.uuid])).content.decode()
    assert 'data-testid="leave-blocked"' in page
    response = client.post(reverse("orgs:leave", args=[org.uuid]), follow=True)
    assert "唯一的管理员" in response.content.decode()
    response = client.post(
        reverse("orgs:member-remove", args=[org.uuid, member_of(org, alice).pk]), follow=True
    )
    assert "唯一的管理员" in response.content.decode()
    response = client.post(
        reverse("orgs:member-role", args=[org.uuid, member_of(org, alice).pk]),
        {f"m{member_of(org, alice).pk}-role": Role.MEMBER},
        follow=True,
    )
    assert "至少需要一名管理员" in response.content.decode()
    assert member_of(org, alice).role == Role.ADMIN


def test_member_leaves(team: Any, pki: None) -> None:
    org, alice, _bob, charlie = team
    seal = make_seal(org, alice)
    charlie_grant = grant(seal, charlie, alice)
    response = client_for(charlie).post(reverse("orgs:leave", args=[org.uuid]))
    assert response.status_code == 302
    assert not Membership.objects.filter(org=org, user=charlie).exists()
    charlie_grant.refresh_from_db()
    assert charlie_grant.status == SealGrant.Status.REVOKED
    assert events(org, "member_left")[0].actor == charlie


def test_transfer_admin(team: Any, verified_person: Any) -> None:
    org, alice, bob, _charlie = team
    target = member_of(org, bob)
    client = client_for(alice)
    # bob is not a verified person yet: refused.
    response = client.post(reverse("orgs:member-transfer", args=[org.uuid, target.pk]), follow=True)
    assert "实名认证" in response.content.decode()
    assert member_of(org, alice).role == Role.ADMIN
    verified_person("bob")
    response = client.post(reverse("orgs:member-transfer", args=[org.uuid, target.pk]))
    assert response.status_code == 302
    assert member_of(org, bob).role == Role.ADMIN
    assert member_of(org, alice).role == Role.MEMBER
    assert events(org, "admin_transferred")[0].detail["old_role"] == Role.SEAL_KEEPER
    # alice is no longer an administrator.
    again = client.post(reverse("orgs:member-transfer", args=[org.uuid, target.pk]))
    assert again.status_code == 404
    # alice may now leave: bob is the administrator.
    assert client.post(reverse("orgs:leave", args=[org.uuid])).status_code == 302
    assert not Membership.objects.filter(org=org, user=alice).exists()


def test_two_admins_one_may_leave(team: Any, verified_person: Any) -> None:
    org, alice, bob, _charlie = team
    verified_person("bob")
    Membership.objects.filter(org=org, user=bob).update(role=Role.ADMIN)
    assert client_for(bob).post(reverse("orgs:leave", args=[org.uuid])).status_code == 302
    assert list(Membership.objects.filter(org=org, role=Role.ADMIN).values_list("user", flat=True))
    response = client_for(alice).post(reverse("orgs:leave", args=[org.uuid]), follow=True)
    assert "唯一的管理员" in response.content.decode()


# --- 组织概况 ----------------------------------------------------------------------------------


def test_overview(team: Any, pki: None) -> None:
    org, alice, bob, _charlie = team
    make_seal(org, alice)
    page = client_for(alice).get(reverse("orgs:detail", args=[org.uuid]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "甲方科技有限公司" in text
    assert org.credit_code in text
    assert "王爱丽" in text  # legal representative
    assert "已认证" in text
    assert re.search(r'data-testid="org-member-count"><strong>3<', text)
    assert re.search(r'data-testid="org-seal-count"><strong>1<', text)
    assert re.search(r'data-testid="org-my-role">管理员<', text)
    bob_text = client_for(bob).get(reverse("orgs:detail", args=[org.uuid])).content.decode()
    assert re.search(r'data-testid="org-my-role">用印人<', bob_text)


def test_overview_of_an_unverified_org_for_its_admin(
    verified_person: Any, verified_org: Any
) -> None:
    alice = verified_person("alice")
    org = verified_org(alice, status=Organization.Status.DRAFT)
    text = client_for(alice).get(reverse("orgs:detail", args=[org.uuid])).content.decode()
    assert "待认证" in text
    try:
        verify_url = reverse("orgs:verify", args=[org.uuid])
    except Exception:  # the verification pages are another module's
        return
    assert f'href="{verify_url}"' in text


# --- races (PostgreSQL: real row locks) ----------------------------------------------------------


def _in_parallel(count: int, work: Callable[[int], str]) -> list[str]:
    barrier = threading.Barrier(count)

    def run(i: int) -> str:
        try:
            barrier.wait()
            return work(i)
        except MemberError:
            return "refused"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_accepts_make_one_membership(verified_person: Any, verified_org: Any) -> None:
    alice = verified_person("alice")
    org = verified_org(alice)
    bob = make_user("bob")
    invitation, _token = do_invite_member(org, bob.phone, Role.SEAL_KEEPER, actor=alice, meta=TASK)

    def accept(_i: int) -> str:
        do_accept_invitation(invitation, actor=bob, meta=TASK)
        return "ok"

    assert _in_parallel(4, accept) == ["ok"] * 4
    assert Membership.objects.filter(org=org, user=bob).count() == 1
    assert OrgEvent.objects.filter(org=org, action="invitation_accepted").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_admins_cannot_both_step_down_at_once(verified_person: Any, verified_org: Any) -> None:
    alice = verified_person("alice")
    bob = verified_person("bob")
    org = verified_org(alice)
    Membership.objects.create(org=org, user=bob, role=Role.ADMIN)
    admins = [alice, bob]

    def demote_the_other(i: int) -> str:
        other = Membership.objects.get(org=org, user=admins[1 - i])
        do_change_member_role(other, Role.MEMBER, actor=admins[i], meta=TASK)
        return "ok"

    assert sorted(_in_parallel(2, demote_the_other)) == ["ok", "refused"]
    assert Membership.objects.filter(org=org, role=Role.ADMIN).count() == 1

    Membership.objects.filter(org=org).update(role=Role.ADMIN)

    def leave(i: int) -> str:
        do_leave_org(org, actor=admins[i], meta=TASK)
        return "ok"

    assert sorted(_in_parallel(2, leave)) == ["ok", "refused"]
    assert Membership.objects.filter(org=org, role=Role.ADMIN).count() == 1
