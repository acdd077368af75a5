"""Read-only lists of the school's pages (就业管理): what one staff member sees — the whole
school for a 学校管理员, one college for a 学院管理员 (:func:`access.visible_to_staff`) — with
the filters of the pages, and the 待办 counts of the home page."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from qianshu.employment.access import visible_to_staff
from qianshu.employment.models import (
    Agreement,
    College,
    EmployerApproval,
    RosterEntry,
    Staff,
    Termination,
)

Status = Agreement.Status
TStatus = Termination.Status

#: Agreement states the school sees in 签约管理 (an invitation not yet answered, refused or
#: expired, and a paper draft, are between the student and the employer).
SCHOOL_STATES = (
    Status.ACCEPTED,
    Status.PASSED,
    Status.FAILED,
    Status.TERMINATED,
    Status.PAPER_REVIEW,
    Status.PAPER_REVIEW_FAILED,
    Status.PAPER_FEEDBACK,
    Status.PAPER_WAITING,
)
#: 签约鉴证 waiting for the school (online after 同意, on paper after 反馈协议书).
WAITING_STATES = (Status.ACCEPTED, Status.PAPER_WAITING)
#: Terminations the school sees in 解约管理: from the other party's consent on.
TERMINATION_STATES = (TStatus.AGREED, TStatus.PASSED, TStatus.FAILED)


@dataclass(frozen=True)
class Counts:
    """签约待办 and 解约待办 of the home page."""

    waiting: int
    terminations: int
    paper_review: int
    employers: int


def visible_agreements(staff: Staff) -> QuerySet[Agreement]:
    return Agreement.objects.filter(visible_to_staff(staff))


def visible_terminations(staff: Staff) -> QuerySet[Termination]:
    return Termination.objects.filter(agreement__in=visible_agreements(staff).values("pk"))


def visible_roster(staff: Staff) -> QuerySet[RosterEntry]:
    roster = RosterEntry.objects.filter(school_id=staff.school_id)
    if staff.role == Staff.Role.COLLEGE_ADMIN:
        roster = roster.filter(college_id=staff.college_id or 0)
    return roster


def visible_colleges(staff: Staff) -> QuerySet[College]:
    colleges = College.objects.filter(school_id=staff.school_id).order_by("name")
    if staff.role == Staff.Role.COLLEGE_ADMIN:
        colleges = colleges.filter(pk=staff.college_id or 0)
    return colleges


def counts(staff: Staff) -> Counts:
    agreements = visible_agreements(staff)
    return Counts(
        waiting=agreements.filter(status__in=WAITING_STATES).count(),
        terminations=visible_terminations(staff).filter(status=TStatus.AGREED).count(),
        paper_review=agreements.filter(status=Status.PAPER_REVIEW).count(),
        employers=EmployerApproval.objects.filter(
            school_id=staff.school_id, status=EmployerApproval.Status.PENDING
        ).count(),
    )


def years(staff: Staff) -> list[int]:
    """The 届 of the school's roster, newest first, and this year's and next year's."""
    known = set(visible_roster(staff).values_list("year", flat=True).distinct())
    this_year = timezone.localdate().year
    return sorted(known | {this_year, this_year + 1}, reverse=True)


def default_year(staff: Staff) -> int:
    """The newest 届 on the roster (this year's when there is none)."""
    latest = visible_roster(staff).order_by("-year").values_list("year", flat=True).first()
    return latest or timezone.localdate().year


@dataclass(frozen=True)
class Filters:
    """The filters of a list page, already checked against what the staff member sees
    (an unknown value is no filter)."""

    college: int | None = None
    year: int | None = None
    status: str = ""
    q: str = ""


def _student_filters(prefix: str, filters: Filters) -> Q:
    condition = Q()
    if filters.college is not None:
        condition &= Q(**{f"{prefix}college_id": filters.college})
    if filters.year is not None:
        condition &= Q(**{f"{prefix}year": filters.year})
    return condition


def _search(prefix: str, q: str) -> Q:
    return Q(**{f"{prefix}name__contains": q}) | Q(**{f"{prefix}student_no": q})


def roster_list(staff: Staff, filters: Filters) -> QuerySet[RosterEntry]:
    """学生名单 of one 届 (``filters.year``), filtered by 学院, 状态 and name or 学号."""
    roster = visible_roster(staff).filter(_student_filters("", filters))
    if filters.status:
        roster = roster.filter(status=filters.status)
    if filters.q:
        roster = roster.filter(_search("", filters.q))
    return roster.select_related("college").order_by("student_no", "pk")


#: The 鉴证状态 filter of 签约管理: one value may stand for more than one state.
AGREEMENT_FILTERS: dict[str, tuple[str, ...]] = {
    "waiting": WAITING_STATES,
    Status.PASSED: (Status.PASSED,),
    Status.FAILED: (Status.FAILED,),
    Status.PAPER_REVIEW: (Status.PAPER_REVIEW,),
    Status.PAPER_REVIEW_FAILED: (Status.PAPER_REVIEW_FAILED,),
    Status.PAPER_FEEDBACK: (Status.PAPER_FEEDBACK,),
    Status.TERMINATED: (Status.TERMINATED,),
}


def agreement_list(staff: Staff, filters: Filters) -> QuerySet[Agreement]:
    """签约管理: the agreements the school verifies, newest first."""
    agreements = visible_agreements(staff).filter(
        _student_filters("student__", filters), status__in=SCHOOL_STATES
    )
    if filters.status in AGREEMENT_FILTERS:
        agreements = agreements.filter(status__in=AGREEMENT_FILTERS[filters.status])
    if filters.q:
        agreements = agreements.filter(_search("student__", filters.q) | Q(number=filters.q))
    return agreements.select_related("student__college", "employer").order_by("-created_at", "-pk")


def termination_list(staff: Staff, filters: Filters) -> QuerySet[Termination]:
    """解约管理: terminations from the other party's consent on, newest first."""
    terminations = visible_terminations(staff).filter(
        _student_filters("agreement__student__", filters), status__in=TERMINATION_STATES
    )
    if filters.status in TERMINATION_STATES:
        terminations = terminations.filter(status=filters.status)
    if filters.q:
        terminations = terminations.filter(
            _search("agreement__student__", filters.q) | Q(agreement__number=filters.q)
        )
    return terminations.select_related(
        "agreement__student__college", "agreement__employer"
    ).order_by("-applied_at", "-pk")


def employer_approvals(staff: Staff, status: str) -> QuerySet[EmployerApproval]:
    """单位审核: the school's employer requests in one state (oldest request first while
    pending, newest decision first otherwise)."""
    approvals = EmployerApproval.objects.filter(school_id=staff.school_id, status=status)
    order = (
        ("requested_at", "pk")
        if status == EmployerApproval.Status.PENDING
        else ("-decided_at", "-pk")
    )
    return approvals.select_related(
        "employer", "employer__employer_profile", "requested_by", "decided_by"
    ).order_by(*order)


def open_termination(agreement: Agreement) -> Termination | None:
    """The termination of ``agreement`` waiting for the school's 解约鉴证, if any."""
    return (
        Termination.objects.filter(agreement=agreement, status=TStatus.AGREED)
        .select_related("letter", "proof")
        .first()
    )


def staff_list(staff: Staff) -> QuerySet[Staff]:
    return (
        Staff.objects.filter(school_id=staff.school_id)
        .select_related("user", "user__person_identity", "college")
        .order_by("role", "college__name", "pk")
    )
