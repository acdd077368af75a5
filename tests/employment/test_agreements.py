"""线上签约: invitations, answers, expiry and 鉴证 — every transition, every refused one, and
the managed envelope that carries the signatures."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.test import TestCase
from django.utils import timezone

from qianshu.core.meta import TASK
from qianshu.employment.actions import agreements as actions
from qianshu.employment.actions import employers as employer_actions
from qianshu.employment.actions.agreements import Letter
from qianshu.employment.errors import EmploymentError, WrongState
from qianshu.employment.models import Agreement, EmploymentRecord, RosterEntry
from qianshu.envelopes.actions import lifecycle
from qianshu.envelopes.actions import turns as turn_actions
from qianshu.envelopes.errors import EnvelopeError
from qianshu.envelopes.models import Envelope, Recipient
from qianshu.envelopes.tasks import run_timers
from qianshu.envelopes.turns import SignRequest, StagedField
from qianshu.notifications.models import OutboxMessage
from tests.employment.world import World
from tests.support.personas import PIN

pytestmark = pytest.mark.django_db

LETTER = Letter(
    terms={
        "position": "软件工程师",
        "contract_term": "三年",
        "salary": "月薪 12000 元",
        "work_place": "武汉",
        "probation": "三个月",
        "other_terms": "提供员工宿舍。",
    },
    archive={"unit": "星光集团人力资源部", "address": "武汉市光谷大道 1 号"},
    hukou={"address": "武汉市东湖高新区"},
)


def invite(world: World, name: str, employer: str = "employer") -> Agreement:
    org = getattr(world, employer)
    hr = world.hr1 if employer == "employer" else world.hr2
    employer_actions.do_add_candidates(org, [world.students[name]], actor=hr)
    [sent] = actions.do_send_invitations(
        org,
        [world.students[name]],
        LETTER,
        seal_uuid=world.seal_uuid(org),
        pin=PIN,
        actor=hr,
        meta=TASK,
    )
    assert sent.agreement is not None, sent.problem
    return sent.agreement


def accept(world: World, agreement: Agreement, name: str) -> Agreement:
    return actions.do_accept_invitation(agreement, pin=PIN, actor=world.users[name], meta=TASK)


def pass_it(world: World, agreement: Agreement) -> Agreement:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return actions.do_pass_agreement(
            agreement,
            employer_info={},
            seal_uuid=world.seal_uuid(world.school.org),
            pin=PIN,
            actor=world.school_admin,
            meta=TASK,
        )


def test_an_invitation_is_a_managed_envelope_sealed_by_the_employer(world: World) -> None:
    agreement = invite(world, "黄河")
    assert agreement.status == Agreement.Status.INVITED
    assert agreement.deadline is not None
    assert agreement.deadline - timezone.now() > dt.timedelta(days=4, hours=23)
    envelope = agreement.envelope
    assert envelope is not None and envelope.kind == Envelope.Kind.MANAGED
    steps = list(envelope.recipients.order_by("routing_order"))
    assert [s.status for s in steps] == [
        Recipient.Status.DONE,
        Recipient.Status.PENDING,
        Recipient.Status.WAITING,
    ]
    assert steps[0].org == world.employer and steps[2].org == world.school.org
    # the student is told (SMS to the verified account's phone), not by the envelopes app
    sms = OutboxMessage.objects.filter(recipient=world.users["黄河"].phone)
    assert [m.kind for m in sms] == ["employment_invitation"]
    assert agreement.events.filter(action="invited").exists()


def test_only_students_on_the_send_list_can_be_invited(world: World) -> None:
    """The attack: an employer posts the roster id of a student it never found."""
    with pytest.raises(EmploymentError, match="签约发送列表"):
        actions.do_send_invitations(
            world.employer,
            [world.students["黄河"]],
            LETTER,
            seal_uuid=world.seal_uuid(world.employer),
            pin=PIN,
            actor=world.hr1,
            meta=TASK,
        )
    assert not Agreement.objects.exists()


def test_a_wrong_pin_sends_nothing(world: World) -> None:
    from qianshu.envelopes.errors import ConfirmationError

    employer_actions.do_add_candidates(world.employer, [world.students["黄河"]], actor=world.hr1)

    with pytest.raises(ConfirmationError):
        actions.do_send_invitations(
            world.employer,
            [world.students["黄河"]],
            LETTER,
            seal_uuid=world.seal_uuid(world.employer),
            pin="000000",
            actor=world.hr1,
            meta=TASK,
        )
    assert not Agreement.objects.exists() and not Envelope.objects.exists()


def test_one_open_invitation_per_employer_and_student(world: World) -> None:
    first = invite(world, "黄河")
    [again] = actions.do_send_invitations(
        world.employer,
        [world.students["黄河"]],
        LETTER,
        seal_uuid=world.seal_uuid(world.employer),
        pin=PIN,
        actor=world.hr1,
        meta=TASK,
    )
    assert again.agreement is None and "不能重复邀约" in again.problem
    # another employer may invite the same student
    invite(world, "黄河", "employer2")
    # rejected: the first employer may invite again
    actions.do_reject_invitation(first, "已有其他选择", actor=world.users["黄河"], meta=TASK)
    first.refresh_from_db()
    assert first.status == Agreement.Status.REJECTED
    assert first.envelope is not None
    assert first.envelope.status == Envelope.Status.REJECTED
    assert invite(world, "黄河").status == Agreement.Status.INVITED


def test_accepting_binds_the_student_and_the_others_become_view_only(world: World) -> None:
    mine = invite(world, "黄河")
    other = invite(world, "黄河", "employer2")
    accepted = accept(world, mine, "黄河")
    assert accepted.status == Agreement.Status.ACCEPTED
    assert accepted.envelope is not None
    student_step = accepted.envelope.recipients.get(routing_order=2)
    assert student_step.status == Recipient.Status.DONE
    assert RosterEntry.objects.get(pk=world.students["黄河"].pk).status == "signing"
    with pytest.raises(WrongState, match="已与其他单位签约"):
        accept(world, other, "黄河")
    other.refresh_from_db()
    assert other.status == Agreement.Status.INVITED  # still there, view-only
    employer_sms = OutboxMessage.objects.filter(
        recipient=world.hr1.phone, kind="employment_answered"
    )
    assert employer_sms.count() == 1


@pytest.mark.parametrize("who", ["长江", "hr1", "school_admin"])
def test_only_the_invited_student_answers(world: World, who: str) -> None:
    agreement = invite(world, "黄河")
    actor = world.users.get(who) or getattr(world, who)
    with pytest.raises(EmploymentError, match="本人"):
        actions.do_accept_invitation(agreement, pin=PIN, actor=actor, meta=TASK)
    with pytest.raises(EmploymentError, match="本人"):
        actions.do_reject_invitation(agreement, "", actor=actor, meta=TASK)


def test_the_managed_envelope_cannot_be_moved_from_the_envelope_pages(world: World) -> None:
    """The attack: the student signs the agreement's envelope from 待我签署 (or the batch,
    or 退回/撤回) to skip the one-agreement rule and the school's 鉴证."""
    from qianshu.envelopes.actions import returns

    agreement = invite(world, "黄河")
    assert agreement.envelope is not None
    step = agreement.envelope.recipients.get(routing_order=2)
    seen = {d.pk: str(d.current_id) for d in agreement.envelope.documents.all()}
    request = SignRequest(
        key="direct", seen=seen, fields=[StagedField(field_id=f.pk) for f in step.fields.all()]
    )
    with pytest.raises(EnvelopeError, match="业务页面"):
        turn_actions.do_sign(step, request, pin=PIN, actor=world.users["黄河"], meta=TASK)
    with pytest.raises(EnvelopeError, match="业务页面"):
        turn_actions.do_reject(step, "不要", actor=world.users["黄河"], meta=TASK)
    with pytest.raises(EnvelopeError, match="业务页面"):
        returns.do_send_back(step, "退回", actor=world.users["黄河"], meta=TASK)
    with pytest.raises(EnvelopeError, match="业务页面"):
        lifecycle.do_recall(agreement.envelope, actor=world.hr1, meta=TASK)
    step.refresh_from_db()
    assert step.status == Recipient.Status.PENDING


def test_an_unanswered_invitation_expires_with_the_timers(world: World) -> None:
    agreement = invite(world, "黄河")
    Agreement.objects.filter(pk=agreement.pk).update(
        deadline=timezone.now() - dt.timedelta(minutes=1)
    )
    with pytest.raises(WrongState, match="反馈期限"):
        accept(world, Agreement.objects.get(pk=agreement.pk), "黄河")
    assert run_timers()["invitations_expired"] == 1
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.EXPIRED
    assert agreement.envelope is not None
    assert agreement.envelope.status == Envelope.Status.EXPIRED
    assert invite(world, "黄河").status == Agreement.Status.INVITED  # may invite again


@pytest.mark.django_db(transaction=True)  # the verifiers read the database from a thread
def test_the_school_passes_the_final_pdf_is_valid_and_employment_is_recorded(
    world: World, tmp_path: Path
) -> None:
    from tests.browser.scenario import check_final_pdf

    agreement = accept(world, invite(world, "黄河"), "黄河")
    passed = pass_it(world, agreement)
    assert passed.status == Agreement.Status.PASSED
    assert passed.employer_info["nature"] == "国有企业"
    record = EmploymentRecord.objects.get(agreement=passed)
    assert record.employer_name == "星光集团" and record.position == "软件工程师"
    assert RosterEntry.objects.get(pk=world.students["黄河"].pk).status == "signed"
    envelope = Envelope.objects.get(pk=passed.envelope_id)
    assert envelope.status == Envelope.Status.COMPLETED
    report = check_final_pdf(envelope.documents.get().current.read(), tmp_path)
    signed = [s for s in report.signatures if s.kind == "signature"]
    assert {s.organisation for s in signed if s.organisation} >= {"星光集团", "江城理工大学"}
    assert "黄河" in [s.signer_name for s in signed if not s.organisation]


def test_the_school_completes_missing_employer_details(world: World) -> None:
    agreement = accept(world, invite(world, "黄河"), "黄河")
    info = dict(agreement.employer_info)
    info.pop("industry")
    Agreement.objects.filter(pk=agreement.pk).update(employer_info=info)
    agreement.refresh_from_db()
    with pytest.raises(EmploymentError, match="单位行业"):
        actions.do_pass_agreement(
            agreement,
            employer_info={},
            seal_uuid=world.seal_uuid(world.school.org),
            pin=PIN,
            actor=world.school_admin,
            meta=TASK,
        )
    with TestCase.captureOnCommitCallbacks(execute=True):
        done = actions.do_pass_agreement(
            agreement,
            employer_info={"industry": "信息技术", "nature": "民营企业"},
            seal_uuid=world.seal_uuid(world.school.org),
            pin=PIN,
            actor=world.school_admin,
            meta=TASK,
        )
    # filled where missing only: the employer's own 单位性质 stays
    assert done.employer_info["industry"] == "信息技术"
    assert done.employer_info["nature"] == "国有企业"


def test_the_school_fails_with_a_reason_and_the_student_is_free(world: World) -> None:
    agreement = accept(world, invite(world, "黄河"), "黄河")
    with pytest.raises(EmploymentError, match="原因"):
        actions.do_fail_agreement(agreement, " ", actor=world.school_admin, meta=TASK)
    failed = actions.do_fail_agreement(
        agreement, "岗位信息不完整", actor=world.school_admin, meta=TASK
    )
    assert failed.status == Agreement.Status.FAILED and failed.reason == "岗位信息不完整"
    assert Envelope.objects.get(pk=failed.envelope_id).status == Envelope.Status.REJECTED
    assert RosterEntry.objects.get(pk=world.students["黄河"].pk).status == "unsigned"
    # free again: another employer's invitation can be accepted
    assert accept(world, invite(world, "黄河", "employer2"), "黄河").status == "accepted"


@pytest.mark.parametrize("who", ["college_admin_other", "school_b_admin", "hr1", "黄河"])
def test_only_the_students_school_or_college_decides(world: World, who: str) -> None:
    agreement = accept(world, invite(world, "汉水"), "汉水")  # 外国语学院
    actor = {
        "college_admin_other": world.college_admin,  # 计算机学院's administrator
        "school_b_admin": world.school_b_admin,
        "hr1": world.hr1,
        "黄河": world.users["黄河"],
    }[who]
    with pytest.raises(EmploymentError, match="管理员"):
        actions.do_fail_agreement(agreement, "x", actor=actor, meta=TASK)
    with pytest.raises(EmploymentError, match="管理员"):
        actions.do_pass_agreement(
            agreement,
            employer_info={},
            seal_uuid=world.seal_uuid(world.school.org),
            pin=PIN,
            actor=actor,
            meta=TASK,
        )


def test_a_college_admin_decides_for_its_own_college(world: World) -> None:
    agreement = accept(world, invite(world, "长江"), "长江")  # 计算机学院
    failed = actions.do_fail_agreement(agreement, "材料不全", actor=world.college_admin, meta=TASK)
    assert failed.status == Agreement.Status.FAILED


def test_decisions_need_the_right_state(world: World) -> None:
    agreement = invite(world, "黄河")
    with pytest.raises(WrongState):
        actions.do_fail_agreement(agreement, "x", actor=world.school_admin, meta=TASK)
    accepted = accept(world, agreement, "黄河")
    with pytest.raises(WrongState):
        actions.do_reject_invitation(accepted, "", actor=world.users["黄河"], meta=TASK)
    pass_it(world, accepted)
    with pytest.raises(WrongState):
        actions.do_fail_agreement(accepted, "x", actor=world.school_admin, meta=TASK)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_acceptances_at_once_bind_one(world: World) -> None:
    """同意 in two browser tabs at the same moment, for two employers' invitations."""
    import threading

    from django.db import connection

    first, second = invite(world, "黄河"), invite(world, "黄河", "employer2")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run(agreement: Agreement) -> None:
        try:
            barrier.wait(timeout=30)
            accept(world, agreement, "黄河")
            outcomes.append("accepted")
        except WrongState:
            outcomes.append("refused")
        except BaseException as exc:  # anything else fails below
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(a,)) for a in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == ["accepted", "refused"]
    assert Agreement.objects.filter(status=Agreement.Status.ACCEPTED).count() == 1
    signed = Recipient.objects.filter(
        envelope__kind=Envelope.Kind.MANAGED, routing_order=2, status=Recipient.Status.DONE
    )
    assert signed.count() == 1  # the refused one left its envelope unsigned


def test_students_of_any_school_can_be_invited_by_an_approved_employer(world: World) -> None:
    """Employer 2 was approved by school B only; it invites a student of school A."""
    agreement = invite(world, "长江", "employer2")
    assert agreement.student.school == world.school


def test_the_envelope_sign_page_sends_the_student_to_the_employment_pages(world: World) -> None:
    from django.urls import reverse

    from tests.identity.helpers import logged_in

    agreement = invite(world, "黄河")
    assert agreement.envelope is not None
    page = logged_in(world.users["黄河"]).get(
        reverse("envelopes:sign", args=[agreement.envelope.uuid])
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "业务页面" in text and 'data-testid="signing"' not in text
