"""The employer's pages that sign: 确认发送 (the employer's seal on every invitation), 预览协议书,
the download of the signed agreement, and 解约办理 (申请解约, 同意解约 / 不同意) — through the
views, with the agreement and termination-letter PDFs."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from qianshu.core.meta import TASK
from qianshu.employment.actions import employers as employer_actions
from qianshu.employment.actions.terminations import do_apply_termination
from qianshu.employment.models import Agreement, Termination
from qianshu.envelopes.models import AuditEvent, Envelope, Recipient
from tests.employment.test_agreements import LETTER, accept, invite, pass_it
from tests.employment.test_employer_pages import SEND, acting, html
from tests.employment.world import World
from tests.support.personas import PIN, seal_of

pytestmark = pytest.mark.django_db


def choose(client: Client, world: World, names: list[str], position: str = "软件工程师") -> None:
    students = [world.students[n] for n in names]
    employer_actions.do_add_candidates(world.employer, students, position=position, actor=world.hr1)
    response = client.post(SEND, {"op": "invite", "student": [str(s.uuid) for s in students]})
    assert response["Location"] == reverse("employment:employer-letter")
    letter = {
        **{k: v for k, v in LETTER.terms.items()},
        **{f"archive_{k}": v for k, v in LETTER.archive.items()},
        **{f"hukou_{k}": v for k, v in LETTER.hukou.items()},
        "feedback_days": "5",
    }
    response = client.post(reverse("employment:employer-letter"), letter)
    assert response["Location"] == reverse("employment:employer-letter-confirm"), html(response)


def test_invitations_are_sent_through_the_pages_with_the_employers_seal(world: World) -> None:
    client = acting(world.hr1, world.employer)
    choose(client, world, ["黄河", "长江"])
    confirm = reverse("employment:employer-letter-confirm")
    seal = str(seal_of(world.employer).uuid)
    wrong = client.post(confirm, {"seal": seal, "pin": "000000"})
    assert wrong.status_code == 400 and 'data-testid="pin-error"' in html(wrong)
    assert not Agreement.objects.exists() and not Envelope.objects.exists()
    response = client.post(confirm, {"seal": seal, "pin": PIN})
    assert response["Location"] == reverse("employment:employer-letter-result")
    page = html(client.get(response["Location"]))
    assert "已发送 2 份签约邀请，0 份未发送" in page
    for agreement in Agreement.objects.all():
        assert agreement.status == Agreement.Status.INVITED
        assert agreement.terms["position"] == "软件工程师"
        assert agreement.archive["unit"] == "星光集团人力资源部"
        first = agreement.envelope.recipients.get(routing_order=1)  # type: ignore[union-attr]
        assert first.status == Recipient.Status.DONE and first.org == world.employer
        assert first.seal == seal_of(world.employer) and first.acted_by == world.hr1
    home = html(client.get(reverse("employment:employer-home")))
    assert re.search(r'data-testid="todo-invitations"><strong>2<', home)
    # again to 黄河 while the invitation is open: refused for that student, said why
    choose(client, world, ["黄河"])
    client.post(confirm, {"seal": seal, "pin": PIN})
    again = html(client.get(reverse("employment:employer-letter-result")))
    assert "已发送 0 份签约邀请，1 份未发送" in again and "不能重复邀约" in again
    assert Agreement.objects.count() == 2


def test_the_preview_is_the_agreement_pdf_and_creates_nothing(world: World) -> None:
    client = acting(world.hr1, world.employer)
    choose(client, world, ["汉水"], position="翻译")
    response = client.get(reverse("employment:employer-letter-preview"))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert not Agreement.objects.exists() and not Envelope.objects.exists()


def test_the_signed_agreement_is_listed_and_downloaded_by_its_employer_only(world: World) -> None:
    agreement = pass_it(world, accept(world, invite(world, "黄河"), "黄河"))
    client = acting(world.hr1, world.employer)
    page = html(client.get(reverse("employment:employer-accepted")))
    assert "签约鉴证通过" in page and 'data-testid="agreement-download"' in page
    url = reverse("employment:employer-agreement-download", args=[agreement.uuid])
    response = client.get(url)
    envelope = Envelope.objects.get(employment_agreement=agreement)
    assert envelope.status == Envelope.Status.COMPLETED
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content == envelope.documents.get().current.read()
    assert AuditEvent.objects.filter(envelope=envelope, action="downloaded").exists()
    assert acting(world.hr2, world.employer2).get(url).status_code == 404
    detail = html(client.get(reverse("employment:employer-agreement", args=[agreement.uuid])))
    assert "学生同意签约" in detail and "签约鉴证通过" in detail  # 签约过程记录


# --- 解约办理 -----------------------------------------------------------------------------------


def test_the_employer_applies_to_terminate_through_the_pages(world: World) -> None:
    agreement = pass_it(world, accept(world, invite(world, "黄河"), "黄河"))
    client = acting(world.hr1, world.employer)
    listed = html(client.get(reverse("employment:employer-terminations") + "?tab=signed"))
    assert str(agreement.uuid) in listed
    url = reverse("employment:employer-termination-apply")
    page = html(client.get(url, {"agreement": str(agreement.uuid)}))
    assert "解约须知" in page and "我同意并遵守以上规定，严格按照办事流程进行解约操作" in page
    seal = str(seal_of(world.employer).uuid)
    fields = {"agreement": str(agreement.uuid), "reason": "岗位调整", "seal": seal, "pin": PIN}
    no_notice = client.post(url, fields)
    assert no_notice.status_code == 400 and "请先阅读并勾选同意解约须知" in html(no_notice)
    wrong = client.post(url, {**fields, "notice": "on", "pin": "000000"})
    assert wrong.status_code == 400 and "岗位调整" in html(wrong)
    assert not Termination.objects.exists()
    response = client.post(url, {**fields, "notice": "on"}, follow=True)
    assert "解约申请已发出" in html(response)
    termination = Termination.objects.get()
    assert termination.side == Termination.Side.EMPLOYER and termination.reason == "岗位调整"
    assert termination.status == Termination.Status.APPLIED
    first = termination.letter.recipients.get(routing_order=1)  # type: ignore[union-attr]
    assert first.seal == seal_of(world.employer)
    # no longer in 已签约成功学生列表 while it is under way; a second application is refused
    listed = html(client.get(reverse("employment:employer-terminations") + "?tab=signed"))
    assert str(agreement.uuid) not in listed
    again = client.post(url, {**fields, "notice": "on"}, follow=True)
    assert "请先勾选要解约的学生" in html(again)
    assert Termination.objects.count() == 1


def test_the_employer_answers_a_students_termination_through_the_pages(world: World) -> None:
    agreements = {n: pass_it(world, accept(world, invite(world, n), n)) for n in ("黄河", "长江")}
    terminations = {
        n: do_apply_termination(a, "student", "考研", pin=PIN, actor=world.users[n], meta=TASK)
        for n, a in agreements.items()
    }
    client = acting(world.hr1, world.employer)
    home = html(client.get(reverse("employment:employer-home")))
    assert re.search(r'data-testid="todo-terminations"><strong>2<', home)
    waiting = html(client.get(reverse("employment:employer-terminations")))
    assert waiting.count('data-testid="waiting-row"') == 2 and "查看解约申请" in waiting
    url = reverse("employment:employer-termination", args=[terminations["黄河"].uuid])
    page = html(client.get(url))
    assert "解约须知" in page and "考研" in page
    seal = str(seal_of(world.employer).uuid)
    no_notice = client.post(url, {"op": "agree", "seal": seal, "pin": PIN})
    assert no_notice.status_code == 400
    response = client.post(url, {"op": "agree", "notice": "on", "seal": seal, "pin": PIN})
    assert response.status_code == 302
    agreed = Termination.objects.get(pk=terminations["黄河"].pk)
    assert agreed.status == Termination.Status.AGREED and agreed.answered_by == world.hr1
    step = agreed.letter.recipients.get(routing_order=2)  # type: ignore[union-attr]
    assert step.status == Recipient.Status.DONE and step.seal == seal_of(world.employer)
    # answered: view-only now
    assert client.post(url, {"op": "refuse", "reason": "x"}).status_code == 302
    assert Termination.objects.get(pk=agreed.pk).status == Termination.Status.AGREED
    other = reverse("employment:employer-termination", args=[terminations["长江"].uuid])
    no_reason = client.post(other, {"op": "refuse", "reason": ""})
    assert no_reason.status_code == 400
    client.post(other, {"op": "refuse", "reason": "项目需要，请按期入职"})
    refused = Termination.objects.get(pk=terminations["长江"].pk)
    assert refused.status == Termination.Status.REFUSED
    assert refused.decision_reason == "项目需要，请按期入职"
    assert Agreement.objects.get(pk=agreements["长江"].pk).status == Agreement.Status.PASSED
