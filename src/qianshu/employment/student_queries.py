"""Read-only lookups of the student's pages (学生用户中心, 线上签约, 解约办理, 线下签约).

A student is an account bound to roster entries by 信息验证; the newest 届 is the current
entry and the pages show its agreements.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from qianshu.accounts.models import User
from qianshu.employment.access import student_entries
from qianshu.employment.models import (
    BINDING_STATES,
    Agreement,
    EmploymentRecord,
    RosterEntry,
    School,
    Termination,
)

Status = Agreement.Status
TStatus = Termination.Status

#: Paper agreements the student is still working on (the 线下签约 page shows the newest).
PAPER_OPEN = (
    Status.PAPER_DRAFT,
    Status.PAPER_REVIEW,
    Status.PAPER_REVIEW_FAILED,
    Status.PAPER_FEEDBACK,
    Status.PAPER_WAITING,
    Status.PASSED,
)


def current_entry(user: User) -> RosterEntry | None:
    """The student's current roster entry (the newest 届), or None before 信息验证."""
    return student_entries(user).order_by("-year", "-verified_at", "-pk").first()


def student_no_schools() -> QuerySet[School]:
    """Schools whose students verify by 学号 + 姓名 (+ the account's phone)."""
    return (
        School.objects.filter(check_mode=School.CheckMode.STUDENT_NO)
        .select_related("org")
        .order_by("org__name")
    )


def has_id_number_schools() -> bool:
    return School.objects.filter(check_mode=School.CheckMode.ID_NUMBER).exists()


def _open_invitation() -> Q:
    return Q(status=Status.INVITED) & (Q(deadline__isnull=True) | Q(deadline__gt=timezone.now()))


def open_invitation_count(entry: RosterEntry) -> int:
    """已收邀约: invitations the student can still answer."""
    return Agreement.objects.filter(_open_invitation(), student=entry).count()


def termination_todo_count(entry: RosterEntry) -> int:
    """解约待办: the employer's applications waiting for the student's answer."""
    return Termination.objects.filter(
        student=entry, side=Termination.Side.EMPLOYER, status=TStatus.APPLIED
    ).count()


def current_record(entry: RosterEntry) -> EmploymentRecord | None:
    """就业信息 in force."""
    return EmploymentRecord.objects.filter(student=entry, ended_at=None).first()


def invitations(entry: RosterEntry) -> QuerySet[Agreement]:
    """线上签约: every invitation of the student, newest first."""
    return (
        Agreement.objects.filter(student=entry, mode=Agreement.Mode.ONLINE)
        .select_related("employer")
        .order_by("-created_at", "-pk")
    )


def binding_agreement(entry: RosterEntry) -> Agreement | None:
    """The agreement that binds the student (accepted, passed, or on paper under way)."""
    return (
        Agreement.objects.filter(student=entry, status__in=BINDING_STATES)
        .select_related("employer")
        .first()
    )


def is_open(agreement: Agreement) -> bool:
    """An invitation the student can still answer (before its 反馈期限)."""
    return agreement.status == Status.INVITED and (
        agreement.deadline is None or agreement.deadline > timezone.now()
    )


@dataclass(frozen=True)
class TerminationRow:
    """One agreement on 解约办理 with its newest termination (if any)."""

    agreement: Agreement
    termination: Termination | None

    @property
    def in_force(self) -> bool:
        return self.agreement.status == Status.PASSED

    @property
    def under_way(self) -> bool:
        return self.termination is not None and self.termination.status in (
            TStatus.APPLIED,
            TStatus.AGREED,
        )

    @property
    def waiting_for_me(self) -> bool:
        t = self.termination
        return t is not None and t.status == TStatus.APPLIED and t.side == Termination.Side.EMPLOYER


def termination_rows(entry: RosterEntry) -> list[TerminationRow]:
    """解约办理: the agreements in force or terminated, each with its newest termination."""
    agreements = list(
        Agreement.objects.filter(student=entry, status__in=(Status.PASSED, Status.TERMINATED))
        .select_related("employer")
        .order_by("-decided_at", "-created_at")
    )
    newest: dict[int, Termination] = {}
    for termination in (
        Termination.objects.filter(agreement__in=agreements)
        .select_related("letter")
        .order_by("applied_at", "pk")
    ):
        newest[termination.agreement_id] = termination
    return [TerminationRow(a, newest.get(a.pk)) for a in agreements]


def has_terminated(entry: RosterEntry) -> bool:
    """解约机会仅有一次: a termination of this student already took effect."""
    return Termination.objects.filter(student=entry, status=TStatus.PASSED).exists()


def terminations_of(agreement: Agreement) -> QuerySet[Termination]:
    return Termination.objects.filter(agreement=agreement).order_by("-applied_at", "-pk")


def paper_agreement(entry: RosterEntry) -> Agreement | None:
    """The student's newest paper agreement still being worked on or in force."""
    return (
        Agreement.objects.filter(student=entry, mode=Agreement.Mode.OFFLINE, status__in=PAPER_OPEN)
        .order_by("-created_at", "-pk")
        .first()
    )


def paper_blocker(entry: RosterEntry, paper: Agreement | None) -> str:
    """Why the student cannot enter (or go on with) a paper agreement: "online" when another
    agreement binds them, "record" when an employment record is in force, else ""."""
    bound = Agreement.objects.filter(student=entry, status__in=BINDING_STATES)
    if paper is not None:
        bound = bound.exclude(pk=paper.pk)
    if bound.exists():
        return "online"
    record = current_record(entry)
    if record is not None and (paper is None or record.agreement_id != paper.pk):
        return "record"
    return ""
