"""The people of the employment scenario in the browser (seed 003) and its spreadsheets.

- an operator (运营后台) who marks 江城理工大学 as a school;
- 江城理工大学: its 学校管理员 郑校办 holds the school's 公章 (the 鉴证 seal);
- 星光集团 (王人事, 合同专用章) and 楚天科技 (李人事, 合同专用章): employers;
- five verified students with a signing PIN and a saved signature — A 黄河, B 长江, C 汉水,
  D 珠江, E 淮河 — and fifteen classmates who are only rows of the roster.

Nothing here is marked, imported or approved: the scenario does that through the pages.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.utils import timezone
from openpyxl import load_workbook

from qianshu.accounts.models import User
from qianshu.core.meta import TASK
from qianshu.employment.actions import agreements as agreement_actions
from qianshu.employment.actions import employers as employer_actions
from qianshu.employment.actions.agreements import Letter
from qianshu.employment.models import Agreement, RosterEntry, School
from qianshu.orgs.models import Organization, Seal
from tests.browser import scenario
from tests.support.accounts import make_user
from tests.support.personas import PIN, resident_id, seal_of

SCHOOL = "江城理工大学"
EMPLOYER = "星光集团"
EMPLOYER2 = "楚天科技"
#: The 届 graduating next summer (the import page offers this year's and next year's).
YEAR = timezone.localdate().year + 1
POSITION = "软件工程师"
COMPUTING = "计算机学院"
#: The five who act: (letter, name, phone, 学号).
STUDENTS = [
    ("A", "黄河", "13900040001", f"{YEAR}0001"),
    ("B", "长江", "13900040002", f"{YEAR}0002"),
    ("C", "汉水", "13900040003", f"{YEAR}0003"),
    ("D", "珠江", "13900040004", f"{YEAR}0004"),
    ("E", "淮河", "13900040005", f"{YEAR}0005"),
]
ROSTER_SIZE = 20
ROSTER_HEADER = ["学号", "姓名", "身份证号", "手机号", "学院", "专业", "班级"]
CANDIDATE_HEADER = ["毕业学校", "毕业届", "姓名", "身份证号或手机号", "拟聘职位"]


@dataclass
class World:
    operator: User
    school_admin: User
    school_org: Organization
    hr1: User
    employer: Organization
    hr2: User
    employer2: Organization
    students: dict[str, User]  # by letter

    def name(self, letter: str) -> str:
        return next(name for code, name, *_rest in STUDENTS if code == letter)

    def entry(self, letter: str) -> RosterEntry:
        return RosterEntry.objects.get(school__org=self.school_org, name=self.name(letter))


def make_world() -> World:
    operator = make_user("operator", phone="13900040100", is_staff=True)
    school_admin = scenario.person("郑校办", "13900040101")
    school_org = scenario.organisation(
        school_admin,
        SCHOOL,
        seals=[(Seal.Kind.OFFICIAL, school_admin)],
        kind=Organization.Kind.INSTITUTION,
    )
    hr1 = scenario.person("王人事", "13900040102")
    employer = scenario.organisation(hr1, EMPLOYER, seals=[(Seal.Kind.CONTRACT, hr1)])
    hr2 = scenario.person("李人事", "13900040103")
    employer2 = scenario.organisation(hr2, EMPLOYER2, seals=[(Seal.Kind.CONTRACT, hr2)])
    students = {letter: scenario.person(name, phone) for letter, name, phone, _no in STUDENTS}
    return World(operator, school_admin, school_org, hr1, employer, hr2, employer2, students)


def roster_rows(w: World) -> list[list[str]]:
    """The 20 rows of the roster: the five who act (their verified ID numbers), then fifteen
    classmates of other colleges."""
    rows = []
    for letter, name, phone, number in STUDENTS:
        identity = w.students[letter].person_identity
        rows.append([number, name, identity.id_number(), phone, COMPUTING, "软件工程", "软件3班"])
    surnames, given = "张刘杨周吴徐孙马胡", "伟芳娜敏静丽强磊洋"
    for i in range(ROSTER_SIZE - len(STUDENTS)):
        rows.append(
            [
                f"{YEAR}{100 + i:04d}",
                f"{surnames[i % 9]}{given[(i * 4) % 9]}{given[i % 9]}",
                resident_id(900 + i),
                f"139000411{i:02d}",
                ["外国语学院", "材料学院", "经济学院"][i % 3],
                "",
                "",
            ]
        )
    return rows


def filled(blank: bytes, header: list[str], rows: list[list[str]]) -> bytes:
    """A downloaded template (header checked) filled from row 3 on (row 2 is its example)."""
    book = load_workbook(io.BytesIO(blank))
    sheet = book.active
    assert sheet is not None
    assert [c.value for c in sheet[1]][: len(header)] == header
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- what the scenario does through actions (other employers, A's second agreement) ------------


def approve_employer2(w: World) -> None:
    """楚天科技: 签约信息 confirmed and approved by the school (as 星光集团 did in the pages)."""
    school = School.objects.get(org=w.school_org)
    employer_actions.do_confirm_profile(
        w.employer2,
        basic={"nature": "民营企业", "industry": "信息传输、软件和信息技术服务业",
               "location": "湖北省武汉市"},
        archive={"unit": "武汉人才服务中心", "address": "武汉市江汉区新华路 1 号"},
        hukou={"address": "武汉市江汉区"},
        actor=w.hr2,
    )  # fmt: skip
    employer_actions.do_request_approval(school, w.employer2, actor=w.hr2)
    employer_actions.do_decide_employer(school, w.employer2, approve=True, actor=w.school_admin)


def invite_from_employer2(w: World, letters: list[str]) -> list[Agreement]:
    """楚天科技 puts the students on its 签约发送列表 and invites them (sealed with its contract
    seal and PIN)."""
    students = [w.entry(code) for code in letters]
    employer_actions.do_add_candidates(w.employer2, students, actor=w.hr2)
    letter = Letter(terms={"position": "测试工程师", "contract_term": "3年", "salary": "9000元/月"})
    sent = agreement_actions.do_send_invitations(
        w.employer2,
        students,
        letter,
        seal_uuid=str(seal_of(w.employer2).uuid),
        pin=PIN,
        actor=w.hr2,
        meta=TASK,
    )
    assert all(s.agreement is not None for s in sent), [s.problem for s in sent]
    return [s.agreement for s in sent if s.agreement is not None]


def sign_again_elsewhere(w: World, agreement: Agreement) -> None:
    """A accepts 楚天科技's invitation after the termination and the school passes it."""
    agreement.refresh_from_db()
    agreement_actions.do_accept_invitation(agreement, pin=PIN, actor=w.students["A"], meta=TASK)
    agreement_actions.do_pass_agreement(
        agreement,
        employer_info={},
        seal_uuid=str(seal_of(w.school_org).uuid),
        pin=PIN,
        actor=w.school_admin,
        meta=TASK,
    )
