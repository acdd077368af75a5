"""People are named by their verified real name (实名) on organisation pages (issue 10, item 11).

A nickname is chosen by its owner: in the usage log (用印记录) and its CSV, the grant lists, the
grant form, the legal representative's decision page and the member list it could pass for
anyone. Verified people appear under their verified name, unverified ones as 未实名 with their
masked phone — never under a nickname.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable

import pytest
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.orgs.actions.grants import do_grant_seal
from qianshu.orgs.actions.legal_rep import do_request_legal_rep_authorisation
from qianshu.orgs.models import Membership, Organization, Seal, SealGrant, SealUsage
from tests.orgs.conftest import client_for
from tests.support.accounts import latest_sms, make_user
from tests.support.personas import make_verified_person
from tests.support.seals import make_seal

pytestmark = pytest.mark.django_db

NICKNAMES = ("博哥昵称", "戴夫昵称")
DAVE_PHONE = "13800000004"
DAVE_MASKED = "138****0004"
BOB_MASKED = "138****0002"
LEGAL_REP_PHONE = "13800000011"


@pytest.fixture
def world(
    pki: None, verified_org: Callable[..., Organization]
) -> tuple[Organization, User, User, User]:
    """alice (王爱丽) administers; bob is verified (李博文) but calls himself 博哥昵称; dave is
    not verified and calls himself 戴夫昵称. Both hold grants and have used the seal."""
    alice = make_verified_person("alice")
    bob = make_verified_person("bob")
    User.objects.filter(pk=bob.pk).update(display_name=NICKNAMES[0])
    dave = make_user(NICKNAMES[1], phone=DAVE_PHONE)
    org = verified_org(alice, name="北京实名测试有限公司", legal_rep_name="张伟")
    for person in (bob, dave):
        Membership.objects.create(org=org, user=person, role=Membership.Role.SEAL_KEEPER)
    seal = make_seal(org, alice)
    now = timezone.now()
    for person in (bob, dave):
        grant = SealGrant.objects.create(
            seal=seal,
            grantee=person,
            granted_by=alice,
            valid_from=now - dt.timedelta(hours=1),
            valid_until=now + dt.timedelta(days=30),
        )
        SealUsage.objects.create(
            seal=seal,
            user=person,
            grant=grant,
            document_name=f"{person.pk}-合同.pdf",
            document_sha256="0" * 64,
        )
    return org, alice, User.objects.get(pk=bob.pk), dave


def assert_real_names(html: str) -> None:
    assert "李博文" in html
    assert f"未实名（{DAVE_MASKED}）" in html
    for nickname in NICKNAMES:
        assert nickname not in html


def test_the_usage_log_and_its_csv(world: tuple[Organization, User, User, User]) -> None:
    org, alice, _bob, _dave = world
    client = client_for(alice)
    assert_real_names(client.get(f"/orgs/{org.uuid}/usage/").content.decode())
    response = client.get(f"/orgs/{org.uuid}/usage/", {"format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    people = {(row[2], row[3]) for row in rows[1:]}
    assert people == {("李博文", BOB_MASKED), ("未实名", DAVE_MASKED)}
    assert not any(nickname in response.content.decode() for nickname in NICKNAMES)


def test_the_grant_list_and_form(world: tuple[Organization, User, User, User]) -> None:
    org, alice, _bob, _dave = world
    html = client_for(alice).get(f"/orgs/{org.uuid}/grants/").content.decode()
    assert_real_names(html)
    assert f"李博文（{BOB_MASKED}）" in html  # the grantee choice


def test_the_member_list(world: tuple[Organization, User, User, User]) -> None:
    org, _alice, bob, _dave = world
    html = client_for(bob).get(f"/orgs/{org.uuid}/members/").content.decode()
    assert "李博文" in html and "王爱丽" in html
    assert DAVE_MASKED in html and "未实名" in html
    for nickname in NICKNAMES:
        assert nickname not in html


def test_the_legal_representatives_decision_page_and_sms(
    world: tuple[Organization, User, User, User],
) -> None:
    org, alice, _bob, dave = world
    legal_rep_seal = make_seal(org, alice, kind=Seal.Kind.LEGAL_REP)
    now = timezone.now()
    do_grant_seal(
        org,
        legal_rep_seal,
        dave,
        valid_from=now,
        valid_until=now + dt.timedelta(days=30),
        legal_rep_phone=LEGAL_REP_PHONE,
        actor=alice,
        meta=TASK,
    )
    sms = latest_sms(LEGAL_REP_PHONE, "seal_grant_approval").body
    assert f"未实名（{DAVE_MASKED}）" in sms and NICKNAMES[1] not in sms
    token = sms.split("/seal-grant-approval/")[1].split("/")[0]
    rep = make_verified_person("张伟", LEGAL_REP_PHONE)
    html = client_for(rep).get(f"/orgs/seal-grant-approval/{token}/").content.decode()
    assert f"未实名（{DAVE_MASKED}）" in html and NICKNAMES[1] not in html
    assert "王爱丽" in html  # who asked


def test_the_legal_representatives_authorisation_page_never_shows_a_nickname(
    world: tuple[Organization, User, User, User],
) -> None:
    """申请人 on the 法定代表人授权 page: an administrator who is not verified (e.g. made
    administrator by a transfer) appears as 未实名 with the masked phone, not by nickname."""
    org, _alice, _bob, dave = world
    draft = Organization.objects.create(
        kind=org.kind,
        name="北京待认证测试有限公司",
        credit_code="",
        legal_rep_name="张伟",
        created_by=dave,
    )
    Membership.objects.create(org=draft, user=dave, role=Membership.Role.ADMIN)
    do_request_legal_rep_authorisation(draft, LEGAL_REP_PHONE, actor=dave, meta=TASK)
    sms = latest_sms(LEGAL_REP_PHONE, "legal_rep_authorisation").body
    path = "/orgs/legal-rep/" + sms.split("/orgs/legal-rep/")[1].split("/")[0] + "/"
    rep = make_verified_person("张伟", LEGAL_REP_PHONE)
    html = client_for(rep).get(path).content.decode()
    assert f"未实名（{DAVE_MASKED}）" in html
    assert NICKNAMES[1] not in html
