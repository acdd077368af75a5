"""The legal representative's SMS link for someone who is not logged in or not yet verified:
login with the phone filled in (an opaque hint), real-name verification, and back to the
authorisation (issue 12, defect 4)."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from qianshu.accounts.hints import phone_from_hint
from qianshu.accounts.models import User
from qianshu.orgs.models import Organization, OrgVerification
from tests.identity.helpers import verify_with_bank4
from tests.orgs.conftest import client_for
from tests.orgs.test_verification import (  # noqa: F401 (fixtures)
    COMPANY,
    LEGAL_REP_PHONE,
    admin,
    authorisation_path,
    draft_org,
)
from tests.support.accounts import sms_code

pytestmark = pytest.mark.django_db

FETCH = {"X-Requested-With": "fetch"}


@pytest.fixture
def link(admin: User, draft_org: Organization) -> str:  # noqa: F811
    response = client_for(admin).post(
        f"/orgs/{draft_org.uuid}/verify/legal-rep/", {"action": "send", "phone": LEGAL_REP_PHONE}
    )
    assert response.status_code == 302
    return authorisation_path(LEGAL_REP_PHONE)


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_the_link_logs_in_with_the_phone_filled_in_and_without_the_number_in_the_url(
    link: str,
) -> None:
    visitor = Client()
    response = visitor.get(link)
    assert response.status_code == 302
    location = response["Location"]
    assert urlsplit(location).path == "/login/"
    assert LEGAL_REP_PHONE not in location and LEGAL_REP_PHONE[-4:] not in location
    params = query(location)
    assert params["next"] == link and phone_from_hint(params["hint"]) == LEGAL_REP_PHONE
    page = visitor.get(location).content.decode()
    assert "138****0021" in page and LEGAL_REP_PHONE not in page
    # 获取验证码 with no phone typed: the code goes to the number of the link
    sent = visitor.post(
        "/login/", {"action": "send", "hint": params["hint"], "next": link}, headers=FETCH
    )
    assert sent.status_code == 200 and sent.json()["ok"], sent.content
    code = sms_code(LEGAL_REP_PHONE, "login_code")
    response = visitor.post(
        "/login/", {"action": "login", "hint": params["hint"], "next": link, "code": code}
    )
    assert response.status_code == 302 and response["Location"] == link
    assert User.objects.filter(phone=LEGAL_REP_PHONE).exists()


def test_after_verification_the_legal_representative_is_back_on_the_authorisation(
    link: str,
    draft_org: Organization,  # noqa: F811
) -> None:
    rep = client_for(User.objects.create_user(LEGAL_REP_PHONE))
    refused = rep.get(link)
    assert refused.status_code == 403
    verify_url = f"/me/identity/start/?next={quote(link)}"
    assert f'href="{verify_url}"' in refused.content.decode()
    rep.get(verify_url)
    attempt = verify_with_bank4(rep, name="赵法人")
    assert attempt.is_success
    result = rep.get(f"/me/identity/attempts/{attempt.uuid}/").content.decode()
    assert f'href="{link}"' in result and f'url={link}"' in result  # 返回 and the 2 s refresh
    page = rep.get(link)
    assert page.status_code == 200 and COMPANY in page.content.decode()
    assert rep.post(link, {"decision": "approve"}).status_code == 200
    draft_org.refresh_from_db()
    assert draft_org.status == Organization.Status.VERIFIED


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example/", "http:/evil.example"],
)
def test_attacker_no_open_redirect_after_login_or_verification(target: str, link: str) -> None:
    rep = client_for(User.objects.create_user(LEGAL_REP_PHONE))
    rep.get(f"/me/identity/start/?next={quote(target, safe='')}")
    assert rep.session.get("identity_return") is None
    attempt = verify_with_bank4(rep, name="赵法人")
    result = rep.get(f"/me/identity/attempts/{attempt.uuid}/").content.decode()
    assert "evil.example" not in result
    visitor = Client()
    visitor.post("/login/", {"action": "send", "phone": LEGAL_REP_PHONE}, headers=FETCH)
    response = visitor.post(
        "/login/",
        {
            "action": "login",
            "phone": LEGAL_REP_PHONE,
            "code": sms_code(LEGAL_REP_PHONE, "login_code"),
            "next": target,
        },
    )
    assert response.status_code == 302 and "evil.example" not in response["Location"]


def test_a_closed_link_names_no_phone_and_an_unknown_one_is_404(
    link: str,
    draft_org: Organization,  # noqa: F811
) -> None:
    assert Client().get("/orgs/legal-rep/not-a-token/").status_code == 404
    OrgVerification.objects.filter(org=draft_org).update(expires_at=timezone.now())
    response = Client().get(link)
    assert response.status_code == 302 and "hint" not in query(response["Location"])


def test_a_tampered_hint_is_ignored(link: str) -> None:
    location = Client().get(link)["Location"]
    hint = query(location)["hint"]
    tampered = hint[:-6] + ("AAAAAA" if hint[-6:] != "AAAAAA" else "BBBBBB")
    page = Client().get(f"/login/?next={quote(link)}&hint={quote(tampered)}").content.decode()
    assert "138****0021" not in page and 'name="phone"' in page
