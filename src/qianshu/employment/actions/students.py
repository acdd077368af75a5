"""信息验证: a student's account bound to its roster entry."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qianshu.accounts import throttles
from qianshu.accounts.models import User
from qianshu.employment.errors import EmploymentError
from qianshu.employment.models import RosterEntry, School
from qianshu.identity.idcards import IdType
from qianshu.identity.models import PersonIdentity

#: 信息验证 attempts per account and day (學号 mode: a typed 学号 and name are checked).
ATTEMPTS_PER_DAY = 10


def _mismatch() -> EmploymentError:
    # One message for every mismatch: nothing tells which item was wrong.
    return EmploymentError(_("信息验证未通过：您的信息与学校的学生名单不一致，请联系学校核对。"))


def do_verify_student(
    *, school: School | None = None, student_no: str = "", name: str = "", actor: User
) -> RosterEntry:
    """信息验证. Without ``school``: the account's verified real name and resident ID number
    must match a roster entry of a school that checks by ID number (the newest 届 wins). With
    ``school`` (one that checks by 学号): ``student_no`` and ``name`` must match an entry whose
    phone is the account's own (verified at login), and a verified real name, if the account
    has one, must be that name too. An entry already bound to another account is refused; the
    same account verifying again gets its entry back."""
    if not throttles.hit(f"employment-verify:{actor.pk}", limit=ATTEMPTS_PER_DAY, window=86400):
        raise EmploymentError(_("今日信息验证次数已用完，请明天再试。"), status=429)
    identity = PersonIdentity.objects.filter(user=actor).first()
    entries = RosterEntry.objects.select_related("school")
    if school is None:
        if identity is None or identity.id_type != IdType.RESIDENT:
            raise EmploymentError(_("请先完成实名认证（居民身份证），再进行信息验证。"))
        entry = (
            entries.filter(
                id_number_hmac=identity.number_hmac,
                name=identity.name,
                school__check_mode=School.CheckMode.ID_NUMBER,
            )
            .order_by("-year")
            .first()
        )
    else:
        if school.check_mode != School.CheckMode.STUDENT_NO:
            raise _mismatch()
        typed = " ".join(name.split())
        if identity is not None and identity.name != typed:
            raise _mismatch()
        entry = (
            entries.filter(
                school=school, student_no=student_no.strip(), name=typed, phone=actor.phone
            )
            .order_by("-year")
            .first()
        )
    if entry is None:
        raise _mismatch()
    try:
        with transaction.atomic():
            locked = RosterEntry.objects.select_for_update().get(pk=entry.pk)
            if locked.user_id not in (None, actor.pk):
                raise EmploymentError(
                    _("该学生信息已被其他账号验证，如有疑问请联系学校。"), status=409
                )
            if locked.user_id is None:
                locked.user = actor
                locked.verified_at = timezone.now()
                locked.save(update_fields=["user", "verified_at"])
    except IntegrityError as exc:  # this account is already another entry of that 届
        raise EmploymentError(_("您的账号已验证为该届的另一名学生。"), status=409) from exc
    throttles.reset(f"employment-verify:{actor.pk}")
    return locked
