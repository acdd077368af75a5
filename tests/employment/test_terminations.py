"""解约: apply, answer, 解约鉴证 — online with the 解约函 envelope, on paper with a proof — and
the one-termination rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import TestCase

from qianshu.core.meta import TASK
from qianshu.employment.actions import terminations as actions
from qianshu.employment.errors import EmploymentError, WrongState
from qianshu.employment.models import Agreement, EmploymentRecord, RosterEntry, Termination
from qianshu.envelopes.models import Envelope, Recipient
from tests.employment.test_agreements import accept, invite, pass_it
from tests.employment.world import World
from tests.support.personas import PIN

pytestmark = pytest.mark.django_db


def in_force(world: World, name: str = "黄河", employer: str = "employer") -> Agreement:
    return pass_it(world, accept(world, invite(world, name, employer), name))


def employer_applies(world: World, agreement: Agreement) -> Termination:
    return actions.do_apply_termination(
        agreement,
        "employer",
        "岗位调整",
        pin=PIN,
        seal_uuid=world.seal_uuid(world.employer),
        actor=world.hr1,
        meta=TASK,
    )


def student_agrees(world: World, termination: Termination, name: str = "黄河") -> Termination:
    return actions.do_answer_termination(
        termination, agree=True, pin=PIN, actor=world.users[name], meta=TASK
    )


def school_decides(world: World, termination: Termination, passed: bool) -> Termination:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return actions.do_decide_termination(
            termination,
            passed=passed,
            reason="" if passed else "双方材料不一致",
            pin=PIN,
            seal_uuid=world.seal_uuid(world.school.org),
            actor=world.school_admin,
            meta=TASK,
        )


@pytest.mark.django_db(transaction=True)  # the verifiers read the database from a thread
def test_a_termination_passed_by_the_school_ends_the_agreement_once(
    world: World, tmp_path: Path
) -> None:
    from tests.browser.scenario import check_final_pdf

    agreement = in_force(world)
    termination = employer_applies(world, agreement)
    assert termination.status == Termination.Status.APPLIED
    assert termination.letter is not None and termination.letter.kind == Envelope.Kind.MANAGED
    assert termination.letter.recipients.get(routing_order=1).status == Recipient.Status.DONE
    agreed = student_agrees(world, termination)
    assert agreed.status == Termination.Status.AGREED
    done = school_decides(world, agreed, passed=True)
    assert done.status == Termination.Status.PASSED
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.TERMINATED
    assert EmploymentRecord.objects.get(agreement=agreement).ended_at is not None
    assert RosterEntry.objects.get(pk=world.students["黄河"].pk).status == "terminated"
    letter = Envelope.objects.get(pk=done.letter_id)
    assert letter.status == Envelope.Status.COMPLETED
    report = check_final_pdf(letter.documents.get().current.read(), tmp_path)
    signed = [s for s in report.signatures if s.kind == "signature"]
    assert {s.organisation for s in signed if s.organisation} >= {"星光集团", "江城理工大学"}
    assert "黄河" in [s.signer_name for s in signed if not s.organisation]
    # the student signs again with another employer …
    second = in_force(world, "黄河", "employer2")
    # … and 解约机会仅有一次
    with pytest.raises(EmploymentError, match="仅有一次"):
        actions.do_apply_termination(
            second, "student", "个人原因", pin=PIN, actor=world.users["黄河"], meta=TASK
        )


def test_a_refused_or_failed_termination_leaves_the_agreement_in_force(world: World) -> None:
    agreement = in_force(world)
    refused = actions.do_answer_termination(
        employer_applies(world, agreement),
        agree=False,
        reason="不同意",
        actor=world.users["黄河"],
        meta=TASK,
    )
    assert refused.status == Termination.Status.REFUSED
    assert Envelope.objects.get(pk=refused.letter_id).status == Envelope.Status.REJECTED
    failed = school_decides(world, student_agrees(world, employer_applies(world, agreement)), False)
    assert failed.status == Termination.Status.FAILED
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.PASSED
    # either party may apply again
    again = actions.do_apply_termination(
        agreement, "student", "个人原因", pin=PIN, actor=world.users["黄河"], meta=TASK
    )
    assert again.status == Termination.Status.APPLIED


def test_one_termination_under_way_per_agreement(world: World) -> None:
    agreement = in_force(world)
    employer_applies(world, agreement)
    with pytest.raises(WrongState, match="正在办理"):
        actions.do_apply_termination(
            agreement, "student", "个人原因", pin=PIN, actor=world.users["黄河"], meta=TASK
        )


def test_only_an_agreement_in_force_can_be_terminated(world: World) -> None:
    accepted = accept(world, invite(world, "黄河"), "黄河")
    with pytest.raises(WrongState, match="签约鉴证"):
        actions.do_apply_termination(
            accepted, "student", "个人原因", pin=PIN, actor=world.users["黄河"], meta=TASK
        )


@pytest.mark.parametrize("who", ["长江", "hr2", "school_admin"])
def test_wrong_parties_are_refused(world: World, who: str) -> None:
    agreement = in_force(world)
    actor = world.users.get(who) or getattr(world, who)
    with pytest.raises(EmploymentError):
        actions.do_apply_termination(agreement, "student", "x", pin=PIN, actor=actor, meta=TASK)
    with pytest.raises(EmploymentError):
        actions.do_apply_termination(
            agreement,
            "employer",
            "x",
            pin=PIN,
            seal_uuid=world.seal_uuid(world.employer),
            actor=actor,
            meta=TASK,
        )
    termination = employer_applies(world, agreement)
    with pytest.raises(EmploymentError):  # only the student answers the employer's application
        actions.do_answer_termination(termination, agree=True, pin=PIN, actor=actor, meta=TASK)
    with pytest.raises(EmploymentError):  # the applicant does not answer itself
        actions.do_answer_termination(termination, agree=True, pin=PIN, actor=world.hr1, meta=TASK)


def test_the_school_decides_only_an_agreed_termination(world: World) -> None:
    termination = employer_applies(world, in_force(world))
    with pytest.raises(WrongState):
        school_decides(world, termination, passed=True)
    with pytest.raises(EmploymentError, match="管理员"):
        actions.do_decide_termination(
            student_agrees(world, termination),
            passed=False,
            reason="x",
            actor=world.school_b_admin,
            meta=TASK,
        )
