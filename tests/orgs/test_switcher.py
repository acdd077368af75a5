"""The personal / organisation switcher in the top bar and ``acting_org``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from qianshu.accounts.models import User
from qianshu.orgs.context import SESSION_KEY, acting_org
from qianshu.orgs.models import Membership, Organization
from tests.orgs.conftest import client_for
from tests.support.accounts import make_user

pytestmark = pytest.mark.django_db


def offered(html: str) -> list[str]:
    """The data-org values of the switcher's options (empty string = 个人)."""
    return re.findall(r'data-testid="context-option" data-org="([^"]*)"', html)


@pytest.fixture
def orgs(verified_person: Callable[..., User], verified_org: Callable[..., Organization]) -> Any:
    """alice admin of A and member of C; charlie admin of B and C."""
    alice = verified_person("alice")
    charlie = verified_person("charlie")
    a = verified_org(alice, name="甲方科技有限公司")
    b = verified_org(charlie, name="乙方贸易有限公司")
    c = verified_org(charlie, name="丙方研究院")
    Membership.objects.create(org=c, user=alice, role=Membership.Role.MEMBER)
    return alice, charlie, a, b, c


def test_anonymous_pages_have_no_switcher(db: Any) -> None:
    html = Client().get(reverse("home")).content.decode()
    assert 'data-testid="context-switcher"' not in html


def test_user_without_organisations_has_nothing_to_switch(db: Any) -> None:
    html = client_for(make_user("bob")).get(reverse("home")).content.decode()
    assert 'data-testid="context-switcher"' not in html


def test_switcher_offers_only_own_organisations(orgs: Any) -> None:
    alice, _charlie, a, b, c = orgs
    html = client_for(alice).get(reverse("home")).content.decode()
    assert offered(html) == ["", str(c.uuid), str(a.uuid)]  # 个人, then by name
    current = r'data-testid="context-current" data-org="">\s*<span class="ctx-name">个人<'
    assert re.search(current, html)
    assert "乙方贸易有限公司" not in html
    assert str(b.uuid) not in html


def test_switch_to_an_organisation_and_back(orgs: Any) -> None:
    alice, _charlie, a, _b, _c = orgs
    client = client_for(alice)
    response = client.post(reverse("orgs:switch"), {"org": str(a.uuid)})
    assert response.status_code == 302
    assert response["Location"] == reverse("orgs:detail", args=[a.uuid])
    assert client.session[SESSION_KEY] == str(a.uuid)
    html = client.get(reverse("home")).content.decode()
    assert f'data-testid="context-current" data-org="{a.uuid}"' in html
    assert "甲方科技有限公司</span></summary>" in html
    response = client.post(reverse("orgs:switch"), {"org": ""})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert SESSION_KEY not in client.session
    html = client.get(reverse("home")).content.decode()
    assert 'data-testid="context-current" data-org=""' in html


def test_switch_refuses_other_organisations(orgs: Any) -> None:
    alice, _charlie, a, b, _c = orgs
    client = client_for(alice)
    client.post(reverse("orgs:switch"), {"org": str(a.uuid)})
    response = client.post(reverse("orgs:switch"), {"org": str(b.uuid)})
    assert response.status_code == 404
    response = client.post(reverse("orgs:switch"), {"org": "00000000-0000-0000-0000-000000000000"})
    assert response.status_code == 404
    assert client.session[SESSION_KEY] == str(a.uuid)
    # Garbage is a clear message, not a 500, and changes nothing.
    response = client.post(reverse("orgs:switch"), {"org": "'; drop table"}, follow=True)
    assert response.status_code == 200
    assert "请选择要切换的组织" in response.content.decode()
    assert client.session[SESSION_KEY] == str(a.uuid)


def test_switch_is_post_only(orgs: Any) -> None:
    alice, _charlie, a, _b, _c = orgs
    client = client_for(alice)
    assert client.get(reverse("orgs:switch"), {"org": str(a.uuid)}).status_code == 405
    assert SESSION_KEY not in client.session


def test_anonymous_switch_goes_to_login(orgs: Any) -> None:
    _alice, _charlie, a, _b, _c = orgs
    response = Client().post(reverse("orgs:switch"), {"org": str(a.uuid)})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_removed_member_falls_back_to_personal(orgs: Any) -> None:
    alice, _charlie, a, _b, c = orgs
    client = client_for(alice)
    client.post(reverse("orgs:switch"), {"org": str(c.uuid)})
    assert client.session[SESSION_KEY] == str(c.uuid)
    Membership.objects.filter(org=c, user=alice).delete()
    html = client.get(reverse("home")).content.decode()
    assert 'data-testid="context-current" data-org=""' in html
    assert offered(html) == ["", str(a.uuid)]  # alice is still in A
    assert SESSION_KEY not in client.session


def test_acting_org_rechecks_membership(orgs: Any) -> None:
    alice, _charlie, a, b, _c = orgs
    request = RequestFactory().get("/")
    request.user = alice
    request.session = {}  # type: ignore[assignment]
    assert acting_org(request) is None
    request.session[SESSION_KEY] = str(a.uuid)
    assert acting_org(request) == a
    request.session[SESSION_KEY] = str(b.uuid)  # e.g. a stale or forged session value
    assert acting_org(request) is None
    assert SESSION_KEY not in request.session
    request.session[SESSION_KEY] = "not-a-uuid"
    assert acting_org(request) is None
    request.user = make_user("bob")
    request.session[SESSION_KEY] = str(a.uuid)
    assert acting_org(request) is None


def test_leaving_the_acting_organisation_clears_it(orgs: Any) -> None:
    alice, _charlie, _a, _b, c = orgs
    client = client_for(alice)
    client.post(reverse("orgs:switch"), {"org": str(c.uuid)})
    assert client.post(reverse("orgs:leave", args=[c.uuid])).status_code == 302
    assert SESSION_KEY not in client.session
