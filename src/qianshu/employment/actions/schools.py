"""Schools, their staff and their roster (学校 / 学院 / 生源)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts.models import User
from qianshu.accounts.phones import normalize_phone
from qianshu.employment import roster
from qianshu.employment.errors import EmploymentError
from qianshu.employment.models import College, RosterEntry, School, Staff
from qianshu.identity.idcards import mask_number
from qianshu.orgs.models import Membership, Organization


def do_mark_school(
    org: Organization, *, check_mode: str = School.CheckMode.ID_NUMBER, actor: User
) -> School:
    """标记为学校: a platform operator marks a verified organisation as a school. Its
    administrators become 学校管理员."""
    if not (actor.is_active and actor.is_staff):
        raise EmploymentError(_("只有平台运营人员可以标记学校。"), status=403)
    if not org.is_verified:
        raise EmploymentError(_("只有已认证的组织可以标记为学校。"))
    with transaction.atomic():
        school, _created = School.objects.get_or_create(
            org=org, defaults={"marked_by": actor, "check_mode": check_mode}
        )
        admins = Membership.objects.filter(org=org, role=Membership.Role.ADMIN)
        for membership in admins.select_related("user"):
            Staff.objects.get_or_create(
                school=school, user=membership.user, defaults={"role": Staff.Role.SCHOOL_ADMIN}
            )
    return school


def do_set_staff(
    school: School, user: User, role: str, college: College | None, *, actor: User
) -> Staff:
    """A 学校管理员 gives a member of the school's organisation a role (a 学院管理员 for one
    college)."""
    if not Staff.objects.filter(school=school, user=actor, role=Staff.Role.SCHOOL_ADMIN).exists():
        raise EmploymentError(_("只有学校管理员可以设置管理员。"), status=403)
    if not Membership.objects.filter(org=school.org, user=user).exists():
        raise EmploymentError(_("只能设置本校组织的成员。"))
    if role not in Staff.Role.values:
        raise EmploymentError(_("请选择角色。"))
    if role == Staff.Role.COLLEGE_ADMIN and (college is None or college.school_id != school.pk):
        raise EmploymentError(_("学院管理员需要选择所在学院。"))
    with transaction.atomic():
        staff, _created = Staff.objects.update_or_create(
            school=school,
            user=user,
            defaults={
                "role": role,
                "college": college if role == Staff.Role.COLLEGE_ADMIN else None,
            },
        )
    return staff


def do_import_roster(school: School, year: int, data: bytes, *, actor: User) -> int:
    """导入学生名单: every row checked again; with any problem nothing is imported
    (:class:`EmploymentError` naming how many rows). New students are added, a student already
    on that 届's roster (same 学号 and ID number) is updated; colleges are created by name.
    Returns the number of rows imported."""
    staff = Staff.objects.filter(school=school, user=actor).first()
    if staff is None or staff.role != Staff.Role.SCHOOL_ADMIN:
        raise EmploymentError(_("只有学校管理员可以导入学生名单。"), status=403)
    if not 2000 <= year <= timezone.localdate().year + 10:
        raise EmploymentError(_("请选择正确的毕业届。"))
    checked = roster.check(school, year, data)
    if not checked.rows:
        raise EmploymentError(_("文件中没有学生。"))
    if not checked.ok:
        raise EmploymentError(
            _("有 %(n)d 行需要修改，未导入任何学生。") % {"n": len(checked.problems)}
        )
    with transaction.atomic():
        colleges = {c.name: c for c in College.objects.filter(school=school)}
        for row in checked.rows:
            v = row.values
            college = colleges.get(v["college"])
            if college is None:
                college = colleges[v["college"]] = College.objects.create(
                    school=school, name=v["college"]
                )
            RosterEntry.objects.update_or_create(
                school=school,
                year=year,
                student_no=v["student_no"],
                defaults={
                    "name": v["name"],
                    "id_number_hmac": row.id_hmac,
                    "id_number_masked": mask_number(v["id_number"]),
                    "phone": v["phone"],
                    "college": college,
                    "major": v.get("major", ""),
                    "class_name": v.get("class_name", ""),
                },
            )
    return len(checked.rows)


def do_update_roster_entry(
    entry: RosterEntry,
    *,
    name: str,
    phone: str,
    college: str,
    major: str,
    class_name: str,
    actor: User,
) -> RosterEntry:
    """编辑 one student of the roster (学校管理员). The ID number and 学号 are the student's
    identity on the roster and change only by importing; the name cannot change once the
    student passed 信息验证 (it was matched against their verified real name)."""
    staff = Staff.objects.filter(school=entry.school, user=actor).first()
    if staff is None or staff.role != Staff.Role.SCHOOL_ADMIN:
        raise EmploymentError(_("只有学校管理员可以修改学生信息。"), status=403)
    name, college = " ".join(name.split()), " ".join(college.split())
    if not name or not college:
        raise EmploymentError(_("姓名和学院必填。"))
    if len(name) > 64 or len(college) > 100 or len(major) > 100 or len(class_name) > 100:
        raise EmploymentError(_("内容过长。"))
    try:
        phone = normalize_phone(phone)
    except ValidationError:
        raise EmploymentError(_("手机号格式不正确。"), field="phone") from None
    with transaction.atomic():
        locked = RosterEntry.objects.select_for_update().get(pk=entry.pk)
        if locked.user_id is not None and name != locked.name:
            raise EmploymentError(_("该学生已通过信息验证，姓名不能修改。"), field="name")
        locked.name = name
        locked.phone = phone
        locked.college, _created = College.objects.get_or_create(school=entry.school, name=college)
        locked.major = " ".join(major.split())
        locked.class_name = " ".join(class_name.split())
        locked.save(update_fields=["name", "phone", "college", "major", "class_name"])
    return locked
