"""The permission matrix of issue 10 ("Done when"): two organisations with the same name and one
with the same credit code, over every envelope URL and every organisation URL.

World: 华东示例科技有限公司 — the real one (R, verified: admin charlie, keeper erin with a grant of
its 合同专用章, member mike without a grant), an impostor of the same name that an operator
verified (I: admin mallory, keeper trudy with a grant of I's own seal), an unverified one of the
same name (U: admin uma, member ursula) and an unverified one with R's credit code and name
(C: admin cora). Plus dave, who has nothing to do with any of them, and alice, the initiator.
alice's envelopes: a draft, one in progress waiting for R's seal, one R sealed (completed), all
with the step bound to R; and one whose step names R by name only, as composed before binding.

``ROWS`` has a row for every URL name of the ``envelopes`` namespace, found through the resolver
(``test_every_envelope_url_has_a_row`` fails for a new URL until it has one). For a row, every
person who is not allowed gets 404 for each method and the database does not change; the
allowed get something else. URLs without an envelope in the path are checked by what they
reveal (lists, batch page, ZIP, link). ``test_orgs_matrix_with_same_named_organisations`` runs
the rows of ``tests/orgs/test_idor.py`` (every organisation, seal and grant URL) with R and I
having the same name and C holding R's credit code.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client, TestCase
from django.urls import reverse

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.envelopes import urls as envelope_urls
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.links import recipient_token
from qianshu.envelopes.models import AuditEvent, Envelope, Field, Recipient, Revision
from qianshu.orgs.models import Membership, Organization, SealUsage
from tests.envelopes.helpers import Builder, client_for, envelope_url, submit_over_http, url_names
from tests.orgs import test_idor
from tests.support.personas import (
    PIN,
    make_seal_org,
    make_signer,
    make_verified_org,
    make_verified_person,
    seal_of,
)

pytestmark = pytest.mark.django_db

NAME = "华东示例科技有限公司"


class Who(enum.Enum):
    OWNER = "the draft's owner"
    INITIATOR = "the initiator"
    PARTICIPANT = "initiator, R's administrator, R's keeper"
    SIGN_PAGE = "R's keeper (signing page) and R's administrator (what is missing)"
    TURN = "R's keeper, whose turn it is"
    REVEALS = "no envelope in the path: checked by what it shows"


@dataclass(frozen=True)
class Row:
    who: Who
    methods: tuple[str, ...] = ()
    targets: tuple[str, ...] = ("active", "named")  # which envelopes fill <envelope_uuid>


ROWS: dict[str, Row] = {
    # no envelope in the path (test_what_the_other_urls_reveal)
    "list": Row(Who.REVEALS),
    "batch-sign": Row(Who.REVEALS),
    "batch-result": Row(Who.REVEALS),
    "download-zip": Row(Who.REVEALS),
    "link": Row(Who.REVEALS),
    "check": Row(Who.REVEALS),  # public: number, status, time only (test_check_page.py)
    "new": Row(Who.REVEALS),
    "drafts": Row(Who.REVEALS),
    "org-search": Row(Who.REVEALS),
    # the draft
    "edit": Row(Who.OWNER, ("get", "post"), ("draft",)),
    "fields": Row(Who.OWNER, ("get", "post"), ("draft",)),
    "fields-anchor": Row(Who.OWNER, ("post",), ("draft",)),
    "send": Row(Who.OWNER, ("get", "post"), ("draft",)),
    "delete": Row(Who.OWNER, ("post",), ("draft",)),
    # a sent envelope
    "detail": Row(Who.PARTICIPANT, ("get",)),
    "page-image": Row(Who.PARTICIPANT, ("get",)),
    "download": Row(Who.PARTICIPANT, ("get",)),
    "report": Row(Who.PARTICIPANT, ("get",), ("completed",)),
    "sign-done": Row(Who.PARTICIPANT, ("get",)),
    "recall": Row(Who.INITIATOR, ("post",)),
    "remind": Row(Who.INITIATOR, ("post",)),
    "void": Row(Who.INITIATOR, ("get", "post"), ("completed",)),
    "sign": Row(Who.SIGN_PAGE, ("get",)),
    "sign-submit": Row(Who.TURN, ("post",)),
    "sign-code": Row(Who.TURN, ("post",)),
    "approve": Row(Who.TURN, ("post",)),
    "reject": Row(Who.TURN, ("post",)),
    "send-back": Row(Who.TURN, ("post",)),
}


def test_every_envelope_url_has_a_row() -> None:
    missing = sorted(url_names(envelope_urls.urlpatterns) - set(ROWS))
    assert not missing, f"add rows to the same-name matrix for: {missing}"


# --- the world -----------------------------------------------------------------------------------


@pytest.fixture
def world(people: dict, build: Builder) -> dict[str, Any]:
    alice, charlie = people["alice"], people["charlie"]
    erin = make_signer("erin", "13800000005", real_name="吴艾琳")
    real = make_seal_org(charlie, NAME, keeper=erin)
    mike = make_signer("mike", "13800000006", real_name="米克")
    Membership.objects.create(org=real, user=mike)
    mallory = make_signer("mallory", "13800000066", real_name="马洛里")
    trudy = make_signer("trudy", "13800000067", real_name="屠迪")
    impostor = make_seal_org(mallory, NAME, keeper=trudy)
    uma = make_signer("uma", "13800000068", real_name="乌玛")
    ursula = make_verified_person("ursula", "13800000069", real_name="厄休拉")
    unverified = make_verified_org(uma, name=NAME, status=Organization.Status.PENDING)
    Membership.objects.create(org=unverified, user=ursula, role=Membership.Role.SEAL_KEEPER)
    cora = make_signer("cora", "13800000070", real_name="柯拉")
    same_code = make_verified_org(
        cora, name=NAME, credit_code=real.credit_code, status=Organization.Status.PENDING
    )
    dave = make_signer("dave", "13800000044", real_name="赵大卫")

    def sent(title: str) -> Envelope:
        envelope = build.draft(alice, [("seal", 1, real)], title=title)
        with TestCase.captureOnCommitCallbacks(execute=True):
            compose_actions.do_send_envelope(envelope, actor=alice, meta=TASK)
        envelope.refresh_from_db()
        return envelope

    completed = sent("已盖章合同")
    response = submit_over_http(client_for(erin), completed.recipients.get(), seal=seal_of(real))
    assert response.status_code == 200, response.content
    completed.refresh_from_db()
    assert completed.status == Envelope.Status.COMPLETED and completed.report_id
    named = build.draft(alice, [("seal", 1, real)], title="按名称合同")
    Recipient.objects.filter(envelope=named).update(org=None, org_credit_code="")
    with TestCase.captureOnCommitCallbacks(execute=True):
        compose_actions.do_send_envelope(named, actor=alice, meta=TASK)
    assert {r.org_id for r in Recipient.objects.filter(envelope=named)} == {None}
    people_ = {
        "alice": alice,
        "charlie": charlie,
        "erin": erin,
        "mike": mike,
        "mallory": mallory,
        "trudy": trudy,
        "uma": uma,
        "ursula": ursula,
        "cora": cora,
        "dave": dave,
    }
    return {
        "people": people_,
        "orgs": {"real": real, "impostor": impostor, "unverified": unverified, "code": same_code},
        "draft": build.draft(alice, [("seal", 1, real)], title="草稿合同"),
        "active": sent("进行中合同"),
        "completed": completed,
        "named": Envelope.objects.get(pk=named.pk),
    }


def _allowed(row: Row, target: str, people: dict[str, User]) -> tuple[set[str], set[str]]:
    """(who may use the row's URL on ``target``, who is neither refused nor checked)."""
    if target == "named":  # the step is nobody's: only the initiator's own rights remain
        if row.who in (Who.PARTICIPANT, Who.INITIATOR):
            return {"alice"}, set()
        return set(), {"alice"}
    return {
        Who.OWNER: ({"alice"}, set()),
        Who.INITIATOR: ({"alice"}, set()),
        Who.PARTICIPANT: ({"alice", "charlie", "erin"}, set()),
        Who.SIGN_PAGE: ({"erin", "charlie"}, {"alice"}),  # alice is sent to the detail page
        Who.TURN: ({"erin"}, set()),
    }[row.who]


def _state() -> tuple[Any, ...]:
    return (
        AuditEvent.objects.count(),
        Revision.objects.count(),
        Field.objects.count(),
        SealUsage.objects.count(),
        tuple(Envelope.objects.order_by("pk").values_list("status", flat=True)),
        tuple(Recipient.objects.order_by("pk").values_list("status", "org_id")),
    )


def _call(client: Client, method: str, url: str, world: dict[str, Any]) -> int:
    if method == "get":
        return client.get(url).status_code
    seal = seal_of(world["orgs"]["impostor"])  # what an impostor's keeper would send
    body = {"key": "k" * 32, "pin": PIN, "reason": "不同意", "fields": [], "seal": str(seal.uuid)}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(url, json.dumps(body), content_type="application/json").status_code


@pytest.mark.parametrize("name", sorted(n for n, r in ROWS.items() if r.who != Who.REVEALS))
def test_same_name_matrix(name: str, world: dict[str, Any]) -> None:
    row = ROWS[name]
    people = world["people"]
    clients = {key: client_for(user) for key, user in people.items()}
    failures: list[str] = []
    positive: list[tuple[str, str]] = []
    for target in row.targets:
        url = envelope_url(name, world[target])
        allowed, neutral = _allowed(row, target, people)
        for key in sorted(set(people) - allowed - neutral):
            for method in row.methods:
                before = _state()
                status = _call(clients[key], method, url, world)
                if status != 404:
                    failures.append(f"{key} {method} {url} ({target}) → {status}")
                elif _state() != before:
                    failures.append(f"{key} {method} {url} ({target}) changed the database")
        positive += [(key, url) for key in sorted(allowed)]
    # the allowed get through (so the 404s above are about permissions, not a wrong URL)
    for key, url in positive:
        status = _call(clients[key], row.methods[0], url, world)
        if status in (404, 500):
            failures.append(f"allowed {key} {row.methods[0]} {url} → {status}")
    assert not failures, "\n".join(failures)


# --- the URLs without an envelope in the path ----------------------------------------------------


def _shows(client: Client, url: str, envelope: Envelope, **params: Any) -> bool:
    """Whether the page shows the envelope (its title: the batch page repeats the ids it was
    given, so the uuid alone says nothing)."""
    return envelope.title in client.get(url, params).content.decode()


def test_what_the_other_urls_reveal(world: dict[str, Any]) -> None:
    people = world["people"]
    active, completed, named, draft = (
        world["active"],
        world["completed"],
        world["named"],
        world["draft"],
    )
    sent = [active, completed, named]
    participants = {"alice", "charlie", "erin"}
    ids = {"ids": [str(e.uuid) for e in sent]}
    token = recipient_token(active.recipients.get())
    for key, user in people.items():
        client = client_for(user)
        tabs = ("todo", "others", "completed", "voided", "cc")
        listed = {
            e.title
            for e in sent
            for tab in tabs
            if _shows(client, reverse("envelopes:list"), e, tab=tab)
        }
        batch = {e.title for e in sent if _shows(client, reverse("envelopes:batch-sign"), e, **ids)}
        zip_response = client.post(reverse("envelopes:download-zip"), ids)
        if key in participants:
            mine = {active.title, completed.title} | ({named.title} if key == "alice" else set())
            assert listed == mine and batch == mine, (key, listed, batch)
            assert zip_response.status_code == 200, key
            folders = {n.split("/")[0] for n in _zip_names(zip_response)}
            assert folders == {e.number for e in sent if e.title in mine}, (key, folders)
        else:
            assert listed == set() and batch == set(), (key, listed, batch)
            assert zip_response.status_code == 404, key
        drafts = client.get(reverse("envelopes:drafts")).content.decode()
        assert (draft.title in drafts) == (key == "alice"), key
        for page in ("new", "batch-result"):
            assert client.get(reverse(f"envelopes:{page}")).status_code in (200, 302)
        search = client.get(reverse("envelopes:org-search"), {"q": NAME}).json()
        assert len(search["results"]) == 2  # R and I, each with its credit code; never U or C
        # the seal step's link: R's keeper and administrator (and alice) go to the envelope;
        # everyone else is told what is missing and sees no document
        response = client.get(reverse("envelopes:link", args=[token]))
        if key in participants:
            assert response.status_code == 302, key
        else:
            html = response.content.decode()
            assert response.status_code == 200 and 'data-testid="sign-no-seal"' in html, key
            document = active.documents.get()
            assert reverse("envelopes:download", args=[active.uuid, document.pk]) not in html
            assert reverse("envelopes:page-image", args=[active.uuid, document.pk, 0]) not in html
    # only R's keeper gets the step in a batch, and an impostor's batch signs nothing
    assert _shows(client_for(people["erin"]), reverse("envelopes:batch-sign"), active, **ids)
    before = _state()
    trudy = client_for(people["trudy"])
    page = trudy.get(reverse("envelopes:batch-sign"), ids).content.decode()
    assert active.title not in page
    data = {
        **ids,
        "action": "sign",
        "pin": PIN,
        "task": [f"{active.uuid}:{active.recipients.get().pk}"],
        f"key-{active.uuid}": "a" * 32,
        f"seen-{active.uuid}": ",".join(f"{d.pk}:{d.current_id}" for d in active.documents.all()),
        f"seal-{world['orgs']['impostor'].uuid}": str(seal_of(world["orgs"]["impostor"]).uuid),
    }
    with TestCase.captureOnCommitCallbacks(execute=True):
        trudy.post(reverse("envelopes:batch-sign"), data)
    assert _state()[1:] == before[1:]


def _zip_names(response: Any) -> list[str]:
    import io
    import zipfile

    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()


# --- every organisation, seal and grant URL, with same-named organisations -----------------------


@pytest.fixture
def twins(pki: None) -> dict[str, Any]:
    a, b = (
        test_idor._build_side(
            make_verified_person,
            make_verified_org,
            org_name=NAME,
            admin=admin,
            keeper=keeper,
            grantee=grantee,
        )
        for admin, keeper, grantee in (
            (("alice", "13800000001"), ("bob", "13800000002"), ("dave", "13800000004")),
            (("charlie", "13800000003"), ("frank", "13800000006"), ("erin", "13800000005")),
        )
    )
    assert a.org.name == b.org.name and a.org.credit_code != b.org.credit_code
    cora = make_verified_person("cora", "13800000070", real_name="柯拉")
    make_verified_org(
        cora, name=NAME, credit_code=a.org.credit_code, status=Organization.Status.PENDING
    )
    uma = make_verified_person("uma", "13800000068", real_name="乌玛")
    make_verified_org(uma, name=NAME, status=Organization.Status.PENDING)
    return {"a": a, "b": b, "strangers": [cora, uma]}


@pytest.mark.parametrize("name", sorted(test_idor.ROWS))
def test_orgs_matrix_with_same_named_organisations(name: str, twins: dict[str, Any]) -> None:
    if name not in test_idor._patterns():
        pytest.skip(f"orgs:{name} does not exist yet")
    row = test_idor.ROWS[name]
    a, b = twins["a"], twins["b"]
    everyone = [*a.people, *b.people, *twins["strangers"]]
    clients = {user.pk: client_for(user) for user in everyone}
    failures: list[str] = []
    for method in row.methods:
        for side, other in ((a, b), (b, a)):
            url = test_idor._url(name, side)
            refused = [u for u in everyone if u not in side.allowed(row.level)]
            for user in refused:
                before = test_idor._snapshot()
                response = test_idor._request(clients[user.pk], method, url, row, side)
                if response.status_code != 404:
                    failures.append(f"{user.display_name} {method} {url} → {response.status_code}")
                elif test_idor._snapshot() != before:
                    failures.append(f"{user.display_name} {method} {url} changed the database")
            if test_idor._object_params(name):  # the twin's objects under this organisation
                cross = test_idor._url(name, side, other)
                for user in side.allowed(row.level):
                    before = test_idor._snapshot()
                    response = test_idor._request(clients[user.pk], method, cross, row, other)
                    if response.status_code != 404 or test_idor._snapshot() != before:
                        failures.append(f"{user.display_name} {method} {cross} (twin's object)")
    for side in (a, b):
        if "GET" in row.methods:
            for user in side.allowed(row.level):
                status = clients[user.pk].get(test_idor._url(name, side)).status_code
                if status in (404, 500):
                    failures.append(f"allowed {user.display_name} GET {name} → {status}")
    assert not failures, "\n".join(failures)
