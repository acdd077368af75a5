"""The permission matrix of every envelope endpoint: alice (initiator), bob (signer whose turn
it is), charlie (outsider).

World: alice's draft, alice's envelope in progress waiting for bob (then dave), and alice's
completed envelope that bob signed. ``ROWS`` has one row per URL name of the ``envelopes``
namespace: who may use it and the HTTP methods it takes. A URL name without a row fails
``test_every_envelopes_url_is_in_the_matrix``.

For each row, everyone not allowed gets 404 for GET and POST (the outsider always; the other
persona where the row says so) and nothing in the database changes; everyone allowed gets
something other than 404.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client, TestCase
from django.urls import reverse

from qianshu.core.meta import TASK
from qianshu.envelopes import urls as envelope_urls
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.links import recipient_token
from qianshu.envelopes.models import AuditEvent, Envelope, Field, Recipient, Revision
from tests.envelopes.helpers import envelope_url, sign, url_names
from tests.support.personas import make_signer

pytestmark = pytest.mark.django_db


class Who(enum.Enum):
    DRAFT_OWNER = "draft owner"  # alice, on her draft
    INITIATOR = "initiator"  # alice, on her sent envelopes
    PARTICIPANT = "participant"  # alice and bob
    TURN = "turn"  # bob, whose turn it is
    ANYONE = "anyone logged in"  # no envelope in the URL (lists, forms)


@dataclass(frozen=True)
class Row:
    who: Who
    methods: tuple[str, ...] = ("get", "post")
    target: str = "active"  # which envelope fills <envelope_uuid>: draft | active | completed


ROWS: dict[str, Row] = {
    "list": Row(Who.ANYONE, ("get",)),
    "drafts": Row(Who.ANYONE, ("get",)),
    "new": Row(Who.ANYONE, ("get",)),
    "org-search": Row(Who.ANYONE, ("get",)),  # verified people only: see test_binding
    "batch-sign": Row(Who.ANYONE, ("get",)),
    "batch-result": Row(Who.ANYONE, ("get",)),
    "download-zip": Row(Who.ANYONE, ()),  # by ids: see test_zip_download_leaks_nothing
    "link": Row(Who.ANYONE, ()),  # by token: see test_someone_elses_link
    # Public by design (the report's QR code): shows no names, see test_check_page.py
    "check": Row(Who.ANYONE, ()),
    "edit": Row(Who.DRAFT_OWNER, target="draft"),
    "fields": Row(Who.DRAFT_OWNER, target="draft"),
    "fields-anchor": Row(Who.DRAFT_OWNER, ("post",), target="draft"),
    "send": Row(Who.DRAFT_OWNER, target="draft"),
    "delete": Row(Who.DRAFT_OWNER, ("post",), target="draft"),
    "detail": Row(Who.PARTICIPANT, ("get",)),
    "page-image": Row(Who.PARTICIPANT, ("get",)),
    "download": Row(Who.PARTICIPANT, ("get",)),
    "report": Row(Who.PARTICIPANT, ("get",), target="completed"),
    "recall": Row(Who.INITIATOR, ("post",)),
    "remind": Row(Who.INITIATOR, ("post",)),
    "void": Row(Who.INITIATOR, target="completed"),
    "sign": Row(Who.TURN, ("get",)),
    "sign-submit": Row(Who.TURN, ("post",)),
    "sign-code": Row(Who.TURN, ("post",)),
    "sign-done": Row(Who.TURN, ("get",)),
    "approve": Row(Who.TURN, ("post",)),
    "reject": Row(Who.TURN, ("post",)),
    "send-back": Row(Who.TURN, ("post",)),
}


def _params(name: str) -> list[str]:
    for pattern in envelope_urls.urlpatterns:
        if pattern.name == name:
            return list(pattern.pattern.converters)
    raise AssertionError(name)


@pytest.fixture
def world(people: dict, build: Any) -> dict[str, Any]:
    alice, bob, charlie = people["alice"], people["bob"], people["charlie"]
    dave = make_signer("dave", "13800000044", real_name="赵大卫")
    draft = build.draft(alice, [("sign", 1, bob)])
    active = build.draft(alice, [("sign", 1, bob), ("sign", 2, dave)])
    with TestCase.captureOnCommitCallbacks(execute=True):
        compose_actions.do_send_envelope(active, actor=alice, meta=TASK)
    completed = build.draft(alice, [("sign", 1, bob)])
    with TestCase.captureOnCommitCallbacks(execute=True):
        compose_actions.do_send_envelope(completed, actor=alice, meta=TASK)
    sign(completed.recipients.get(), bob)
    completed.refresh_from_db()
    assert completed.status == Envelope.Status.COMPLETED
    return {
        "alice": alice,
        "bob": bob,
        "charlie": charlie,
        "draft": draft,
        "active": active,
        "completed": completed,
    }


def _state() -> tuple[Any, ...]:
    return (
        AuditEvent.objects.count(),
        Revision.objects.count(),
        Field.objects.count(),
        tuple(Envelope.objects.order_by("pk").values_list("status", flat=True)),
        tuple(Recipient.objects.order_by("pk").values_list("status", flat=True)),
    )


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _call(client: Client, method: str, url: str) -> int:
    if method == "get":
        return client.get(url).status_code
    body = json.dumps({"key": "x", "pin": "802461", "reason": "不同意", "fields": [], "seen": {}})
    return client.post(url, body, content_type="application/json").status_code


def _allowed(row: Row, world: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """(who may use it, who must get 404) for the row."""
    alice, bob, charlie = world["alice"], world["bob"], world["charlie"]
    return {
        Who.DRAFT_OWNER: ([alice], [bob, charlie]),
        Who.INITIATOR: ([alice], [bob, charlie]),
        Who.PARTICIPANT: ([alice, bob], [charlie]),
        Who.TURN: ([bob], [charlie]),
        Who.ANYONE: ([alice, bob, charlie], []),
    }[row.who]


def test_every_envelopes_url_is_in_the_matrix() -> None:
    missing = url_names(envelope_urls.urlpatterns) - set(ROWS)
    assert not missing, f"add rows for: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(ROWS))
def test_permission_matrix(name: str, world: dict[str, Any]) -> None:
    row = ROWS[name]
    if not row.methods:
        return
    envelope = world[row.target]
    url = (
        envelope_url(name, envelope)
        if "envelope_uuid" in _params(name)
        else reverse(f"envelopes:{name}")
    )
    allowed, refused = _allowed(row, world)
    for user in refused:
        for method in row.methods:
            before = _state()
            status = _call(_client(user), method, url)
            assert status == 404, (name, method, user.display_name, status)
            assert _state() == before, (name, method, user.display_name)
    anonymous = Client()
    for method in row.methods:
        before = _state()
        status = _call(anonymous, method, url)
        assert status in (302, 403, 404), (name, method, "anonymous", status)
        assert _state() == before
    for user in allowed:
        status = _call(_client(user), row.methods[0], url)
        assert status != 404, (name, row.methods[0], user.display_name, status)


def test_the_initiator_cannot_act_on_a_signers_turn(world: dict[str, Any]) -> None:
    """alice sees her envelope, but bob's turn is his: submitting as alice changes nothing."""
    alice = world["alice"]
    active = world["active"]
    client = _client(alice)
    before = _state()
    for name in ("sign-submit", "approve", "reject", "send-back", "sign-code"):
        status = _call(client, "post", envelope_url(name, active))
        assert status in (302, 404), (name, status)
    assert _state() == before


def test_someone_elses_link(world: dict[str, Any]) -> None:
    bob_recipient = world["active"].recipients.get(routing_order=1)
    url = reverse("envelopes:link", args=[recipient_token(bob_recipient)])
    response = _client(world["charlie"]).get(url)
    assert response.status_code == 403
    assert "138****0002" in response.content.decode()
    assert _client(world["bob"]).get(url).status_code == 302
    assert Client().get(url)["Location"].startswith(reverse("accounts:login"))
    assert Client().get(reverse("envelopes:link", args=["forged"])).status_code == 404


def test_zip_download_leaks_nothing(world: dict[str, Any]) -> None:
    url = reverse("envelopes:download-zip")
    ids = [str(world["completed"].uuid), str(world["active"].uuid)]
    response = _client(world["charlie"]).post(url, {"ids": ids})
    assert response.status_code in (302, 400, 404)
    assert response.get("Content-Type") != "application/zip"
    response = _client(world["bob"]).post(url, {"ids": ids})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
