"""Templates (模板管理, issue 14): save a draft as a template, use it (web and API), versions
kept by the envelopes that used them, sharing, archive — and the boundaries, tried as an
attacker would: another person's personal template, a member it was not shared with, a member
who left, another organisation with the same name, a personal draft posing as a version of an
organisation's template, an archived template, a key of another organisation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, TestCase

from qianshu.api.actions.keys import do_create_api_key
from qianshu.api.models import Scope
from qianshu.core.meta import TASK
from qianshu.doctemplates.actions.templates import (
    do_save_template,
    do_share_template,
    do_use_template,
)
from qianshu.doctemplates.errors import TemplateError
from qianshu.doctemplates.models import Template, TemplateUse
from qianshu.doctemplates.snapshots import Party, RoleChoice
from qianshu.envelopes.actions import compose as compose_actions
from qianshu.envelopes.models import Envelope, Field, Recipient
from qianshu.orgs.models import Membership
from tests.doctemplates.conftest import HR
from tests.envelopes.helpers import Builder, sign
from tests.identity.helpers import logged_in
from tests.support.personas import make_signer, make_verified_org, real_name, valid_credit_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(people: dict[str, Any]) -> dict[str, Any]:
    return people


def _org_template(w: dict[str, Any]) -> Template:
    """考核表: 被考核人 (bob now, open) signs, then 人事处 (the organisation, fixed) seals."""
    draft = Builder().draft(
        w["alice"], [("sign", 1, w["bob"]), ("seal", 2, w["org"])], org=w["org"], title="考核表"
    )
    version = do_save_template(
        draft,
        name="年度考核表",
        choices=[RoleChoice("被考核人", False), RoleChoice("人事处", True)],
        actor=w["alice"],
        meta=TASK,
    )
    return version.template


def test_save_and_use_on_the_web_then_sign(world: dict[str, Any]) -> None:
    alice = logged_in(world["alice"])
    draft = Builder().draft(
        world["alice"], [("sign", 1, world["bob"]), ("seal", 2, world["org"])], org=world["org"]
    )
    send_page = alice.get(f"/envelopes/{draft.uuid}/send/").content.decode()
    assert f"/templates/save/{draft.uuid}/" in send_page
    saved = alice.post(
        f"/templates/save/{draft.uuid}/",
        {
            "target": "",
            "name": "年度考核表",
            "label_0": "被考核人",
            "label_1": "人事处",
            "fixed_1": "on",
        },
    )
    assert saved.status_code == 302, saved.content.decode()[:2000]
    template = Template.objects.get()
    assert template.org == world["org"] and template.owner == world["alice"]
    version = template.latest()
    assert version is not None and version.number == 1
    assert [r["label"] for r in version.roles] == ["被考核人", "人事处"]
    assert version.roles[1]["fixed"] and version.roles[1]["name"] == HR
    assert not version.roles[0]["fixed"] and version.roles[0]["phone"] == ""
    assert "年度考核表" in alice.get("/templates/").content.decode()
    # 使用模板: fill the open role; a draft with the template's documents, parties and fields.
    charlie = world["charlie"]
    used = alice.post(
        f"/templates/{template.uuid}/use/",
        {"title": "2026 年度考核表", "r1-name": real_name(charlie), "r1-phone": charlie.phone},
    )
    assert used.status_code == 302 and used["Location"].endswith("/send/")
    envelope = Envelope.objects.exclude(pk=draft.pk).get()
    assert envelope.status == Envelope.Status.DRAFT and envelope.initiator_org == world["org"]
    assert TemplateUse.objects.get(envelope=envelope).version == version
    recipients = list(envelope.recipients.order_by("routing_order"))
    assert [(r.role, r.name, r.phone) for r in recipients] == [
        ("sign", real_name(charlie), charlie.phone),
        ("seal", HR, world["alice"].phone),
    ]
    kinds = sorted(Field.objects.filter(envelope=envelope).values_list("kind", flat=True))
    assert kinds == sorted(Field.objects.filter(envelope=draft).values_list("kind", flat=True))
    with TestCase.captureOnCommitCallbacks(execute=True):
        compose_actions.do_send_envelope(envelope, actor=world["alice"], meta=TASK)
    sign(recipients[0], charlie)
    assert Recipient.objects.get(pk=recipients[0].pk).status == Recipient.Status.DONE


def test_a_new_version_leaves_earlier_envelopes_on_theirs(world: dict[str, Any]) -> None:
    template = _org_template(world)
    first = do_use_template(
        template.latest(),  # type: ignore[arg-type]
        {"r1": Party(real_name(world["bob"]), world["bob"].phone)},
        actor=world["alice"],
        meta=TASK,
    )
    # Edit: a draft from the template, one more signer, saved as the template's new version.
    draft = do_use_template(
        template.latest(),  # type: ignore[arg-type]
        {"r1": Party(real_name(world["bob"]), world["bob"].phone)},
        actor=world["alice"],
        meta=TASK,
    )
    items = [
        compose_actions.compose.RecipientInput(
            role=r.role,
            routing_order=r.routing_order,
            name=r.name,
            phone=r.phone,
            org_credit_code=r.org_credit_code,
            id=r.pk,
        )
        for r in draft.recipients.order_by("routing_order")
    ]
    items.append(
        compose_actions.compose.RecipientInput(
            role="cc",
            routing_order=3,
            name=real_name(world["charlie"]),
            phone=world["charlie"].phone,
        )
    )
    compose_actions.do_set_recipients(draft, items, actor=world["alice"])
    second = do_save_template(
        draft,
        choices=[
            RoleChoice("被考核人", False),
            RoleChoice("人事处", True),
            RoleChoice("抄送", True),
        ],
        template=template,
        actor=world["alice"],
        meta=TASK,
    )
    assert second.number == 2 and len(second.roles) == 3
    assert TemplateUse.objects.get(envelope=first).version.number == 1
    assert first.recipients.count() == 2
    detail = logged_in(world["alice"]).get(f"/templates/{template.uuid}/").content.decode()
    assert "第 2 版" in detail and "第 1 版" in detail


def test_who_may_see_use_and_manage(world: dict[str, Any]) -> None:
    template = _org_template(world)
    detail, use = f"/templates/{template.uuid}/", f"/templates/{template.uuid}/use/"
    # A member it is not shared with: nothing. Shared: may use, not manage.
    charlie = logged_in(world["charlie"])
    assert charlie.get(detail).status_code == 404 and charlie.get(use).status_code == 404
    assert "年度考核表" not in charlie.get("/templates/").content.decode()
    do_share_template(template, [world["charlie"]], actor=world["alice"])
    assert charlie.get(use).status_code == 200
    assert charlie.post(detail, {"op": "archive"}).status_code == 404
    assert (
        charlie.post(detail, {"op": "share", "members": [world["charlie"].pk]}).status_code == 404
    )
    with pytest.raises(TemplateError):
        do_share_template(template, [], actor=world["charlie"])
    # Someone outside the organisation, even an administrator of a same-named one: 404.
    outsider = make_signer("outsider", "13800009999", real_name="张外人")
    make_verified_org(outsider, name=HR, credit_code=valid_credit_code())
    stranger = logged_in(outsider)
    assert stranger.get(detail).status_code == 404 and stranger.get(use).status_code == 404
    with pytest.raises(TemplateError, match="本组织的成员"):
        do_share_template(template, [outsider], actor=world["alice"])
    # A member who left loses it, whatever the sharing says — and cannot plant a template in
    # the organisation's list from a draft made while still a member.
    old_draft = Builder().draft(
        world["charlie"], [("sign", 1, world["bob"])], org=world["org"], title="旧草稿"
    )
    Membership.objects.filter(org=world["org"], user=world["charlie"]).delete()
    with pytest.raises(TemplateError, match="不是该组织的成员"):
        do_save_template(
            old_draft,
            name="冒充的模板",
            choices=[RoleChoice("乙方", False)],
            actor=world["charlie"],
            meta=TASK,
        )
    assert charlie.get(use).status_code == 404
    with pytest.raises(TemplateError, match="不是该组织的成员"):
        do_use_template(
            template.latest(),  # type: ignore[arg-type]
            {"r1": Party("某人", "13900000001")},
            actor=world["charlie"],
            meta=TASK,
        )
    # A personal template is its owner's only.
    personal = do_save_template(
        Builder().draft(world["bob"], [("sign", 1, world["charlie"])]),
        name="我的合同",
        choices=[RoleChoice("乙方", False)],
        actor=world["bob"],
        meta=TASK,
    ).template
    assert personal.org is None
    assert logged_in(world["alice"]).get(f"/templates/{personal.uuid}/").status_code == 404
    # A personal draft cannot become a version of the organisation's template (nor by URL).
    with pytest.raises(TemplateError):
        do_save_template(
            Builder().draft(world["alice"], [("sign", 1, world["bob"])]),
            choices=[RoleChoice("乙方", False)],
            template=template,
            actor=world["alice"],
            meta=TASK,
        )


def test_archived_templates_are_not_used(world: dict[str, Any]) -> None:
    template = _org_template(world)
    do_share_template(template, [world["charlie"]], actor=world["alice"])
    alice = logged_in(world["alice"])
    assert alice.post(f"/templates/{template.uuid}/", {"op": "archive"}).status_code == 302
    # The archived list is the managers': alice sees it there, charlie (shared) does not.
    listed = alice.get("/templates/").content.decode()
    assert 'data-testid="templates-archived"' in listed and template.name in listed
    shared = logged_in(world["charlie"]).get("/templates/").content.decode()
    assert template.name not in shared
    assert alice.get(f"/templates/{template.uuid}/use/").status_code == 404
    with pytest.raises(TemplateError, match="已归档"):
        do_use_template(
            template.latest(),  # type: ignore[arg-type]
            {"r1": Party(real_name(world["bob"]), world["bob"].phone)},
            actor=world["alice"],
            meta=TASK,
        )
    assert alice.post(f"/templates/{template.uuid}/", {"op": "restore"}).status_code == 302
    assert alice.get(f"/templates/{template.uuid}/use/").status_code == 200


def test_bad_input_keeps_the_form_and_names_the_problem(world: dict[str, Any]) -> None:
    alice = logged_in(world["alice"])
    draft = Builder().draft(
        world["alice"], [("sign", 1, world["bob"]), ("sign", 2, world["charlie"])]
    )
    page = f"/templates/save/{draft.uuid}/"
    same = alice.post(page, {"target": "", "name": "合同", "label_0": "乙方", "label_1": "乙方"})
    assert same.status_code == 400 and "重复" in same.content.decode()
    unnamed = alice.post(page, {"target": "", "name": " ", "label_0": "甲", "label_1": "乙"})
    assert unnamed.status_code == 400 and "请输入模板名称" in unnamed.content.decode()
    assert not Template.objects.exists()
    # Another user's draft is not theirs to save.
    assert logged_in(world["bob"]).get(page).status_code == 404
    # A missing open role when using it: the role is named, nothing is created.
    template = _org_template(world)
    before = Envelope.objects.count()
    empty = alice.post(f"/templates/{template.uuid}/use/", {"title": "考核表"})
    assert empty.status_code == 400
    bad_phone = alice.post(
        f"/templates/{template.uuid}/use/",
        {"title": "考核表", "r1-name": "李四", "r1-phone": "12345"},
    )
    assert bad_phone.status_code == 400
    assert Envelope.objects.count() == before


def _api(org: Any, admin: Any) -> Client:
    _key, plain = do_create_api_key(
        org, name="HR", scopes=list(Scope.values), actor=admin, meta=TASK
    )
    return Client(HTTP_AUTHORIZATION=f"Bearer {plain}")


def test_the_api_lists_and_uses_the_organisations_templates(world: dict[str, Any]) -> None:
    template = _org_template(world)
    do_save_template(
        Builder().draft(world["alice"], [("sign", 1, world["bob"])]),
        name="个人模板",
        choices=[RoleChoice("乙方", False)],
        actor=world["alice"],
        meta=TASK,
    )
    api = _api(world["org"], world["alice"])
    listed = json.loads(api.get("/api/v1/templates").content)
    assert [t["name"] for t in listed] == ["年度考核表"]  # never a personal template
    assert [(r["label"], r["role"], r["fixed"]) for r in listed[0]["roles"]] == [
        ("被考核人", "signer", False),
        ("人事处", "seal", True),
    ]
    bob = world["bob"]
    body = {
        "template": str(template.uuid),
        "title": "2026 年度考核表（李博文）",
        "roles": {"被考核人": {"name": real_name(bob), "phone": bob.phone}},
    }
    with TestCase.captureOnCommitCallbacks(execute=True):
        created = api.post("/api/v1/envelopes", body, content_type="application/json")
    assert created.status_code == 201, created.content
    envelope = json.loads(created.content)
    assert envelope["status"] == "in_progress" and envelope["title"] == body["title"]
    row = Envelope.objects.get(uuid=envelope["id"])
    assert TemplateUse.objects.get(envelope=row).version == template.latest()
    # Problems are named; nothing is created.
    count = Envelope.objects.count()
    for wrong, code in (
        ({**body, "roles": {"院长": {"name": "某人", "phone": "13900000009"}}}, "invalid_envelope"),
        ({**body, "roles": {}}, "template_refused"),
        ({**body, "data": {"工号": "001"}}, "invalid_data"),
        ({**body, "documents": ["x"]}, "invalid_envelope"),
    ):
        answer = api.post("/api/v1/envelopes", wrong, content_type="application/json")
        assert answer.status_code == 400, (wrong, answer.content)
        assert json.loads(answer.content)["code"] == code
    assert Envelope.objects.count() == count
    # Another organisation's key (same name) does not find it; an archived one is gone too.
    other_admin = make_signer("outsider", "13800009999", real_name="张外人")
    other = make_verified_org(other_admin, name=HR, credit_code=valid_credit_code())
    foreign = _api(other, other_admin).post(
        "/api/v1/envelopes", body, content_type="application/json"
    )
    assert foreign.status_code == 404
    Template.objects.filter(pk=template.pk).update(status=Template.Status.ARCHIVED)
    assert api.post("/api/v1/envelopes", body, content_type="application/json").status_code == 404
