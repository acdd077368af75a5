"""线下签约: 录入协议书 → 协议书审核 → 反馈协议书 → 签约鉴证, and paper 解约 with a proof."""

from __future__ import annotations

import pytest

from qianshu.core.meta import TASK
from qianshu.employment import papers
from qianshu.employment.actions import paper, terminations
from qianshu.employment.errors import EmploymentError, WrongState
from qianshu.employment.models import Agreement, EmploymentRecord, Termination
from qianshu.storage.actions import do_store_blob
from tests.employment.test_agreements import accept, invite
from tests.employment.world import World

pytestmark = pytest.mark.django_db

TERMS = {"position": "中学教师", "contract_term": "五年", "salary": "面议", "work_place": "宜昌"}
EMPLOYER = {"name": "宜昌市第一中学", "credit_code": "12420500MB1234567X", "nature": "事业单位"}


def draft(world: World, name: str = "黄河", **changes: object) -> Agreement:
    return paper.do_save_paper_draft(
        world.students[name],
        terms={**TERMS, **changes},
        employer=EMPLOYER,
        archive={"unit": "宜昌市教育局"},
        hukou={},
        actor=world.users[name],
    )


def test_the_paper_flow_through_both_reviews(world: World) -> None:
    agreement = draft(world, position="")
    with pytest.raises(EmploymentError, match="拟聘职位"):
        paper.do_submit_paper(agreement, actor=world.users["黄河"])
    agreement = paper.do_save_paper_draft(
        world.students["黄河"],
        terms=TERMS,
        employer=EMPLOYER,
        archive={"unit": "宜昌市教育局"},
        hukou={},
        agreement=agreement,
        actor=world.users["黄河"],
    )
    pdf = papers.agreement_pdf(agreement).pdf  # 预览协议书
    assert pdf.startswith(b"%PDF")
    submitted = paper.do_submit_paper(agreement, actor=world.users["黄河"])
    assert submitted.status == Agreement.Status.PAPER_REVIEW
    with pytest.raises(WrongState):  # no editing while it is reviewed
        paper.do_save_paper_draft(
            world.students["黄河"],
            terms=TERMS,
            employer=EMPLOYER,
            archive={},
            hukou={},
            agreement=submitted,
            actor=world.users["黄河"],
        )
    failed = paper.do_review_paper(
        submitted, passed=False, reason="单位名称有误", actor=world.school_admin
    )
    assert failed.status == Agreement.Status.PAPER_REVIEW_FAILED
    edited = paper.do_save_paper_draft(
        world.students["黄河"],
        terms=TERMS,
        employer={**EMPLOYER, "name": "宜昌市第一高级中学"},
        archive={"unit": "宜昌市教育局"},
        hukou={},
        agreement=failed,
        actor=world.users["黄河"],
    )
    reviewed = paper.do_review_paper(
        paper.do_submit_paper(edited, actor=world.users["黄河"]),
        passed=True,
        actor=world.college_admin,
    )
    assert reviewed.status == Agreement.Status.PAPER_FEEDBACK
    scan = do_store_blob(b"\x89PNG\r\n\x1a\n" + b"0" * 100, content_type="image/png")
    with pytest.raises(EmploymentError, match="上传"):
        paper.do_upload_feedback(reviewed, [], actor=world.users["黄河"])
    waiting = paper.do_upload_feedback(reviewed, [scan], actor=world.users["黄河"])
    assert waiting.status == Agreement.Status.PAPER_WAITING
    back = paper.do_decide_paper(
        waiting, passed=False, reason="盖章不清晰", actor=world.school_admin
    )
    assert back.status == Agreement.Status.PAPER_FEEDBACK  # upload again
    waiting = paper.do_upload_feedback(back, [scan], actor=world.users["黄河"])
    done = paper.do_decide_paper(waiting, passed=True, actor=world.school_admin)
    assert done.status == Agreement.Status.PASSED
    assert EmploymentRecord.objects.get(agreement=done).employer_name == "宜昌市第一高级中学"
    # paper 解约: the reason and the employer's stamped proof, then the school
    termination = terminations.do_apply_paper_termination(
        done, "考取研究生", scan, actor=world.users["黄河"], meta=TASK
    )
    assert termination.status == Termination.Status.AGREED
    decided = terminations.do_decide_termination(
        termination, passed=True, actor=world.school_admin, meta=TASK
    )
    assert decided.status == Termination.Status.PASSED
    done.refresh_from_db()
    assert done.status == Agreement.Status.TERMINATED


def test_a_student_bound_online_cannot_start_a_paper_agreement(world: World) -> None:
    accept(world, invite(world, "黄河"), "黄河")
    with pytest.raises(EmploymentError, match="不能再录入"):
        draft(world)


def test_a_paper_agreement_under_review_binds_the_student(world: World) -> None:
    paper.do_submit_paper(draft(world), actor=world.users["黄河"])
    with pytest.raises(WrongState, match="已与其他单位签约"):
        accept(world, invite(world, "黄河"), "黄河")


def test_only_the_student_enters_and_only_the_school_reviews(world: World) -> None:
    with pytest.raises(EmploymentError, match="本人"):
        paper.do_save_paper_draft(
            world.students["黄河"],
            terms=TERMS,
            employer=EMPLOYER,
            archive={},
            hukou={},
            actor=world.users["长江"],
        )
    submitted = paper.do_submit_paper(draft(world), actor=world.users["黄河"])
    for actor in (world.hr1, world.school_b_admin, world.users["黄河"]):
        with pytest.raises(EmploymentError, match="管理员"):
            paper.do_review_paper(submitted, passed=True, actor=actor)
