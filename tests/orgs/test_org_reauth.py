"""Organisation admin actions that hand out or remove power need a fresh re-authentication
(issue 10, item 14): granting a seal, revoking a grant, handing over the administrator role,
making someone 管理员 (role change or invitation), removing a member, destroying, disabling or
enabling a seal.

A session that has not re-authenticated within ``QIANSHU_REAUTH_SECONDS`` (a laptop left open,
a stolen cookie) is sent to the re-authentication page and back to the page with the form; the
action did not happen. Outsiders still get 404, not a re-authentication page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.orgs.models import Invitation, Membership, Organization, Seal, SealGrant
from tests.orgs.conftest import client_for
from tests.support.accounts import sms_code
from tests.support.personas import make_verified_person
from tests.support.seals import make_seal

pytestmark = pytest.mark.django_db

Role = Membership.Role
FMT = "%Y-%m-%dT%H:%M"


@dataclass
class World:
    org: Organization
    alice: User  # 管理员
    bob: User  # 用印人 with a grant
    dave: User  # 成员
    seal: Seal
    grant: SealGrant

    def member(self, user: User) -> Membership:
        return Membership.objects.get(org=self.org, user=user)

    def path(self, tail: str) -> str:
        return f"/orgs/{self.org.uuid}/{tail}"


@pytest.fixture
def world(pki: None, verified_org: Callable[..., Organization]) -> World:
    alice = make_verified_person("alice")
    bob = make_verified_person("bob")
    dave = make_verified_person("dave", "13800000004", real_name="戴维")
    org = verified_org(alice, name="北京确认身份测试有限公司", legal_rep_name="王爱丽")
    Membership.objects.create(org=org, user=bob, role=Role.SEAL_KEEPER)
    Membership.objects.create(org=org, user=dave, role=Role.MEMBER)
    seal = make_seal(org, alice)
    now = timezone.now()
    grant = SealGrant.objects.create(
        seal=seal,
        grantee=bob,
        granted_by=alice,
        valid_from=now - dt.timedelta(hours=1),
        valid_until=now + dt.timedelta(days=30),
    )
    return World(org, alice, bob, dave, seal, grant)


def grant_data(w: World) -> dict[str, Any]:
    begin = timezone.localtime()
    return {
        "seal": w.seal.pk,
        "grantee": w.dave.pk,
        "valid_from": begin.strftime(FMT),
        "valid_until": (begin + dt.timedelta(days=90)).strftime(FMT),
        "note": "季度用印",
    }


def sent_to_reauth(response: Any, back_to: str) -> bool:
    if response.status_code != 302:
        return False
    location = urlsplit(response["Location"])
    return location.path == "/me/reauth/" and parse_qs(location.query)["next"] == [back_to]


def reauthenticate(client: Client, user: User, next_url: str) -> Any:
    """The real flow: an SMS code on the re-authentication page, then back to ``next``."""
    client.post("/me/reauth/", {"action": "send", "next": next_url})
    return client.post(
        "/me/reauth/",
        {"action": "code", "code": sms_code(user.phone, "reauth_code"), "next": next_url},
    )


@dataclass(frozen=True)
class Case:
    path: Callable[[World], str]
    back_to: Callable[[World], str]
    data: Callable[[World], dict[str, Any]]
    unchanged: Callable[[World], bool]


CASES: dict[str, Case] = {
    "grant a seal": Case(
        lambda w: w.path("grants/"),
        lambda w: w.path("grants/"),
        grant_data,
        lambda w: not SealGrant.objects.filter(grantee=w.dave).exists(),
    ),
    "revoke a grant": Case(
        lambda w: w.path(f"grants/{w.grant.uuid}/revoke/"),
        lambda w: w.path("grants/"),
        lambda w: {},
        lambda w: SealGrant.objects.get(pk=w.grant.pk).status == SealGrant.Status.ACTIVE,
    ),
    "transfer the administrator role": Case(
        lambda w: w.path(f"members/{w.member(w.dave).pk}/transfer/"),
        lambda w: w.path("members/"),
        lambda w: {},
        lambda w: w.member(w.alice).role == Role.ADMIN and w.member(w.dave).role == Role.MEMBER,
    ),
    "make a member 管理员": Case(
        lambda w: w.path(f"members/{w.member(w.dave).pk}/role/"),
        lambda w: w.path("members/"),
        lambda w: {f"m{w.member(w.dave).pk}-role": Role.ADMIN},
        lambda w: w.member(w.dave).role == Role.MEMBER,
    ),
    "invite a 管理员": Case(
        lambda w: w.path("members/invite/"),
        lambda w: w.path("members/"),
        lambda w: {"phone": "13900000077", "role": Role.ADMIN},
        lambda w: not Invitation.objects.exists(),
    ),
    "remove a member": Case(
        lambda w: w.path(f"members/{w.member(w.bob).pk}/remove/"),
        lambda w: w.path("members/"),
        lambda w: {},
        lambda w: Membership.objects.filter(org=w.org, user=w.bob).exists(),
    ),
    "destroy a seal": Case(
        lambda w: w.path(f"seals/{w.seal.uuid}/destroy/"),
        lambda w: w.path(f"seals/{w.seal.uuid}/destroy/"),
        lambda w: {"confirm_name": w.seal.name},
        lambda w: Seal.objects.get(pk=w.seal.pk).status == Seal.Status.ACTIVE,
    ),
    "disable a seal": Case(
        lambda w: w.path(f"seals/{w.seal.uuid}/disable/"),
        lambda w: w.path("seals/"),
        lambda w: {},
        lambda w: Seal.objects.get(pk=w.seal.pk).status == Seal.Status.ACTIVE,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_stale_session_is_sent_to_reauthenticate(name: str, world: World) -> None:
    case = CASES[name]
    stale = client_for(world.alice, reauth=False)
    response = stale.post(case.path(world), case.data(world))
    assert sent_to_reauth(response, case.back_to(world)), response
    assert case.unchanged(world)
    # After re-authenticating, the administrator is back on the form, and it goes through.
    back = reauthenticate(stale, world.alice, case.back_to(world))
    assert back.status_code == 302 and back["Location"] == case.back_to(world)
    assert stale.get(back["Location"]).status_code == 200
    response = stale.post(case.path(world), case.data(world))
    assert response.status_code in (200, 302) and not sent_to_reauth(response, case.back_to(world))
    assert not case.unchanged(world)


def test_enabling_a_seal_needs_it_too(world: World) -> None:
    Seal.objects.filter(pk=world.seal.pk).update(status=Seal.Status.DISABLED)
    url = world.path(f"seals/{world.seal.uuid}/enable/")
    response = client_for(world.alice, reauth=False).post(url)
    assert sent_to_reauth(response, world.path("seals/"))
    assert Seal.objects.get(pk=world.seal.pk).status == Seal.Status.DISABLED
    client_for(world.alice).post(url)
    assert Seal.objects.get(pk=world.seal.pk).status == Seal.Status.ACTIVE


def test_the_destroy_page_asks_before_it_opens(world: World) -> None:
    url = world.path(f"seals/{world.seal.uuid}/destroy/")
    assert sent_to_reauth(client_for(world.alice, reauth=False).get(url), url)
    assert client_for(world.alice).get(url).status_code == 200


def test_the_grant_form_is_filled_again_after_reauthentication(world: World) -> None:
    stale = client_for(world.alice, reauth=False)
    grants = world.path("grants/")
    stale.post(grants, grant_data(world))
    reauthenticate(stale, world.alice, grants)
    html = stale.get(grants).content.decode()
    assert 'value="季度用印"' in html
    assert f'<option value="{world.dave.pk}" selected' in html
    assert f'<option value="{world.seal.pk}" selected' in html
    # Only once: the page does not keep offering it.
    assert 'value="季度用印"' not in stale.get(grants).content.decode()


def test_the_invitation_form_is_filled_again_after_reauthentication(world: World) -> None:
    stale = client_for(world.alice, reauth=False)
    members = world.path("members/")
    stale.post(world.path("members/invite/"), {"phone": "13900000077", "role": Role.ADMIN})
    reauthenticate(stale, world.alice, members)
    html = stale.get(members).content.decode()
    assert 'value="13900000077"' in html and '<option value="admin" selected' in html


def test_actions_that_give_no_power_need_no_reauthentication(world: World) -> None:
    stale = client_for(world.alice, reauth=False)
    response = stale.post(
        world.path("members/invite/"), {"phone": "13900000078", "role": Role.MEMBER}
    )
    assert response.status_code == 302 and response["Location"] == world.path("members/")
    assert Invitation.objects.filter(phone="13900000078").exists()
    response = stale.post(
        world.path(f"members/{world.member(world.dave).pk}/role/"),
        {f"m{world.member(world.dave).pk}-role": Role.SEAL_KEEPER},
    )
    assert response["Location"] == world.path("members/")
    assert world.member(world.dave).role == Role.SEAL_KEEPER


def test_taking_the_role_of_an_administrator_needs_it(world: World) -> None:
    Membership.objects.filter(org=world.org, user=world.dave).update(role=Role.ADMIN)
    url = world.path(f"members/{world.member(world.dave).pk}/role/")
    data = {f"m{world.member(world.dave).pk}-role": Role.MEMBER}
    assert sent_to_reauth(
        client_for(world.alice, reauth=False).post(url, data), world.path("members/")
    )
    assert world.member(world.dave).role == Role.ADMIN


def test_outsiders_get_404_not_a_reauthentication_page(
    world: World, verified_org: Callable[..., Organization]
) -> None:
    charlie = make_verified_person("charlie")
    verified_org(charlie, name="上海另一家有限公司")
    stale = client_for(charlie, reauth=False)
    for name in sorted(CASES):
        case = CASES[name]
        assert stale.post(case.path(world), case.data(world)).status_code == 404, name
        assert case.unchanged(world), name
