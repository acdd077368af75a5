"""Seal recipients are bound to an organisation, never matched by name (issue 10 item 2).

Attacker: another verified organisation with the real recipient's name (e.g. one an operator
approved), its administrator and its seal keeper with a current grant. Before binding, it saw
the envelope in its lists, opened and downloaded it (also in the ZIP) and, without a credit
code on the recipient, sealed it — and the verifier called that seal valid.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from django.apps import apps
from django.test import Client, TestCase
from django.urls import reverse

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.envelopes import compose
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.actions import lifecycle
from qianshu.envelopes.actions import voiding as voiding_actions
from qianshu.envelopes.models import AuditEvent, Envelope, Recipient, Revision
from qianshu.notifications.models import OutboxMessage
from qianshu.orgs.actions.review import do_approve_org, do_request_manual_review
from qianshu.orgs.models import Organization, SealUsage
from qianshu.pki.platform import load_platform
from qianshu.signing.verify import verify_pdf
from tests.envelopes.helpers import Builder, client_for, submit_over_http
from tests.support.accounts import make_user
from tests.support.personas import (
    grant_seal,
    make_seal_org,
    make_signer,
    make_verified_org,
    seal_of,
    valid_credit_code,
)
from tests.support.seals import make_seal

pytestmark = pytest.mark.django_db

NAME = "华东示例科技有限公司"
EDIT_ROWS = "r"


@pytest.fixture
def companies(people: dict) -> dict[str, Any]:
    """The real 华东示例科技有限公司 (admin charlie, keeper erin) and a verified impostor of the
    same name with another credit code (admin mallory, keeper trudy), each keeper holding a
    current grant of a 合同专用章."""
    erin = make_signer("erin", "13800000005", real_name="吴艾琳")
    real = make_seal_org(people["charlie"], NAME, keeper=erin)
    mallory = make_signer("mallory", "13800000066", real_name="马洛里")
    trudy = make_signer("trudy", "13800000067", real_name="屠迪")
    impostor = make_seal_org(mallory, NAME, keeper=trudy)
    assert real.name == impostor.name and real.credit_code != impostor.credit_code
    return {
        "real": real,
        "impostor": impostor,
        "erin": erin,
        "mallory": mallory,
        "trudy": trudy,
        **people,
    }


def _send(envelope: Envelope) -> Envelope:
    with TestCase.captureOnCommitCallbacks(execute=True):
        compose_actions.do_send_envelope(envelope, actor=envelope.initiator, meta=TASK)
    envelope.refresh_from_db()
    return envelope


def _legacy(build: Builder, alice: User, org: Organization, *, code: str = "") -> Envelope:
    """An envelope whose seal step names ``org`` by name (and ``code``) only, as compose stored
    it before binding; sent."""
    draft = build.draft(alice, [("seal", 1, org)])
    Recipient.objects.filter(envelope=draft).update(org=None, org_credit_code=code)
    return _send(draft)


def _urls(envelope: Envelope) -> list[str]:
    document = envelope.documents.get()
    return [
        envelope.get_absolute_url(),
        reverse("envelopes:sign", args=[envelope.uuid]),
        reverse("envelopes:page-image", args=[envelope.uuid, document.pk, 0]),
        reverse("envelopes:download", args=[envelope.uuid, document.pk]),
    ]


def _listed(client: Client, envelope: Envelope) -> bool:
    for tab in ("todo", "others", "completed", "voided", "cc"):
        html = client.get(reverse("envelopes:list"), {"tab": tab}).content.decode()
        if str(envelope.uuid) in html:
            return True
    return False


def _shut_out(user: User, envelope: Envelope) -> None:
    """``user`` cannot find, open, download, ZIP, batch-sign or seal ``envelope``."""
    client = client_for(user)
    assert not _listed(client, envelope), user
    for url in _urls(envelope):
        assert client.get(url).status_code == 404, (user, url)
    response = client.post(reverse("envelopes:download-zip"), {"ids": [str(envelope.uuid)]})
    assert response.status_code == 404, user
    batch = client.get(reverse("envelopes:batch-sign"), {"ids": [str(envelope.uuid)]})
    assert envelope.title not in batch.content.decode()


def _attempt_seal(user: User, org: Organization, envelope: Envelope) -> int:
    recipient = envelope.recipients.get(role="seal")
    response = submit_over_http(client_for(user), recipient, seal=seal_of(org))
    return int(response.status_code)


# --- the attack, reproduced ----------------------------------------------------------------------


def test_an_impostor_of_the_same_name_gets_nothing_from_a_step_named_by_name(
    companies: dict, build: Builder
) -> None:
    alice, trudy, mallory = companies["alice"], companies["trudy"], companies["mallory"]
    envelope = _legacy(build, alice, companies["real"])
    revisions = Revision.objects.count()
    for user in (trudy, mallory):
        _shut_out(user, envelope)
    assert _attempt_seal(trudy, companies["impostor"], envelope) == 404
    recipient = envelope.recipients.get()
    assert recipient.status == Recipient.Status.PENDING and recipient.org is None
    assert Revision.objects.count() == revisions
    assert not SealUsage.objects.exists()
    # a step named by name is nobody's: the real organisation cannot take it either
    _shut_out(companies["erin"], envelope)
    assert _attempt_seal(companies["erin"], companies["real"], envelope) == 404


def test_a_credit_code_on_the_step_does_not_let_a_same_named_impostor_look(
    companies: dict, build: Builder
) -> None:
    real = companies["real"]
    envelope = _legacy(build, companies["alice"], real, code=real.credit_code)
    for user in (companies["trudy"], companies["mallory"]):
        _shut_out(user, envelope)


def test_a_bound_step_is_the_bound_organisations_only(companies: dict, build: Builder) -> None:
    alice, erin, charlie = companies["alice"], companies["erin"], companies["charlie"]
    real, impostor = companies["real"], companies["impostor"]
    envelope = _send(build.draft(alice, [("seal", 1, real)]))
    assert envelope.recipients.get().org == real
    for user in (companies["trudy"], companies["mallory"]):
        _shut_out(user, envelope)
    assert _attempt_seal(companies["trudy"], impostor, envelope) == 404
    # the real organisation's keeper lists, opens and seals it; its administrator sees it
    assert _listed(client_for(erin), envelope) and _listed(client_for(charlie), envelope)
    for url in _urls(envelope):
        assert client_for(erin).get(url).status_code == 200, url
    # the real keeper cannot use the impostor's seal (he holds no grant of it) …
    assert _attempt_seal(erin, impostor, envelope) == 404 or not SealUsage.objects.exists()
    # … but seals with his own
    response = submit_over_http(client_for(erin), envelope.recipients.get(), seal=seal_of(real))
    assert response.status_code == 200, response.content
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.COMPLETED
    report = verify_pdf(envelope.documents.get().current.read(), load_platform().trust())
    assert report.verdict == "valid", report.reason
    sealed = [s for s in report.signatures if s.field_name.startswith("QS-F")]
    assert sealed and all(s.organisation_id == real.credit_code for s in sealed), sealed
    assert all(s.trusted and s.intact for s in sealed)
    # the completed envelope and its report stay out of the impostor's reach
    for user in (companies["trudy"], companies["mallory"]):
        client = client_for(user)
        assert client.get(reverse("envelopes:report", args=[envelope.uuid])).status_code == 404
        assert not _listed(client, envelope)


def test_the_zip_download_contains_only_what_the_user_may_open(
    companies: dict, build: Builder
) -> None:
    alice, erin = companies["alice"], companies["erin"]
    bound = _send(build.draft(alice, [("seal", 1, companies["real"])], title="绑定合同"))
    named = _legacy(build, alice, companies["real"])
    ids = {"ids": [str(bound.uuid), str(named.uuid)]}
    response = client_for(erin).post(reverse("envelopes:download-zip"), ids)
    assert response.status_code == 200 and response.streaming
    names = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()
    assert names and all(name.startswith(f"{bound.number}/") for name in names)
    response = client_for(companies["trudy"]).post(reverse("envelopes:download-zip"), ids)
    assert response.status_code == 404


# --- composing: choose a verified organisation, or name one by name + credit code ----------------


def _compose(client: Client, seal_row: dict[str, Any], pdf: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {
        "title": "采购合同",
        "auto_remind": "on",
        f"{EDIT_ROWS}-TOTAL_FORMS": "1",
        f"{EDIT_ROWS}-INITIAL_FORMS": "0",
        f"{EDIT_ROWS}-MIN_NUM_FORMS": "0",
        f"{EDIT_ROWS}-MAX_NUM_FORMS": "1000",
        f"{EDIT_ROWS}-0-role": "seal",
        f"{EDIT_ROWS}-0-routing_order": "1",
        f"{EDIT_ROWS}-0-contact_name": "张查理",
        f"{EDIT_ROWS}-0-phone": "13800000003",
        **{f"{EDIT_ROWS}-0-{k}": v for k, v in seal_row.items()},
        "files": [SimpleUploadedFile("合同.pdf", pdf, "application/pdf")],
        "action": "save",
    }
    return client.post(reverse("envelopes:new"), data)


def _pdf() -> bytes:
    from qianshu.signing.samples import make_test_pdf

    return make_test_pdf(pages=1)


@pytest.mark.parametrize(
    ("row", "expect"),
    [
        ({"org": "real", "name": "随便写的"}, "real"),  # chosen: the organisation's own name
        ({"name": NAME, "org_credit_code": "real"}, "real"),
        ({"name": "华东示例科技有限公司 ", "org_credit_code": "impostor"}, "impostor"),
        ({"name": "新设某某（北京）有限公司", "org_credit_code": "new"}, None),
    ],
    ids=["chosen", "name-and-code", "typed-code-is-what-counts", "not-on-the-platform"],
)
def test_compose_binds_a_chosen_or_exactly_named_organisation(
    companies: dict, row: dict[str, str], expect: str | None
) -> None:
    new_code = valid_credit_code()
    values = {
        "real": companies["real"],
        "impostor": companies["impostor"],
    }
    data = dict(row)
    if data.get("org"):
        data["org"] = str(values[data["org"]].uuid)
    if data.get("org_credit_code"):
        code = data["org_credit_code"]
        data["org_credit_code"] = new_code if code == "new" else values[code].credit_code
    response = _compose(client_for(companies["alice"]), data, _pdf())
    assert response.status_code == 302, response.content.decode()[:2000]
    recipient = Recipient.objects.get()
    if expect is None:
        assert recipient.org is None
        assert (recipient.name, recipient.org_credit_code) == (row["name"], new_code)
    else:
        org = values[expect]
        assert recipient.org == org
        assert (recipient.name, recipient.org_credit_code) == (org.name, org.credit_code)


def test_compose_refuses_a_verified_code_under_another_name_and_loses_nothing(
    companies: dict,
) -> None:
    real = companies["real"]
    response = _compose(
        client_for(companies["alice"]),
        {"name": "华东示例科技股份有限公司", "org_credit_code": real.credit_code},
        _pdf(),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert real.credit_code in html and "不一致" in html
    envelope = Envelope.objects.get()
    assert envelope.documents.count() == 1 and not envelope.recipients.exists()


def test_compose_refuses_an_unverified_or_forged_organisation(companies: dict) -> None:
    pending = make_verified_org(
        companies["alice"], name="待认证有限公司", status=Organization.Status.PENDING
    )
    for forged in (str(pending.uuid), "00000000-0000-0000-0000-000000000000", "../x"):
        Envelope.objects.all().delete()
        response = _compose(client_for(companies["alice"]), {"org": forged, "name": "x"}, _pdf())
        assert response.status_code == 400, forged
        assert "所选组织不存在或尚未完成组织认证" in response.content.decode()
        assert not Recipient.objects.exists()


# --- the organisation search of the compose page -------------------------------------------------


def test_org_search_by_name_or_exact_code_for_verified_people_only(
    companies: dict, settings: Any
) -> None:
    real, impostor = companies["real"], companies["impostor"]
    make_verified_org(companies["alice"], name=NAME, status=Organization.Status.PENDING)
    url = reverse("envelopes:org-search")
    client = client_for(companies["alice"])
    body = client.get(url, {"q": "华东示例"}).json()
    found = {(r["uuid"], r["name"], r["credit_code"]) for r in body["results"]}
    assert found == {
        (str(real.uuid), NAME, real.credit_code),
        (str(impostor.uuid), NAME, impostor.credit_code),
    }  # both shown with their codes; the unverified one not at all
    body = client.get(url, {"q": real.credit_code.lower()}).json()
    assert [r["uuid"] for r in body["results"]] == [str(real.uuid)]
    assert client.get(url, {"q": real.credit_code[:17]}).json()["results"] == []
    assert client.get(url, {"q": "华"}).json()["results"] == []  # at least two characters
    for i in range(12):
        make_verified_org(companies["alice"], name=f"华东示例分公司{i:02d}")
    assert len(client.get(url, {"q": "华东示例"}).json()["results"]) == 10
    # not for people without real-name verification, nor anonymous visitors
    stranger = make_user("stranger", phone="13900000088")
    response = client_for(stranger).get(url, {"q": "华东示例"})
    assert response.status_code == 403 and response.json()["results"] == []
    assert Client().get(url, {"q": "华东示例"}).status_code == 302
    # nor a way to list every organisation quickly
    statuses = [client.get(url, {"q": f"分公司{i:02d}"}).status_code for i in range(60)]
    assert statuses[-1] == 429


# --- binding when the named organisation verifies ------------------------------------------------


def _named_draft(build: Builder, alice: User, name: str, code: str, title: str) -> Envelope:
    draft = build.draft(alice, [("sign", 1, alice)], title=title)
    signer = draft.recipients.get()
    compose_actions.do_set_recipients(
        draft,
        [
            compose.RecipientInput("sign", 1, signer.name, signer.phone, id=signer.pk),
            compose.RecipientInput(
                "seal", 2, name, "13800000099", contact_name="联系人", org_credit_code=code
            ),
        ],
        actor=alice,
    )
    seal_step = draft.recipients.get(role="seal")
    assert seal_step.org is None
    build.fields(draft, list(draft.recipients.order_by("routing_order")))
    return draft


def test_an_organisation_verifying_binds_the_steps_that_named_it(
    people: dict, build: Builder
) -> None:
    alice, bob = people["alice"], people["bob"]
    code = valid_credit_code()
    named = "新设某某(北京)有限公司"  # typed with ASCII brackets
    draft = _named_draft(build, alice, named, code, "草稿合同")
    active = _send(_named_draft(build, alice, named, code, "进行中合同"))
    recalled = _send(_named_draft(build, alice, named, code, "撤回合同"))
    lifecycle.do_recall(recalled, reason="重发", actor=alice, meta=TASK)
    other_name = _send(_named_draft(build, alice, "另一家有限公司", code, "名称不符合同"))
    # the envelope is nobody's until the organisation verifies
    org = make_verified_org(
        bob, name="新设某某（北京）有限公司", credit_code=code, status=Organization.Status.DRAFT
    )
    do_request_manual_review(org, actor=bob, meta=TASK)
    _shut_out(bob, active)
    operator = make_user("operator", phone="13900000009", is_staff=True)
    with TestCase.captureOnCommitCallbacks(execute=True):
        do_approve_org(org, actor=operator, meta=TASK)
    org.refresh_from_db()
    assert org.is_verified

    def step(envelope: Envelope) -> Recipient:
        return envelope.recipients.get(role="seal")

    assert step(draft).org == org and step(active).org == org
    assert step(recalled).org is None  # ended: left alone
    assert step(other_name).org is None  # same code, another name: never bound
    for envelope in (draft, active):
        event = AuditEvent.objects.get(envelope=envelope, action="org_bound")
        assert event.detail["org"] == str(org.uuid) and event.detail["credit_code"] == code
    event = AuditEvent.objects.get(envelope=other_name, action="org_not_bound")
    assert event.detail["named"] == "另一家有限公司"
    told = OutboxMessage.objects.filter(kind="envelope_org_mismatch", recipient=alice.phone)
    assert told.count() == 1 and "另一家有限公司" in told.get().body
    _shut_out(bob, other_name)
    # now the organisation's keeper seals the bound step, and the seal is valid
    sign_step = active.recipients.get(role="sign")
    response = submit_over_http(client_for(alice), sign_step)
    assert response.status_code == 200, response.content
    seal = make_seal(org, bob)
    grant_seal(seal, bob, bob)
    response = submit_over_http(client_for(bob), step(active), seal=seal)
    assert response.status_code == 200, response.content
    active.refresh_from_db()
    assert active.status == Envelope.Status.COMPLETED
    report = verify_pdf(active.documents.get().current.read(), load_platform().trust())
    assert report.verdict == "valid", report.reason


def test_a_same_named_organisation_with_another_code_verifying_binds_nothing(
    people: dict, build: Builder
) -> None:
    alice, bob = people["alice"], people["bob"]
    code = valid_credit_code()
    active = _send(_named_draft(build, alice, "新设某某有限公司", code, "合同"))
    impostor = make_verified_org(bob, name="新设某某有限公司", status=Organization.Status.DRAFT)
    do_request_manual_review(impostor, actor=bob, meta=TASK)
    operator = make_user("operator", phone="13900000009", is_staff=True)
    do_approve_org(impostor, actor=operator, meta=TASK)
    assert active.recipients.get(role="seal").org is None
    assert not AuditEvent.objects.filter(action__in=["org_bound", "org_not_bound"]).exists()
    _shut_out(bob, active)


# --- the contact person's link -------------------------------------------------------------------


def _link_state(user: User, recipient: Recipient) -> tuple[int, str]:
    from qianshu.envelopes.links import recipient_token

    response = client_for(user).get(reverse("envelopes:link", args=[recipient_token(recipient)]))
    html = response.content.decode()
    state = html.split('data-state="', 1)[1].split('"', 1)[0] if "data-state" in html else ""
    document = recipient.envelope.documents.first()
    assert document is None or (
        reverse("envelopes:download", args=[recipient.envelope.uuid, document.pk]) not in html
    )
    return response.status_code, state


def test_the_contact_persons_link_says_what_is_missing_without_documents(
    companies: dict, build: Builder
) -> None:
    alice, charlie, erin = companies["alice"], companies["charlie"], companies["erin"]
    real = companies["real"]
    bound = _send(build.draft(alice, [("seal", 1, real)]))
    step = bound.recipients.get()
    assert _link_state(companies["trudy"], step) == (200, "not_member")  # the impostor's keeper
    member = make_signer("member", "13800000077", real_name="成员甲")
    real.memberships.create(user=member)
    assert _link_state(member, step) == (200, "no_grant")
    assert client_for(member).get(bound.get_absolute_url()).status_code == 404
    assert _link_state(erin, step)[0] == 302  # the keeper goes to the document
    assert _link_state(charlie, step)[0] == 302  # the administrator too
    # an unbound step: whose organisation is being verified sees that
    code = valid_credit_code()
    named = _send(_named_draft(build, alice, "新设某某有限公司", code, "合同"))
    mine = make_verified_org(
        companies["mallory"], name="新设某某有限公司", credit_code=code, status="pending"
    )
    step = named.recipients.get(role="seal")
    assert _link_state(companies["mallory"], step) == (200, "org_pending")
    assert mine.is_verified is False
    assert _link_state(companies["trudy"], step) == (200, "unbound")
    # 创建组织并认证 opens the form with the name and credit code filled in
    query = {"name": "新设某某有限公司", "credit_code": code}
    form = client_for(companies["trudy"]).get(reverse("orgs:create"), query).content.decode()
    assert 'value="新设某某有限公司"' in form and f'value="{code}"' in form


# --- existing rows, void statements --------------------------------------------------------------


def test_existing_steps_are_bound_only_where_it_is_unambiguous(people: dict) -> None:
    migration = __import__(
        "qianshu.envelopes.migrations.0006_bind_existing_seal_recipients", fromlist=["bind"]
    )
    alice, bob = people["alice"], people["bob"]
    unique = make_verified_org(bob, name="唯一有限公司")
    twin_a = make_verified_org(bob, name="重名有限公司")
    make_verified_org(bob, name="重名有限公司")
    make_verified_org(bob, name="唯一有限公司", status=Organization.Status.PENDING)
    by_code = make_verified_org(bob, name="有码有限公司")
    envelope = Envelope.objects.create(number="QS1", title="旧合同", initiator=alice)
    rows = {
        "unique-name": ("唯一 有限公司", ""),
        "twin-name": ("重名有限公司", ""),
        "code": ("有码有限公司", by_code.credit_code),
        "code-other-name": ("别名有限公司", by_code.credit_code),
        "unknown-code": ("唯一有限公司", valid_credit_code()),
        "nobody": ("无名有限公司", ""),
    }
    made = {
        key: Recipient.objects.create(
            envelope=envelope, role="seal", name=name, org_credit_code=code, routing_order=1
        )
        for key, (name, code) in rows.items()
    }
    already = Recipient.objects.create(
        envelope=envelope, role="seal", name="重名有限公司", org=twin_a, routing_order=2
    )
    migration.bind(apps, None)
    bound = {key: Recipient.objects.get(pk=r.pk).org for key, r in made.items()}
    assert bound == {
        "unique-name": unique,
        "twin-name": None,
        "code": by_code,
        "code-other-name": None,
        "unknown-code": None,
        "nobody": None,
    }
    assert Recipient.objects.get(pk=already.pk).org == twin_a


def test_a_void_statement_goes_to_the_same_bound_organisation(
    companies: dict, build: Builder
) -> None:
    alice, erin = companies["alice"], companies["erin"]
    real = companies["real"]
    envelope = _send(build.draft(alice, [("seal", 1, real)]))
    response = submit_over_http(client_for(erin), envelope.recipients.get(), seal=seal_of(real))
    assert response.status_code == 200
    envelope.refresh_from_db()
    with TestCase.captureOnCommitCallbacks(execute=True):
        statement = voiding_actions.do_request_void(envelope, "金额有误", actor=alice, meta=TASK)
    step = statement.recipients.get()
    assert step.org == real and step.status == Recipient.Status.PENDING
    _shut_out(companies["trudy"], statement)
    response = submit_over_http(client_for(erin), step, seal=seal_of(real))
    assert response.status_code == 200, response.content
