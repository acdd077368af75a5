"""Demo data of the employment agreements for a local start (``make run``, development only).

After ``demo-envelopes``: alice (王爱丽) is the legal representative and administrator of a demo
school, 示例大学, verified like any organisation and marked as a school by the demo operator,
with a 公章 granted to her; its 2026届 roster (imported from the roster spreadsheet) lists bob
(李博文, who passes 信息验证) and a few classmates; charlie's 示例科技有限公司 asks the school
for approval, is approved and confirms its 签约信息 — so charlie can find bob by the four items
and invite him, bob can accept, and alice can verify, all in the browser.
"""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from openpyxl import load_workbook

from qianshu.accounts.management.commands.demo_data import OPERATOR_PHONE
from qianshu.accounts.models import User
from qianshu.employment import roster
from qianshu.employment.actions import employers, schools, students
from qianshu.employment.models import School
from qianshu.envelopes.management.commands.demo_envelopes import (
    ORG_NAME,
    PEOPLE,
    organisation_with_seal,
    resident_id,
)
from qianshu.orgs.models import Organization, Seal

SCHOOL_NAME = "示例大学"
SCHOOL_CODE_BODY = "12110000MB0D2E3F4"
YEAR = 2026
CLASSMATES = (("20260002", "赵一", "11010120040101", "13900002002"),)


def _roster(bob: User) -> bytes:
    first14 = PEOPLE[bob.phone][1]
    rows = [("20260001", PEOPLE[bob.phone][0], resident_id(first14, "002"), bob.phone)]
    rows += [(no, name, resident_id(f14, "011"), phone) for no, name, f14, phone in CLASSMATES]
    book = load_workbook(io.BytesIO(roster.workbook(YEAR)))
    sheet = book.active
    assert sheet is not None
    sheet.delete_rows(2)
    for no, name, number, phone in rows:
        sheet.append([no, name, number, phone, "计算机学院", "软件工程", "软件1班"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


class Command(BaseCommand):
    help = "Create a demo school with a roster and an approved demo employer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-absent", action="store_true", help="do nothing if the demo school exists"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo data is for development only (QIANSHU_DEBUG=1)")
        people = {u.phone: u for u in User.objects.filter(phone__in=PEOPLE)}
        employer = Organization.objects.filter(name=ORG_NAME, status="verified").first()
        if len(people) != len(PEOPLE) or employer is None:
            raise CommandError("run `qianshu demo-envelopes` first")
        alice, bob, charlie = (people[p] for p in PEOPLE)
        if School.objects.filter(org__name=SCHOOL_NAME).exists():
            if not options["if_absent"]:
                self.stdout.write("the demo school already exists")
        else:
            operator = User.objects.get(phone=OPERATOR_PHONE)
            with transaction.atomic():
                org, _seal = organisation_with_seal(
                    alice,
                    SCHOOL_NAME,
                    code_body=SCHOOL_CODE_BODY,
                    kind=Organization.Kind.INSTITUTION,
                    seal_kind=Seal.Kind.OFFICIAL,
                )
                school = schools.do_mark_school(org, actor=operator)
                schools.do_import_roster(school, YEAR, _roster(bob), actor=alice)
                students.do_verify_student(actor=bob)
                employers.do_confirm_profile(
                    employer,
                    basic={"nature": "民营企业", "industry": "信息技术", "location": "北京市"},
                    archive={"unit": f"{ORG_NAME}人力资源部", "address": "北京市海淀区"},
                    hukou={"address": "北京市海淀区"},
                    actor=charlie,
                )
                employers.do_request_approval(school, employer, actor=charlie)
                employers.do_decide_employer(school, employer, approve=True, actor=alice)
        self.stdout.write(
            f"\nEmployment demo: {ORG_NAME} (charlie, 13800000003) may invite 李博文 — "
            f"{SCHOOL_NAME}, {YEAR}届, phone 13800000002 — at {settings.PUBLIC_URL}/employment/ "
            f"(switch to the organisation first); bob accepts; alice (13800000001), acting for "
            f"{SCHOOL_NAME}, verifies (鉴证). Same signing PIN.\n"
        )
