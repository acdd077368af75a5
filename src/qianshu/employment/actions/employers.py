"""Employers: 单位审核 by a school, 签约信息 defaults, 签约搜索 and the 签约发送列表."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts import throttles
from qianshu.accounts.models import User
from qianshu.employment import queries
from qianshu.employment.errors import EmploymentError
from qianshu.employment.models import (
    Candidate,
    EmployerApproval,
    EmployerProfile,
    RosterEntry,
    School,
    Staff,
)
from qianshu.orgs.models import Membership, Organization

#: 签约搜索 per employer and day: exact searches only, but a limit keeps guessing expensive.
SEARCHES_PER_DAY = 300
_TEXT_LIMIT = 200


def require_recruiter(org: Organization, actor: User) -> None:
    """The actor acts for the employer: an administrator of a verified organisation."""
    if not org.is_verified:
        raise EmploymentError(_("单位需先完成组织认证。"), status=403)
    if not Membership.objects.filter(org=org, user=actor, role=Membership.Role.ADMIN).exists():
        raise EmploymentError(_("只有单位管理员可以办理签约。"), status=403)


def require_school_admin(school: School, actor: User) -> Staff:
    staff = Staff.objects.filter(school=school, user=actor).first()
    if staff is None or staff.role != Staff.Role.SCHOOL_ADMIN:
        raise EmploymentError(_("只有学校管理员可以办理。"), status=403)
    return staff


def do_request_approval(school: School, org: Organization, *, actor: User) -> EmployerApproval:
    """申请学校审核: the employer asks a school to approve it (again after a refusal)."""
    require_recruiter(org, actor)
    with transaction.atomic():
        approval = (
            EmployerApproval.objects.select_for_update().filter(school=school, employer=org).first()
        )
        if approval is not None and approval.status != EmployerApproval.Status.REFUSED:
            return approval
        if approval is None:
            approval = EmployerApproval(school=school, employer=org)
        approval.status = EmployerApproval.Status.PENDING
        approval.requested_by = actor
        approval.requested_at = timezone.now()
        approval.reason = ""
        approval.save()
    return approval


def do_decide_employer(
    school: School, employer: Organization, *, approve: bool, reason: str = "", actor: User
) -> EmployerApproval:
    """单位审核: a school approves an employer (or refuses it, with a reason)."""
    require_school_admin(school, actor)
    if not employer.is_verified:
        raise EmploymentError(_("该单位尚未完成组织认证。"))
    if not approve and not reason.strip():
        raise EmploymentError(_("请填写审核不通过的原因。"), field="reason")
    with transaction.atomic():
        approval, _created = EmployerApproval.objects.update_or_create(
            school=school,
            employer=employer,
            defaults={
                "status": EmployerApproval.Status.APPROVED
                if approve
                else EmployerApproval.Status.REFUSED,
                "reason": reason.strip()[:300],
                "decided_by": actor,
                "decided_at": timezone.now(),
            },
        )
    return approval


def _clean(section: Mapping[str, object]) -> dict[str, str]:
    return {str(k)[:40]: " ".join(str(v).split())[:_TEXT_LIMIT] for k, v in section.items() if v}


def do_confirm_profile(
    org: Organization,
    *,
    basic: Mapping[str, object],
    archive: Mapping[str, object],
    hukou: Mapping[str, object],
    actor: User,
) -> EmployerProfile:
    """确认签约信息: the employer's defaults for its invitation letters."""
    require_recruiter(org, actor)
    if not archive.get("unit"):
        raise EmploymentError(_("请填写档案接收单位。"), field="archive_unit")
    with transaction.atomic():
        profile, _created = EmployerProfile.objects.update_or_create(
            org=org,
            defaults={
                "basic": _clean(basic),
                "archive": _clean(archive),
                "hukou": _clean(hukou),
                "confirmed_by": actor,
                "confirmed_at": timezone.now(),
            },
        )
    return profile


def require_inviting_employer(org: Organization, actor: User) -> EmployerProfile:
    require_recruiter(org, actor)
    if not queries.is_approved_employer(org):
        raise EmploymentError(_("单位需经任一学校审核通过后才能签约学生。"), status=403)
    profile = EmployerProfile.objects.filter(org=org).first()
    if profile is None:
        raise EmploymentError(_("请先确认签约信息。"))
    return profile


def do_search_student(
    org: Organization, school: School, year: int, name: str, id_or_phone: str, *, actor: User
) -> RosterEntry | None:
    """签约搜索: the student when all four items are exactly right, else None (no hint)."""
    require_inviting_employer(org, actor)
    if not throttles.hit(f"employment-search:{org.pk}", limit=SEARCHES_PER_DAY, window=86400):
        raise EmploymentError(
            _("今日搜索次数已达上限，请明天再试或使用导入拟签约名单。"), status=429
        )
    return queries.find_student(school, year, name, id_or_phone)


def do_add_candidates(
    org: Organization, students: Sequence[RosterEntry], *, position: str = "", actor: User
) -> int:
    """加入签约发送列表 (a student already on it stays, with the new 拟聘职位 if given)."""
    require_inviting_employer(org, actor)
    added = 0
    with transaction.atomic():
        for student in students:
            candidate, created = Candidate.objects.get_or_create(
                employer=org,
                student=student,
                defaults={"position": position[:100], "added_by": actor},
            )
            if not created and position:
                candidate.position = position[:100]
                candidate.save(update_fields=["position"])
            added += created
    return added


def do_remove_candidates(org: Organization, student_ids: Sequence[int], *, actor: User) -> int:
    """移出签约发送列表."""
    require_recruiter(org, actor)
    with transaction.atomic():
        removed, _detail = Candidate.objects.filter(
            employer=org, student_id__in=list(student_ids)
        ).delete()
    return removed
