"""Where webhooks may go, and who manages them (issue 13), tried as an attacker would: an
administrator pointing the platform at its own network (loopback, private ranges, cloud
metadata, IPv4-mapped IPv6, credentials in the URL, plain http), a DNS answer that changes
after the endpoint was saved, a member or another organisation's administrator reaching the
pages, and a stale session."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from django.urls import reverse

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.orgs.models import Membership, Organization
from qianshu.webhooks import targets
from qianshu.webhooks.actions.endpoints import do_create_endpoint
from qianshu.webhooks.actions.messages import do_emit_event
from qianshu.webhooks.errors import UnsafeTarget
from qianshu.webhooks.models import Endpoint, Message
from tests.orgs.conftest import client_for
from tests.support.accounts import make_user
from tests.support.personas import make_verified_org
from tests.webhooks.receiver import running_receiver

pytestmark = pytest.mark.django_db

REFUSED = [
    "http://93.184.216.34/hook",  # plain http
    "https://127.0.0.1/hook",
    "https://localhost/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.10/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/hook",
    "https://0.0.0.0/hook",
    "https://224.0.0.1/hook",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of 169.254.169.254
    "https://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
    "https://[fd00::1]/hook",
    "https://user:secret@93.184.216.34/hook",
    "ftp://93.184.216.34/hook",
    "javascript:alert(1)",
    "https://no-such-host.invalid/hook",
    "",
]


@pytest.mark.parametrize("url", REFUSED)
def test_unsafe_targets_are_refused(url: str) -> None:
    with pytest.raises(UnsafeTarget):
        targets.resolve(url)


def test_a_public_address_is_accepted() -> None:
    target = targets.resolve("https://93.184.216.34:8443/hook?x=1")
    assert (target.host, target.port, target.path, target.address) == (
        "93.184.216.34",
        8443,
        "/hook?x=1",
        "93.184.216.34",
    )


def test_private_targets_only_where_allowed(settings: Any) -> None:
    settings.QIANSHU_WEBHOOK_ALLOW_PRIVATE = True
    assert targets.resolve("http://127.0.0.1:8080/hook").address == "127.0.0.1"


def test_an_unsafe_endpoint_is_not_saved() -> None:
    alice = make_user("alice")
    org = make_verified_org(alice)
    with pytest.raises(UnsafeTarget):
        do_create_endpoint(
            org, url="https://169.254.169.254/", events=["envelope.sent"], actor=alice, meta=TASK
        )
    assert not Endpoint.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_address_is_checked_again_at_delivery(settings: Any) -> None:
    """Saved while private targets were allowed (or while the name resolved elsewhere): the
    delivery checks again and sends nothing."""
    alice = make_user("alice")
    org = make_verified_org(alice)
    with running_receiver() as receiver:
        settings.QIANSHU_WEBHOOK_ALLOW_PRIVATE = True
        endpoint, _secret = do_create_endpoint(
            org, url=receiver.url, events=["envelope.sent"], actor=alice, meta=TASK
        )
        settings.QIANSHU_WEBHOOK_ALLOW_PRIVATE = False
        with transaction.atomic():
            (message,) = do_emit_event(org, "envelope.sent", {"envelope": {}})
        assert receiver.received == []
    message.refresh_from_db()
    assert message.status == Message.Status.PENDING
    assert "https://" in message.last_error
    assert endpoint.pk


# --- The pages ----------------------------------------------------------------------------


def _world() -> tuple[User, User, User, Organization, Organization]:
    alice, bob, charlie = make_user("alice"), make_user("bob"), make_user("charlie")
    org = make_verified_org(alice)
    Membership.objects.create(org=org, user=bob, role=Membership.Role.MEMBER)
    other = make_verified_org(charlie, name="上海其他科技有限公司")
    return alice, bob, charlie, org, other


def _create(client: Any, org: Organization, url: str = "https://93.184.216.34/hook") -> Any:
    return client.post(
        reverse("webhooks:list", args=[org.uuid]),
        {
            "url": url,
            "description": "采购系统",
            "events": ["envelope.completed", "recipient.signed"],
        },
    )


def test_admin_adds_an_endpoint_and_sees_the_secret_once() -> None:
    alice, _bob, _charlie, org, _other = _world()
    client = client_for(alice)
    response = _create(client, org)
    assert response.status_code == 200
    html = response.content.decode()
    endpoint = Endpoint.objects.get()
    assert endpoint.events == ["recipient.signed", "envelope.completed"]
    secret = html.split('data-testid="webhook-secret">', 1)[1].split("<", 1)[0]
    assert secret.startswith("whsec_")
    detail = client.get(reverse("webhooks:detail", args=[org.uuid, endpoint.uuid]))
    assert detail.status_code == 200
    assert secret not in detail.content.decode()
    assert secret not in client.get(reverse("webhooks:list", args=[org.uuid])).content.decode()


def test_a_stale_session_must_reauthenticate_first() -> None:
    alice, _bob, _charlie, org, _other = _world()
    response = _create(client_for(alice, reauth=False), org)
    assert response.status_code == 302
    assert reverse("accounts:reauth") in response["Location"]
    assert not Endpoint.objects.exists()


def test_an_unsafe_url_in_the_form_is_a_clear_error() -> None:
    alice, _bob, _charlie, org, _other = _world()
    response = _create(client_for(alice), org, url="https://127.0.0.1/hook")
    assert response.status_code == 400
    assert "接收地址指向内网、本机或保留地址" in response.content.decode()
    assert not Endpoint.objects.exists()


def test_members_outsiders_and_other_admins_get_404() -> None:
    alice, bob, charlie, org, other = _world()
    endpoint, _secret = do_create_endpoint(
        org, url="https://93.184.216.34/hook", events=["envelope.sent"], actor=alice, meta=TASK
    )
    pages = [
        reverse("webhooks:list", args=[org.uuid]),
        reverse("webhooks:detail", args=[org.uuid, endpoint.uuid]),
    ]
    for user in (bob, charlie):
        client = client_for(user)
        for page in pages:
            assert client.get(page).status_code == 404
        assert _create(client, org).status_code == 404
    # charlie is the administrator of another organisation: its URL with alice's endpoint.
    crossed = reverse("webhooks:detail", args=[other.uuid, endpoint.uuid])
    assert client_for(charlie).get(crossed).status_code == 404
    assert client_for(charlie).post(crossed, {"op": "rotate"}).status_code == 404
    assert Endpoint.objects.count() == 1


def test_redelivering_another_endpoints_message_is_404() -> None:
    alice, _bob, charlie, org, other = _world()
    mine, _ = do_create_endpoint(
        org, url="https://93.184.216.34/a", events=["envelope.sent"], actor=alice, meta=TASK
    )
    theirs, _ = do_create_endpoint(
        other, url="https://93.184.216.34/b", events=["envelope.sent"], actor=charlie, meta=TASK
    )
    message = Message.objects.create(
        msg_id="msg_theirs", endpoint=theirs, event_type="envelope.sent", body="{}"
    )
    response = client_for(alice).post(
        reverse("webhooks:detail", args=[org.uuid, mine.uuid]),
        {"op": "redeliver", "message": message.msg_id},
    )
    assert response.status_code == 404


def test_an_unverified_organisation_cannot_configure_webhooks() -> None:
    alice = make_user("alice")
    org = make_verified_org(alice, status=Organization.Status.PENDING)
    response = client_for(alice).get(reverse("webhooks:list", args=[org.uuid]))
    assert response.status_code == 403
    assert 'data-testid="webhooks-not-verified"' in response.content.decode()
