"""What the school's agreement page shows: the sections of the agreement as label/value rows
(the manual's 学生信息, 单位信息, 签约信息, 档案信息, 户口信息), the uploaded files, the
terminations, the 签约过程记录, and what the viewer needs to decide (their seals of the
school, whether they can confirm with a 签署密码)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from qianshu.accounts.models import User
from qianshu.employment.actions.agreements import SCHOOL_COMPLETES
from qianshu.employment.models import Agreement, Termination
from qianshu.envelopes import confirmations
from qianshu.orgs.access import usable_seals
from qianshu.orgs.people import IDENTITY

Status = Agreement.Status

TERMS = (
    ("position", gettext_lazy("拟聘职位")),
    ("contract_term", gettext_lazy("合同期限")),
    ("salary", gettext_lazy("薪酬")),
    ("probation", gettext_lazy("试用期")),
    ("work_place", gettext_lazy("工作地点")),
    ("other_terms", gettext_lazy("其他约定")),
)
EMPLOYER = (
    ("name", gettext_lazy("单位名称")),
    ("credit_code", gettext_lazy("统一社会信用代码")),
    ("nature", gettext_lazy("单位性质")),
    ("industry", gettext_lazy("单位行业")),
    ("location", gettext_lazy("单位所在地")),
    ("address", gettext_lazy("单位地址")),
    ("contact", gettext_lazy("联系人")),
    ("contact_phone", gettext_lazy("联系电话")),
)
ARCHIVE = (
    ("unit", gettext_lazy("档案接收单位")),
    ("address", gettext_lazy("档案接收地址")),
    ("postcode", gettext_lazy("邮政编码")),
    ("contact", gettext_lazy("联系人")),
    ("phone", gettext_lazy("联系电话")),
)
HUKOU = (
    ("address", gettext_lazy("户口迁移地址")),
    ("unit", gettext_lazy("户口接收单位")),
)
#: 单位信息 the school must fill in before 签约鉴证通过 (单位地址 is optional).
REQUIRED_COMPLETES = ("nature", "industry", "location")


def _rows(values: dict[str, Any], labels: tuple[tuple[str, Any], ...]) -> list[tuple[str, str]]:
    return [(str(label), str(values.get(key) or "")) for key, label in labels]


def student_rows(agreement: Agreement) -> list[tuple[str, str]]:
    student = agreement.student
    return [
        (_("学号"), student.student_no),
        (_("姓名"), student.name),
        (_("身份证号"), student.id_number_masked),
        (_("所在院系"), student.college.name),
        (_("所在专业"), student.major),
        (_("所在班级"), student.class_name),
        (_("毕业届"), _("%(year)d届") % {"year": student.year}),
        (_("手机号"), student.phone),
    ]


def employer_fields(agreement: Agreement, typed: dict[str, str]) -> list[dict[str, Any]]:
    """单位信息 rows; the ones the school may complete carry ``complete`` (and ``required``)
    while they are empty, with what the viewer ``typed`` there before."""
    info = {**agreement.employer_info, "name": agreement.employer_name}
    online_waiting = agreement.mode == Agreement.Mode.ONLINE and agreement.status == Status.ACCEPTED
    return [
        {
            "key": key,
            "label": str(label),
            "value": str(info.get(key) or ""),
            "complete": online_waiting and key in SCHOOL_COMPLETES and not info.get(key),
            "required": key in REQUIRED_COMPLETES,
            "typed": typed.get(key, ""),
        }
        for key, label in EMPLOYER
    ]


def _when(value: dt.datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _signing_rows(agreement: Agreement) -> list[tuple[str, str]]:
    rows = [
        (_("协议书编号"), agreement.number),
        (_("签约方式"), str(agreement.get_mode_display())),
        (_("鉴证状态"), str(agreement.get_status_display())),
        *_rows(agreement.terms, TERMS),
    ]
    if agreement.answered_at:
        rows.append((_("应约时间"), _when(agreement.answered_at)))
    if agreement.decided_at:
        rows.append((_("鉴证时间"), _when(agreement.decided_at)))
    if agreement.reason and agreement.status not in (Status.PASSED, Status.ACCEPTED):
        rows.append((_("原因"), agreement.reason))
    return rows


def decisions(agreement: Agreement, termination: Termination | None) -> dict[str, bool]:
    """Which decisions the page offers in the agreement's state."""
    online = agreement.mode == Agreement.Mode.ONLINE
    return {
        "can_pass": online and agreement.status == Status.ACCEPTED,
        "can_review": agreement.status == Status.PAPER_REVIEW,
        "can_decide_paper": agreement.status == Status.PAPER_WAITING,
        "can_decide_termination": termination is not None,
        "termination_online": termination is not None and termination.letter_id is not None,
    }


def _needs_seal(flags: dict[str, bool]) -> bool:
    return flags["can_pass"] or (flags["can_decide_termination"] and flags["termination_online"])


def detail_context(
    agreement: Agreement, termination: Termination | None, user: User, posted: dict[str, str]
) -> dict[str, Any]:
    """The page's context; ``posted``: what the viewer sent before a refusal (kept)."""
    flags = decisions(agreement, termination)
    employer = employer_fields(agreement, posted)
    seals = (
        list(usable_seals(user, agreement.student.school.org).order_by("pk"))
        if _needs_seal(flags)
        else []
    )
    return {
        "agreement": agreement,
        "termination": termination,
        "student_rows": student_rows(agreement),
        "employer_fields": employer,
        "employer_missing": any(f["complete"] and f["required"] for f in employer),
        "signing_rows": _signing_rows(agreement),
        "archive_rows": _rows(agreement.archive, ARCHIVE),
        "hukou_rows": _rows(agreement.hukou, HUKOU),
        "feedback": list(agreement.feedback.order_by("created_at", "sha256")),
        "terminations": list(
            agreement.terminations.select_related("proof", "letter").order_by("-applied_at")
        ),
        "events": list(agreement.events.select_related("actor", f"actor__{IDENTITY}")),
        "seals": seals,
        "school_org": agreement.student.school.org,
        "needs_code": confirmations.needs_code(user),
        "pin_locked_until": confirmations.pin_locked_until(user),
        "posted": posted,
        **flags,
    }
