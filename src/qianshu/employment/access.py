"""Who may see and act on schools, students and agreements. A missing object and a forbidden
one give the same 404 (:class:`django.http.Http404`)."""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet
from django.http import Http404

from qianshu.accounts.models import User
from qianshu.employment.models import Agreement, RosterEntry, School, Staff, Termination
from qianshu.orgs.models import Membership, Organization


def _uuid(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Http404 from None


def staff_of(actor: User, school: School) -> Staff | None:
    if not actor.is_authenticated:
        return None
    return Staff.objects.filter(school=school, user=actor).select_related("college").first()


def schools_of(actor: User) -> QuerySet[School]:
    """The schools where ``actor`` is 学校管理员 or 学院管理员."""
    return School.objects.filter(staff__user=actor).select_related("org").distinct()


def student_entries(actor: User) -> QuerySet[RosterEntry]:
    """The roster entries bound to ``actor`` by 信息验证 (newest 届 first)."""
    return RosterEntry.objects.filter(user=actor).select_related("school__org", "college")


def employers_of(actor: User) -> QuerySet[Organization]:
    """Verified organisations ``actor`` administers (who may invite students for them)."""
    return Organization.objects.filter(
        status=Organization.Status.VERIFIED,
        memberships__user=actor,
        memberships__role=Membership.Role.ADMIN,
    )


def visible_to_staff(staff: Staff) -> Q:
    """The agreements a school's staff member sees: the whole school, or one college."""
    condition = Q(student__school_id=staff.school_id)
    if staff.role == Staff.Role.COLLEGE_ADMIN:
        condition &= Q(student__college_id=staff.college_id)
    return condition


def agreement_parties(agreement: Agreement, actor: User) -> set[str]:
    """How ``actor`` is involved: "student", "employer", "school" (any of them)."""
    roles: set[str] = set()
    if not actor.is_authenticated:
        return roles
    if agreement.student.user_id == actor.pk:
        roles.add("student")
    if (
        agreement.employer_id is not None
        and Membership.objects.filter(
            org_id=agreement.employer_id, user=actor, role=Membership.Role.ADMIN
        ).exists()
    ):
        roles.add("employer")
    staff = staff_of(actor, agreement.student.school)
    if staff is not None and (
        staff.role == Staff.Role.SCHOOL_ADMIN or staff.college_id == agreement.student.college_id
    ):
        roles.add("school")
    return roles


def access_agreement_by_uuid(actor: User, agreement_uuid: object) -> tuple[Agreement, set[str]]:
    """An agreement ``actor`` is a party to, with how (see :func:`agreement_parties`)."""
    agreement = (
        Agreement.objects.select_related(
            "student__school__org", "student__college", "employer", "envelope"
        )
        .filter(uuid=_uuid(agreement_uuid))
        .first()
    )
    if agreement is None:
        raise Http404
    roles = agreement_parties(agreement, actor)
    if not roles:
        raise Http404
    return agreement, roles


def access_termination_by_uuid(
    actor: User, termination_uuid: object
) -> tuple[Termination, set[str]]:
    termination = (
        Termination.objects.select_related("agreement__student__school__org", "letter")
        .filter(uuid=_uuid(termination_uuid))
        .first()
    )
    if termination is None:
        raise Http404
    roles = agreement_parties(termination.agreement, actor)
    if not roles:
        raise Http404
    return termination, roles
