"""Read-only lists and counts of the employer's pages (单位用户中心, 签约中心, 数据管理,
解约中心). Every query is scoped to one employer organisation; callers have checked that the
actor acts for it (:func:`qianshu.employment.actions.employers.require_recruiter`)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from qianshu.employment.models import (
    Agreement,
    Candidate,
    EmployerApproval,
    EmployerProfile,
    School,
    Termination,
)
from qianshu.orgs.models import Organization

Status = Agreement.Status
OPEN_TERMINATION = (Termination.Status.APPLIED, Termination.Status.AGREED)
#: 已应约: the invitations a student accepted, whatever the school's 鉴证 said since.
ACCEPTED_STATES = (Status.ACCEPTED, Status.PASSED, Status.FAILED, Status.TERMINATED)


@dataclass(frozen=True)
class Dashboard:
    """单位用户中心: 签约待办 and 解约待办."""

    invitations_waiting: int
    terminations_waiting: int


def valid_uuids(values: Iterable[object]) -> list[uuid.UUID]:
    """The values that are UUIDs (a tampered form value is ignored, not an error)."""
    out = []
    for value in values:
        try:
            out.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return out


def profile_of(org: Organization) -> EmployerProfile | None:
    return EmployerProfile.objects.filter(org=org).first()


def approvals_of(org: Organization) -> QuerySet[EmployerApproval]:
    """The employer's requests for 单位审核, with each school's decision."""
    return (
        EmployerApproval.objects.filter(employer=org)
        .select_related("school__org")
        .order_by("-requested_at")
    )


def schools_to_ask(org: Organization) -> QuerySet[School]:
    """Schools the employer has not asked yet (or that refused it: it may ask again)."""
    asked = EmployerApproval.objects.filter(employer=org).exclude(
        status=EmployerApproval.Status.REFUSED
    )
    return (
        School.objects.exclude(pk__in=asked.values("school_id"))
        .select_related("org")
        .order_by("org__name")
    )


def all_schools() -> QuerySet[School]:
    """毕业学校 of 签约搜索 and of the import template: every school on the platform."""
    return School.objects.select_related("org").order_by("org__name")


def open_invitations(org: Organization, now: dt.datetime | None = None) -> QuerySet[Agreement]:
    """签约待办: invitations sent and not answered yet, still within their 反馈期限."""
    return Agreement.objects.filter(
        employer=org,
        mode=Agreement.Mode.ONLINE,
        status=Status.INVITED,
        deadline__gt=now or timezone.now(),
    )


def terminations_to_answer(org: Organization) -> QuerySet[Termination]:
    """解约待办 (学生提出解约待办理列表): students' applications waiting for this employer."""
    return (
        Termination.objects.filter(
            agreement__employer=org,
            side=Termination.Side.STUDENT,
            status=Termination.Status.APPLIED,
        )
        .select_related("agreement__student__school__org", "agreement__student__college")
        .order_by("-applied_at")
    )


def dashboard(org: Organization) -> Dashboard:
    return Dashboard(
        invitations_waiting=open_invitations(org).count(),
        terminations_waiting=terminations_to_answer(org).count(),
    )


def candidates_of(org: Organization) -> QuerySet[Candidate]:
    """签约发送列表, each with whether this employer's invitation to them is still open."""
    open_invitation = Agreement.objects.filter(
        employer=org, student_id=OuterRef("student_id"), status=Status.INVITED
    )
    return (
        Candidate.objects.filter(employer=org)
        .select_related("student__school__org", "student__college")
        .annotate(invited=Exists(open_invitation))
        .order_by("position", "-added_at", "-pk")
    )


def candidates_by_uuid(org: Organization, student_uuids: Iterable[object]) -> list[Candidate]:
    """The employer's candidates among the given students (others are ignored)."""
    return list(
        Candidate.objects.filter(employer=org, student__uuid__in=valid_uuids(student_uuids))
        .select_related("student__school__org", "student__college")
        .order_by("pk")
    )


def _agreements(org: Organization) -> QuerySet[Agreement]:
    return Agreement.objects.filter(employer=org, mode=Agreement.Mode.ONLINE).select_related(
        "student__school__org", "student__college"
    )


def accepted_agreements(org: Organization, status: str = "") -> QuerySet[Agreement]:
    """已应约: the agreements students accepted (等待签约鉴证, 签约鉴证通过, 不通过, 已解约)."""
    states = (status,) if status in ACCEPTED_STATES else ACCEPTED_STATES
    return _agreements(org).filter(status__in=states).order_by("-answered_at", "-pk")


def sent_invitations(org: Organization) -> QuerySet[Agreement]:
    """Every invitation sent, newest first (待应约 / 已拒绝 / 已过期 / …)."""
    return _agreements(org).order_by("-created_at", "-pk")


def shown_status(agreement: Agreement, now: dt.datetime | None = None) -> str:
    """The status as a person sees it: an invitation past its 反馈期限 is 已过期 even before
    the timer has marked it."""
    if (
        agreement.status == Status.INVITED
        and agreement.deadline is not None
        and agreement.deadline <= (now or timezone.now())
    ):
        return str(Status.EXPIRED.label)
    return str(agreement.get_status_display())


def signed_agreements(org: Organization) -> QuerySet[Agreement]:
    """已签约成功学生列表: agreements in force (签约鉴证通过) with no termination under way."""
    under_way = Termination.objects.filter(agreement=OuterRef("pk"), status__in=OPEN_TERMINATION)
    return (
        _agreements(org)
        .filter(status=Status.PASSED)
        .exclude(Exists(under_way))
        .order_by("student__name", "pk")
    )


def signed_by_uuid(org: Organization, agreement_uuids: Iterable[object]) -> list[Agreement]:
    """The ticked agreements of :func:`signed_agreements` (others are ignored)."""
    return list(signed_agreements(org).filter(uuid__in=valid_uuids(agreement_uuids)))


def terminations_of(org: Organization) -> QuerySet[Termination]:
    """解约记录: every termination of this employer's agreements, newest first."""
    return (
        Termination.objects.filter(agreement__employer=org)
        .select_related("agreement__student__school__org")
        .order_by("-applied_at", "-pk")
    )
