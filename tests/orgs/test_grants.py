"""印章授权: granting, revoking, the legal representative's approval, my seals, the usage log."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.notifications.models import OutboxMessage
from qianshu.orgs.access import current_grant, usable_seals
from qianshu.orgs.actions.grants import do_grant_seal, do_revoke_grant
from qianshu.orgs.grants import GrantError
from qianshu.orgs.models import Membership, Organization, OrgEvent, Seal, SealGrant, SealUsage
from tests.orgs.conftest import client_for
from tests.support.accounts import PERSONAS, latest_sms
from tests.support.seals import make_seal

pytestmark = pytest.mark.django_db

LEGAL_REP = "张伟"
LEGAL_REP_PHONE = "13800000011"
FMT = "%Y-%m-%dT%H:%M"


@pytest.fixture
def org(verified_org: Callable[..., Organization], alice: User, bob: User) -> Organization:
    org = verified_org(alice, name="北京测试科技有限公司", legal_rep_name=LEGAL_REP)
    Membership.objects.create(org=org, user=bob, role=Membership.Role.SEAL_KEEPER)
    return org


@pytest.fixture
def seal(org: Organization, alice: User, pki: None) -> Seal:
    return make_seal(org, alice, kind=Seal.Kind.CONTRACT)


@pytest.fixture
def legal_rep_seal(org: Organization, alice: User, pki: None) -> Seal:
    return make_seal(org, alice, kind=Seal.Kind.LEGAL_REP)


def period(start: dt.timedelta = dt.timedelta(0), days: int = 365) -> dict[str, str]:
    begin = timezone.localtime() + start
    return {
        "valid_from": begin.strftime(FMT),
        "valid_until": (begin + dt.timedelta(days=days)).strftime(FMT),
    }


def grant_via_view(client: Client, org: Organization, seal: Seal, grantee: User, **extra: Any):  # type: ignore[no-untyped-def]
    data = {"seal": seal.pk, "grantee": grantee.pk, **period(), **extra}
    return client.post(f"/orgs/{org.uuid}/grants/", data)


def make_grant(
    seal: Seal,
    grantee: User,
    by: User,
    *,
    start: dt.timedelta = -dt.timedelta(hours=1),
    length: dt.timedelta = dt.timedelta(days=30),
    status: str = SealGrant.Status.ACTIVE,
) -> SealGrant:
    begin = timezone.now() + start
    return SealGrant.objects.create(
        seal=seal,
        grantee=grantee,
        granted_by=by,
        valid_from=begin,
        valid_until=begin + length,
        status=status,
    )


def text(response: Any) -> str:
    return response.content.decode()


# --- granting and revoking ---


def test_grant_then_bob_sees_the_seal_in_my_seals(
    org: Organization, seal: Seal, alice: User, bob: User
) -> None:
    page = client_for(alice).get(f"/orgs/{org.uuid}/grants/")
    assert page.status_code == 200 and "授权印章给成员" in text(page)
    response = grant_via_view(client_for(alice), org, seal, bob, note="合同签署")
    assert response.status_code == 302, text(response)
    grant = SealGrant.objects.get()
    assert (grant.seal, grant.grantee, grant.granted_by) == (seal, bob, alice)
    assert grant.status == SealGrant.Status.ACTIVE and grant.note == "合同签署"
    assert current_grant(bob, seal) == grant
    assert OrgEvent.objects.filter(org=org, action="seal_granted", actor=alice).exists()
    sms = latest_sms(PERSONAS["bob"], "seal_granted")
    assert "合同专用章" in sms.body and org.name in sms.body

    mine = client_for(bob).get(f"/orgs/{org.uuid}/my-seals/")
    assert mine.status_code == 200
    assert "合同专用章" in text(mine)
    assert f"/orgs/{org.uuid}/seals/{seal.uuid}/use/" in text(mine)
    image = client_for(bob).get(f"/orgs/{org.uuid}/my-seals/{seal.uuid}/image.png")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert client_for(bob).get(f"/orgs/{org.uuid}/seals/{seal.uuid}/use/").status_code == 200
    listing = client_for(alice).get(f"/orgs/{org.uuid}/grants/")
    # bob has no verified name: 未实名 and his masked phone, never his nickname
    assert "未实名（138****0002）" in text(listing) and "有效" in text(listing)


def test_revoke_takes_effect_at_once(org: Organization, seal: Seal, alice: User, bob: User) -> None:
    grant = make_grant(seal, bob, alice)
    bob_client = client_for(bob)
    assert bob_client.get(f"/orgs/{org.uuid}/seals/{seal.uuid}/use/").status_code == 200
    response = client_for(alice).post(f"/orgs/{org.uuid}/grants/{grant.uuid}/revoke/")
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.status == SealGrant.Status.REVOKED
    assert grant.revoked_by == alice and grant.revoked_at is not None
    assert current_grant(bob, seal) is None
    assert not usable_seals(bob, org).exists()
    assert OrgEvent.objects.filter(org=org, action="seal_grant_revoked").exists()
    assert "合同专用章" not in text(bob_client.get(f"/orgs/{org.uuid}/my-seals/"))
    assert bob_client.get(f"/orgs/{org.uuid}/seals/{seal.uuid}/use/").status_code == 404
    assert bob_client.post(f"/orgs/{org.uuid}/seals/{seal.uuid}/use/").status_code == 404
    assert bob_client.get(f"/orgs/{org.uuid}/my-seals/{seal.uuid}/image.png").status_code == 404
    # revoking twice: a clear message, nothing else changes
    again = client_for(alice).post(f"/orgs/{org.uuid}/grants/{grant.uuid}/revoke/", follow=True)
    assert "该授权已失效" in text(again)
    assert OrgEvent.objects.filter(action="seal_grant_revoked").count() == 1


@pytest.mark.parametrize(
    ("start", "length"),
    [
        (-dt.timedelta(days=40), dt.timedelta(days=30)),  # expired ten days ago
        (dt.timedelta(days=2), dt.timedelta(days=30)),  # starts in two days
    ],
    ids=["expired", "not-yet-valid"],
)
def test_expired_and_future_grants_are_not_usable(
    org: Organization,
    seal: Seal,
    alice: User,
    bob: User,
    start: dt.timedelta,
    length: dt.timedelta,
) -> None:
    make_grant(seal, bob, alice, start=start, length=length)
    assert current_grant(bob, seal) is None
    client = client_for(bob)
    page = client.get(f"/orgs/{org.uuid}/my-seals/")
    assert 'data-testid="my-seal"' not in text(page)
    assert client.get(f"/orgs/{org.uuid}/seals/{seal.uuid}/use/").status_code == 404
    assert client.post(f"/orgs/{org.uuid}/seals/{seal.uuid}/use/").status_code == 404


def test_disabled_seal_and_removed_member_lose_the_use(
    org: Organization, seal: Seal, alice: User, bob: User
) -> None:
    make_grant(seal, bob, alice)
    Seal.objects.filter(pk=seal.pk).update(status=Seal.Status.DISABLED)
    seal.refresh_from_db()
    assert current_grant(bob, seal) is None
    assert client_for(bob).get(f"/orgs/{org.uuid}/seals/{seal.uuid}/use/").status_code == 404
    Seal.objects.filter(pk=seal.pk).update(status=Seal.Status.ACTIVE)
    seal.refresh_from_db()
    assert current_grant(bob, seal) is not None
    Membership.objects.filter(org=org, user=bob).delete()
    assert current_grant(bob, seal) is None
    assert client_for(bob).get(f"/orgs/{org.uuid}/seals/{seal.uuid}/use/").status_code == 404
    assert client_for(bob).get(f"/orgs/{org.uuid}/my-seals/").status_code == 404


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"valid_until": "2020-01-01T00:00"}, "截止时间必须晚于生效时间"),
        (period(days=6 * 365), "授权期限最长 5 年"),
        (period(start=-dt.timedelta(days=10), days=5), "截止时间必须晚于当前时间"),
        ({"valid_from": "明天"}, "请输入正确的时间"),
    ],
    ids=["until-before-from", "too-long", "already-over", "bad-date"],
)
def test_bad_periods_are_refused(
    org: Organization, seal: Seal, alice: User, bob: User, change: dict[str, str], message: str
) -> None:
    response = grant_via_view(client_for(alice), org, seal, bob, **change)
    assert response.status_code == 400
    assert message in text(response)
    assert not SealGrant.objects.exists()


def test_only_members_and_active_seals_can_be_granted(
    org: Organization,
    seal: Seal,
    alice: User,
    bob: User,
    charlie: User,
    verified_org: Callable[..., Organization],
) -> None:
    response = grant_via_view(client_for(alice), org, seal, charlie)
    assert response.status_code == 400 and "只能授权给本组织的成员" in text(response)
    other = verified_org(charlie, name="上海另一家公司")
    foreign = make_seal(other, charlie)
    response = grant_via_view(client_for(alice), org, foreign, bob)
    assert response.status_code == 400 and "请选择本组织启用中的印章" in text(response)
    Seal.objects.filter(pk=seal.pk).update(status=Seal.Status.DISABLED)
    response = grant_via_view(client_for(alice), org, seal, bob)
    assert response.status_code == 400
    now = timezone.now()
    with pytest.raises(GrantError):
        do_grant_seal(
            org,
            foreign,
            bob,
            valid_from=now,
            valid_until=now + dt.timedelta(days=1),
            actor=alice,
            meta=TASK,
        )
    assert not SealGrant.objects.exists()


def test_a_second_open_grant_of_the_same_seal_is_refused(
    org: Organization, seal: Seal, alice: User, bob: User
) -> None:
    assert grant_via_view(client_for(alice), org, seal, bob).status_code == 302
    response = grant_via_view(client_for(alice), org, seal, bob)
    assert response.status_code == 400 and "已有此印章的有效或待确认授权" in text(response)
    do_revoke_grant(SealGrant.objects.get(), actor=alice, meta=TASK)
    assert grant_via_view(client_for(alice), org, seal, bob).status_code == 302
    assert SealGrant.objects.filter(status=SealGrant.Status.ACTIVE).count() == 1


def test_default_period_is_now_to_one_year(org: Organization, seal: Seal, alice: User) -> None:
    page = text(client_for(alice).get(f"/orgs/{org.uuid}/grants/"))
    now = timezone.localtime()
    assert now.strftime("%Y-%m-%d") in page
    assert (now + dt.timedelta(days=365)).strftime("%Y-%m-%d") in page


# --- the legal representative's seal ---


def approval_link(phone: str = LEGAL_REP_PHONE) -> str:
    body = latest_sms(phone, "seal_grant_approval").body
    match = re.search(r"https?://[^/\s]+(/orgs/seal-grant-approval/[^/\s]+/)", body)
    assert match, body
    return match.group(1)


def test_legal_rep_seal_waits_for_the_legal_rep(
    org: Organization,
    legal_rep_seal: Seal,
    alice: User,
    bob: User,
    verified_person: Callable[..., User],
) -> None:
    verified_person("bob")  # bob's verified name is what the legal representative reads
    # without the legal representative's phone the grant cannot even be asked for
    response = grant_via_view(client_for(alice), org, legal_rep_seal, bob)
    assert response.status_code == 400 and "法定代表人本人同意" in text(response)
    response = grant_via_view(
        client_for(alice), org, legal_rep_seal, bob, legal_rep_phone=LEGAL_REP_PHONE
    )
    assert response.status_code == 302
    grant = SealGrant.objects.get()
    assert grant.status == SealGrant.Status.AWAITING_LEGAL_REP
    assert len(grant.legal_rep_token_hash) == 64
    assert current_grant(bob, legal_rep_seal) is None
    assert not OutboxMessage.objects.filter(kind="seal_granted").exists()
    assert OrgEvent.objects.filter(action="seal_grant_requested").exists()
    listing = text(client_for(alice).get(f"/orgs/{org.uuid}/grants/"))
    assert "待法定代表人同意" in listing
    url = f"/orgs/{org.uuid}/seals/{legal_rep_seal.uuid}/use/"
    assert client_for(bob).get(url).status_code == 404

    link = approval_link()
    assert "李博文" in latest_sms(LEGAL_REP_PHONE, "seal_grant_approval").body
    assert client_for(bob).get(link).status_code == 200  # any logged-in person can look …
    anonymous = Client().get(link)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    legal_rep = verified_person(LEGAL_REP, LEGAL_REP_PHONE)
    rep = client_for(legal_rep)
    page = rep.get(link)
    assert page.status_code == 200 and 'data-testid="grant-approve"' in text(page)
    assert "李博文" in text(page) and LEGAL_REP in text(page)
    response = rep.post(link, {"decision": "approve"})
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.status == SealGrant.Status.ACTIVE
    assert grant.legal_rep_decided_by == legal_rep
    assert current_grant(bob, legal_rep_seal) == grant
    assert "法定代表人章" in latest_sms(PERSONAS["bob"], "seal_granted").body
    assert OrgEvent.objects.filter(action="seal_grant_approved", actor=legal_rep).exists()
    assert client_for(bob).get(url).status_code == 200
    # the link is spent
    again = rep.post(link, {"decision": "refuse"}, follow=True)
    assert "已处理" in text(again)
    grant.refresh_from_db()
    assert grant.status == SealGrant.Status.ACTIVE


def test_a_legal_rep_whose_verified_name_differs_cannot_approve(
    org: Organization,
    legal_rep_seal: Seal,
    alice: User,
    bob: User,
    charlie: User,
    verified_person: Callable[..., User],
) -> None:
    grant_via_view(client_for(alice), org, legal_rep_seal, bob, legal_rep_phone=LEGAL_REP_PHONE)
    link = approval_link()
    impostor = verified_person("张伟伟", "13800000012")  # verified, but another name
    for user, message in ((impostor, "不一致"), (charlie, "请先完成个人实名认证")):
        client = client_for(user)
        page = client.get(link)
        assert message in text(page)
        assert 'data-testid="grant-approve"' not in text(page)
        response = client.post(link, {"decision": "approve"}, follow=True)
        assert message in text(response)
    grant = SealGrant.objects.get()
    assert grant.status == SealGrant.Status.AWAITING_LEGAL_REP
    assert current_grant(bob, legal_rep_seal) is None
    assert not OrgEvent.objects.filter(action="seal_grant_approved").exists()


def test_the_legal_rep_can_refuse(
    org: Organization,
    legal_rep_seal: Seal,
    alice: User,
    bob: User,
    verified_person: Callable[..., User],
) -> None:
    grant_via_view(client_for(alice), org, legal_rep_seal, bob, legal_rep_phone=LEGAL_REP_PHONE)
    rep = client_for(verified_person(LEGAL_REP, LEGAL_REP_PHONE))
    rep.post(approval_link(), {"decision": "refuse"})
    grant = SealGrant.objects.get()
    assert grant.status == SealGrant.Status.REFUSED
    assert current_grant(bob, legal_rep_seal) is None
    assert OrgEvent.objects.filter(action="seal_grant_refused").exists()
    assert "法定代表人已拒绝" in text(client_for(alice).get(f"/orgs/{org.uuid}/grants/"))


def test_a_wrong_approval_token_is_a_clear_404(alice: User) -> None:
    response = client_for(alice).get("/orgs/seal-grant-approval/not-a-token/")
    assert response.status_code == 404 and "链接无效" in text(response)


# --- who may see what ---


def test_non_admins_get_404_on_grant_admin_pages(
    org: Organization,
    seal: Seal,
    alice: User,
    bob: User,
    charlie: User,
    verified_org: Callable[..., Organization],
) -> None:
    grant = make_grant(seal, bob, alice)
    other = verified_org(charlie, name="上海另一家公司")
    for user in (bob, charlie):
        client = client_for(user)
        assert client.get(f"/orgs/{org.uuid}/grants/").status_code == 404
        assert grant_via_view(client, org, seal, user).status_code == 404
        assert client.post(f"/orgs/{org.uuid}/grants/{grant.uuid}/revoke/").status_code == 404
        assert client.get(f"/orgs/{org.uuid}/usage/").status_code == 404
        assert client.get(f"/orgs/{org.uuid}/usage/?format=csv").status_code == 404
    # charlie, admin of another organisation, cannot reach A's grant through his own org
    charlie_client = client_for(charlie)
    assert charlie_client.get(f"/orgs/{other.uuid}/grants/").status_code == 200
    url = f"/orgs/{other.uuid}/grants/{grant.uuid}/revoke/"
    assert charlie_client.post(url).status_code == 404
    assert charlie_client.get(f"/orgs/{org.uuid}/my-seals/").status_code == 404
    assert charlie_client.get(f"/orgs/{org.uuid}/my-seals/{seal.uuid}/image.png").status_code == 404
    assert charlie_client.get(f"/orgs/{other.uuid}/seals/{seal.uuid}/use/").status_code == 404
    grant.refresh_from_db()
    assert grant.status == SealGrant.Status.ACTIVE
    assert Client().get(f"/orgs/{org.uuid}/grants/").status_code == 302  # to the login page


# --- 用印记录 ---


def test_usage_log_lists_filters_pages_and_exports(
    org: Organization, seal: Seal, alice: User, bob: User
) -> None:
    other_seal = make_seal(org, alice, kind=Seal.Kind.FINANCE)
    grant = make_grant(seal, bob, alice)
    for i in range(23):
        SealUsage.objects.create(
            seal=seal,
            user=bob,
            grant=grant,
            document_name=f"采购合同{i:02d}.pdf",
            document_sha256=f"{i:064x}",
        )
    SealUsage.objects.create(
        seal=other_seal, user=alice, document_name="=cmd|' /C calc'!A0", document_sha256="f" * 64
    )
    client = client_for(alice)
    first = text(client.get(f"/orgs/{org.uuid}/usage/"))
    assert "共 24 条记录" in first and "第 1 / 2 页" in first
    assert first.count('data-testid="usage-row"') == 20
    by_seal = text(client.get(f"/orgs/{org.uuid}/usage/", {"seal": other_seal.pk}))
    assert "共 1 条记录" in by_seal and "=cmd" in by_seal
    by_member = client.get(f"/orgs/{org.uuid}/usage/", {"member": bob.pk, "page": 2})
    assert (
        "共 23 条记录" in text(by_member) and text(by_member).count('data-testid="usage-row"') == 3
    )
    local = timezone.localtime(SealUsage.objects.latest("created_at").created_at)
    assert local.strftime("%Y-%m-%d %H:%M") in first  # Asia/Shanghai
    csv = client.get(f"/orgs/{org.uuid}/usage/", {"format": "csv"})
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    body = csv.content.decode("utf-8-sig")
    assert "采购合同00.pdf" in body and "'=cmd" in body
    assert len(body.strip().splitlines()) == 25
    csv_bob = client.get(f"/orgs/{org.uuid}/usage/", {"format": "csv", "member": alice.pk})
    assert len(csv_bob.content.decode("utf-8-sig").strip().splitlines()) == 2


def test_removed_members_keep_their_log_entries(
    org: Organization, seal: Seal, alice: User, bob: User
) -> None:
    grant = make_grant(seal, bob, alice)
    SealUsage.objects.create(
        seal=seal, user=bob, grant=grant, document_name="a.pdf", document_sha256="a" * 64
    )
    Membership.objects.filter(org=org, user=bob).delete()
    page = client_for(alice).get(f"/orgs/{org.uuid}/usage/", {"member": bob.pk})
    assert "共 1 条记录" in text(page)


def test_destroying_a_seal_revokes_its_grants(seal: Seal, alice: User, bob: User) -> None:
    """A destroyed seal's grants are revoked with it, not left showing as valid."""
    from qianshu.orgs.actions.seals import do_destroy_seal

    grant = make_grant(seal, bob, alice)
    do_destroy_seal(seal, actor=alice, meta=TASK)
    grant.refresh_from_db()
    assert grant.status == SealGrant.Status.REVOKED and grant.revoked_by == alice
    assert current_grant(bob, seal) is None
